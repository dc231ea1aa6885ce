//! The merge-join of the two passes' sorted streams, slice by slice: memory is bounded by the
//! time window, not by the number of LB 5xx.
//!
//! The LB 5xx in scope come by arrival ([`super::elb::Ingest::wanted`]), the kept local lines by
//! local time ([`super::local::Collected`]). A slice is a run of consecutive LB 5xx (at most
//! [`SLICE_MAX`], or [`SLICE_SPAN_US`] of arrivals); the local lines that may be theirs lie
//! within the clock window, the idle timeout and a second of stamp precision of the slice, so a
//! sliding window over the local stream holds them, and nothing older or newer is in memory.
//!
//! Two walks over the streams:
//! 1. [`offset_pass`]: the clock offset (the median over pairs that can only be each other,
//!    exact, its samples sorted on disk past a bound) and, when the idle timeout is to be
//!    inferred, the local lines of a sample of LB 504s across every timeout the LB allows.
//! 2. [`match_pass`]: candidates, scores and causes per slice ([`super::matcher::resolve`]); a
//!    local line claimed (or an error line used) in one slice stays claimed in the next.

use std::collections::{HashMap, VecDeque};

use super::elb::{Ingest, MARGIN_US};
use super::key::{Candidate, ErrorLine, Wanted};
use super::local::{Collected, ErrorRec, LocalRec, OnlineOffset, Probes, SliceIndex};
use super::{Finding, Options, matcher};
use crate::spill::{Merge, Sorter};

/// The most LB 5xx in one slice.
pub const SLICE_MAX: usize = 16_384;
/// The longest span of arrivals in one slice (µs).
pub const SLICE_SPAN_US: i64 = 300_000_000;

/// The LB 5xx in scope, slice by slice, each placed in its file.
struct Slices<'a> {
    it: Merge<'a, Wanted>,
    peeked: Option<Wanted>,
    ing: &'a Ingest,
}

impl<'a> Slices<'a> {
    fn new(ing: &'a Ingest) -> Self {
        let mut it = ing.wanted.iter();
        Slices { peeked: it.next(), it, ing }
    }

    /// When the next slice's first LB 5xx arrived.
    fn peek_arrival(&self) -> Option<i64> {
        self.peeked.as_ref().map(|w| w.arrival_us)
    }

    fn next_slice(&mut self) -> Option<Vec<Wanted>> {
        let mut first = self.peeked.take()?;
        self.peeked = self.it.next();
        self.ing.place(&mut first);
        let start = first.arrival_us;
        let mut v = vec![first];
        while let Some(n) = &self.peeked {
            let last = v.last().map_or(start, |w| w.arrival_us);
            // (a slice never splits equal arrivals: the order within them is the matcher's)
            let (most, span) = if crate::spill::test_small() { (5, 10_000_000) } else { (SLICE_MAX, SLICE_SPAN_US) };
            if (v.len() >= most || n.arrival_us - start > span) && n.arrival_us != last {
                break;
            }
            let mut w = std::mem::replace(&mut self.peeked, self.it.next()).expect("peeked");
            self.ing.place(&mut w);
            v.push(w);
        }
        Some(v)
    }
}

/// The kept local lines of the time around a slice, in local time order.
struct Window<'a, T: crate::spill::Spill> {
    it: Merge<'a, T>,
    peeked: Option<T>,
    held: VecDeque<T>,
}

impl<'a, T: crate::spill::Spill + Clone> Window<'a, T> {
    fn new(s: &'a crate::spill::Sorted<T>) -> Self {
        let mut it = s.iter();
        Window { peeked: it.next(), it, held: VecDeque::new() }
    }

    /// Hold what `time` puts in `[lo, hi]` (and everything between already held), dropping
    /// what is older than `lo`; `loaded` sees each record as it arrives.
    fn advance(&mut self, lo: i64, hi: i64, time: impl Fn(&T) -> i64, mut loaded: impl FnMut(&mut T)) {
        while self.held.front().is_some_and(|r| time(r) < lo) {
            self.held.pop_front();
        }
        while let Some(r) = &self.peeked {
            let t = time(r);
            if t > hi {
                break;
            }
            let mut r = std::mem::replace(&mut self.peeked, self.it.next()).expect("peeked");
            if t >= lo {
                loaded(&mut r);
                self.held.push_back(r);
            }
        }
    }

    /// Temporary data could not be read back.
    fn failed(&self) -> bool {
        self.it.failed.get()
    }
}

const READ_BACK: &str = "temporary data (in TMPDIR) could not be read back: the answer may be incomplete";

/// Room before a slice's first arrival and after its last for the local lines that may be its
/// requests' (µs): the clock window, the idle timeout (an LB 504's request is logged that late,
/// and no backend answer takes longer), a coarse stamp.
fn margins(opts: &Options) -> (i64, i64) {
    (opts.window_us() + MARGIN_US, opts.idle_us() + opts.window_us() + MARGIN_US)
}

/// What the first walk learns.
pub struct OffsetPass {
    /// Local clock minus LB clock (µs), from pairs that can only be each other.
    pub offset: Option<i64>,
    pub pairs: u64,
    pub probes: Probes,
    pub problems: Vec<String>,
}

/// Walk 1: the clock offset; and the local lines of the `probes` (LB 504s) across every idle
/// timeout the LB allows.
pub fn offset_pass(opts: &Options, ing: &Ingest, local: &Collected, probes: Vec<Wanted>) -> OffsetPass {
    let window_us = opts.window_us();
    let (early, late) = margins(opts);
    let mut online = OnlineOffset::default();
    let mut diffs: Sorter<i64> = Sorter::new(1 << 20);
    let mut probes = {
        let mut p = Probes::default();
        for w in probes {
            p.add(w);
        }
        p
    };
    let mut win: Window<'_, LocalRec> = Window::new(&local.access);
    let mut cands: Vec<Candidate> = Vec::new();
    let mut pending: HashMap<(u32, u64), (i64, u32, Option<i64>)> = HashMap::new();
    let place = |r: &mut LocalRec| local.bases.place(r.file, &mut r.chunk, &mut r.line);
    let stamp = |r: &LocalRec| local.stamps[r.file as usize];
    let mut slices = Slices::new(ing);
    while let Some(slice) = slices.next_slice() {
        let (s, e) = (slice[0].arrival_us, slice.last().expect("a slice is never empty").arrival_us);
        let p = &mut probes;
        win.advance(
            s - early,
            e + late,
            |r| r.ts.micros,
            |r| {
                place(r);
                p.check(r, stamp(r), window_us);
            },
        );
        slice_candidates(opts, local, &slice, &win.held, &mut online, true, &mut cands);
        // A local line is a sample when, over every slice that can reach it, it is the one
        // candidate of one LB line that has no other: counted across slices, and decided once no
        // later slice can reach it (its LB line arrives at most a window after it).
        for (line, t, d) in matcher::offset_candidates(&slice, &cands) {
            let e = pending.entry(line).or_insert((t, 0, None));
            e.1 += 1;
            e.2 = d;
        }
        if let Some(next) = slices.peek_arrival() {
            pending.retain(|_, &mut (t, n, d)| {
                let open = t + window_us + MARGIN_US >= next;
                if !open
                    && n == 1
                    && let Some(d) = d
                {
                    diffs.push(d);
                }
                open
            });
        }
    }
    for (_, (_, n, d)) in pending.drain() {
        if n == 1
            && let Some(d) = d
        {
            diffs.push(d);
        }
    }
    // The rest of the local lines, for the probes.
    if !probes.is_empty() {
        let p = &mut probes;
        win.advance(
            i64::MIN,
            i64::MAX,
            |r| r.ts.micros,
            |r| {
                place(r);
                p.check(r, stamp(r), window_us);
            },
        );
    }
    let diffs = diffs.finish();
    let mut problems = Vec::new();
    if let Some(e) = &diffs.error {
        problems.push(e.clone());
    }
    if win.failed() || slices.it.failed.get() {
        problems.push(READ_BACK.into());
    }
    OffsetPass { offset: crate::spill::median(&diffs), pairs: diffs.len(), probes, problems }
}

/// Walk 2: every LB 5xx in scope becomes a finding, handed to `sink` with its place in the
/// load-balancer inputs (file, line), slice by slice (by arrival).
pub fn match_pass(
    opts: &Options,
    ing: &Ingest,
    local: &Collected,
    errors: &crate::spill::Sorted<ErrorRec>,
    offset: Option<i64>,
    zone: Option<&crate::time::Zone>,
    sink: &mut dyn FnMut((u32, u64), Finding),
) -> Vec<String> {
    let (window_us, idle_us) = (opts.window_us(), opts.idle_us());
    let (early, late) = margins(opts);
    let off = offset.unwrap_or(0);
    // Error lines are looked for around the local answer or the LB's time, an idle timeout on.
    let err_margin = idle_us + 2 * window_us + 4 * MARGIN_US + off.abs();
    let mut online = OnlineOffset::default();
    let mut win: Window<'_, LocalRec> = Window::new(&local.access);
    let mut ewin: Window<'_, ErrorRec> = Window::new(errors);
    let mut carry = matcher::Carry::default();
    let mut cands: Vec<Candidate> = Vec::new();
    let mut slices = Slices::new(ing);
    while let Some(slice) = slices.next_slice() {
        let (s, e) = (slice[0].arrival_us, slice.last().expect("a slice is never empty").arrival_us);
        win.advance(s - early, e + late, |r| r.ts.micros, |r| local.bases.place(r.file, &mut r.chunk, &mut r.line));
        ewin.advance(s + off - err_margin, e + off + err_margin, |r| r.at, |r| local.bases.place(r.e.file, &mut r.chunk, &mut r.e.line));
        carry.forget_before(s - early, s + off - err_margin);
        slice_candidates(opts, local, &slice, &win.held, &mut online, false, &mut cands);
        let mut by_path: HashMap<u64, Vec<ErrorLine>> = HashMap::new();
        for r in &ewin.held {
            by_path.entry(r.path_key).or_default().push(r.e.clone());
        }
        let run = matcher::Run { opts, zone, elb_files: &ing.files, local_files: &local.files, offset };
        let findings = matcher::resolve(&run, &slice, std::mem::take(&mut cands), by_path, &mut carry);
        for (w, f) in slice.iter().zip(findings) {
            sink((w.file, w.line), f);
        }
    }
    if win.failed() || ewin.failed() || slices.it.failed.get() { vec![READ_BACK.into()] } else { Vec::new() }
}

/// The candidates among the kept local lines `held` (in time order) for a slice's LB 5xx, into
/// `out` (cleared first); `backend_only`: the backend's own answers alone (for the clock offset).
fn slice_candidates(
    opts: &Options,
    local: &Collected,
    slice: &[Wanted],
    held: &VecDeque<LocalRec>,
    online: &mut OnlineOffset,
    backend_only: bool,
    out: &mut Vec<Candidate>,
) {
    let mut idx = SliceIndex::new(slice, opts.window_us(), opts.idle_us());
    out.clear();
    for r in held {
        idx.candidates(r, local.stamps[r.file as usize], online, backend_only, out);
    }
}

/// Error lines re-sorted by the instant they name (their wall-clock time in `zone`), which is
/// what matching compares.
pub fn errors_by_instant(local: &Collected, zone: Option<&crate::time::Zone>) -> crate::spill::Sorted<ErrorRec> {
    let mut s: Sorter<ErrorRec> = Sorter::new(1 << 15);
    for mut r in local.errors.iter() {
        r.at = zone.map_or(r.e.ts, |z| z.resolve(r.e.ts)).micros;
        s.push(r);
    }
    s.finish()
}
