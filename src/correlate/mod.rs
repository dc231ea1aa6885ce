//! `tailgate --correlate`: explain every load-balancer 5xx with local evidence.
//!
//! Two streaming passes keep memory bounded by the number of LB 5xx in scope, not by log size:
//!
//! 1. [`elb`]: read the ELB/ALB logs (files, `.gz`, directories, stdin) once; count
//!    CloudWatch-equivalent metrics per minute, bursts of successive 502s per backend and
//!    per-backend rates; keep a compact record of every LB 5xx in scope.
//! 2. [`local`]: read the instance's access and error logs once; every line whose method, path and
//!    query match a wanted request within a wide time window becomes a candidate.
//!
//! Then [`matcher`] estimates the clock offset between the load balancer and the instance from
//! unambiguous pairs, scores every candidate (time after offset, client vs `X-Forwarded-For`,
//! user agent, status consistency, bytes), assigns each local line to at most one LB line (best
//! first), attaches error-log lines of the same request, and names the cause.

pub mod elb;
pub mod idle;
pub mod local;
pub mod matcher;

use std::path::PathBuf;

use serde::Serialize;

use crate::format::Format;

/// Causes (stable strings in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Cause {
    #[serde(rename = "backend-5xx")]
    Backend5xx,
    #[serde(rename = "malformed-response")]
    MalformedResponse,
    #[serde(rename = "connection-closed")]
    ConnectionClosed,
    #[serde(rename = "backend-timeout")]
    BackendTimeout,
    #[serde(rename = "no-healthy-backend")]
    NoHealthyBackend,
    #[serde(rename = "keepalive-closed")]
    KeepaliveClosed,
    #[serde(rename = "unmatched")]
    Unmatched,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Backend5xx => "backend-5xx",
            Cause::MalformedResponse => "malformed-response",
            Cause::ConnectionClosed => "connection-closed",
            Cause::BackendTimeout => "backend-timeout",
            Cause::NoHealthyBackend => "no-healthy-backend",
            Cause::KeepaliveClosed => "keepalive-closed",
            Cause::Unmatched => "unmatched",
        }
    }
}

/// Which backend addresses are "this instance".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendFilter {
    pub ip: String,
    pub port: Option<u16>,
}

impl BackendFilter {
    /// `10.0.0.5`, `10.0.0.5:80`, `[fd00::1]:80`, `fd00::1`.
    pub fn parse(s: &str) -> Result<BackendFilter, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or_else(|| format!("--backend {s}: missing ']'"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse().map_err(|_| format!("--backend {s}: bad port"))?),
                None => None,
            };
            return Ok(BackendFilter { ip: ip.into(), port });
        }
        match s.rsplit_once(':') {
            Some((ip, p)) if !ip.contains(':') => {
                Ok(BackendFilter { ip: ip.into(), port: Some(p.parse().map_err(|_| format!("--backend {s}: bad port"))?) })
            }
            _ if s.is_empty() => Err("--backend needs an address".into()),
            _ => Ok(BackendFilter { ip: s.into(), port: None }),
        }
    }

    pub fn matches(&self, ip: &[u8], port: Option<u16>) -> bool {
        self.ip.as_bytes() == ip && self.port.is_none_or(|p| Some(p) == port)
    }
}

/// What to correlate.
#[derive(Clone, Debug)]
pub struct Options {
    /// ELB/ALB inputs: files, `.gz`, directories, or `-`.
    pub elb_inputs: Vec<PathBuf>,
    /// Local logs (host paths), each with a known format or `None` to detect it.
    pub local: Vec<LocalLog>,
    /// This instance's addresses.
    pub backends: Vec<BackendFilter>,
    pub all_backends: bool,
    /// The largest clock difference between LB and instance to look across (seconds).
    pub window_secs: f64,
    /// The load balancer's idle timeout (a 504's request is logged locally about this late).
    pub lb_idle_timeout_secs: u64,
    /// `lb_idle_timeout_secs` is a default, not the user's: infer the timeout from the logs
    /// (see [`idle`]) and use that.
    pub infer_idle_timeout: bool,
    /// How many successive 502s make a burst.
    pub burst_min: usize,
    /// Threads for large files (ELB and local; each file of 8 MiB or more is split).
    pub threads: usize,
    /// The host's time zone and where it came from, for error-log times (written without an
    /// offset) when no access log says the offset.
    pub local_zone: Option<(crate::time::Zone, String)>,
    /// The instance's web servers' idle keep-alive timeouts (from discovery).
    pub keepalive: Vec<KeepAliveSetting>,
}

/// A web server's idle keep-alive timeout, where discovery found it.
#[derive(Clone, Debug)]
pub struct KeepAliveSetting {
    pub timeout_ms: u64,
    /// The directive as a person would write it (`keepalive_timeout 5s`).
    pub directive: String,
    /// `file` and `line` of the directive; `None` for a compiled-in default.
    pub origin: Option<(String, u64)>,
}

/// One local log to read.
#[derive(Clone, Debug)]
pub struct LocalLog {
    /// Where to read it (host path).
    pub path: PathBuf,
    /// How to report it (instance path).
    pub display: String,
    pub format: Option<Format>,
}

/// A local line used as evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub file: String,
    pub line: u64,
    /// `access`, `error`, or `config` (a web-server directive, for `keepalive-closed`).
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<crate::time::Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<crate::detect::Problem>,
}

/// The LB line a finding explains.
#[derive(Clone, Debug, Serialize)]
pub struct ElbRef {
    pub file: String,
    pub line: u64,
    pub timestamp: crate::time::Timestamp,
    pub backend: Option<String>,
    pub elb_status: u16,
    pub backend_status: Option<u16>,
    pub request: String,
}

/// One explained LB 5xx.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub elb: ElbRef,
    /// `lb` or `backend`.
    pub source: &'static str,
    pub cause: Cause,
    pub explanation: String,
    pub evidence: Vec<Evidence>,
}

/// CloudWatch-equivalent counts for one minute.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MinuteCounts {
    pub minute: String,
    /// Classic `HTTPCode_ELB_5XX` / ALB `HTTPCode_ELB_5XX_Count`.
    #[serde(rename = "HTTPCode_ELB_5XX")]
    pub elb_5xx: u64,
    /// Classic `HTTPCode_Backend_5XX` / ALB `HTTPCode_Target_5XX_Count`.
    #[serde(rename = "HTTPCode_Backend_5XX")]
    pub backend_5xx: u64,
    pub requests: u64,
}

impl MinuteCounts {
    /// Add another count of the same minute.
    pub(crate) fn add(&mut self, o: &MinuteCounts) {
        self.requests += o.requests;
        self.elb_5xx += o.elb_5xx;
        self.backend_5xx += o.backend_5xx;
    }
}

/// A run of successive 502s for one backend.
#[derive(Clone, Debug, Serialize)]
pub struct Burst {
    pub backend: String,
    pub count: u64,
    pub first: crate::time::Timestamp,
    pub last: crate::time::Timestamp,
    pub first_line: String,
}

/// Per-backend rates (fleet view).
#[derive(Clone, Debug, Serialize)]
pub struct BackendRate {
    pub backend: String,
    pub requests: u64,
    pub lb_5xx: u64,
    pub rate: f64,
}

/// A rejected ELB line.
#[derive(Clone, Debug, Serialize)]
pub struct BadElbLine {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub elb_lines: u64,
    pub bad_lines: u64,
    /// LB 5xx in scope (this instance's, or with no backend address).
    pub lb_5xx: u64,
    pub lb_generated: u64,
    pub backend_generated: u64,
    /// Findings with local evidence.
    pub matched: u64,
    /// Local time minus LB time, estimated from unambiguous matches.
    pub clock_offset_ms: Option<f64>,
    /// The load balancer's idle timeout used for matching, and where it came from.
    pub lb_idle_timeout_s: idle::IdleTimeout,
    /// How error-log times (local, without an offset) were read: the access logs' offset, the
    /// host's zone, or UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_log_time_zone: Option<String>,
    pub per_minute: Vec<MinuteCounts>,
    pub bursts: Vec<Burst>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BackendRate>,
    pub bad_examples: Vec<BadElbLine>,
    /// Local logs read: path, format, lines, bad lines.
    pub local_logs: Vec<local::LocalSummary>,
    pub causes: std::collections::BTreeMap<&'static str, u64>,
    /// Input problems (unreadable files, truncated gzip, …).
    pub errors: Vec<String>,
    /// Load-balancer inputs that could not be read, or not to their end (a missing file, a
    /// directory with no files, a truncated `.gz`): the run exits 2 after its report.
    pub inputs_failed: u64,
}

/// The whole answer.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub summary: Summary,
    pub findings: Vec<Finding>,
}

/// Rotated siblings of a log (`access.log.1`, `access.log.2.gz`, `access.log-20261125`), oldest
/// first, then the log itself: the local side of a correlation covers the ELB's time range.
pub fn with_rotated(host: &std::path::Path) -> Vec<PathBuf> {
    let mut v = vec![host.to_path_buf()];
    let (Some(dir), Some(name)) = (host.parent(), host.file_name().and_then(|n| n.to_str())) else { return v };
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut sib: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                    n.len() > name.len() + 1 && n.starts_with(name) && matches!(n.as_bytes()[name.len()], b'.' | b'-')
                })
            })
            .collect();
        sib.sort();
        sib.reverse();
        sib.append(&mut v);
        v = sib;
    }
    v
}

/// Run both passes and the matcher.
pub fn correlate(opts: &Options) -> Report {
    let t0 = std::time::Instant::now();
    let mut ingest = elb::ingest(opts);
    let t1 = std::time::Instant::now();
    // The idle timeout: the user's, or inferred from the logs, or the default. The local pass
    // matches with the one known; a Classic inference rides along with it, and the pass is run
    // again only when the inferred timeout differs from the one it matched with.
    // (`eff`: the options with the idle timeout matched with)
    let mut eff = opts.clone();
    let (idle, local) = match idle::plan(opts, &ingest.wanted) {
        idle::Plan::Known(t) => {
            eff.lb_idle_timeout_secs = t.value;
            (t, local::collect(&eff, &ingest.wanted))
        }
        idle::Plan::Infer(sample) => {
            let mut l = local::collect_with(&eff, &ingest.wanted, &sample);
            let (probes, cands): (Vec<_>, Vec<_>) = std::mem::take(&mut l.candidates).into_iter().partition(|c| c.probe);
            l.candidates = cands;
            let t = idle::infer(&eff, &ingest.wanted, &l.candidates, &probes);
            if t.value != eff.lb_idle_timeout_secs {
                eff.lb_idle_timeout_secs = t.value;
                l = local::collect(&eff, &ingest.wanted);
            }
            (t, l)
        }
    };
    let opts = &eff;
    ingest.summary.lb_idle_timeout_s = idle;
    let t2 = std::time::Instant::now();
    let n_cands = local.candidates.len();
    let n_lb = local.candidates.iter().filter(|c| ingest.wanted[c.wanted as usize].lb_generated).count();
    tracing::debug!("candidates for LB-generated lines: {n_lb}");
    let zone = crate::time::Zone::for_local_times(local.local_offset.map(|o| (o, "the offset the access logs write".to_string())), opts.local_zone.as_ref());
    let has_error_logs = local.summaries.iter().any(|l| l.format.ends_with("-error"));
    let (findings, offset_ms) =
        matcher::resolve(opts, &ingest.wanted, local.candidates, local.errors_by_request, zone.as_ref().map(|z| &z.0), &ingest.files, &local.files);
    tracing::debug!(
        "correlate: ELB pass {:?} ({} wanted), local pass {:?} ({n_cands} candidates), matching {:?}",
        t1 - t0,
        ingest.wanted.len(),
        t2 - t1,
        t2.elapsed()
    );
    let s = &mut ingest.summary;
    s.local_logs = local.summaries;
    s.errors.extend(local.problems);
    s.matched = findings.iter().filter(|f| !f.evidence.is_empty()).count() as u64;
    s.clock_offset_ms = offset_ms;
    if has_error_logs {
        s.error_log_time_zone = Some(zone.map_or_else(|| "UTC: no access log offset and no host time zone".to_string(), |z| z.1));
    }
    for f in &findings {
        *s.causes.entry(f.cause.as_str()).or_default() += 1;
    }
    Report { summary: ingest.summary, findings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_filters() {
        let f = BackendFilter::parse("10.0.1.11:80").unwrap();
        assert!(f.matches(b"10.0.1.11", Some(80)));
        assert!(!f.matches(b"10.0.1.11", Some(81)));
        let f = BackendFilter::parse("10.0.1.11").unwrap();
        assert!(f.matches(b"10.0.1.11", Some(8080)));
        let f = BackendFilter::parse("[fd00::1]:80").unwrap();
        assert!(f.matches(b"fd00::1", Some(80)));
        assert_eq!(BackendFilter::parse("fd00::1").unwrap().port, None);
        assert!(BackendFilter::parse("1.2.3.4:x").is_err());
    }
}
