//! Pass 2: the instance's access and error logs, streamed once. Only lines whose request
//! (method, path, query) is one the load balancer failed, near its time ([`super::filter`]),
//! are kept — compactly, by local time, spilled to disk past a bound ([`crate::spill`]).
//! [`SliceIndex`] then finds, for a slice of LB 5xx, the kept lines that may be theirs.

use std::collections::HashMap;

use serde::Serialize;

use super::Options;
use super::key::{Candidate, ErrorLine, KeyHash, Stamp, Wanted, agent_hash, request_key, text_hash};
use crate::detect::{Problem, error_problem};
use crate::format::escape::Escaping;
use crate::format::{Format, Record, detect, text};
use crate::read::{self, Line};
use crate::spill::{Dec, Enc, Sorted, Sorter, Spill};

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

/// A running estimate of the local-minus-LB clock offset: the median of the first samples from
/// the backend's own answers (same request, same status), fixed once there are enough.
#[derive(Default)]
pub struct OnlineOffset {
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

/// A kept access-log line: what matching needs of it, in a fixed size.
#[derive(Clone, Copy, Debug)]
pub struct LocalRec {
    pub ts: crate::time::Timestamp,
    pub file: u32,
    /// The chunk of the file it was read in (`line` counts from its start until placed).
    pub chunk: u32,
    pub line: u64,
    pub key: u64,
    pub status: Option<u16>,
    pub bytes: Option<u64>,
    /// `text_hash` of the client address (0: none).
    pub client: u64,
    /// `text_hash` of the last X-Forwarded-For entries (0: none).
    pub xff: [u64; 4],
    /// `text_hash` of the user agent as the client sent it (decoded).
    pub ua: Option<u64>,
}

impl Spill for LocalRec {
    /// By local time, then by place.
    type Key = (i64, u32, u32, u64);
    fn key(&self) -> Self::Key {
        (self.ts.micros, self.file, self.chunk, self.line)
    }
    fn encode(&self, o: &mut Vec<u8>) {
        o.timestamp(&self.ts);
        o.u32(self.file);
        o.u32(self.chunk);
        o.u64(self.line);
        o.u64(self.key);
        o.opt_u16(self.status);
        o.opt_u64(self.bytes);
        o.u64(self.client);
        for x in self.xff {
            o.u64(x);
        }
        o.opt_u64(self.ua);
    }
    fn decode(d: &mut Dec<'_>) -> Option<Self> {
        Some(LocalRec {
            ts: d.timestamp()?,
            file: d.u32()?,
            chunk: d.u32()?,
            line: d.u64()?,
            key: d.u64()?,
            status: d.opt_u16()?,
            bytes: d.opt_u64()?,
            client: d.u64()?,
            xff: [d.u64()?, d.u64()?, d.u64()?, d.u64()?],
            ua: d.opt_u64()?,
        })
    }
}

/// A kept error-log line: it names a path some LB 5xx asked for.
#[derive(Clone, Debug)]
pub struct ErrorRec {
    pub path_key: u64,
    pub chunk: u32,
    /// The time it is sorted by: as written when read, its instant once the zone is known.
    pub at: i64,
    pub e: ErrorLine,
}

impl Spill for ErrorRec {
    /// By the time written (local wall clock), then by place.
    type Key = (i64, u32, u32, u64);
    fn key(&self) -> Self::Key {
        (self.at, self.e.file, self.chunk, self.e.line)
    }
    fn encode(&self, o: &mut Vec<u8>) {
        o.u64(self.path_key);
        o.u32(self.chunk);
        o.i64(self.at);
        o.u32(self.e.file);
        o.u64(self.e.line);
        o.i64(self.e.wall_us);
        o.timestamp(&self.e.ts);
        o.bytes(self.e.message.as_bytes());
        o.u8(self.e.problem.map_or(u8::MAX, |p| p as u8));
    }
    fn decode(d: &mut Dec<'_>) -> Option<Self> {
        let (path_key, chunk, at) = (d.u64()?, d.u32()?, d.i64()?);
        let (file, line, wall_us, ts, message) = (d.u32()?, d.u64()?, d.i64()?, d.timestamp()?, d.string()?);
        let problem = match d.u8()? {
            u8::MAX => None,
            i => Some(*Problem::ALL.get(i as usize)?),
        };
        Some(ErrorRec { path_key, chunk, at, e: ErrorLine { file, line, wall_us, ts, message, problem } })
    }
}

/// How many kept lines one reader holds before it spills them (sorted) to disk.
const LOCAL_RUN: usize = 1 << 18;
const ERROR_RUN: usize = 1 << 15;

/// What the time and status checks need of a wanted line, kept beside its arrival time in the
/// slot: reaching into the `Wanted` records (strings and all) for each was a cache miss apiece.
#[derive(Clone, Copy)]
struct Hot {
    wi: u32,
    elb_status: u16,
    backend_status: Option<u16>,
    lb_generated: bool,
    proc_us: i64,
    /// `text_hash` of the client, and of the user agent when one is to be compared.
    client: u64,
    ua: Option<u64>,
}

impl Hot {
    fn of(wi: usize, w: &Wanted) -> Hot {
        let ua = agent_hash(w);
        Hot {
            wi: wi as u32,
            elb_status: w.elb_status,
            backend_status: w.backend_status,
            lb_generated: w.lb_generated,
            proc_us: w.proc_us.unwrap_or(0),
            client: text_hash(w.text.client().as_bytes()),
            ua,
        }
    }

    /// The kept line may be this request: same user agent (when both say one).
    #[inline]
    fn same_agent(&self, r: &LocalRec) -> bool {
        match (self.ua, r.ua) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    #[inline]
    fn client_match(&self, r: &LocalRec) -> bool {
        (r.client != 0 && r.client == self.client) || r.xff.iter().any(|&x| x != 0 && x == self.client)
    }
}

/// Wanted lines of one request key, by arrival time.
#[derive(Default)]
struct Slot {
    /// Position of this slot's search cursors.
    id: u32,
    others: Vec<(i64, Hot)>,
    /// The longest request+backend time among `others` (capped at the idle timeout).
    max_proc: i64,
    timeouts: Vec<(i64, Hot)>,
}

/// A slice of wanted lines (by arrival), indexed by request key, to find their candidates among
/// kept local lines read in time order.
pub struct SliceIndex {
    index: HashMap<u64, Slot, KeyHash>,
    /// Per slot: where the last window of `others` and `timeouts` started.
    cursors: Vec<(u32, u32)>,
    window_us: i64,
    /// A 504's request is logged locally about the LB's idle timeout after its arrival.
    idle_us: i64,
}

impl SliceIndex {
    pub fn new(wanted: &[Wanted], window_us: i64, idle_us: i64) -> SliceIndex {
        // key → wanted lines in arrival order, in two lists: LB 504s (logged locally about an
        // idle timeout after arrival) and the rest (logged within the request's duration).
        let mut index: HashMap<u64, Slot, KeyHash> = HashMap::default();
        for (i, w) in wanted.iter().enumerate() {
            let slot = index.entry(w.key).or_default();
            let hot = Hot::of(i, w);
            if w.lb_generated && w.elb_status == 504 {
                slot.timeouts.push((w.arrival_us, hot));
            } else {
                slot.others.push((w.arrival_us, hot));
                slot.max_proc = slot.max_proc.max(w.proc_us.unwrap_or(0).min(idle_us));
            }
        }
        for (id, v) in index.values_mut().enumerate() {
            v.id = id as u32;
            // (wanted come by arrival, then by place in the ELB logs: already in order)
            debug_assert!(v.others.is_sorted_by_key(|e| e.0) && v.timeouts.is_sorted_by_key(|e| e.0));
        }
        let cursors = vec![(0, 0); index.len()];
        SliceIndex { index, cursors, window_us, idle_us }
    }

    /// The candidates among `wanted` (this slice's) for the kept line `r`. `backend_only`: only
    /// the backend's own answers (the clock offset's estimate needs nothing else).
    #[inline]
    pub fn candidates(&mut self, r: &LocalRec, stamp: Stamp, online: &mut OnlineOffset, backend_only: bool, out: &mut Vec<Candidate>) {
        let Some(slot) = self.index.get(&r.key) else { return };
        let (window_us, idle_us) = (self.window_us, self.idle_us);
        let ts = r.ts;
        let prec = ts.precision.micros();
        let t = ts.micros;
        let cur = &mut self.cursors[slot.id as usize];
        let others = window_near(&slot.others, &mut cur.0, t - slot.max_proc - window_us - prec, t + window_us + prec);
        let timeouts: &[(i64, Hot)] =
            if backend_only { &[] } else { window_near(&slot.timeouts, &mut cur.1, t - idle_us - window_us - prec, t - idle_us + window_us + prec) };
        for &(arrival_us, h) in others.iter().chain(timeouts) {
            if backend_only && h.lb_generated {
                continue;
            }
            // Wide window: any clock offset up to `window`, the request's duration, a 1 s stamp,
            // and for LB 504s the idle timeout (a 504's request is logged around the LB's idle
            // timeout after it arrived).
            let (early, late) = match (h.lb_generated, h.elb_status) {
                (true, 504) => (idle_us - window_us, idle_us + window_us),
                (true, _) => (-window_us, window_us),
                (false, _) => (-window_us, h.proc_us + window_us),
            };
            let d = t - arrival_us;
            if d < early - prec || d > late + prec {
                continue;
            }
            // Once the clock offset is known from the backend's own answers, an LB-generated
            // line only looks near it (the final match re-checks).
            if h.lb_generated {
                if let Some(off) = online.estimate() {
                    let base = if h.elb_status == 504 { idle_us } else { 0 };
                    let rr = d - base - off;
                    // (a local answer comes after the request arrived, within its unknown
                    // duration: mostly inside 2 s)
                    if rr < -(prec + 1_000_000) || rr > prec + 2 * 1_000_000 + if h.elb_status == 504 { window_us } else { 0 } {
                        continue;
                    }
                }
            } else if r.status == h.backend_status {
                online.add(t + prec / 2 - arrival_us - h.proc_us);
            }
            // The backend's own answer is logged with the status the LB saw.
            if !h.lb_generated && r.status != h.backend_status {
                continue;
            }
            // A different user agent is a different request.
            if !h.same_agent(r) {
                continue;
            }
            out.push(Candidate::of(h.wi, r, stamp, h.client_match(r)));
        }
    }
}

/// The LB 504s the idle timeout's inference looks for across every idle timeout the LB allows
/// ([`super::idle::RANGE`]); a few dozen, kept whole.
#[derive(Default)]
pub struct Probes {
    pub wanted: Vec<Wanted>,
    by_key: HashMap<u64, Vec<(i64, Hot)>, KeyHash>,
    pub found: Vec<Candidate>,
}

impl Probes {
    pub fn add(&mut self, w: Wanted) {
        let hot = Hot::of(self.wanted.len(), &w);
        self.by_key.entry(w.key).or_default().push((w.arrival_us, hot));
        self.wanted.push(w);
    }

    pub fn is_empty(&self) -> bool {
        self.wanted.is_empty()
    }

    /// Whether kept line `r` may be one of the probes' local lines.
    #[inline]
    pub fn check(&mut self, r: &LocalRec, stamp: Stamp, window_us: i64) {
        let Some(list) = self.by_key.get(&r.key) else { return };
        let prec = r.ts.precision.micros();
        let (lo, hi) = (super::idle::RANGE.0 as i64 * 1_000_000 - window_us, super::idle::RANGE.1 as i64 * 1_000_000 + window_us);
        for &(arrival, h) in list {
            let d = r.ts.micros - arrival;
            if d >= lo - prec && d <= hi + prec && h.same_agent(r) {
                self.found.push(Candidate::of(h.wi, r, stamp, h.client_match(r)));
            }
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct LocalSummary {
    pub file: String,
    pub format: String,
    pub lines: u64,
    pub bad_lines: u64,
}

impl Candidate {
    fn of(wanted: u32, r: &LocalRec, stamp: Stamp, client_match: bool) -> Candidate {
        Candidate { wanted, file: r.file, line: r.line, ts: r.ts, stamp, status: r.status, client_match, bytes: r.bytes }
    }
}

/// What pass 2 kept.
pub struct Collected {
    /// Kept access lines, by local time.
    pub access: Sorted<LocalRec>,
    /// Kept error lines, by wall-clock time.
    pub errors: Sorted<ErrorRec>,
    pub summaries: Vec<LocalSummary>,
    pub files: Vec<String>,
    /// How each file's server stamps its lines (by file index).
    pub stamps: Vec<Stamp>,
    pub problems: Vec<String>,
    /// The UTC offset the access logs were written in (seconds), the most common one.
    pub local_offset: Option<i32>,
    /// Lines before each chunk of each file: [`crate::fold::Bases::place`] makes a kept line's
    /// number the line in its file.
    pub bases: crate::fold::Bases,
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

/// The local pass over one chunk of one file. Line numbers are chunk-relative until placed.
struct Worker<'a> {
    filter: &'a super::filter::Filter,
    file: u32,
    chunk: u32,
    parser: crate::format::Parser,
    bad: u64,
    access: Sorter<LocalRec>,
    errors: Sorter<ErrorRec>,
    offsets: HashMap<i32, u64>,
    last_offset: (i32, u64),
    /// Apache's AH01102 (why) precedes AH00898 (path) for the same client: carry the path back.
    pending: Option<(ErrorLine, String)>,
    /// How this log's server escapes what it writes, and buffers for the (rare) decoding.
    escaping: Escaping,
    path_buf: Vec<u8>,
    ua_buf: Vec<u8>,
    /// The filter's time bucket of the previous line (see [`super::filter::Filter::warm`]).
    bucket: i64,
}

impl Worker<'_> {
    /// An access line: kept (compactly) when the filter wants its request near its time.
    #[inline]
    fn access(&mut self, no: u64, a: &crate::format::AccessRecord<'_>) {
        let Some(ts) = a.time else { return };
        self.enter_bucket(ts.micros.div_euclid(super::filter::BUCKET_US));
        if let Some(o) = ts.offset {
            self.count_offset(o);
        }
        // (as the client sent it: the server may have escaped bytes in it)
        let target = self.escaping.decode(a.request.path(), &mut self.path_buf);
        let key = request_key(a.request.method, target);
        // (hashed once, and only when the filter's answer depends on it)
        let (escaping, ua_buf) = (self.escaping, &mut self.ua_buf);
        let mut hashed: Option<Option<u64>> = None;
        let mut ua = || *hashed.get_or_insert_with(|| a.user_agent.map(|u| text_hash(escaping.decode(u, ua_buf))));
        if !self.filter.wants(key, &mut ua, a.status, ts.micros) {
            return;
        }
        let ua = ua();
        let mut xff = [0u64; 4];
        if let Some(x) = a.x_forwarded_for {
            for (slot, p) in xff.iter_mut().zip(x.rsplit(|&b| b == b',')) {
                *slot = text_hash(p.trim_ascii());
            }
        }
        self.access.push(LocalRec {
            ts,
            file: self.file,
            chunk: self.chunk,
            line: no,
            key,
            status: a.status,
            bytes: a.bytes_sent,
            client: a.client.map_or(0, text_hash),
            xff,
            ua,
        });
    }

    /// The filter's region of a new time bucket (and the next) is fetched as the pass enters it.
    #[inline]
    fn enter_bucket(&mut self, bucket: i64) {
        if bucket != self.bucket {
            if bucket != self.bucket + 1 {
                self.filter.warm(bucket);
            }
            self.filter.warm(bucket + 1);
            self.bucket = bucket;
        }
    }

    /// One line's UTC offset counted (one map update per run of equal offsets, not per line).
    #[inline]
    fn count_offset(&mut self, o: i32) {
        if o == self.last_offset.0 {
            self.last_offset.1 += 1;
        } else {
            if self.last_offset.1 > 0 {
                *self.offsets.entry(self.last_offset.0).or_default() += self.last_offset.1;
            }
            self.last_offset = (o, 1);
        }
    }

    /// An error line naming a failure: kept by its request path when the filter wants that path.
    /// A line without a path (Apache's AH01102 before AH00898) waits for the next line of the
    /// same client, whose path it then shares.
    fn error(&mut self, no: u64, e: crate::format::ErrorRecord<'_>) {
        let problem = error_problem(&e);
        if problem.is_none() {
            return;
        }
        let ev = ErrorLine { file: self.file, line: no, wall_us: e.time.micros, ts: e.time, message: crate::detect::error_message(&e), problem };
        let path = e.request.map(|r| self.escaping.decode(r.path(), &mut self.path_buf));
        let client = e.client.map(text).unwrap_or_default();
        let chunk = self.chunk;
        let (filter, errors) = (self.filter, &mut self.errors);
        let mut keep = |k: u64, e: ErrorLine| {
            if filter.wants_error_path(k) {
                errors.push(ErrorRec { path_key: k, chunk, at: e.wall_us, e });
            }
        };
        if let Some((prev, prev_client)) = self.pending.take()
            && let (Some(p), true) = (path, prev_client == client && !client.is_empty())
        {
            keep(request_key(b"", p), prev);
        }
        match path {
            Some(p) => keep(request_key(b"", p), ev),
            None => self.pending = Some((ev, client)),
        }
    }
}

impl crate::fold::Worker for Worker<'_> {
    #[inline]
    fn record(&mut self, no: u64, l: Line<'_>) {
        let Line::Text(bytes) = l else {
            self.bad += 1;
            return;
        };
        match self.parser.parse(bytes) {
            Ok(Record::Access(a)) => self.access(no, &a),
            Ok(Record::Error(e)) => self.error(no, e),
            Ok(_) => {}
            Err(_) => self.bad += 1,
        }
    }

    fn end(&mut self) {
        if self.last_offset.1 > 0 {
            *self.offsets.entry(self.last_offset.0).or_default() += self.last_offset.1;
            self.last_offset.1 = 0;
        }
    }
}

/// Read every local log once, keeping the lines `filter` wants.
pub fn collect(opts: &Options, filter: &super::filter::Filter) -> Collected {
    let mut out = Collected {
        access: Sorted::default(),
        errors: Sorted::default(),
        summaries: Vec::new(),
        files: Vec::new(),
        stamps: Vec::new(),
        problems: Vec::new(),
        local_offset: None,
        bases: crate::fold::Bases::default(),
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
        out.stamps.push(stamp_of(&fmt));
        // Large plain files are split at line boundaries and read on every core; merged in file
        // order (line numbers of each chunk start after the previous chunk's).
        let (mut n, mut bad) = (0u64, 0u64);
        let mut failed = None;
        crate::fold::fold(
            input,
            &fmt,
            opts.threads,
            &|_| {},
            |i| Worker {
                filter,
                file,
                chunk: i as u32,
                parser: fmt.parser(),
                bad: 0,
                access: Sorter::new(LOCAL_RUN),
                errors: Sorter::new(ERROR_RUN),
                offsets: HashMap::new(),
                last_offset: (i32::MIN, 0),
                pending: None,
                escaping: escaping_of(&fmt),
                path_buf: Vec::new(),
                ua_buf: Vec::new(),
                bucket: i64::MIN,
            },
            |_, _| {},
            |d| {
                let (w, base) = (d.worker, d.base);
                out.bases.set(file, d.index as u32, base);
                out.access.absorb(w.access.finish());
                out.errors.absorb(w.errors.finish());
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
    for e in [&out.access.error, &out.errors.error].into_iter().flatten() {
        out.problems.push(e.clone());
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
