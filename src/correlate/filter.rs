//! Which local lines the local pass keeps: a Bloom filter of (request key, time bucket) for every
//! LB 5xx in scope, filled by the load-balancer pass on every core.
//!
//! Its size is fixed (16 MiB), whatever the number of 5xx: a false positive only costs a kept
//! line that the matching then rejects; there are no false negatives, so no line that may be
//! evidence is dropped.

use std::sync::atomic::{AtomicU64, Ordering};

/// Width of a time bucket (µs).
pub const BUCKET_US: i64 = 10_000_000;
const BITS_LOG2: u32 = 27;
const HASHES: u64 = 4;
/// Bucket markers for entries without a time.
const ANY_TIME: i64 = i64::MIN;
const ERROR_PATH: i64 = i64::MIN + 1;

pub struct Filter {
    bits: Vec<AtomicU64>,
    /// Some entry was added without a time (any local time passes for its key).
    timeless: std::sync::atomic::AtomicBool,
}

impl Default for Filter {
    fn default() -> Self {
        Filter::new()
    }
}

#[inline]
fn hash(key: u64, bucket: i64) -> u64 {
    let h = (key ^ (bucket as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^ (h >> 29)
}

impl Filter {
    pub fn new() -> Filter {
        // (zeroed pages: only the touched ones count in memory)
        Filter { bits: (0..(1usize << (BITS_LOG2 - 6))).map(|_| AtomicU64::new(0)).collect(), timeless: false.into() }
    }

    #[inline]
    fn positions(h: u64) -> impl Iterator<Item = u64> {
        let h2 = h.rotate_left(32) | 1;
        (0..HASHES).map(move |i| h.wrapping_add(i.wrapping_mul(h2)) & ((1 << BITS_LOG2) - 1))
    }

    fn set(&self, h: u64) {
        for b in Self::positions(h) {
            self.bits[(b >> 6) as usize].fetch_or(1 << (b & 63), Ordering::Relaxed);
        }
    }

    #[inline]
    fn get(&self, h: u64) -> bool {
        Self::positions(h).all(|b| self.bits[(b >> 6) as usize].load(Ordering::Relaxed) & (1 << (b & 63)) != 0)
    }

    /// Local lines of request `key` stamped (local clock) from `lo` to `hi` µs may be evidence.
    pub fn add_range(&self, key: u64, lo: i64, hi: i64) {
        for b in lo.div_euclid(BUCKET_US)..=hi.div_euclid(BUCKET_US) {
            self.set(hash(key, b));
        }
    }

    /// Local lines of request `key` at any time may be evidence.
    pub fn add_any_time(&self, key: u64) {
        self.set(hash(key, ANY_TIME));
        self.timeless.store(true, Ordering::Relaxed);
    }

    /// Error-log lines naming this path (`request_key(b"", path)`) may be evidence.
    pub fn add_error_path(&self, path_key: u64) {
        self.set(hash(path_key, ERROR_PATH));
    }

    #[inline]
    pub fn wants(&self, key: u64, t: i64) -> bool {
        self.get(hash(key, t.div_euclid(BUCKET_US))) || (self.timeless.load(Ordering::Relaxed) && self.get(hash(key, ANY_TIME)))
    }

    #[inline]
    pub fn wants_error_path(&self, path_key: u64) -> bool {
        self.get(hash(path_key, ERROR_PATH))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let f = Filter::new();
        for k in 0..20_000u64 {
            f.add_range(k.wrapping_mul(0x1234_5678_9ABC_DEF1), k as i64 * 1_000_000, k as i64 * 1_000_000 + 30_000_000);
        }
        for k in 0..20_000u64 {
            let key = k.wrapping_mul(0x1234_5678_9ABC_DEF1);
            for dt in [0, 15_000_000, 30_000_000] {
                assert!(f.wants(key, k as i64 * 1_000_000 + dt));
            }
        }
        let fp = (0..100_000u64).filter(|k| f.wants(k.wrapping_mul(31) ^ 0xFFFF_0000, 5_000_000_000)).count();
        assert!(fp < 10, "{fp} false positives");
        assert!(!f.wants(42, 0));
        f.add_any_time(42);
        assert!(f.wants(42, 123_456_789_000));
        f.add_error_path(7);
        assert!(f.wants_error_path(7) && !f.wants_error_path(8));
    }
}
