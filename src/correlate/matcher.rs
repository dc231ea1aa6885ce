//! Matching LB 5xx to local lines, and naming the cause.

use std::collections::HashMap;

use super::key::{Candidate, ErrorLine, Stamp, Wanted};
use super::{Cause, ElbRef, Evidence, Finding, Options};
use crate::detect::Problem;

const SEC: i64 = 1_000_000;

/// Where in the request's life the local line's stamp is expected, LB clock (µs).
fn expected(w: &Wanted, c: &Candidate, idle_us: i64) -> i64 {
    match c.stamp {
        Stamp::Start => w.arrival_us,
        Stamp::End => match (w.lb_generated, w.elb_status) {
            (false, _) => w.arrival_us + w.proc_us.unwrap_or(0),
            (true, 504) => w.arrival_us + idle_us,
            (true, _) => w.arrival_us,
        },
    }
}

/// The local stamp's midpoint: nginx/Apache truncate to the second.
pub(super) fn local_mid(c: &Candidate) -> i64 {
    c.ts.micros + c.ts.precision.micros() / 2
}

pub(super) fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

/// The candidates `keep` accepts that can only be each other: the one kept candidate of their
/// LB line, and the one kept LB line of their local line.
pub(super) fn unambiguous(cands: &[Candidate], keep: impl Fn(&Candidate) -> bool) -> Vec<&Candidate> {
    let mut per_wanted: HashMap<u32, usize> = HashMap::new();
    let mut per_local: HashMap<(u32, u64), usize> = HashMap::new();
    let kept: Vec<&Candidate> = cands.iter().filter(|c| keep(c)).collect();
    for c in &kept {
        *per_wanted.entry(c.wanted).or_default() += 1;
        *per_local.entry((c.file, c.line)).or_default() += 1;
    }
    kept.into_iter().filter(|c| per_wanted[&c.wanted] == 1 && per_local[&(c.file, c.line)] == 1).collect()
}

/// The backend's own answers among a slice's candidates, for the clock offset: per local line
/// (file, line) its time, and local clock minus LB clock when its LB line has no other such
/// candidate (`None` otherwise). The offset is the median over the local lines that, across the
/// whole run, have exactly one such candidate with a `Some` (see [`super::join::offset_pass`]).
pub fn offset_candidates(wanted: &[Wanted], cands: &[Candidate]) -> Vec<((u32, u64), i64, Option<i64>)> {
    let keep = |c: &Candidate| {
        let w = &wanted[c.wanted as usize];
        !w.lb_generated && c.status == w.backend_status
    };
    let mut per_wanted: HashMap<u32, usize> = HashMap::new();
    for c in cands.iter().filter(|c| keep(c)) {
        *per_wanted.entry(c.wanted).or_default() += 1;
    }
    cands
        .iter()
        .filter(|c| keep(c))
        // (the idle timeout plays no part for the backend's own answers)
        .map(|c| ((c.file, c.line), c.ts.micros, (per_wanted[&c.wanted] == 1).then(|| local_mid(c) - expected(&wanted[c.wanted as usize], c, 0))))
        .collect()
}

/// What one slice's matching leaves for the next: local lines already claimed and error lines
/// already used, with their times, until they are too old to matter.
#[derive(Default)]
pub struct Carry {
    taken: HashMap<(u32, u64), i64>,
    used_err: HashMap<(u32, u64), i64>,
}

impl Carry {
    /// Forget local lines stamped before `local` and error lines before `error` (µs).
    pub fn forget_before(&mut self, local: i64, error: i64) {
        self.taken.retain(|_, t| *t >= local);
        self.used_err.retain(|_, t| *t >= error);
    }
}

/// What resolving a slice needs of the whole run: the options, the host's zone (error-log times
/// are local wall-clock readings), the names of the LB and local files (findings name them), and
/// the run's clock offset (µs).
pub struct Run<'a> {
    pub opts: &'a Options,
    pub zone: Option<&'a crate::time::Zone>,
    pub elb_files: &'a [String],
    pub local_files: &'a [String],
    pub offset: Option<i64>,
}

/// Resolve every wanted LB line of a slice into a finding (in the slice's order): pair each with
/// the local access line that is its request ([`Run::pair`]), gather the error-log lines near it
/// ([`Run::error_lines`]), and name the cause ([`explain`], [`Run::keepalive_race`]). `cands`
/// are the slice's candidate local lines, `errors` its error lines by path key.
pub fn resolve(run: &Run<'_>, wanted: &[Wanted], cands: Vec<Candidate>, mut errors: HashMap<u64, Vec<ErrorLine>>, carry: &mut Carry) -> Vec<Finding> {
    let taken_w = run.pair(wanted, &cands, carry);
    let mut findings = Vec::with_capacity(wanted.len());
    for (wi, w) in wanted.iter().enumerate() {
        let matched = taken_w.get(&(wi as u32)).map(|&i| &cands[i]);
        let mut evidence = Vec::new();
        if let Some(c) = matched {
            evidence.push(Evidence {
                file: run.local_files[c.file as usize].clone(),
                line: c.line,
                kind: "access",
                status: c.status,
                timestamp: Some(c.ts),
                message: None,
                problem: None,
            });
        }
        let err_ev = run.error_lines(w, matched, errors.get_mut(&w.path_key), &mut carry.used_err);
        for e in &err_ev {
            evidence.push(Evidence {
                file: run.local_files[e.file as usize].clone(),
                line: e.line,
                kind: "error",
                status: None,
                timestamp: Some(run.instant(e)),
                message: Some(e.message.clone()),
                problem: e.problem,
            });
        }
        let problems: Vec<Problem> = err_ev.iter().filter_map(|e| e.problem).collect();
        // (no local log was read: "the instance logged nothing" would be a guess)
        let available = !run.local_files.is_empty();
        let (mut cause, mut explanation) = explain(w, matched, &problems, run.opts.lb_idle_timeout_secs, available);
        if available
            && evidence.is_empty()
            && let Some((c, e, config)) = run.keepalive_race(w)
        {
            (cause, explanation) = (c, e);
            evidence.extend(config);
        }
        findings.push(Finding {
            schema: crate::detect::SCHEMA,
            evidence_available: available,
            elb: ElbRef {
                lb: w.text.lb().to_string(),
                file: run.elb_files[w.file as usize].clone(),
                line: w.line,
                timestamp: w.ts,
                backend: w.text.backend().map(str::to_string),
                elb_status: w.elb_status,
                backend_status: w.backend_status,
                request: w.text.request().to_string(),
            },
            source: if w.lb_generated { "lb" } else { "backend" },
            cause,
            explanation,
            evidence,
        });
    }
    findings
}

impl Run<'_> {
    /// An error-log line's instant: its wall-clock reading in the host's zone (UTC without one).
    fn instant(&self, e: &ErrorLine) -> crate::time::Timestamp {
        self.zone.map_or(e.ts, |z| z.resolve(e.ts))
    }

    /// Which candidate (by index) each wanted line (by index) is: every admissible candidate
    /// scored, then the best first, a local line taken once (in this slice or an earlier one).
    fn pair(&self, wanted: &[Wanted], cands: &[Candidate], carry: &mut Carry) -> HashMap<u32, usize> {
        let (idle_us, window_us) = (self.opts.idle_us(), self.opts.window_us());
        let off = self.offset.unwrap_or(0);
        let mut scored: Vec<(f64, usize)> = Vec::new();
        for (i, c) in cands.iter().enumerate() {
            let w = &wanted[c.wanted as usize];
            let prec = c.ts.precision.micros();
            let r = local_mid(c) - expected(w, c, idle_us) - off;
            let slack = prec / 2 + SEC + SEC / 2;
            let ok = match (w.lb_generated, w.elb_status) {
                (false, _) => c.status == w.backend_status && r.abs() <= slack,
                (true, 504) => r >= -(window_us + slack) && r <= window_us + slack,
                (true, _) => r >= -slack && r <= window_us + slack,
            };
            if !ok {
                continue;
            }
            // A request the LB sent to no backend is claimed only on strong local evidence: the same
            // client, within the local stamp's own precision (a client's retry comes later).
            if w.text.backend().is_none() && (w.elb_status == 503 || !c.client_match || r.abs() > prec / 2 + SEC / 4) {
                continue;
            }
            // Inside the stamp's precision every time is as good as another: order decides (below).
            let mut score = -((r.abs() - prec / 2).max(0) as f64) / SEC as f64;
            if c.client_match {
                score += 3.0;
            }
            if c.status == w.backend_status {
                score += 2.0;
            }
            if c.bytes.is_some_and(|b| b == w.sent_bytes && b > 0) {
                score += 1.0;
            }
            scored.push((score, i));
        }
        // Best score first; on a tie the earlier LB request takes the earlier local line, so two
        // identical requests in the same second are paired in order.
        // (sort keys computed once: the comparator then touches no other memory)
        let mut keyed: Vec<(f64, i64, u32, u64, usize)> = scored
            .iter()
            .map(|&(sc, i)| {
                let c = &cands[i];
                (sc, wanted[c.wanted as usize].arrival_us, c.file, c.line, i)
            })
            .collect();
        keyed.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)).then(a.3.cmp(&b.3)));
        let mut taken_w: HashMap<u32, usize> = HashMap::new();
        for k in keyed {
            let c = &cands[k.4];
            if taken_w.contains_key(&c.wanted) || carry.taken.contains_key(&(c.file, c.line)) {
                continue;
            }
            taken_w.insert(c.wanted, k.4);
            carry.taken.insert((c.file, c.line), c.ts.micros);
        }
        taken_w
    }

    /// The error-log lines of the same path near the local answer (or near the LB's time, when
    /// there is none), not used by an earlier request, in file order; marked used.
    fn error_lines<'e>(
        &self,
        w: &Wanted,
        matched: Option<&Candidate>,
        list: Option<&'e mut Vec<ErrorLine>>,
        used_err: &mut HashMap<(u32, u64), i64>,
    ) -> Vec<&'e ErrorLine> {
        let (idle_us, window_us) = (self.opts.idle_us(), self.opts.window_us());
        let anchor = match matched {
            Some(c) => c.ts.micros,
            None => w.arrival_us + self.offset.unwrap_or(0),
        };
        let (lo, hi) = match matched.map(|c| c.stamp) {
            Some(Stamp::Start) => (anchor - 2 * SEC, anchor + idle_us + 2 * SEC),
            Some(Stamp::End) => (anchor - 2 * SEC - w.proc_us.unwrap_or(0), anchor + 2 * SEC),
            None => (anchor - 2 * SEC, anchor + idle_us + window_us),
        };
        let mut err_ev: Vec<&ErrorLine> = Vec::new();
        if let Some(list) = list {
            let mut near: Vec<&ErrorLine> = list
                .iter()
                .filter(|e| {
                    let t = self.instant(e).micros;
                    t >= lo && t <= hi + SEC && !used_err.contains_key(&(e.file, e.line))
                })
                .collect();
            near.sort_by_key(|e| (self.instant(e).micros - anchor).abs());
            // Lines of one failure come together (Apache: AH01102 + AH00898): take those within 1 s of the nearest.
            if let Some(first) = near.first() {
                let t0 = first.wall_us;
                for e in near.iter().filter(|e| (e.wall_us - t0).abs() <= SEC) {
                    err_ev.push(e);
                }
            }
        }
        err_ev.sort_by_key(|e| (e.file, e.line));
        for e in &err_ev {
            used_err.insert((e.file, e.line), self.instant(e).micros);
        }
        err_ev
    }

    /// Nothing on the instance for an LB 502/504 sent to a backend, and a keep-alive shorter than
    /// the LB's idle timeout: the documented race (the backend closes an idle connection as the
    /// LB reuses it). The cause, its explanation, and the directive as evidence when its place
    /// is known.
    fn keepalive_race(&self, w: &Wanted) -> Option<(Cause, String, Option<Evidence>)> {
        let opts = self.opts;
        if !(w.lb_generated && matches!(w.elb_status, 502 | 504) && w.text.backend().is_some()) {
            return None;
        }
        let k = opts.keepalive.iter().filter(|k| k.timeout_ms < opts.lb_idle_timeout_secs * 1000).min_by_key(|k| k.timeout_ms)?;
        let explanation = format!(
            "the instance logged nothing for this request, and its web server closes idle keep-alive connections after {} \
             ({}), before the load balancer's {}s idle timeout: the backend can close a connection just as the load balancer \
             sends a request on it. Fix: a keep-alive timeout longer than the load balancer's",
            crate::discover::format_ms(k.timeout_ms),
            match &k.origin {
                Some((f, l)) => format!("{} at {f}:{l}", k.directive),
                None => format!("{}, the default", k.directive),
            },
            opts.lb_idle_timeout_secs
        );
        let config = k.origin.as_ref().map(|(f, l)| Evidence {
            file: f.clone(),
            line: *l,
            kind: "config",
            status: None,
            timestamp: None,
            message: Some(k.directive.clone()),
            problem: None,
        });
        Some((Cause::KeepaliveClosed, explanation, config))
    }
}

fn is_connection_failure(p: &Problem) -> bool {
    matches!(p, Problem::PrematureClose | Problem::ConnectionReset | Problem::ScriptEndedEarly | Problem::ConnectFailed | Problem::NoLiveUpstream)
}

fn explain(w: &Wanted, m: Option<&Candidate>, problems: &[Problem], idle: u64, available: bool) -> (Cause, String) {
    let first_problem = problems.first().map(|p| p.as_str()).unwrap_or("");
    let nothing = if available { "the instance logged nothing" } else { "no local logs were available" };
    if !w.lb_generated {
        let st = w.backend_status.unwrap_or(w.elb_status);
        return match (m, problems.is_empty()) {
            (Some(_), false) => (
                Cause::Backend5xx,
                format!("the instance answered {st}: its web server made it because its upstream failed ({first_problem}, see the error log)"),
            ),
            (Some(_), true) => {
                (Cause::Backend5xx, format!("the instance answered {st}: the application made it (the web server logged it, with no upstream error)"))
            }
            (None, _) if !available => (Cause::Backend5xx, format!("the backend answered {st}; no local logs were available")),
            (None, _) => (Cause::Backend5xx, format!("the backend answered {st}; no local log line matches this request")),
        };
    }
    match (w.elb_status, m) {
        (503, None) if w.text.backend().is_none() => (
            Cause::NoHealthyBackend,
            "the load balancer answered 503 without choosing a backend: no healthy (or registered) instance, or its surge queue was full".into(),
        ),
        (504, Some(c)) => {
            let late = (c.ts.micros - w.arrival_us) as f64 / 1e6;
            let st = c.status.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
            (
                Cause::BackendTimeout,
                format!(
                    "the instance was still working when the load balancer's {idle}s idle timeout expired: it logged the request {late:.1}s after it arrived, with status {st}"
                ),
            )
        }
        (504, None) => (
            Cause::BackendTimeout,
            if available {
                format!("the backend did not answer within the load balancer's {idle}s idle timeout; the instance logged nothing for it (yet)")
            } else {
                format!("the backend did not answer within the load balancer's {idle}s idle timeout; no local logs were available")
            },
        ),
        (_, Some(c)) if c.status == Some(499) => {
            (Cause::ConnectionClosed, "the load balancer closed the connection before the instance answered (the instance logged 499)".into())
        }
        (_, Some(c)) => {
            let st = c.status.unwrap_or(0);
            let what = if st == 9 {
                "its response had no valid status line (nginx logs that as 009, an HTTP/0.9 pass-through)".to_string()
            } else if !problems.is_empty() {
                format!("its web server reported {first_problem}")
            } else {
                format!("the instance logged {st}, so the response it sent was malformed or cut short")
            };
            (Cause::MalformedResponse, format!("the instance answered but the load balancer rejected the response: {what}"))
        }
        (_, None) if problems.iter().any(is_connection_failure) => {
            (Cause::ConnectionClosed, format!("the instance's web server logged {first_problem} for this request and no answer: the connection was closed"))
        }
        (502, None) => (
            Cause::ConnectionClosed,
            if w.text.error_reason().is_empty() || w.text.error_reason() == "-" {
                format!("the load balancer got no usable answer and {nothing}: the connection was refused, closed or reset")
            } else {
                format!("the load balancer got no usable answer ({}); {nothing}", w.text.error_reason())
            },
        ),
        (s, None) => (Cause::Unmatched, format!("the load balancer answered {s} itself and nothing on this instance explains it")),
    }
}
