//! The load balancer's idle timeout: given, inferred from the logs, or the default.
//!
//! ELB/ALB idle timeouts are configurable (1–4000 s) and users often do not know theirs; a 504's
//! request is logged on the instance about one idle timeout after it reached the LB, so matching
//! needs the value.
//!
//! - **ALB**: a 504 the LB generated carries `request_creation_time` and `time`; their difference
//!   is the timeout. The median over such lines.
//! - **Classic ELB** stamps only the arrival of a `- -1 -1 -1 504` line. The local pass also
//!   looks for the local line of a sample of those 504s anywhere in the range the LB allows (while
//!   matching with the default); from the pairs that can only be each other — same request, same
//!   client, one candidate each way, a server that stamps the request's end — the local end time
//!   minus the arrival minus the clock offset (from the backend's own answers) is the timeout, the
//!   median to the second. Only when that differs from the default is the local pass run again
//!   with it.
//!
//! `--lb-idle-timeout` always wins; without either, 60 s (the LB's default).

use serde::Serialize;

use std::collections::HashSet;

use super::elb::Wanted;
use super::local::{Candidate, Stamp};
use super::{Options, matcher};

/// The range an ELB/ALB idle timeout may have (seconds).
pub const RANGE: (u64, u64) = (1, 4000);
/// How many Classic 504s the probe pass looks for (spread over the logs).
const SAMPLE_504: usize = 64;

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

/// Whole seconds, within what the LB allows.
fn to_secs(us: i64) -> u64 {
    ((us + 500_000).div_euclid(1_000_000)).clamp(RANGE.0 as i64, RANGE.1 as i64) as u64
}

/// How the idle timeout will be known.
pub enum Plan {
    /// Given, said by ALB lines, or nothing to infer it from.
    Known(IdleTimeout),
    /// Classic ELB 504s: the local pass also looks for this sample of them (indices into the
    /// wanted lines) across every value the LB allows; [`infer`] reads the result.
    Infer(HashSet<u32>),
}

/// Decide how the idle timeout is known, from the options and the LB lines.
pub fn plan(opts: &Options, wanted: &[Wanted]) -> Plan {
    if !opts.infer_idle_timeout {
        return Plan::Known(IdleTimeout { value: opts.lb_idle_timeout_secs, from: "flag", pairs: 0 });
    }
    let is_timeout = |w: &Wanted| w.lb_generated && w.elb_status == 504;
    // ALB: the line itself says it.
    let mut alb: Vec<i64> = wanted.iter().filter(|w| is_timeout(w) && w.alb_created).map(|w| w.ts.micros - w.arrival_us).collect();
    if let Some(m) = matcher::median(&mut alb) {
        return Plan::Known(IdleTimeout { value: to_secs(m), from: "inferred", pairs: alb.len() as u64 });
    }
    let timeouts: Vec<u32> = wanted.iter().enumerate().filter(|(_, w)| is_timeout(w)).map(|(i, _)| i as u32).collect();
    if timeouts.is_empty() || opts.local.is_empty() {
        return Plan::Known(IdleTimeout { value: opts.lb_idle_timeout_secs, from: "default", pairs: 0 });
    }
    let step = timeouts.len().div_ceil(SAMPLE_504).max(1);
    Plan::Infer(timeouts.into_iter().step_by(step).collect())
}

/// The idle timeout from a local pass that looked for `plan`'s sample: from the pairs that can
/// only be each other, the local end time minus the arrival minus the clock offset (estimated from
/// the backend's own answers in `cands`), the median to the second; else the default.
pub fn infer(opts: &Options, wanted: &[Wanted], cands: &[Candidate], probes: &[Candidate]) -> IdleTimeout {
    let default = IdleTimeout { value: opts.lb_idle_timeout_secs, from: "default", pairs: 0 };
    let offset = matcher::estimate_offset(wanted, cands, opts.lb_idle_timeout_secs as i64 * 1_000_000).unwrap_or(0);
    let mut est: Vec<i64> = matcher::unambiguous(probes, |c| c.client_match && c.stamp == Stamp::End)
        .into_iter()
        .map(|c| matcher::local_mid(c) - wanted[c.wanted as usize].arrival_us - offset)
        .collect();
    match matcher::median(&mut est) {
        Some(m) => IdleTimeout { value: to_secs(m), from: "inferred", pairs: est.len() as u64 },
        None => default,
    }
}
