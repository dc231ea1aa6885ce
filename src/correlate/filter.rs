//! Which local lines the local pass keeps: a Bloom filter of (request key, time bucket) for every
//! LB 5xx in scope, filled by the load-balancer pass on every core.
//!
//! A blocked Bloom filter (an entry's bits in one word: one cache miss per local line), its size
//! fixed (32 MiB), whatever the number of 5xx: a false positive only costs a kept
//! line that the matching then rejects; there are no false negatives, so no line that may be
//! evidence is dropped.

use std::sync::atomic::{AtomicU64, Ordering};

/// Width of a time bucket (µs).
pub const BUCKET_US: i64 = 4_000_000;
/// 2^22 words of 64 bits: 32 MiB.
const WORDS_LOG2: u32 = 22;
/// Bits set per entry, all in one word (one cache miss per look-up).
const HASHES: u32 = 3;
/// The bucket marker of error-path entries.
const ERROR_PATH: i64 = i64::MIN + 1;
/// The status class of an entry any local status matches.
const ANY_STATUS: u64 = 0;
/// User-agent markers: an LB line without one (any local user agent matches), and the entry
/// local lines without a user agent look for.
const ANY_UA: u64 = 0x5bd1_e995_0000_0001;
const NO_LOCAL_UA: u64 = 0x5bd1_e995_0000_0002;

pub struct Filter {
    words: Box<[AtomicU64]>,
    /// Error-log paths, apart (1 MiB): scattered over the time-bucketed words, they touched
    /// every page of them.
    paths: Box<[AtomicU64]>,
}

/// 2^17 words of 64 bits for error-log paths.
const PATH_WORDS_LOG2: u32 = 17;

/// `n` zeroed words from the allocator (pages are only touched, and counted, when entries land).
fn zeroed_words(n: usize) -> Box<[AtomicU64]> {
    const _: () = assert!(std::mem::align_of::<AtomicU64>() == std::mem::align_of::<u64>());
    let zeroed: Box<[u64]> = vec![0u64; n].into_boxed_slice();
    // SAFETY: `AtomicU64` has the same size and bit validity as `u64` (std documents it), and
    // the same alignment here (checked above).
    unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [AtomicU64]) }
}

impl Default for Filter {
    fn default() -> Self {
        Filter::new()
    }
}

/// Words per region: a time bucket's entries all lie in the region of its number (modulo the
/// 4096 regions), so the local pass, reading lines in about time order, looks up 8 KiB at a time
/// (in cache) rather than all 32 MiB: on the 2 M-pair bench a third off the local pass. A region
/// that many buckets' entries crowd (a day of 5 M 5xx) lets more lines through; those are only
/// kept, never wrong.
const REGION_LOG2: u32 = 10;

/// The word of (key, bucket).
#[inline]
fn word(key: u64, bucket: i64) -> usize {
    let h = (key ^ (bucket as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let h = h ^ (h >> 31);
    let region = (bucket as u64) & ((1 << (WORDS_LOG2 - REGION_LOG2)) - 1);
    ((region << REGION_LOG2) | (h >> (64 - REGION_LOG2))) as usize
}

/// The word of an error-log path.
#[inline]
fn path_word(path_key: u64) -> usize {
    let h = path_key.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    ((h ^ (h >> 31)) >> (64 - PATH_WORDS_LOG2)) as usize
}

/// The class of an entry: its user agent (or marker) and status class.
#[inline]
fn variant(ua: u64, status_class: u64) -> u64 {
    ua.wrapping_mul(0x9FB2_1C65_1E98_DF25) ^ status_class
}

/// The bits of (key, bucket, class) within its word.
#[inline]
fn pattern(key: u64, bucket: i64, class: u64) -> u64 {
    let mut h = (key.rotate_left(17) ^ (bucket as u64) ^ class.wrapping_mul(0xA076_1D64_78BD_642F)).wrapping_mul(0xE703_7ED1_A0B4_28DB);
    h ^= h >> 29;
    let mut m = 0u64;
    for _ in 0..HASHES {
        m |= 1 << (h & 63);
        h >>= 6;
    }
    m
}

impl Filter {
    pub fn new() -> Filter {
        Filter { words: zeroed_words(1 << WORDS_LOG2), paths: zeroed_words(1 << PATH_WORDS_LOG2) }
    }

    fn set(&self, key: u64, bucket: i64, class: u64) {
        self.words[word(key, bucket)].fetch_or(pattern(key, bucket, class), Ordering::Relaxed);
    }

    /// Local lines of request `key` stamped (local clock) from `lo` to `hi` µs may be evidence:
    /// those with `status` (a backend's own answer is logged with the status the LB saw), or
    /// with any status (`None`); with user agent `ua` (a hash of it as the client sent it), or
    /// any (`None`) — and lines that log no user agent.
    pub fn add_range(&self, key: u64, ua: Option<u64>, status: Option<u16>, lo: i64, hi: i64) {
        let class = status.map_or(ANY_STATUS, |s| s as u64 + 1);
        let (with, without) = (variant(ua.unwrap_or(ANY_UA), class), variant(NO_LOCAL_UA, class));
        for b in lo.div_euclid(BUCKET_US)..=hi.div_euclid(BUCKET_US) {
            self.set(key, b, with);
            self.set(key, b, without);
        }
    }

    /// Bring the region of time bucket `bucket` into cache ahead of its look-ups: the local
    /// pass, reading lines in about time order, calls it for the next bucket when it enters one,
    /// so a bucket's first look-ups do not each wait on memory (a sixth of the local pass on
    /// the 2 M-pair bench). A hint only: elsewhere than x86_64 it does nothing.
    #[inline]
    pub fn warm(&self, bucket: i64) {
        #[cfg(target_arch = "x86_64")]
        {
            let first = word(0, bucket) & !((1 << REGION_LOG2) - 1);
            let region = &self.words[first..first + (1 << REGION_LOG2)];
            for line in region.chunks(8) {
                // SAFETY: a prefetch of memory this slice owns; it reads nothing and cannot fault.
                unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(line.as_ptr() as *const i8) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = bucket;
    }

    /// Error-log lines naming this path (`request_key(b"", path)`) may be evidence.
    pub fn add_error_path(&self, path_key: u64) {
        self.paths[path_word(path_key)].fetch_or(pattern(path_key, ERROR_PATH, ANY_STATUS), Ordering::Relaxed);
    }

    /// Whether a local line of request `key` with user agent `ua` (hashed as for
    /// [`Filter::add_range`]; `None`: the log has none) and `status`, stamped `t`, may be evidence.
    /// `ua` is only asked for when the answer depends on it.
    #[inline]
    pub fn wants(&self, key: u64, ua: impl FnOnce() -> Option<u64>, status: Option<u16>, t: i64) -> bool {
        let b = t.div_euclid(BUCKET_US);
        let w = self.words[word(key, b)].load(Ordering::Relaxed);
        if w == 0 {
            return false;
        }
        let has = |ua: u64| {
            let p = pattern(key, b, variant(ua, ANY_STATUS));
            if w & p == p {
                return true;
            }
            status.is_some_and(|s| {
                let p = pattern(key, b, variant(ua, s as u64 + 1));
                w & p == p
            })
        };
        match ua() {
            Some(u) => has(u) || has(ANY_UA),
            None => has(NO_LOCAL_UA),
        }
    }

    #[inline]
    pub fn wants_error_path(&self, path_key: u64) -> bool {
        let p = pattern(path_key, ERROR_PATH, ANY_STATUS);
        self.paths[path_word(path_key)].load(Ordering::Relaxed) & p == p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let f = Filter::new();
        for k in 0..20_000u64 {
            let status = (k % 2 == 0).then_some(502);
            f.add_range(k.wrapping_mul(0x1234_5678_9ABC_DEF1), Some(77), status, k as i64 * 1_000_000, k as i64 * 1_000_000 + 30_000_000);
        }
        for k in 0..20_000u64 {
            let key = k.wrapping_mul(0x1234_5678_9ABC_DEF1);
            for dt in [0, 15_000_000, 30_000_000] {
                assert!(f.wants(key, || Some(77), Some(502), k as i64 * 1_000_000 + dt));
                assert!(f.wants(key, || None, Some(502), k as i64 * 1_000_000 + dt), "a log without user agents");
                // an entry for any status takes every status; one for 502 only 502 (bar false positives)
                if k % 2 == 1 {
                    assert!(f.wants(key, || Some(77), Some(200), k as i64 * 1_000_000 + dt) && f.wants(key, || Some(77), None, k as i64 * 1_000_000 + dt));
                }
            }
        }
        let fp = (0..20_000u64).step_by(2).filter(|k| f.wants(k.wrapping_mul(0x1234_5678_9ABC_DEF1), || Some(77), Some(200), *k as i64 * 1_000_000)).count();
        // (a blocked filter: the other status's bits are looked for in the word that holds this
        // key's own: about (8/64)³ of the time they are all there)
        assert!(fp < 100, "{fp} false positives by status");
        let fp = (0..20_000u64).filter(|k| f.wants(k.wrapping_mul(0x1234_5678_9ABC_DEF1), || Some(78), Some(502), *k as i64 * 1_000_000)).count();
        assert!(fp < 200, "{fp} false positives by user agent");
        f.add_range(5, None, None, 0, 0);
        assert!(f.wants(5, || Some(78), Some(200), 0) && f.wants(5, || None, None, 0), "an LB line without a user agent takes any");
        let fp = (0..100_000u64).filter(|k| f.wants(k.wrapping_mul(31) ^ 0xFFFF_0000, || Some(77), Some(502), 5_000_000_000)).count();
        assert!(fp < 10, "{fp} false positives");
        assert!(!f.wants(42, || Some(77), None, 0));
        f.add_error_path(7);
        assert!(f.wants_error_path(7) && !f.wants_error_path(8));
    }
}
