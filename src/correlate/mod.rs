//! `tailgate --correlate`: explain every load-balancer 5xx with local evidence.
//!
//! Two streaming passes read each input once, and memory is bounded by the time window, not by
//! the size of the logs or the number of LB 5xx:
//!
//! 1. `elb`: read the ELB/ALB logs (files, `.gz`, directories, stdin) once; count
//!    CloudWatch-equivalent metrics per minute, bursts of successive 502s per backend and
//!    per-backend rates; keep a record of every LB 5xx in scope, sorted by arrival
//!    ([`crate::spill`]: on disk past a bound), and note its request and time in `filter`.
//! 2. `local`: read the instance's access and error logs once; keep (sorted by time, likewise)
//!    the lines `filter` says may be evidence.
//!
//! Then `join` walks both sorted streams together, slice by slice: first for the clock offset
//! between the load balancer and the instance (from unambiguous pairs) and the idle timeout
//! (`idle`), then `matcher` scores every candidate of a slice (time after offset, client vs
//! `X-Forwarded-For`, user agent, status consistency, bytes), assigns each local line to at most
//! one LB line (best first), attaches error-log lines of the same request, and names the cause.
//! The findings stream out; the command line puts them in load-balancer order (sorted on disk).

pub(crate) mod elb;
pub(crate) mod filter;
pub(crate) mod idle;
pub(crate) mod join;
pub(crate) mod key;
pub(crate) mod local;
pub(crate) mod matcher;

use std::path::PathBuf;

use serde::Serialize;

use crate::format::Format;

/// Why a load balancer answered 5xx: the stable strings of [`Cause::as_str`] in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// `backend-5xx`: the instance answered 5xx itself.
    Backend5xx,
    /// `malformed-response`: the load balancer rejected what the instance sent.
    MalformedResponse,
    /// `connection-closed`: no usable answer; the connection was refused, closed or reset.
    ConnectionClosed,
    /// `backend-timeout`: the instance took longer than the load balancer's idle timeout.
    BackendTimeout,
    /// `no-healthy-backend`: no healthy instance to send the request to.
    NoHealthyBackend,
    /// `keepalive-closed`: the web server's keep-alive is shorter than the LB's idle timeout.
    KeepaliveClosed,
    /// `unmatched`: nothing local matches, and nothing else explains it.
    Unmatched,
}

impl Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Cause {
    /// Every cause, in the order reports list them.
    pub const ALL: [Cause; 7] = [
        Cause::Backend5xx,
        Cause::MalformedResponse,
        Cause::ConnectionClosed,
        Cause::BackendTimeout,
        Cause::NoHealthyBackend,
        Cause::KeepaliveClosed,
        Cause::Unmatched,
    ];

    /// One line for a person: what the cause means and where to look.
    pub fn meaning(self) -> &'static str {
        match self {
            Cause::Backend5xx => "the instance answered 5xx itself: its web server (upstream failed, see the error log) or the application",
            Cause::MalformedResponse => "the load balancer rejected what the instance sent (bad framing or headers; nginx logs status 009)",
            Cause::ConnectionClosed => "the load balancer got no usable answer: the connection was refused, closed or reset, and the instance logged nothing",
            Cause::BackendTimeout => "the instance took longer than the load balancer's idle timeout (it logged the request that much later, often as 499)",
            Cause::NoHealthyBackend => "the load balancer had no healthy instance to send the request to (503 without a backend)",
            Cause::KeepaliveClosed => {
                "the web server closes idle keep-alive connections sooner than the load balancer's idle timeout: the LB reused a closing connection"
            }
            Cause::Unmatched => "no local line matches this request, and nothing else explains it",
        }
    }

    /// The stable name in findings and reports.
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
    /// The address, as the load balancer logs it.
    pub ip: String,
    /// The port; `None`: any.
    pub port: Option<u16>,
}

impl BackendFilter {
    /// `10.0.0.5`, `10.0.0.5:80`, `[fd00::1]:80`, `fd00::1`.
    pub fn parse(s: &str) -> anyhow::Result<BackendFilter> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or_else(|| anyhow::anyhow!("--backend {s}: missing ']'"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse().map_err(|_| anyhow::anyhow!("--backend {s}: bad port"))?),
                None => None,
            };
            return Ok(BackendFilter { ip: ip.into(), port });
        }
        match s.rsplit_once(':') {
            Some((ip, p)) if !ip.contains(':') => {
                Ok(BackendFilter { ip: ip.into(), port: Some(p.parse().map_err(|_| anyhow::anyhow!("--backend {s}: bad port"))?) })
            }
            _ if s.is_empty() => Err(anyhow::anyhow!("--backend needs an address")),
            _ => Ok(BackendFilter { ip: s.into(), port: None }),
        }
    }

    /// Whether a logged backend (`ip`, `port`) is this one.
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
    /// Explain every backend's 5xx (fleet view), not only this instance's.
    pub all_backends: bool,
    /// The largest clock difference between LB and instance to look across (seconds).
    pub window_secs: f64,
    /// The load balancer's idle timeout (a 504's request is logged locally about this late).
    pub lb_idle_timeout_secs: u64,
    /// `lb_idle_timeout_secs` is a default, not the user's: infer the timeout from the logs
    /// (see `idle`) and use that.
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
    /// How reports name stdin (`-`), when not `-`.
    pub stdin_name: Option<String>,
}

impl Options {
    /// The largest clock difference looked across (µs).
    pub fn window_us(&self) -> i64 {
        (self.window_secs * 1e6) as i64
    }

    /// The load balancer's idle timeout (µs).
    pub fn idle_us(&self) -> i64 {
        self.lb_idle_timeout_secs as i64 * 1_000_000
    }

    /// The local side, from discovery: the keep-alive settings of the servers that write the
    /// logs correlated (a `named` log counts when discovery finds the server that writes it; with
    /// none named, every server's), and the logs themselves — rotated copies too — when none are
    /// `named` or discovery ran under `--root`.
    pub fn complete_from(&mut self, d: &crate::discover::Discovery, root: &crate::paths::Root, named: &[PathBuf]) {
        use crate::discover::LogKind;
        let writers: Vec<crate::discover::ServerKind> =
            d.sources.iter().filter(|s| named.is_empty() || s.files.iter().any(|f| named.contains(&s.host_file(root, f)))).map(|s| s.server).collect();
        self.keepalive = d
            .keepalive
            .iter()
            .filter(|k| writers.contains(&k.server))
            .filter_map(|k| {
                let t = k.timeout_ms?;
                Some(KeepAliveSetting {
                    timeout_ms: t,
                    directive: format!("{} {}", k.directive, crate::discover::format_ms(t)),
                    origin: k.origin.as_ref().map(|o| (o.file.clone(), o.line as u64)),
                })
            })
            .collect();
        if named.is_empty() || root.dir.is_some() {
            for s in d.sources.iter().filter(|s| matches!(s.kind, LogKind::Access | LogKind::Error)) {
                let format = s.log_format();
                for f in &s.files {
                    for h in with_rotated(&s.host_file(root, f)) {
                        let display = crate::paths::path_text(&root.instance(&h));
                        self.local.push(LocalLog { path: h, display, format: format.clone() });
                    }
                }
            }
        }
    }
}

/// A web server's idle keep-alive timeout, where discovery found it.
#[derive(Clone, Debug)]
pub struct KeepAliveSetting {
    /// The timeout, milliseconds.
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
    /// Its format, or `None` to detect it.
    pub format: Option<Format>,
}

/// A local line used as evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    /// The local log (instance path) or config file.
    pub file: String,
    /// The line (1-based).
    pub line: u64,
    /// `access`, `error`, or `config` (a web-server directive, for `keepalive-closed`).
    pub kind: &'static str,
    /// The status it logged (access lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// When, as the log wrote it (error logs: read in the host's zone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<crate::time::Timestamp>,
    /// The message (error lines) or the directive (config).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What went wrong, when the error line says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<crate::detect::Problem>,
}

/// The LB line a finding explains.
#[derive(Clone, Debug, Serialize)]
pub struct ElbRef {
    /// The load balancer's name, as its log line gives it (Classic: the name; ALB:
    /// `app/<name>/<id>`).
    pub lb: String,
    /// The load balancer's log (or the `--stdin-name`).
    pub file: String,
    /// The line (1-based).
    pub line: u64,
    /// The LB's timestamp.
    pub timestamp: crate::time::Timestamp,
    /// The backend (`ip:port`) it chose; `None`: none (`-`).
    pub backend: Option<String>,
    /// The status the LB sent the client.
    pub elb_status: u16,
    /// The status the backend sent the LB; `None`: the LB answered itself.
    pub backend_status: Option<u16>,
    /// The request line, as the LB logged it.
    pub request: String,
}

/// One explained LB 5xx.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// [`crate::detect::SCHEMA`].
    pub schema: u32,
    /// The load-balancer line.
    pub elb: ElbRef,
    /// `lb` or `backend`.
    pub source: &'static str,
    /// Why.
    pub cause: Cause,
    /// The cause in a sentence, with what was seen.
    pub explanation: String,
    /// Whether any local log was read: `false` is "no local logs were available", not "the
    /// instance logged nothing".
    pub evidence_available: bool,
    /// The local lines (and directive) it rests on.
    pub evidence: Vec<Evidence>,
}

/// CloudWatch-equivalent counts for one minute.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MinuteCounts {
    /// The minute (UTC, `2026-11-25T08:00:00Z`).
    pub minute: String,
    /// Classic `HTTPCode_ELB_5XX` / ALB `HTTPCode_ELB_5XX_Count`.
    #[serde(rename = "HTTPCode_ELB_5XX")]
    pub elb_5xx: u64,
    /// Classic `HTTPCode_Backend_5XX` / ALB `HTTPCode_Target_5XX_Count`.
    #[serde(rename = "HTTPCode_Backend_5XX")]
    pub backend_5xx: u64,
    /// Requests in the minute.
    pub requests: u64,
}

impl Summary {
    /// Each input problem once (every sorter that could not spill says the same thing).
    pub fn dedup_errors(&mut self) {
        let mut seen = std::collections::HashSet::new();
        self.errors.retain(|e| seen.insert(e.clone()));
    }
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
    /// The backend (`ip:port`).
    pub backend: String,
    /// How many 502s in a row.
    pub count: u64,
    /// The first one's time.
    pub first: crate::time::Timestamp,
    /// The last one's time.
    pub last: crate::time::Timestamp,
    /// The first one's `file:line`.
    pub first_line: String,
}

/// Per-backend rates (fleet view).
#[derive(Clone, Debug, Serialize)]
pub struct BackendRate {
    /// The backend (`ip:port`).
    pub backend: String,
    /// Requests the LB sent it.
    pub requests: u64,
    /// Of them, answered 5xx (by the backend or the LB).
    pub lb_5xx: u64,
    /// `lb_5xx / requests`.
    pub rate: f64,
    /// Its LB 5xx per minute (Unix minute, count), minutes without any left out (the HTML
    /// report's sparklines).
    #[serde(skip)]
    pub lb_5xx_by_minute: Vec<(i64, u64)>,
}

/// A rejected ELB line.
#[derive(Clone, Debug, Serialize)]
pub struct BadElbLine {
    /// The LB log.
    pub file: String,
    /// The line (1-based).
    pub line: u64,
    /// Why no parser took it.
    pub reason: String,
}

/// The counts of a correlation (the JSON report's `summary`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// LB lines read.
    pub elb_lines: u64,
    /// LB lines rejected.
    pub bad_lines: u64,
    /// LB 5xx in scope (this instance's, or with no backend address).
    pub lb_5xx: u64,
    /// Of them, answered by the load balancer itself.
    pub lb_generated: u64,
    /// Of them, the backend's answer passed on.
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
    /// CloudWatch's per-minute 5xx counts, from the logs.
    pub per_minute: Vec<MinuteCounts>,
    /// Runs of successive 502s from one backend (at least `--burst`).
    pub bursts: Vec<Burst>,
    /// Every backend's rate (`--all-backends`), highest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BackendRate>,
    /// The first rejected LB lines, with their reasons.
    pub bad_examples: Vec<BadElbLine>,
    /// Local logs read: path, format, lines, bad lines.
    pub local_logs: Vec<local::LocalSummary>,
    /// Findings by cause.
    pub causes: std::collections::BTreeMap<&'static str, u64>,
    /// Input problems (unreadable files, truncated gzip, …).
    pub errors: Vec<String>,
    /// Load-balancer inputs that could not be read, or not to their end (a missing file, a
    /// directory with no files, a truncated `.gz`): the run exits 2 after its report.
    pub inputs_failed: u64,
    /// The keep-alive settings of the servers that wrote the local logs (for the HTML report's
    /// keep-alive check; a finding cites the one that explains it).
    #[serde(skip)]
    pub keepalive: Vec<KeepAliveSetting>,
}

/// The whole answer.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The counts.
    pub summary: Summary,
    /// One finding per LB 5xx in scope, in load-balancer order.
    pub findings: Vec<Finding>,
}

/// Rotated siblings of a log (`access.log.1`, `access.log.2.gz`, `access.log-20261125`), oldest
/// first, then the log itself: the local side of a correlation covers the ELB's time range.
pub fn with_rotated(host: &std::path::Path) -> Vec<PathBuf> {
    let mut v = crate::paths::rotated_siblings(host);
    v.reverse();
    v.push(host.to_path_buf());
    v
}

/// Run both passes and the matcher; every finding goes to `sink` with its place in the
/// load-balancer inputs (file index, line), in no particular order. Memory is bounded by the
/// time window (see `join`), not by the number of LB 5xx.
pub fn run(opts: &Options, sink: &mut dyn FnMut((u32, u64), Finding)) -> Summary {
    run_completing(opts, |_| {}, sink)
}

/// [`run`], with `complete` filling in the local side of `opts` (its local logs and keep-alive
/// settings) once the load-balancer pass is done, which reads only the rest: the caller's
/// discovery of the instance overlaps that pass instead of delaying it.
pub fn run_completing(opts: &Options, complete: impl FnOnce(&mut Options), sink: &mut dyn FnMut((u32, u64), Finding)) -> Summary {
    // (the idle timeout the filter's entries for LB 504s were made with)
    let kept_for_idle = opts.lb_idle_timeout_secs;
    let t0 = std::time::Instant::now();
    let filter = filter::Filter::new();
    let ingest = elb::ingest(opts, &filter);
    let mut full = opts.clone();
    complete(&mut full);
    let opts = &full;
    let t1 = std::time::Instant::now();
    // The idle timeout: the user's, or inferred from the logs, or the default. For a Classic
    // inference the local pass also keeps the sampled 504s' lines across every timeout the LB
    // allows, and the first walk finds them (and the clock offset).
    let plan = idle::plan(opts, &ingest.alb_idle, &ingest.probes);
    let probes = match plan {
        idle::Plan::Infer => {
            let window = opts.window_us();
            let (lo, hi) = (idle::RANGE.0 as i64 * 1_000_000 - window - elb::MARGIN_US, idle::RANGE.1 as i64 * 1_000_000 + window + elb::MARGIN_US);
            for p in &ingest.probes {
                filter.add_range(p.key, key::agent_hash(p), None, p.arrival_us + lo, p.arrival_us + hi);
            }
            ingest.probes.clone()
        }
        idle::Plan::Known(_) => Vec::new(),
    };
    let mut local = local::collect(opts, &filter);
    drop(filter);
    let t2 = std::time::Instant::now();
    let first = join::offset_pass(opts, &ingest, &local, probes);
    let idle = match plan {
        idle::Plan::Known(t) => t,
        idle::Plan::Infer => idle::infer(opts, first.offset, &first.probes.wanted, &first.probes.found),
    };
    let mut eff = opts.clone();
    eff.lb_idle_timeout_secs = idle.value;
    let opts = &eff;
    // The local lines of Classic LB 504s lie an idle timeout after their arrival: when the one
    // inferred is not the one the local pass kept lines for, keep them again (the clock offset,
    // from the backend's own answers, does not depend on it).
    let classic_timeouts = ingest.timeouts - ingest.alb_idle.values().sum::<u64>();
    if idle.value != kept_for_idle && classic_timeouts > 0 && !opts.local.is_empty() {
        let filter = filter::Filter::new();
        for w in ingest.wanted.iter() {
            elb::note(&filter, opts, &w);
        }
        local = local::collect(opts, &filter);
    }
    let t3 = std::time::Instant::now();
    let zone = crate::time::Zone::for_local_times(local.local_offset.map(|o| (o, "the offset the access logs write".to_string())), opts.local_zone.as_ref());
    let errors = join::errors_by_instant(&local, zone.as_ref().map(|z| &z.0));
    let mut s = ingest.summary.clone();
    s.lb_idle_timeout_s = idle;
    s.keepalive = opts.keepalive.clone();
    let mut counted = |key: (u32, u64), f: Finding| {
        s.matched += u64::from(!f.evidence.is_empty());
        *s.causes.entry(f.cause.as_str()).or_default() += 1;
        sink(key, f);
    };
    let late_problems = join::match_pass(opts, &ingest, &local, &errors, first.offset, zone.as_ref().map(|z| &z.0), &mut counted);
    tracing::debug!(
        "correlate: ELB pass {:?} ({} wanted), local pass {:?} ({} lines kept), offset walk {:?} ({} pairs), matching {:?}",
        t1 - t0,
        ingest.wanted.len(),
        t2 - t1,
        local.access.len(),
        t3 - t2,
        first.pairs,
        t3.elapsed()
    );
    let has_error_logs = local.summaries.iter().any(|l| l.format.ends_with("-error"));
    s.local_logs = local.summaries;
    s.errors.extend(local.problems);
    s.errors.extend(first.problems);
    s.errors.extend(errors.error.clone());
    s.errors.extend(late_problems);
    s.dedup_errors();
    s.clock_offset_ms = first.offset.map(|o| o as f64 / 1000.0);
    if has_error_logs {
        s.error_log_time_zone = Some(zone.map_or_else(|| "UTC: no access log offset and no host time zone".to_string(), |z| z.1));
    }
    s
}

/// Run both passes and the matcher, and keep every finding, in load-balancer order (memory grows
/// with the findings: for a bounded run, stream them with [`run`]).
pub fn correlate(opts: &Options) -> Report {
    let mut all = Vec::new();
    let summary = run(opts, &mut |k, f| all.push((k, f)));
    all.sort_by_key(|(k, _)| *k);
    Report { summary, findings: all.into_iter().map(|(_, f)| f).collect() }
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
