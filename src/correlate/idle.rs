//! The load balancer's idle timeout: given, inferred from the logs, or the default.
//!
//! ELB/ALB idle timeouts are configurable (1–4000 s) and users often do not know theirs; a 504's
//! request is logged on the instance about one idle timeout after it reached the LB, so matching
//! needs the value.
//!
//! - **ALB**: a 504 the LB generated carries `request_creation_time` and `time`; their difference
//!   is the timeout. The median over such lines (counted per second as the LB pass reads them).
//! - **Classic ELB** stamps only the arrival of a `- -1 -1 -1 504` line. The local pass also
//!   keeps the local lines of a sample of those 504s (the LB pass keeps the 64 whose hash is
//!   smallest: uniform, and the same however the logs are split) anywhere in the range the LB
//!   allows; from the pairs that can only be each other — same request, same
//!   client, one candidate each way, a server that stamps the request's end — the local end time
//!   minus the arrival minus the clock offset (from the backend's own answers) is the timeout, the
//!   median to the second; matching then uses it.
//!
//! `--lb-idle-timeout` always wins; without either, 60 s (the LB's default).

use serde::Serialize;

use std::collections::BTreeMap;

use super::key::{Candidate, Stamp, Wanted};
use super::{Options, matcher};

/// The range an ELB/ALB idle timeout may have (seconds).
pub const RANGE: (u64, u64) = (1, 4000);

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
pub(super) fn to_secs(us: i64) -> u64 {
    ((us + 500_000).div_euclid(1_000_000)).clamp(RANGE.0 as i64, RANGE.1 as i64) as u64
}

/// How the idle timeout will be known.
pub enum Plan {
    /// Given, said by ALB lines, or nothing to infer it from.
    Known(IdleTimeout),
    /// Classic ELB 504s: the first walk over the logs also looks for a sample of them
    /// (the LB pass's `probes`, at most [`SAMPLE_504`]) across every value the LB allows; [`infer`]
    /// reads the result.
    Infer,
}

/// The most Classic 504s the inference looks for (spread over the logs).
pub const SAMPLE_504: usize = 64;

/// Decide how the idle timeout is known, from the options and what the LB pass counted: the
/// ALB lines' timeouts (whole seconds → lines) and the sample of Classic 504s it kept.
pub fn plan(opts: &Options, alb_idle: &BTreeMap<u64, u64>, classic_504s: &[Wanted]) -> Plan {
    if !opts.infer_idle_timeout {
        return Plan::Known(IdleTimeout { value: opts.lb_idle_timeout_secs, from: "flag", pairs: 0 });
    }
    // ALB: the line itself says it; the median of the (whole-second) values.
    let n: u64 = alb_idle.values().sum();
    if n > 0 {
        let mut seen = 0;
        for (&secs, &count) in alb_idle {
            seen += count;
            if seen > n / 2 {
                return Plan::Known(IdleTimeout { value: secs, from: "inferred", pairs: n });
            }
        }
    }
    if classic_504s.is_empty() || opts.local.is_empty() {
        return Plan::Known(IdleTimeout { value: opts.lb_idle_timeout_secs, from: "default", pairs: 0 });
    }
    Plan::Infer
}

/// The idle timeout from the probes' local lines: from the pairs that can only be each other,
/// the local end time minus the arrival minus the clock `offset` (µs), the median to the
/// second; else the default. `found` are the local lines that may be the `probes`' (by index).
pub fn infer(opts: &Options, offset: Option<i64>, probes: &[Wanted], found: &[Candidate]) -> IdleTimeout {
    let default = IdleTimeout { value: opts.lb_idle_timeout_secs, from: "default", pairs: 0 };
    let offset = offset.unwrap_or(0);
    let mut est: Vec<i64> = matcher::unambiguous(found, |c| c.client_match && c.stamp == Stamp::End)
        .into_iter()
        .map(|c| matcher::local_mid(c) - probes[c.wanted as usize].arrival_us - offset)
        .collect();
    match matcher::median(&mut est) {
        Some(m) => IdleTimeout { value: to_secs(m), from: "inferred", pairs: est.len() as u64 },
        None => default,
    }
}
