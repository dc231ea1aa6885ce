//! An external sort: records kept in bounded memory, spilled to temporary files in sorted runs
//! and read back merged in key order.
//!
//! `--correlate` holds what it needs of millions of load-balancer 5xx and local lines this way:
//! memory is a run's worth of records per writer, whatever the input; the disk holds the rest
//! (`$TMPDIR`, the files are unnamed and vanish with the process). Small inputs never touch the
//! disk: the last run stays in memory.
//!
//! A run that cannot be written (a full disk) stays in memory and the failure is reported
//! ([`Sorted::error`]): the answer is still complete, only the memory bound is lost.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

/// `TAILGATE_SPILL_TEST=1` (for tests): every run is 7 records and every `--correlate` slice
/// 5 LB 5xx, so spilling, merging and crossing slices run on small inputs; the answer must not
/// change (`tests/it/cli_correlate.rs`).
pub fn test_small() -> bool {
    static SMALL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SMALL.get_or_init(|| std::env::var_os("TAILGATE_SPILL_TEST").is_some_and(|v| v == "1"))
}

/// A record that can be sorted and spilled.
pub trait Spill: Sized {
    /// The sort key's type.
    type Key: Ord + Copy;
    /// The sort key (unique per record, so the order never depends on how runs were cut).
    fn key(&self) -> Self::Key;
    /// Append the record's bytes (read back by [`Spill::decode`]).
    fn encode(&self, out: &mut Vec<u8>);
    /// The record [`Spill::encode`] wrote; `None` if the bytes are not one.
    fn decode(d: &mut Dec<'_>) -> Option<Self>;
    /// About how much memory it holds (for [`Sorter::by_bytes`]).
    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

enum Run<T> {
    Mem(Vec<T>),
    File(File),
}

/// Collects records; every `cap` of them are sorted and written out as a run.
pub struct Sorter<T: Spill> {
    buf: Vec<T>,
    cap: usize,
    /// With [`Sorter::by_bytes`]: the bytes held, and the most before a run is written.
    bytes: usize,
    max_bytes: usize,
    runs: Vec<Run<T>>,
    error: Option<String>,
    len: u64,
}

impl<T: Spill> Sorter<T> {
    /// At most `cap` records in memory before a run is written.
    pub fn new(cap: usize) -> Self {
        let cap = if test_small() { 7 } else { cap };
        Sorter { buf: Vec::new(), cap: cap.max(1), bytes: 0, max_bytes: usize::MAX, runs: Vec::new(), error: None, len: 0 }
    }

    #[inline]
    fn reserve(&mut self) {
        // (a run's worth at once: address space only until written, and no copying as it grows)
        if self.buf.capacity() == 0 && self.cap != usize::MAX {
            self.buf.reserve_exact(self.cap);
        }
    }

    /// At most about `max` bytes of records ([`Spill::size`]) in memory before a run is written.
    pub fn by_bytes(max: usize) -> Self {
        if test_small() {
            return Sorter::new(7);
        }
        Sorter { max_bytes: max, cap: usize::MAX, ..Sorter::new(1) }
    }

    /// Add a record (a sorted run goes to disk when the memory bound is reached).
    #[inline]
    pub fn push(&mut self, t: T) {
        self.reserve();
        if self.max_bytes != usize::MAX {
            self.bytes += t.size();
        }
        self.buf.push(t);
        self.len += 1;
        if self.buf.len() >= self.cap || self.bytes >= self.max_bytes {
            self.bytes = 0;
            self.spill();
        }
    }

    fn spill(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.sort_unstable_by_key(Spill::key);
        match write_run(&buf) {
            Ok(f) => self.runs.push(Run::File(f)),
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(format!(
                        "cannot write temporary data to {} ({e}): kept in memory instead (set TMPDIR to a disk with room)",
                        std::env::temp_dir().display()
                    ));
                }
                self.runs.push(Run::Mem(buf));
            }
        }
    }

    /// Every record pushed, sorted.
    pub fn finish(mut self) -> Sorted<T> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.sort_unstable_by_key(Spill::key);
        if !buf.is_empty() {
            self.runs.push(Run::Mem(buf));
        }
        Sorted { runs: self.runs, error: self.error, len: self.len }
    }
}

fn write_run<T: Spill>(recs: &[T]) -> io::Result<File> {
    let f = tempfile::tempfile()?;
    let mut w = BufWriter::with_capacity(1 << 16, &f);
    let mut b = Vec::new();
    for r in recs {
        b.clear();
        r.encode(&mut b);
        w.write_all(&(b.len() as u32).to_le_bytes())?;
        w.write_all(&b)?;
    }
    w.flush()?;
    drop(w);
    Ok(f)
}

/// Sorted records, in runs; read them in order with [`Sorted::iter`] (as often as needed).
pub struct Sorted<T: Spill> {
    runs: Vec<Run<T>>,
    /// A run that could not be spilled, or read back.
    pub error: Option<String>,
    len: u64,
}

impl<T: Spill> Default for Sorted<T> {
    fn default() -> Self {
        Sorted { runs: Vec::new(), error: None, len: 0 }
    }
}

impl<T: Spill + Clone> Sorted<T> {
    /// How many records.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Add another writer's records (the order stays the key's).
    pub fn absorb(&mut self, o: Sorted<T>) {
        self.runs.extend(o.runs);
        self.len += o.len;
        if self.error.is_none() {
            self.error = o.error;
        }
    }

    /// Every record in key order. A run that cannot be read back ends early; `failed` says so.
    pub fn iter(&self) -> Merge<'_, T> {
        Self::merge(self.runs.iter().map(|r| match r {
            Run::Mem(v) => Src::Mem(v, 0),
            Run::File(f) => Src::File(BufReader::with_capacity(1 << 16, f), Vec::new()),
        }))
    }

    /// [`Sorted::iter`] for the last read: the records kept in memory are moved out, not copied.
    pub fn drain(&mut self) -> Merge<'_, T> {
        Self::merge(self.runs.iter_mut().map(|r| match r {
            Run::Mem(v) => Src::Owned(std::mem::take(v).into_iter()),
            Run::File(f) => Src::File(BufReader::with_capacity(1 << 16, &*f), Vec::new()),
        }))
    }

    fn merge<'a>(runs: impl Iterator<Item = Src<'a, T>>) -> Merge<'a, T> {
        let mut srcs = Vec::new();
        let failed = std::cell::Cell::new(false);
        for r in runs {
            srcs.push(match r {
                Src::File(f, buf) => {
                    let mut file: &File = f.get_ref();
                    match file.rewind() {
                        Ok(()) => Src::File(f, buf),
                        Err(_) => {
                            failed.set(true);
                            Src::Mem(&[], 0)
                        }
                    }
                }
                mem => mem,
            });
        }
        let mut m = Merge { srcs, heap: BinaryHeap::new(), heads: Vec::new(), failed };
        m.heads = (0..m.srcs.len()).map(|_| None).collect();
        // (one run, the usual case below the bound, is read straight, without the heap)
        if m.srcs.len() > 1 {
            for i in 0..m.srcs.len() {
                m.refill(i);
            }
        }
        m
    }
}

enum Src<'a, T> {
    Mem(&'a [T], usize),
    Owned(std::vec::IntoIter<T>),
    File(BufReader<&'a File>, Vec<u8>),
}

/// The k-way merge of a [`Sorted`]'s runs.
pub struct Merge<'a, T: Spill> {
    srcs: Vec<Src<'a, T>>,
    heap: BinaryHeap<Reverse<(T::Key, usize)>>,
    heads: Vec<Option<T>>,
    /// A run could not be read to its end.
    pub failed: std::cell::Cell<bool>,
}

impl<T: Spill + Clone> Merge<'_, T> {
    fn refill(&mut self, i: usize) {
        if let Some(t) = self.read(i) {
            self.heap.push(Reverse((t.key(), i)));
            self.heads[i] = Some(t);
        }
    }

    /// The next record of run `i`.
    fn read(&mut self, i: usize) -> Option<T> {
        match &mut self.srcs[i] {
            Src::Mem(v, pos) => {
                let r = v.get(*pos).cloned();
                *pos += 1;
                r
            }
            Src::Owned(v) => v.next(),
            Src::File(r, buf) => {
                let mut len = [0u8; 4];
                match r.read_exact(&mut len) {
                    Ok(()) => {
                        buf.resize(u32::from_le_bytes(len) as usize, 0);
                        match r.read_exact(buf) {
                            Ok(()) => {
                                let t = T::decode(&mut Dec(buf));
                                if t.is_none() {
                                    self.failed.set(true);
                                }
                                t
                            }
                            Err(_) => {
                                self.failed.set(true);
                                None
                            }
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => None,
                    Err(_) => {
                        self.failed.set(true);
                        None
                    }
                }
            }
        }
    }
}

impl<T: Spill + Clone> Iterator for Merge<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.srcs.len() == 1 {
            return self.read(0);
        }
        let Reverse((_, i)) = self.heap.pop()?;
        let t = self.heads[i].take();
        self.refill(i);
        t
    }
}

/// Little-endian fields, for [`Spill::encode`].
pub trait Enc {
    /// One byte.
    fn u8(&mut self, v: u8);
    /// Two bytes.
    fn u16(&mut self, v: u16);
    /// Four bytes.
    fn u32(&mut self, v: u32);
    /// Eight bytes.
    fn u64(&mut self, v: u64);
    /// Eight bytes, two's complement.
    fn i64(&mut self, v: i64) {
        self.u64(v as u64)
    }
    /// A length (4 bytes), then the bytes.
    fn bytes(&mut self, v: &[u8]);
    /// A presence byte, then the value.
    fn opt_u16(&mut self, v: Option<u16>) {
        self.u8(v.is_some() as u8);
        self.u16(v.unwrap_or(0));
    }
    /// A presence byte, then the value.
    fn opt_u64(&mut self, v: Option<u64>) {
        self.u8(v.is_some() as u8);
        self.u64(v.unwrap_or(0));
    }
    /// Micros, offset and precision.
    fn timestamp(&mut self, t: &crate::time::Timestamp) {
        self.i64(t.micros);
        self.u8(t.offset.is_some() as u8);
        self.u32(t.offset.unwrap_or(0) as u32);
        self.u8(t.precision as u8);
    }
}

impl Enc for Vec<u8> {
    fn u8(&mut self, v: u8) {
        self.push(v)
    }
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes())
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.extend_from_slice(v)
    }
}

/// Reads what [`Enc`] wrote.
pub struct Dec<'a>(pub &'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    /// One byte; `None` at the end.
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    /// Two bytes.
    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes(b.try_into().unwrap()))
    }
    /// Four bytes.
    pub fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    }
    /// Eight bytes.
    pub fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    }
    /// Eight bytes, two's complement.
    pub fn i64(&mut self) -> Option<i64> {
        self.u64().map(|v| v as i64)
    }
    /// One byte, 0 or 1.
    pub fn bool(&mut self) -> Option<bool> {
        self.u8().map(|b| b != 0)
    }
    /// A length, then that many bytes (borrowed).
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// [`Dec::bytes`] as UTF-8; `None` if they are not.
    pub fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    /// A presence byte, then the value.
    pub fn opt_u16(&mut self) -> Option<Option<u16>> {
        let some = self.bool()?;
        let v = self.u16()?;
        Some(some.then_some(v))
    }
    /// A presence byte, then the value.
    pub fn opt_u64(&mut self) -> Option<Option<u64>> {
        let some = self.bool()?;
        let v = self.u64()?;
        Some(some.then_some(v))
    }
    /// What [`Enc::timestamp`] wrote.
    pub fn timestamp(&mut self) -> Option<crate::time::Timestamp> {
        use crate::time::Precision;
        let micros = self.i64()?;
        let has = self.bool()?;
        let off = self.u32()? as i32;
        let precision = match self.u8()? {
            0 => Precision::Second,
            1 => Precision::Milli,
            2 => Precision::Micro,
            _ => return None,
        };
        Some(crate::time::Timestamp { micros, offset: has.then_some(off), precision })
    }
}

/// Bytes in a sort order: a rendered finding keyed by its load-balancer file and line.
#[derive(Clone)]
pub struct Keyed<K> {
    /// Where it sorts.
    pub key: K,
    /// The rendered bytes.
    pub bytes: Vec<u8>,
}

impl Spill for Keyed<(u32, u64)> {
    type Key = (u32, u64);
    fn key(&self) -> (u32, u64) {
        self.key
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.u32(self.key.0);
        out.u64(self.key.1);
        out.bytes(&self.bytes);
    }
    fn decode(d: &mut Dec<'_>) -> Option<Self> {
        Some(Keyed { key: (d.u32()?, d.u64()?), bytes: d.bytes()?.to_vec() })
    }
    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.bytes.capacity()
    }
}

impl Spill for i64 {
    type Key = i64;
    fn key(&self) -> i64 {
        *self
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.i64(*self);
    }
    fn decode(d: &mut Dec<'_>) -> Option<Self> {
        d.i64()
    }
}

/// The median (the upper one of an even count, as the matcher's) of
/// sorted values, read once.
pub fn median(s: &Sorted<i64>) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    s.iter().nth((s.len() / 2) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way of cutting the input into runs (in memory, on disk, one record each) gives the
    /// input sorted, and reading it twice gives it twice.
    #[test]
    fn runs_merge_into_the_sorted_input() {
        let input: Vec<i64> = (0..5000).map(|i: i64| (i * 7919) % 5003 - 2500).collect();
        let mut want = input.clone();
        want.sort();
        for cap in [1, 7, 1000, 5000, 100_000] {
            let mut s = Sorter::new(cap);
            for &v in &input {
                s.push(v);
            }
            let sorted = s.finish();
            assert_eq!(sorted.len(), 5000);
            assert!(sorted.error.is_none());
            let got: Vec<i64> = sorted.iter().collect();
            assert_eq!(got, want, "cap {cap}");
            assert_eq!(sorted.iter().collect::<Vec<_>>(), want, "read again, cap {cap}");
            assert_eq!(median(&sorted), Some(want[2500]));
            // The last read moves the in-memory runs out and reads the spilled ones as well.
            let mut sorted = sorted;
            assert_eq!(sorted.drain().collect::<Vec<_>>(), want, "drained, cap {cap}");
        }
        // Two writers, absorbed.
        let (mut a, mut b) = (Sorter::new(10), Sorter::new(13));
        for (i, &v) in input.iter().enumerate() {
            if i % 3 == 0 { a.push(v) } else { b.push(v) }
        }
        let mut all = a.finish();
        all.absorb(b.finish());
        assert_eq!(all.iter().collect::<Vec<_>>(), want);
    }

    #[test]
    fn keyed_bytes_round_trip() {
        let mut s = Sorter::new(2);
        for (k, t) in [((1u32, 9u64), "c"), ((0, 5), "a"), ((1, 2), "b")] {
            s.push(Keyed { key: k, bytes: t.as_bytes().to_vec() });
        }
        let got: Vec<String> = s.finish().iter().map(|k| String::from_utf8(k.bytes).unwrap()).collect();
        assert_eq!(got, ["a", "b", "c"]);
    }
}
