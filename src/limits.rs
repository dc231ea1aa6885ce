//! The accepted range of every duration and count a user can set, on the command line or in the
//! configuration file — one table, so that `--timeout inf`, `--window NaN` or
//! `interval_secs = 18446744073709551615` are a clear error naming the flag (or the key, with
//! the file and line) and exit 2, never a panic deep inside or a run that silently matches
//! nothing.
//!
//! | flag / key | range |
//! |---|---|
//! | `--timeout`, `[[probes]] timeout_secs` | more than 0, at most 3600 s |
//! | `--deadline` | more than 0, at most 14400 s |
//! | `--idle` | 0 to 4100 s (the load balancer's idle timeout is 1–4000 s) |
//! | `--lb-idle-timeout`, `lb_idle_timeout_secs` | 1 to 4000 s (AWS's range) |
//! | `--window`, `window_secs` | 0 to 3600 s |
//! | `--burst`, `burst` | 1 to 1 000 000 |
//! | `--threads` | 1 to 1024 |
//! | `--since` | 0 to 36500 days |
//! | `[[probes]] interval_secs`, `checkpoint_interval_secs` | 1 to 86400 s |
//! | `poll_interval_ms` | 10 to 3 600 000 ms |
//! | `rotate_wait_secs` | 0 to 86400 s |
//! | `summary_interval_secs` | 0 (never) to 604800 s |
//! | `max_line_bytes` | 1024 to 1 GiB |
//! | `sink_max_bytes` | 1024 to 1 PiB |

use serde::{Deserialize, Deserializer};

/// A closed range (`min` excluded when `min_open`), with the unit it is written in.
#[derive(Clone, Copy, Debug)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    pub min_open: bool,
    pub unit: &'static str,
}

const fn range(min: f64, max: f64, unit: &'static str) -> Range {
    Range { min, max, min_open: false, unit }
}

pub const TIMEOUT: Range = Range { min: 0.0, max: 3600.0, min_open: true, unit: "seconds" };
pub const DEADLINE: Range = Range { min: 0.0, max: 14400.0, min_open: true, unit: "seconds" };
pub const IDLE: Range = range(0.0, 4100.0, "seconds");
pub const LB_IDLE: Range = range(1.0, 4000.0, "seconds");
pub const WINDOW: Range = range(0.0, 3600.0, "seconds");
pub const BURST: Range = range(1.0, 1e6, "");
pub const THREADS: Range = range(1.0, 1024.0, "");
pub const SINCE: Range = range(0.0, 36500.0 * 86400.0, "seconds");
pub const INTERVAL: Range = range(1.0, 86400.0, "seconds");
pub const POLL_MS: Range = range(10.0, 3.6e6, "milliseconds");
pub const ROTATE_WAIT: Range = range(0.0, 86400.0, "seconds");
pub const SUMMARY: Range = range(0.0, 604800.0, "seconds");
pub const LINE_BYTES: Range = range(1024.0, (1u64 << 30) as f64, "bytes");
pub const SINK_BYTES: Range = range(1024.0, (1u64 << 50) as f64, "bytes");

/// A value outside its [`Range`], or not a number: the message names the flag or key (clap and
/// the TOML parser add the value's place).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{what} must be {expected}{range}, not {value}")]
pub struct OutOfRange {
    /// The flag or key.
    pub what: String,
    /// `""`, `"a number "` or `"a whole number "`.
    pub expected: &'static str,
    /// The range in words (`from 1 to 4000 seconds`).
    pub range: String,
    /// The value as given (quoted when it was not a number).
    pub value: String,
}

impl Range {
    fn describe(&self) -> String {
        let unit = if self.unit.is_empty() { String::new() } else { format!(" {}", self.unit) };
        if self.min_open { format!("more than {} and at most {}{unit}", self.min, self.max) } else { format!("from {} to {}{unit}", self.min, self.max) }
    }

    fn refuse(&self, what: &str, expected: &'static str, value: String) -> OutOfRange {
        OutOfRange { what: what.to_string(), expected, range: self.describe(), value }
    }

    /// `v` if it lies in the range; else what is wrong, naming `what`.
    pub fn check(&self, what: &str, v: f64) -> Result<f64, OutOfRange> {
        let low_ok = if self.min_open { v > self.min } else { v >= self.min };
        if v.is_finite() && low_ok && v <= self.max { Ok(v) } else { Err(self.refuse(what, "", v.to_string())) }
    }

    /// A whole number in the range.
    pub fn check_int(&self, what: &str, v: u64) -> Result<u64, OutOfRange> {
        if (v as f64) >= self.min && (v as f64) <= self.max && (v > 0 || !self.min_open) {
            Ok(v)
        } else {
            Err(self.refuse(what, "a whole number ", v.to_string()))
        }
    }

    /// Parse a command-line value (a decimal number) and check it.
    pub fn parse(&self, what: &str, s: &str) -> Result<f64, OutOfRange> {
        let v: f64 = s.trim().parse().map_err(|_| self.refuse(what, "a number ", format!("{s:?}")))?;
        self.check(what, v)
    }

    /// Parse a command-line whole number and check it.
    pub fn parse_int(&self, what: &str, s: &str) -> Result<u64, OutOfRange> {
        let v: u64 = s.trim().parse().map_err(|_| self.refuse(what, "a whole number ", format!("{s:?}")))?;
        self.check_int(what, v)
    }
}

/// clap value parsers, one per flag (the message names the flag; clap adds the value and exits 2).
pub mod cli {
    use super::*;

    pub fn timeout(s: &str) -> Result<f64, OutOfRange> {
        TIMEOUT.parse("--timeout", s)
    }
    pub fn deadline(s: &str) -> Result<f64, OutOfRange> {
        DEADLINE.parse("--deadline", s)
    }
    pub fn idle(s: &str) -> Result<f64, OutOfRange> {
        IDLE.parse("--idle", s)
    }
    pub fn window(s: &str) -> Result<f64, OutOfRange> {
        WINDOW.parse("--window", s)
    }
    pub fn lb_idle(s: &str) -> Result<u64, OutOfRange> {
        LB_IDLE.parse_int("--lb-idle-timeout", s)
    }
    pub fn burst(s: &str) -> Result<usize, OutOfRange> {
        BURST.parse_int("--burst", s).map(|v| v as usize)
    }
    pub fn threads(s: &str) -> Result<usize, OutOfRange> {
        THREADS.parse_int("--threads", s).map(|v| v as usize)
    }
}

/// serde `deserialize_with` functions, one per configuration key: the error names the key, and
/// the TOML parser adds the file's line and column.
pub mod de {
    use super::*;

    fn float<'de, D: Deserializer<'de>>(d: D, r: Range, key: &str) -> Result<f64, D::Error> {
        let v = f64::deserialize(d)?;
        r.check(key, v).map_err(serde::de::Error::custom)
    }

    fn int<'de, D: Deserializer<'de>>(d: D, r: Range, key: &str) -> Result<u64, D::Error> {
        let v = u64::deserialize(d)?;
        r.check_int(key, v).map_err(serde::de::Error::custom)
    }

    pub fn probe_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        float(d, TIMEOUT, "probes.timeout_secs")
    }
    pub fn probe_interval<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        int(d, INTERVAL, "probes.interval_secs")
    }
    pub fn checkpoint_interval<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        int(d, INTERVAL, "checkpoint_interval_secs")
    }
    pub fn poll_interval<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        int(d, POLL_MS, "poll_interval_ms")
    }
    pub fn rotate_wait<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        int(d, ROTATE_WAIT, "rotate_wait_secs")
    }
    pub fn summary_interval<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        int(d, SUMMARY, "summary_interval_secs")
    }
    pub fn lb_idle<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        int(d, LB_IDLE, "lb_idle_timeout_secs")
    }
    pub fn line_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        int(d, LINE_BYTES, "max_line_bytes").map(|v| v as usize)
    }
    pub fn sink_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        int(d, SINK_BYTES, "sink_max_bytes")
    }
    pub fn window<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        float(d, WINDOW, "window_secs")
    }
    pub fn burst<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        int(d, BURST, "burst").map(|v| v as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(cli::timeout("2.5"), Ok(2.5));
        for bad in ["inf", "-inf", "NaN", "0", "-1", "1e20", "3600.5", "x", ""] {
            let e = cli::timeout(bad).unwrap_err();
            assert!(e.to_string().starts_with("--timeout must be"), "{bad}: {e}");
        }
        assert_eq!(cli::idle("0"), Ok(0.0));
        assert!(cli::idle("inf").is_err() && cli::idle("1e20").is_err());
        assert!(cli::window("NaN").is_err() && cli::window("inf").is_err());
        assert_eq!(cli::window("0"), Ok(0.0));
        assert!(cli::lb_idle("0").is_err() && cli::lb_idle("4001").is_err() && cli::lb_idle("18446744073709551615").is_err());
        assert_eq!(cli::lb_idle("4000"), Ok(4000));
        assert!(cli::burst("0").is_err());
        assert!(cli::threads("0").is_err() && cli::threads("100000").is_err());
        assert!(INTERVAL.check_int("k", u64::MAX).is_err());
    }
}
