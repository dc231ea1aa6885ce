//! Pass 2: the instance's access and error logs, streamed once. Only lines whose request
//! (method, path, query) is one the load balancer failed, within a wide time window, are kept.

use std::collections::HashMap;

use serde::Serialize;

use super::elb::{Wanted, request_key};
use super::Options;
use crate::detect::{Problem, error_problem};
use crate::format::escape::Escaping;
use crate::format::{Format, Record, detect, text};
use crate::read::{self, Line};

/// The request keys are FNV hashes already: hashing them again (SipHash) is wasted work per
/// line. Byte keys get FNV-1a.
#[derive(Clone, Copy, Default)]
pub struct KeyHash;

#[derive(Default)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // FNV-1a for byte keys (backend tokens)
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// `v.partition_point(|e| e.0 < lo)`, searched from `hint` (where the previous query of the same
/// slot started): local logs are nearly in time order, so the answer is usually a step or two
/// away, and a search from the middle of a long slot would touch cold cache lines.
#[inline]
fn lower_bound_near<T>(v: &[(i64, T)], hint: usize, lo: i64) -> usize {
    let h = hint.min(v.len());
    if h < v.len() && v[h].0 < lo {
        return gallop_end(v, h + 1, |a| a < lo);
    }
    // Everything from `hi` on is >= lo; gallop back to the first that is.
    let mut hi = h;
    let mut step = 1;
    while hi > 0 {
        let probe = hi.saturating_sub(step);
        if v[probe].0 >= lo {
            hi = probe;
            step *= 2;
        } else {
            return probe + 1 + v[probe + 1..hi].partition_point(|e| e.0 < lo);
        }
    }
    0
}

/// The entries of `v` (sorted by time) with `lo <= time <= hi`, searched from where this slot's
/// previous window started (`cursor`, updated).
#[inline]
fn window_near<'v, T>(v: &'v [(i64, T)], cursor: &mut u32, lo: i64, hi: i64) -> &'v [(i64, T)] {
    let from = lower_bound_near(v, *cursor as usize, lo);
    *cursor = from as u32;
    &v[from..gallop_end(v, from, |a| a <= hi)]
}

/// `v.partition_point(|e| pred(e.0))` when `pred` is known to hold below `from`: searched
/// forward from `from` in doubling steps, since the end of a narrow time window is a few
/// entries away (a binary search over the whole slot would touch cold cache lines).
#[inline]
fn gallop_end<T>(v: &[(i64, T)], from: usize, pred: impl Fn(i64) -> bool) -> usize {
    let mut lo = from.min(v.len());
    let mut step = 1;
    let hi = loop {
        let probe = lo + step;
        if probe > v.len() {
            break v.len();
        }
        if pred(v[probe - 1].0) {
            lo = probe;
            step *= 2;
        } else {
            break probe - 1;
        }
    };
    lo + v[lo..hi].partition_point(|e| pred(e.0))
}

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// A running estimate of the local-minus-LB clock offset: the median of the first samples from
/// the backend's own answers (same request, same status), fixed once there are enough.
#[derive(Default)]
struct OnlineOffset {
    samples: Vec<i64>,
    fixed: Option<i64>,
}

impl OnlineOffset {
    const N: usize = 201;

    fn add(&mut self, d: i64) {
        if self.fixed.is_none() {
            self.samples.push(d);
            if self.samples.len() == Self::N {
                self.samples.sort_unstable();
                self.fixed = Some(self.samples[Self::N / 2]);
            }
        }
    }

    fn estimate(&self) -> Option<i64> {
        self.fixed
    }
}

/// What the time and status checks need of a wanted line, kept beside its arrival time in the
/// slot: the local pass walks these for a million lines, and reaching into the `Wanted` records
/// (strings and all, scattered over megabytes) for each was a cache miss apiece.
#[derive(Clone, Copy)]
struct Hot {
    wi: u32,
    elb_status: u16,
    backend_status: Option<u16>,
    lb_generated: bool,
    proc_us: i64,
}

/// Wanted lines of one request key, by arrival time.
#[derive(Default)]
struct Slot {
    /// Position of this slot's search cursors in each worker.
    id: u32,
    others: Vec<(i64, Hot)>,
    /// The longest request+backend time among `others` (capped at the idle timeout).
    max_proc: i64,
    timeouts: Vec<(i64, Hot)>,
    /// LB 504s looked for across every idle timeout the LB allows (the idle timeout's inference).
    wide: Vec<(i64, Hot)>,
}


/// What every chunk of the local pass reads (immutable, shared between threads).
struct Ctx<'a> {
    wanted: &'a [Wanted],
    index: &'a HashMap<u64, Slot, KeyHash>,
    paths: &'a HashMap<u64, (), KeyHash>,
    window_us: i64,
    /// A 504's request is logged locally about the LB's idle timeout after its arrival.
    idle_us: i64,
    /// The range an idle timeout may have, for the 504s of the inference's sample.
    wide_us: (i64, i64),
}

/// The local pass over one chunk of one file. Line numbers are chunk-relative until merged.
struct Worker {
    file: u32,
    stamp: Stamp,
    parser: crate::format::Parser,
    n: u64,
    bad: u64,
    candidates: Vec<Candidate>,
    errors: HashMap<u64, Vec<ErrorLine>>,
    offsets: HashMap<i32, u64>,
    last_offset: (i32, u64),
    online: OnlineOffset,
    /// Apache's AH01102 (why) precedes AH00898 (path) for the same client: carry the path back.
    pending: Option<(ErrorLine, String)>,
    /// Per slot: where the last window of `others`, `timeouts` and `wide` started.
    cursors: Vec<(u32, u32, u32)>,
    /// How this log's server escapes what it writes, and buffers for the (rare) decoding.
    escaping: Escaping,
    path_buf: Vec<u8>,
    ua_buf: Vec<u8>,
}

impl Worker {
    fn new(file: u32, stamp: Stamp, format: &Format, slots: usize) -> Worker {
        Worker {
            escaping: escaping_of(format),
            path_buf: Vec::new(),
            ua_buf: Vec::new(),
            parser: format.parser(),
            cursors: vec![(0, 0, 0); slots],
            file,
            stamp,
            n: 0,
            bad: 0,
            candidates: Vec::new(),
            errors: HashMap::new(),
            offsets: HashMap::new(),
            last_offset: (i32::MIN, 0),
            online: OnlineOffset::default(),
            pending: None,
        }
    }

    #[inline]
    fn line(&mut self, ctx: &Ctx<'_>, no: u64, l: Line<'_>) {
        let Worker { file, stamp, parser, n, bad, candidates, errors, offsets, last_offset, online, pending, cursors, escaping, path_buf, ua_buf } = self;
        let (file, stamp) = (*file, *stamp);
        let (wanted, index, paths, window_us, idle_us, wide_us) = (ctx.wanted, ctx.index, ctx.paths, ctx.window_us, ctx.idle_us, ctx.wide_us);
                    *n = no;
                    let Line::Text(bytes) = l else {
                        *bad += 1;
                        return;
                    };
                    let rec = match parser.parse(bytes) {
                        Ok(r) => r,
                        Err(_) => {
                            *bad += 1;
                            return;
                        }
                    };
                    match rec {
                        Record::Access(a) => {
                            let Some(ts) = a.time else { return };
                            if let Some(o) = ts.offset {
                                // (one map update per run of equal offsets, not per line)
                                if o == last_offset.0 {
                                    last_offset.1 += 1;
                                } else {
                                    if last_offset.1 > 0 {
                                        *offsets.entry(last_offset.0).or_default() += last_offset.1;
                                    }
                                    *last_offset = (o, 1);
                                }
                            }
                            // (as the client sent it: the server may have escaped bytes in it)
                            let target = escaping.decode(a.request.path(), path_buf);
                            let key = request_key(a.request.method, target);
                            let Some(slot) = index.get(&key) else { return };
                            let prec = ts.precision.micros();
                            let t = ts.micros;
                            let cur = &mut cursors[slot.id as usize];
                            let others = window_near(&slot.others, &mut cur.0, t - slot.max_proc - window_us - prec, t + window_us + prec);
                            let timeouts = window_near(&slot.timeouts, &mut cur.1, t - idle_us - window_us - prec, t - idle_us + window_us + prec);
                            let wide = window_near(&slot.wide, &mut cur.2, t - wide_us.1 - window_us - prec, t - wide_us.0 + window_us + prec);
                            for (&(arrival_us, h), is_wide) in others.iter().chain(timeouts).map(|e| (e, false)).chain(wide.iter().map(|e| (e, true))) {
                                // Wide window: any clock offset up to `window`, the request's
                                // duration, a 1 s stamp, and for LB-generated answers the idle timeout.
                                // A 504's request is logged around the LB's idle timeout after it arrived.
                                let (early, late) = match (h.lb_generated, h.elb_status) {
                                    _ if is_wide => (wide_us.0 - window_us, wide_us.1 + window_us),
                                    (true, 504) => (idle_us - window_us, idle_us + window_us),
                                    (true, _) => (-window_us, window_us),
                                    (false, _) => (-window_us, h.proc_us + window_us),
                                };
                                let d = ts.micros - arrival_us;
                                if d < early - prec || d > late + prec {
                                    continue;
                                }
                                // Once the clock offset is known from the backend's own answers, an
                                // LB-generated line only looks near it (the final match re-checks).
                                if h.lb_generated && !is_wide {
                                    if let Some(off) = online.estimate() {
                                        let base = if h.elb_status == 504 { idle_us } else { 0 };
                                        let r = d - base - off;
                                        // (a local answer comes after the request arrived, within its
                                        // unknown duration: mostly inside 2 s)
                                        if r < -(prec + 1_000_000) || r > prec + 2 * 1_000_000 + if h.elb_status == 504 { window_us } else { 0 } {
                                            continue;
                                        }
                                    }
                                } else if a.status == h.backend_status {
                                    online.add(ts.micros + prec / 2 - arrival_us - h.proc_us);
                                }
                                // The backend's own answer is logged with the status the LB saw.
                                if !h.lb_generated && a.status != h.backend_status {
                                    continue;
                                }
                                let (wi, w) = (h.wi, &wanted[h.wi as usize]);
                                // A different user agent is a different request (compared without
                                // allocating unless the server escaped something in it).
                                if let Some(ua) = a.user_agent {
                                    let wu = &*w.user_agent;
                                    if !wu.is_empty() && wu != b"-" && escaping.decode(ua, ua_buf) != wu {
                                        continue;
                                    }
                                }
                                let client_match = a.client.is_some_and(|c| c == w.client.as_bytes())
                                    || a.x_forwarded_for.is_some_and(|x| {
                                        x.split(|&b| b == b',').any(|p| p.trim_ascii() == w.client.as_bytes())
                                    });
                                candidates.push(Candidate {
                                    wanted: wi,
                                    file,
                                    line: *n,
                                    ts,
                                    stamp,
                                    status: a.status,
                                    client_match,
                                    bytes: a.bytes_sent,
                                    probe: is_wide,
                                });
                            }
                        }
                        Record::Error(e) => {
                            let problem = error_problem(&e);
                            if problem.is_none() {
                                return;
                            }
                            let ev = ErrorLine {
                                file,
                                line: *n,
                                wall_us: e.time.micros,
                                ts: e.time,
                                message: crate::detect::Event::new(&Record::Error(e), crate::detect::classify(&Record::Error(e)).unwrap(), "", 0)
                                    .message
                                    .unwrap_or_default(),
                                problem,
                            };
                            let path = e.request.map(|r| escaping.decode(r.path(), path_buf));
                            let client = e.client.map(text).unwrap_or_default();
                            if let Some((prev, prev_client)) = pending.take()
                                && let (Some(p), true) = (path, prev_client == client && !client.is_empty()) {
                                    let k = request_key(b"", p);
                                    if paths.contains_key(&k) {
                                        errors.entry(k).or_default().push(prev);
                                    }
                                }
                            match path {
                                Some(p) => {
                                    let k = request_key(b"", p);
                                    if paths.contains_key(&k) {
                                        errors.entry(k).or_default().push(ev);
                                    }
                                }
                                None => *pending = Some((ev, client)),
                            }
                        }
                        _ => {}
                    }
    }
}


/// Whether a server stamps a request's start (Apache `%t`) or its end (nginx, IIS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    Start,
    End,
}

/// A local access line that may be the same request as a wanted LB line.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub wanted: u32,
    pub file: u32,
    pub line: u64,
    pub ts: crate::time::Timestamp,
    pub stamp: Stamp,
    pub status: Option<u16>,
    /// The logged client (or X-Forwarded-For) is the LB line's client.
    pub client_match: bool,
    pub bytes: Option<u64>,
    /// Found by the idle timeout's wide search (for its inference only, never a match).
    pub probe: bool,
}

/// An error-log line naming a request path.
#[derive(Clone, Debug)]
pub struct ErrorLine {
    pub file: u32,
    pub line: u64,
    /// Wall-clock micros as written (no offset in error logs).
    pub wall_us: i64,
    pub ts: crate::time::Timestamp,
    pub message: String,
    pub problem: Option<Problem>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LocalSummary {
    pub file: String,
    pub format: String,
    pub lines: u64,
    pub bad_lines: u64,
}

pub struct Collected {
    pub candidates: Vec<Candidate>,
    /// Error lines by path-only key (`request_key(b"", path)`); Apache names paths without a method.
    pub errors_by_request: HashMap<u64, Vec<ErrorLine>>,
    pub summaries: Vec<LocalSummary>,
    pub files: Vec<String>,
    pub problems: Vec<String>,
    /// The UTC offset the access logs were written in (seconds), the most common one.
    pub local_offset: Option<i32>,
}

/// How the server that writes a log in this format escapes the values in it (error logs: nginx
/// writes the request line as it came, Apache escapes like its access log).
fn escaping_of(f: &Format) -> Escaping {
    match f {
        Format::Nginx(t) | Format::Apache(t) => t.escaping,
        Format::ApacheError => Escaping::Apache,
        _ => Escaping::Raw,
    }
}

fn stamp_of(f: &Format) -> Stamp {
    match f {
        // Apache logs when the request began, unless the format says `%{end:…}t`.
        Format::Apache(t) if !t.time_at_end => Stamp::Start,
        _ => Stamp::End,
    }
}

/// One chunk of one local log, read by [`crate::fold`].
struct LocalWorker<'c, 'w> {
    ctx: &'c Ctx<'w>,
    w: Worker,
}

impl crate::fold::Worker for LocalWorker<'_, '_> {
    #[inline]
    fn record(&mut self, line: u64, record: Line<'_>) {
        self.w.line(self.ctx, line, record);
    }
}

/// Collect candidates for `wanted` from every local log.
pub fn collect(opts: &Options, wanted: &[Wanted]) -> Collected {
    collect_with(opts, wanted, &std::collections::HashSet::new())
}

/// As [`collect`], with the LB 504s in `wide` (indices into `wanted`) looked for across every idle
/// timeout the LB allows ([`super::idle::RANGE`]): the idle timeout's inference, in the same pass.
pub fn collect_with(opts: &Options, wanted: &[Wanted], wide: &std::collections::HashSet<u32>) -> Collected {
    // key → wanted lines in arrival order, in two lists: LB 504s (logged locally about an idle
    // timeout after arrival) and the rest (logged within the request's duration). The binary
    // search stays in small contiguous arrays.
    let window_us = (opts.window_secs * 1e6) as i64;
    let idle_us = opts.lb_idle_timeout_secs as i64 * 1_000_000;
    let wide_us = (super::idle::RANGE.0 as i64 * 1_000_000, super::idle::RANGE.1 as i64 * 1_000_000);
    let mut index: HashMap<u64, Slot, KeyHash> = HashMap::default();
    let mut paths: HashMap<u64, (), KeyHash> = HashMap::default();
    for (i, w) in wanted.iter().enumerate() {
        let slot = index.entry(w.key).or_default();
        let hot = Hot { wi: i as u32, elb_status: w.elb_status, backend_status: w.backend_status, lb_generated: w.lb_generated, proc_us: w.proc_us.unwrap_or(0) };
        // (a sampled 504 is looked for both ways: where the idle timeout in use puts it, for the
        // match, and anywhere the LB allows, for the inference)
        if wide.contains(&(i as u32)) {
            slot.wide.push((w.arrival_us, hot));
        }
        if w.lb_generated && w.elb_status == 504 {
            slot.timeouts.push((w.arrival_us, hot));
        } else {
            slot.others.push((w.arrival_us, hot));
            slot.max_proc = slot.max_proc.max(w.proc_us.unwrap_or(0).min(idle_us));
        }
        paths.insert(w.path_key, ());
    }
    for (id, v) in index.values_mut().enumerate() {
        v.id = id as u32;
        // (by arrival, then by position in the ELB logs: the order the old tuples sorted in)
        v.others.sort_unstable_by_key(|e| (e.0, e.1.wi));
        v.timeouts.sort_unstable_by_key(|e| (e.0, e.1.wi));
        v.wide.sort_unstable_by_key(|e| (e.0, e.1.wi));
    }
    let slots = index.len();
    let ctx = Ctx { wanted, index: &index, paths: &paths, window_us, idle_us, wide_us };
    let mut out = Collected {
        candidates: Vec::new(),
        errors_by_request: HashMap::new(),
        summaries: Vec::new(),
        files: Vec::new(),
        problems: Vec::new(),
        local_offset: None,
    };
    let mut offsets: HashMap<i32, u64> = HashMap::new();
    for log in &opts.local {
        // Opened once (stdin and FIFOs cannot be read twice); one decision of the format.
        let input = match read::Input::open(&log.path, detect::SAMPLE_BYTES) {
            Ok(i) => i,
            Err(e) => {
                out.problems.push(format!("{}: cannot read: {e}", log.display));
                continue;
            }
        };
        let fmt = match detect::resolve(&input.sample, log.format.as_ref()) {
            detect::Resolved::Known(f) => f,
            detect::Resolved::Empty => continue,
            detect::Resolved::Unknown => {
                out.problems.push(format!("{}: format not recognised: skipped (pass --log-format)", log.display));
                continue;
            }
        };
        let file = out.files.len() as u32;
        out.files.push(log.display.clone());
        let stamp = stamp_of(&fmt);
        // Large plain files are split at line boundaries and read on every core; merged in file
        // order (line numbers of each chunk start after the previous chunk's).
        let (mut n, mut bad) = (0u64, 0u64);
        let mut failed = None;
        crate::fold::fold(
            input,
            &fmt,
            opts.threads,
            &|_| {},
            |_| LocalWorker { ctx: &ctx, w: Worker::new(file, stamp, &fmt, slots) },
            |_, _| {},
            |d| {
                let (w, base) = (d.worker.w, d.base);
                out.candidates.extend(w.candidates.into_iter().map(|mut c| {
                    c.line += base;
                    c
                }));
                for (k, v) in w.errors {
                    out.errors_by_request.entry(k).or_default().extend(v.into_iter().map(|mut e| {
                        e.line += base;
                        e
                    }));
                }
                for (o, c) in w.offsets {
                    *offsets.entry(o).or_default() += c;
                }
                n = base + d.lines;
                bad += w.bad;
                if let (Err(e), None) = (d.result, &failed) {
                    failed = Some(format!("{}: read error after line {n}: {e} (the lines before it are used)", log.display));
                }
            },
        );
        if let Some(f) = failed {
            out.problems.push(f);
        }
        out.summaries.push(LocalSummary { file: log.display.clone(), format: fmt.name(), lines: n, bad_lines: bad });
    }
    out.local_offset = offsets.into_iter().max_by_key(|(_, c)| *c).map(|(o, _)| o);
    out
}

#[cfg(test)]
mod tests {
    use super::{gallop_end, lower_bound_near, window_near};

    #[test]
    fn lower_bound_near_agrees_with_partition_point_from_any_hint() {
        for len in 0..30usize {
            let v: Vec<(i64, u32)> = (0..len).map(|i| ((i / 3) as i64 * 2, i as u32)).collect();
            for lo in -2..(len as i64 + 2) {
                let want = v.partition_point(|e| e.0 < lo);
                for hint in 0..=len + 2 {
                    assert_eq!(lower_bound_near(&v, hint, lo), want, "len {len} lo {lo} hint {hint}");
                }
            }
        }
    }

    #[test]
    fn window_near_is_the_inclusive_window_from_any_cursor() {
        let v: Vec<(i64, u32)> = [1, 3, 3, 5, 8].iter().enumerate().map(|(i, &t)| (t, i as u32)).collect();
        for start in 0..7u32 {
            for (lo, hi, want) in [(3, 5, &v[1..4]), (0, 100, &v[..]), (6, 7, &v[4..4]), (5, 3, &v[3..3])] {
                let mut cur = start;
                assert_eq!(window_near(&v, &mut cur, lo, hi), want, "lo {lo} hi {hi} from {start}");
                assert_eq!(cur as usize, v.partition_point(|e| e.0 < lo));
            }
        }
        let empty: Vec<(i64, u32)> = Vec::new();
        assert!(window_near(&empty, &mut 3, 0, 10).is_empty());
    }

    #[test]
    fn gallop_end_agrees_with_partition_point() {
        // every start below the answer, every bound, lengths 0..40, with duplicates
        for len in 0..40usize {
            let v: Vec<(i64, u32)> = (0..len).map(|i| ((i / 3) as i64 * 2, i as u32)).collect();
            for bound in -2..(len as i64 + 2) {
                let want = v.partition_point(|e| e.0 <= bound);
                for from in 0..=want {
                    assert_eq!(gallop_end(&v, from, |a| a <= bound), want, "len {len} bound {bound} from {from}");
                }
            }
        }
    }
}
