//! The load balancer's idle timeout: given, inferred from the logs, or the default.
//!
//! ELB/ALB idle timeouts are configurable (1–4000 s) and users often do not know theirs; a 504's
//! request is logged on the instance about one idle timeout after it reached the LB, so matching
//! needs the value.
//!
//! - **ALB**: a 504 the LB generated carries `request_creation_time` and `time`; their difference
//!   is the timeout. The median over such lines.
//! - **Classic ELB** stamps only the arrival of a `- -1 -1 -1 504` line. A probe pass looks for
//!   the local line of a sample of those 504s anywhere in the range the LB allows, together with
//!   the backend's own answers (which give the clock offset); from the pairs that can only be each
//!   other — same request, same client, one candidate each way, a server that stamps the request's
//!   end — the local end time minus the arrival (minus the offset) is the timeout. The median,
//!   to the second.
//!
//! `--lb-idle-timeout` always wins; without either, 60 s (the LB's default).

use serde::Serialize;

use super::elb::Wanted;
use super::local::{self, Stamp};
use super::{Options, matcher};

/// The range an ELB/ALB idle timeout may have (seconds).
pub const RANGE: (u64, u64) = (1, 4000);
/// How many Classic 504s the probe pass looks for (spread over the logs).
const SAMPLE_504: usize = 64;
/// How many of the backend's own answers it uses for the clock offset.
const SAMPLE_OFFSET: usize = 4096;

/// The idle timeout used, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdleTimeout {
    pub value: u64,
    /// `flag`, `inferred` or `default`.
    pub from: &'static str,
    /// How many LB/instance pairs (or ALB lines) an inferred value rests on.
    #[serde(skip_serializing_if = "is_zero")]
    pub pairs: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Default for IdleTimeout {
    fn default() -> Self {
        IdleTimeout { value: 60, from: "default", pairs: 0 }
    }
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

/// Whole seconds, within what the LB allows.
fn to_secs(us: i64) -> u64 {
    ((us + 500_000).div_euclid(1_000_000)).clamp(RANGE.0 as i64, RANGE.1 as i64) as u64
}

/// The idle timeout to match with.
pub fn decide(opts: &Options, wanted: &[Wanted]) -> IdleTimeout {
    if !opts.infer_idle_timeout {
        return IdleTimeout { value: opts.lb_idle_timeout_secs, from: "flag", pairs: 0 };
    }
    let default = IdleTimeout { value: opts.lb_idle_timeout_secs, from: "default", pairs: 0 };
    let is_timeout = |w: &Wanted| w.lb_generated && w.elb_status == 504;
    // ALB: the line itself says it.
    let mut alb: Vec<i64> = wanted.iter().filter(|w| is_timeout(w) && w.alb_created).map(|w| w.ts.micros - w.arrival_us).collect();
    if let Some(m) = median(&mut alb) {
        return IdleTimeout { value: to_secs(m), from: "inferred", pairs: alb.len() as u64 };
    }
    // Classic: a probe pass over a sample.
    let timeouts: Vec<&Wanted> = wanted.iter().filter(|w| is_timeout(w)).collect();
    if timeouts.is_empty() || opts.local.is_empty() {
        return default;
    }
    let spread = |v: Vec<&Wanted>, n: usize| -> Vec<Wanted> {
        let step = v.len().div_ceil(n).max(1);
        v.into_iter().step_by(step).cloned().collect()
    };
    let mut sample = spread(wanted.iter().filter(|w| !w.lb_generated).collect(), SAMPLE_OFFSET);
    let first_504 = sample.len();
    sample.extend(spread(timeouts, SAMPLE_504));
    let got = local::collect_with(opts, &sample, RANGE);
    let offset = matcher::estimate_offset(&sample, &got.candidates, 0).unwrap_or(0);
    // Pairs that can only be each other.
    let mut per_wanted = std::collections::HashMap::<u32, usize>::new();
    let mut per_local = std::collections::HashMap::<(u32, u64), usize>::new();
    let usable = |c: &&local::Candidate| c.wanted as usize >= first_504 && c.client_match && c.stamp == Stamp::End;
    for c in got.candidates.iter().filter(usable) {
        *per_wanted.entry(c.wanted).or_default() += 1;
        *per_local.entry((c.file, c.line)).or_default() += 1;
    }
    let mut est: Vec<i64> = got
        .candidates
        .iter()
        .filter(usable)
        .filter(|c| per_wanted[&c.wanted] == 1 && per_local[&(c.file, c.line)] == 1)
        .map(|c| c.ts.micros + c.ts.precision.micros() / 2 - sample[c.wanted as usize].arrival_us - offset)
        .collect();
    match median(&mut est) {
        Some(m) => IdleTimeout { value: to_secs(m), from: "inferred", pairs: est.len() as u64 },
        None => default,
    }
}
