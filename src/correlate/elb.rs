//! Pass 1: the load balancer's logs, streamed once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::key::{KeyHash, Texts, Wanted, agent_hash, request_key, text_hash};
use super::{BackendRate, BadElbLine, Burst, MinuteCounts, Options, Summary};
use crate::format::escape::Escaping;
use crate::format::{Format, LbRecord, Record, detect, strip_authority, text};
use crate::read::{self, Line};
use crate::time::{Precision, Timestamp, format_utc};

/// How many wanted lines one ELB reader holds before it spills them (sorted) to disk.
const WANTED_RUN: usize = 1 << 16;

/// What pass 1 produced.
pub struct Ingest {
    /// The LB 5xx in scope, by arrival (see [`Ingest::place`]).
    pub wanted: crate::spill::Sorted<Wanted>,
    pub summary: Summary,
    /// Input file names, indexed by `Wanted::file`.
    pub files: Vec<String>,
    bases: crate::fold::Bases,
    /// ALB 504s the LB generated, by their idle timeout (`time - request_creation_time`, whole
    /// seconds as [`super::idle`] rounds them).
    pub alb_idle: BTreeMap<u64, u64>,
    /// LB-generated 504s in scope.
    pub timeouts: u64,
    /// A sample of them for the idle timeout's inference (see [`super::idle`]), by arrival.
    pub probes: Vec<Wanted>,
}

impl Ingest {
    /// Make a wanted line's number the line in its file.
    pub fn place(&self, w: &mut Wanted) {
        self.bases.place(w.file, &mut w.chunk, &mut w.line);
    }
}

/// Expand inputs: directories recursively (sorted), files as given, `-` as stdin.
pub fn expand_inputs(inputs: &[PathBuf], errors: &mut Vec<String>) -> Vec<PathBuf> {
    /// Each directory once, by device and inode: a symlink back up the tree (`logs/again ->
    /// ..`) would otherwise list every file again and again. Each file once likewise.
    #[derive(Default)]
    struct Seen {
        dirs: std::collections::HashSet<(u64, u64)>,
        files: std::collections::HashSet<(u64, u64)>,
    }
    fn key(m: &std::fs::Metadata, p: &Path) -> (u64, u64) {
        #[cfg(unix)]
        {
            let _ = p;
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        }
        #[cfg(not(unix))]
        {
            match std::fs::File::open(p) {
                Ok(f) => crate::tail::identity::dev_ino(&f, m),
                Err(_) => (0, 0),
            }
        }
    }
    fn walk(d: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<String>, seen: &mut Seen) {
        match std::fs::metadata(d) {
            Ok(m) if !seen.dirs.insert(key(&m, d)) => return,
            _ => {}
        }
        let rd = match std::fs::read_dir(d) {
            Ok(rd) => rd,
            Err(e) => {
                errors.push(format!("{}: cannot list directory: {e}", d.display()));
                return;
            }
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() => walk(&p, out, errors, seen),
                Ok(m) if m.is_file() => {
                    if seen.files.insert(key(&m, &p)) {
                        out.push(p);
                    }
                }
                Ok(_) => errors.push(format!("{}: not a regular file: skipped", p.display())),
                Err(e) => errors.push(format!("{}: cannot read: {e}", p.display())),
            }
        }
    }
    let mut out = Vec::new();
    let mut seen = Seen::default();
    for i in inputs {
        if i.as_os_str() == "-" {
            out.push(i.clone());
        } else if i.is_dir() {
            let before = out.len();
            walk(i, &mut out, errors, &mut seen);
            if out.len() == before {
                errors.push(format!("{}: no files in this directory (is the S3 sync target right?)", i.display()));
            }
        } else {
            out.push(i.clone());
        }
    }
    out
}

/// A run of successive 502s from one backend; `at` is (file, line) of its first line.
#[derive(Clone, Copy, Default)]
struct Run {
    count: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    at: (u32, u64),
}

impl Run {
    fn add(&mut self, t: Timestamp, file: u32, line: u64) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(t);
            self.at = (file, line);
        }
        self.last = Some(t);
    }

    /// This run followed directly by `later` (the same backend's 502s with nothing between).
    fn then(self, later: Run) -> Run {
        match (self.count, later.count) {
            (0, _) => later,
            (_, 0) => self,
            _ => Run { count: self.count + later.count, first: self.first, last: later.last, at: self.at },
        }
    }

    /// Line numbers of a chunk made file-relative.
    fn shifted(mut self, base: u64) -> Run {
        if self.count > 0 {
            self.at.1 += base;
        }
        self
    }
}

/// One backend's counters within a chunk of ELB lines.
struct BackendAcc {
    token: Box<[u8]>,
    /// The 502s at the start of the chunk, before this backend's first other line: they may
    /// continue a run from the previous chunk. `lead_closed` once that other line came.
    lead: Run,
    lead_closed: bool,
    /// The run since then (open at the chunk's end).
    run: Run,
    requests: u64,
    lb_5xx: u64,
    /// LB 5xx per minute (in the order read; only with `--all-backends`).
    minutes: Vec<(i64, u64)>,
}

/// A backend's token, open run, requests, LB 5xx and LB 5xx per minute, over every chunk.
type BackendTotal = (Box<[u8]>, Run, u64, u64, BTreeMap<i64, u64>);

/// A finished run, long enough to be a burst.
struct RawBurst {
    backend: Box<[u8]>,
    run: Run,
}

/// Keep a finished run when it is long enough to be a burst.
fn close_run(bursts: &mut Vec<RawBurst>, min: usize, backend: &[u8], run: Run) {
    if run.count as usize >= min {
        bursts.push(RawBurst { backend: backend.into(), run });
    }
}

/// The index of `token`'s entry in `items`, made with `new` on its first appearance (entries
/// stay in order of first appearance).
fn entry_of<T>(items: &mut Vec<T>, index: &mut HashMap<Box<[u8]>, usize, KeyHash>, token: &[u8], new: impl FnOnce() -> T) -> usize {
    match index.get(token) {
        Some(&i) => i,
        None => {
            items.push(new());
            index.insert(token.into(), items.len() - 1);
            items.len() - 1
        }
    }
}

/// Pass 1 over one chunk of one ELB file (the whole file, or a line-aligned range of it when
/// a large file is read on several cores). Line numbers are chunk-relative until merged.
struct Chunk<'a> {
    opts: &'a Options,
    /// Which local lines pass 2 keeps (see [`super::filter`]).
    filter: &'a super::filter::Filter,
    chunk: u32,
    wanted: crate::spill::Sorter<Wanted>,
    alb_idle: BTreeMap<u64, u64>,
    timeouts: u64,
    probes: Vec<(u64, Wanted)>,
    /// Counters and bad examples only (the rest of the summary is built at the end).
    summary: Summary,
    minutes: BTreeMap<i64, MinuteCounts>,
    /// The minute being counted (flushed into `minutes` when the minute changes).
    cur_minute: i64,
    cur: MinuteCounts,
    backends: Vec<BackendAcc>,
    /// Token → index into `backends`.
    backend_index: HashMap<Box<[u8]>, usize, KeyHash>,
    /// The last token's index: ELB logs come in runs per backend, and a compare of a
    /// dozen bytes is cheaper than hashing them on every line.
    last_backend: usize,
    bursts: Vec<RawBurst>,
    /// Scratch space for a wanted line's texts.
    ua_buf: Vec<u8>,
    text_buf: Vec<u8>,
}

fn backend_name(raw: &[u8]) -> String {
    text(raw)
}

impl<'a> Chunk<'a> {
    fn new(opts: &'a Options, filter: &'a super::filter::Filter, chunk: u32) -> Self {
        Chunk {
            opts,
            filter,
            chunk,
            wanted: crate::spill::Sorter::new(WANTED_RUN),
            alb_idle: BTreeMap::new(),
            timeouts: 0,
            probes: Vec::new(),
            summary: Summary::default(),
            minutes: BTreeMap::new(),
            cur_minute: i64::MIN,
            cur: MinuteCounts::default(),
            backends: Vec::new(),
            backend_index: HashMap::default(),
            last_backend: 0,
            bursts: Vec::new(),
            ua_buf: Vec::new(),
            text_buf: Vec::new(),
        }
    }

    fn flush_minute(&mut self) {
        if self.cur_minute != i64::MIN {
            self.minutes.entry(self.cur_minute).or_default().add(&self.cur);
        }
        self.cur = MinuteCounts::default();
    }

    #[inline]
    fn record(&mut self, r: &LbRecord<'_>, file: u32, line: u64) {
        let minute = r.time.minute();
        if minute != self.cur_minute {
            self.flush_minute();
            self.cur_minute = minute;
        }
        self.cur.requests += 1;
        let lb_gen = r.lb_generated();
        let is_5xx = r.elb_status.is_some_and(|s| (500..600).contains(&s));
        if is_5xx && lb_gen {
            self.cur.elb_5xx += 1;
        }
        if r.backend_status().is_some_and(|s| (500..600).contains(&s)) {
            self.cur.backend_5xx += 1;
        }
        if r.backend_ip.is_some() {
            let i = match self.backends.get(self.last_backend) {
                Some(b) if *b.token == *r.backend_raw => self.last_backend,
                _ => {
                    let i = entry_of(&mut self.backends, &mut self.backend_index, r.backend_raw, || BackendAcc {
                        token: r.backend_raw.into(),
                        lead: Run::default(),
                        lead_closed: false,
                        run: Run::default(),
                        requests: 0,
                        lb_5xx: 0,
                        minutes: Vec::new(),
                    });
                    self.last_backend = i;
                    i
                }
            };
            let e = &mut self.backends[i];
            e.requests += 1;
            if is_5xx {
                e.lb_5xx += 1;
                if self.opts.all_backends {
                    match e.minutes.last_mut() {
                        Some((m, n)) if *m == minute => *n += 1,
                        _ => e.minutes.push((minute, 1)),
                    }
                }
            }
            if r.elb_status == Some(502) {
                if e.lead_closed { &mut e.run } else { &mut e.lead }.add(r.time, file, line);
            } else if !e.lead_closed {
                e.lead_closed = true;
            } else if e.run.count > 0 {
                close_run(&mut self.bursts, self.opts.burst_min, &e.token, std::mem::take(&mut e.run));
            }
        }
        if !is_5xx {
            return;
        }
        let ours = match r.backend_ip {
            Some(ip) => self.opts.all_backends || self.opts.backends.iter().any(|f| f.matches(ip, r.backend_port)),
            None => false,
        };
        if r.backend_ip.is_some() && !ours {
            return;
        }
        self.summary.lb_5xx += 1;
        if lb_gen {
            self.summary.lb_generated += 1;
        } else {
            self.summary.backend_generated += 1;
        }
        let path = strip_authority(r.request.target);
        let proc_us = match (r.request_processing_us, r.backend_processing_us) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        let alb = r.alb();
        let arrival_us = match r.kind {
            crate::format::LbKind::Classic => r.time.micros,
            crate::format::LbKind::Alb => {
                alb.request_creation_time.map(|t| t.micros).unwrap_or_else(|| r.time.micros - proc_us.unwrap_or(0) - r.response_processing_us.unwrap_or(0))
            }
        };
        let key = request_key(r.request.method, path);
        let path_key = request_key(b"", path);
        let alb_created = matches!(r.kind, crate::format::LbKind::Alb) && alb.request_creation_time.is_some();
        let elb_status = r.elb_status.unwrap_or(0);
        let user_agent = Escaping::Quotes.decode(r.user_agent, &mut self.ua_buf);
        let text = Texts::new(r.backend_ip.map(|_| r.backend_raw), r.request.raw, r.client_ip, user_agent, alb.error_reason, r.elb, &mut self.text_buf);
        let probe = lb_gen && elb_status == 504;
        if probe {
            self.timeouts += 1;
            if alb_created {
                *self.alb_idle.entry(super::idle::to_secs(r.time.micros - arrival_us)).or_default() += 1;
            }
        }
        let w = Wanted {
            file,
            chunk: self.chunk,
            line,
            ts: r.time,
            arrival_us,
            proc_us,
            alb_created,
            ours,
            elb_status,
            backend_status: r.backend_status(),
            lb_generated: lb_gen,
            path_key,
            sent_bytes: r.sent_bytes,
            key,
            text,
        };
        note(self.filter, self.opts, &w);
        if probe && self.opts.infer_idle_timeout {
            keep_sample(&mut self.probes, (text_hash(&arrival_us.to_le_bytes()) ^ key, w.clone()));
        }
        self.wanted.push(w);
    }
}

/// Tell pass 2 which local lines may be this LB 5xx's evidence: its request and user agent,
/// stamped (local clock: within the clock window) between its arrival and its answer — for an LB
/// 504, an idle timeout (`opts`'s, or the ALB line's own) after it arrived.
pub fn note(filter: &super::filter::Filter, opts: &Options, w: &Wanted) {
    let window = opts.window_us();
    let idle = if w.alb_created { w.ts.micros - w.arrival_us } else { opts.idle_us() };
    // (when, after arrival, the local line may be stamped — see `local::SliceIndex` — and with
    // which status: the backend's own answer is logged with the status the LB saw)
    let (early, late, status) = match (w.lb_generated, w.elb_status) {
        (true, 504) => (idle - window, idle + window, None),
        (true, _) => (-window, window, None),
        (false, _) => (-window, w.proc_us.unwrap_or(0).min(idle) + window, w.backend_status),
    };
    // (a local stamp is up to a second coarse)
    filter.add_range(w.key, agent_hash(w), status, w.arrival_us + early - MARGIN_US, w.arrival_us + late + MARGIN_US);
    filter.add_error_path(w.path_key);
}

/// One chunk of one ELB/ALB input, read by [`crate::fold`].
struct ElbWorker<'a> {
    chunk: Chunk<'a>,
    parser: crate::format::Parser,
    name: &'a str,
    file: u32,
}

impl crate::fold::Worker for ElbWorker<'_> {
    #[inline]
    fn record(&mut self, line_no: u64, l: Line<'_>) {
        let c = &mut self.chunk;
        c.summary.elb_lines += 1;
        let bytes = match l {
            Line::Text(t) => t,
            Line::TooLong(_) => {
                c.summary.bad_lines += 1;
                return;
            }
        };
        match self.parser.parse(bytes) {
            Ok(Record::Lb(r)) => c.record(&r, self.file, line_no),
            Ok(_) => {}
            Err(e) => {
                c.summary.bad_lines += 1;
                if c.summary.bad_examples.len() < 10 {
                    c.summary.bad_examples.push(BadElbLine { file: self.name.to_string(), line: line_no, reason: e.reason.to_string() });
                }
            }
        }
    }

    fn end(&mut self) {
        self.chunk.flush_minute();
    }
}

/// Keep `(hash, w)` if its hash is among the [`super::idle::SAMPLE_504`] smallest: a uniform,
/// deterministic sample of the LB 504s (the same whatever the chunks), spread over the logs.
fn keep_sample(sample: &mut Vec<(u64, Wanted)>, e: (u64, Wanted)) {
    sample.push(e);
    if sample.len() >= 4 * super::idle::SAMPLE_504 {
        trim_sample(sample);
    }
}

fn trim_sample(sample: &mut Vec<(u64, Wanted)>) {
    sample.sort_by_key(|(h, w)| (*h, w.arrival_us, w.key));
    sample.truncate(super::idle::SAMPLE_504);
}

/// The coarsest local time stamp (a second) plus room for rounding (µs).
pub const MARGIN_US: i64 = 1_000_001;

/// Pass 1's running totals across chunks and files, merged in input order, so a run of 502s
/// that spans a chunk or file boundary is one run, as if read in one go.
struct Totals {
    wanted: crate::spill::Sorted<Wanted>,
    bases: crate::fold::Bases,
    alb_idle: BTreeMap<u64, u64>,
    timeouts: u64,
    probes: Vec<(u64, Wanted)>,
    summary: Summary,
    minutes: BTreeMap<i64, MinuteCounts>,
    /// Per backend token, in order of first appearance: the open run, requests, 5xx, 5xx per minute.
    backends: Vec<BackendTotal>,
    backend_index: HashMap<Box<[u8]>, usize, KeyHash>,
    bursts: Vec<RawBurst>,
}

impl Totals {
    /// Add a chunk whose first line is line `base + 1` of its file.
    fn merge(&mut self, c: Chunk<'_>, file: u32, base: u64, burst_min: usize) {
        self.wanted.absorb(c.wanted.finish());
        self.bases.set(file, c.chunk, base);
        for (k, v) in c.alb_idle {
            *self.alb_idle.entry(k).or_default() += v;
        }
        self.timeouts += c.timeouts;
        for p in c.probes {
            keep_sample(&mut self.probes, p);
        }
        let s = &mut self.summary;
        s.elb_lines += c.summary.elb_lines;
        s.bad_lines += c.summary.bad_lines;
        s.lb_5xx += c.summary.lb_5xx;
        s.lb_generated += c.summary.lb_generated;
        s.backend_generated += c.summary.backend_generated;
        for mut b in c.summary.bad_examples {
            if s.bad_examples.len() < 10 {
                b.line += base;
                s.bad_examples.push(b);
            }
        }
        for (m, v) in c.minutes {
            self.minutes.entry(m).or_default().add(&v);
        }
        for b in c.backends {
            let i = entry_of(&mut self.backends, &mut self.backend_index, &b.token, || (b.token.clone(), Run::default(), 0, 0, BTreeMap::new()));
            let g = &mut self.backends[i];
            g.2 += b.requests;
            g.3 += b.lb_5xx;
            for &(m, n) in &b.minutes {
                *g.4.entry(m).or_default() += n;
            }
            let joined = std::mem::take(&mut g.1).then(b.lead.shifted(base));
            if b.lead_closed {
                close_run(&mut self.bursts, burst_min, &b.token, joined);
                g.1 = b.run.shifted(base);
            } else {
                g.1 = joined;
            }
        }
        self.bursts.extend(c.bursts.into_iter().map(|mut r| {
            r.run = r.run.shifted(base);
            r
        }));
    }
}

/// Read every ELB/ALB input.
pub fn ingest(opts: &Options, filter: &super::filter::Filter) -> Ingest {
    let mut errors = Vec::new();
    // (of the errors, how many are a foreign log skipped: said, but not a failed input)
    let mut foreign = 0;
    let inputs = expand_inputs(&opts.elb_inputs, &mut errors);
    let mut tot = Totals {
        wanted: crate::spill::Sorted::default(),
        bases: crate::fold::Bases::default(),
        alb_idle: BTreeMap::new(),
        timeouts: 0,
        probes: Vec::new(),
        summary: Summary::default(),
        minutes: BTreeMap::new(),
        backends: Vec::new(),
        backend_index: HashMap::default(),
        bursts: Vec::new(),
    };
    let mut files = Vec::new();
    for path in &inputs {
        let name = read::input_name(path, opts.stdin_name.as_deref());
        // Opened once: stdin and FIFOs cannot be read twice; gzip is found by its magic bytes.
        let input = read::Input::open(path, detect::SAMPLE_BYTES);
        let fmt = match &input {
            // (the one decision every mode makes; a load-balancer input must be one)
            Ok(i) => match detect::resolve(&i.sample, None) {
                detect::Resolved::Empty => continue,
                detect::Resolved::Known(f @ (Format::Elb | Format::Alb)) => f,
                detect::Resolved::Known(other) => {
                    errors.push(format!("{name}: looks like {}, not a load-balancer log: skipped", other.name()));
                    foreign += 1;
                    continue;
                }
                detect::Resolved::Unknown => Format::Elb, // every line will be reported bad with its reason
            },
            Err(e) => {
                errors.push(format!("{name}: cannot read: {e}"));
                continue;
            }
        };
        let file = files.len() as u32;
        files.push(name.clone());
        // Large plain files are split at line boundaries and read on every core; the chunks are
        // merged in file order.
        let mut failed = None;
        crate::fold::fold(
            input.expect("checked above"),
            &fmt,
            opts.threads,
            &|_| {},
            |i| ElbWorker { chunk: Chunk::new(opts, filter, i as u32), parser: fmt.parser(), name: &name, file },
            |_, _| {},
            |d| {
                tot.merge(d.worker.chunk, file, d.base, opts.burst_min);
                if let (Err(e), None) = (d.result, &failed) {
                    failed = Some(format!("{name}: read error after line {}: {e} (the lines before it are used)", d.base + d.lines));
                }
            },
        );
        if let Some(f) = failed {
            errors.push(f);
        }
    }
    for (b, run, _, _, _) in tot.backends.iter_mut() {
        close_run(&mut tot.bursts, opts.burst_min, b, std::mem::take(run));
    }
    let mut bursts: Vec<Burst> = tot
        .bursts
        .into_iter()
        .map(|r| Burst {
            backend: backend_name(&r.backend),
            count: r.run.count,
            first: r.run.first.unwrap(),
            last: r.run.last.unwrap(),
            first_line: format!("{}:{}", files[r.run.at.0 as usize], r.run.at.1),
        })
        .collect();
    bursts.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.micros.cmp(&b.first.micros)).then_with(|| a.first_line.cmp(&b.first_line)));
    let mut summary = tot.summary;
    summary.per_minute = tot
        .minutes
        .into_iter()
        .map(|(m, mut c)| {
            c.minute = format_utc(m * 1_000_000, Precision::Second);
            c
        })
        .collect();
    summary.bursts = bursts;
    if opts.all_backends {
        let mut v: Vec<BackendRate> = tot
            .backends
            .iter()
            .map(|(b, _, n, e, by_minute)| BackendRate {
                backend: backend_name(b),
                requests: *n,
                lb_5xx: *e,
                rate: if *n == 0 { 0.0 } else { *e as f64 / *n as f64 },
                lb_5xx_by_minute: by_minute.iter().map(|(&m, &c)| (m, c)).collect(),
            })
            .collect();
        v.sort_by(|a, b| b.rate.total_cmp(&a.rate).then(b.lb_5xx.cmp(&a.lb_5xx)));
        summary.backends = v;
    }
    summary.inputs_failed = (errors.len() - foreign) as u64;
    if let Some(e) = &tot.wanted.error {
        errors.push(e.clone());
    }
    summary.errors = errors;
    trim_sample(&mut tot.probes);
    let mut probes: Vec<Wanted> = tot.probes.into_iter().map(|(_, w)| w).collect();
    probes.sort_by_key(|w| (w.arrival_us, w.key));
    Ingest { wanted: tot.wanted, summary, files, bases: tot.bases, alb_idle: tot.alb_idle, timeouts: tot.timeouts, probes }
}

#[cfg(test)]
mod tests {
    /// A directory synced from S3 with a link back up the tree (`again -> ..`): every file is
    /// listed once, not once per trip round the cycle.
    #[cfg(unix)]
    #[test]
    fn a_symlink_cycle_lists_each_file_once() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("2026/11/25");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("a.log"), "x\n").unwrap();
        std::fs::write(d.path().join("b.log"), "y\n").unwrap();
        std::os::unix::fs::symlink("../..", sub.join("again")).unwrap();
        std::os::unix::fs::symlink("b.log", d.path().join("b-link.log")).unwrap();
        let mut errors = Vec::new();
        let files = expand_inputs(&[d.path().to_path_buf()], &mut errors);
        let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names.len(), 2, "{files:?}");
        assert!(names.contains(&"a.log".to_string()));
        assert!(errors.is_empty(), "{errors:?}");
    }

    use super::*;
    use crate::correlate::BackendFilter;

    /// A large ELB log read in 1 chunk and in 2, 3 and 7 (threads) gives the same answer: the
    /// same wanted lines with the same line numbers, counts, minutes, bad lines, and bursts —
    /// including runs of 502s that cross chunk boundaries, and a backend whose 502s fill whole
    /// chunks.
    #[test]
    fn chunked_ingest_equals_one_pass() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("elb.log");
        let mut text = String::new();
        let mut i = 0u64;
        let line = |i: u64, backend: &str, elb: u16, be: &str| {
            let (s, us) = (i / 1000, i % 1000);
            format!(
                "2026-11-25T08:{:02}:{:02}.{:06}Z lb 198.51.100.{}:4000 {backend} 0.000040 0.001000 0.000030 {elb} {be} 10 20 \"GET http://example.com:80/p/{}?q=1 HTTP/1.1\" \"curl/8\" - -\n",
                (s / 60) % 60,
                s % 60,
                us * 1000,
                i % 200,
                i % 97
            )
        };
        while text.len() < 10 << 20 {
            // backend A: 502 runs of varying length; B: mostly 200 with 503s; C: LB-generated 504s
            // without a backend; D: a long stretch of nothing but 502s in the middle of the file.
            let (b, elb, be) = match i % 11 {
                0..=4 if (i / 500).is_multiple_of(3) => ("10.0.0.1:80", 502, "502"),
                0..=4 => ("10.0.0.1:80", 200, "200"),
                5..=7 => ("10.0.0.2:80", if i.is_multiple_of(13) { 503 } else { 200 }, if i.is_multiple_of(13) { "503" } else { "200" }),
                8 => ("-", 504, "-"),
                _ if (20_000..40_000).contains(&i) => ("10.0.0.4:8080", 502, "-"),
                _ => ("10.0.0.4:8080", 200, "200"),
            };
            let b = if b == "-" { "-".to_string() } else { b.to_string() };
            let l = if b == "-" { line(i, "-", elb, "-").replace(" - 0.000040 0.001000 0.000030 504 - ", " - -1 -1 -1 504 0 ") } else { line(i, &b, elb, be) };
            text.push_str(&l);
            if i.is_multiple_of(5003) {
                text.push_str("junk that is not an ELB line\n");
            }
            i += 1;
        }
        std::fs::write(&p, &text).unwrap();
        let run = |threads: usize| {
            let opts = Options {
                elb_inputs: vec![p.clone()],
                local: Vec::new(),
                backends: vec![BackendFilter::parse("10.0.0.1").unwrap(), BackendFilter::parse("10.0.0.4:8080").unwrap()],
                all_backends: false,
                window_secs: 5.0,
                lb_idle_timeout_secs: 60,
                infer_idle_timeout: true,
                burst_min: 3,
                threads,
                local_zone: None,
                keepalive: Vec::new(),
                stdin_name: None,
            };
            let ing = ingest(&opts, &crate::correlate::filter::Filter::new());
            let mut wanted: Vec<(u32, u64, u64, u16)> = ing
                .wanted
                .iter()
                .map(|mut w| {
                    ing.place(&mut w);
                    (w.file, w.line, w.key, w.elb_status)
                })
                .collect();
            wanted.sort();
            // (the idle timeout's sample of LB 504s: the same whatever the chunks)
            let probes: Vec<(i64, u64)> = ing.probes.iter().map(|w| (w.arrival_us, w.key)).collect();
            assert_eq!(probes.len(), crate::correlate::idle::SAMPLE_504);
            (wanted, serde_json::to_string(&ing.summary).unwrap(), probes)
        };
        let one = run(1);
        assert!(one.0.len() > 10_000, "{}", one.0.len());
        let s: serde_json::Value = serde_json::from_str(&one.1).unwrap();
        assert!(s["bursts"].as_array().unwrap().len() > 20);
        assert!(s["bursts"].as_array().unwrap().iter().any(|b| b["count"].as_u64().unwrap() > 1000), "the long run of 10.0.0.4");
        assert!(s["bad_lines"].as_u64().unwrap() > 0);
        for threads in [2, 3, 7] {
            let many = run(threads);
            assert_eq!(many.0, one.0, "wanted lines with {threads} threads");
            assert_eq!(many.1, one.1, "summary with {threads} threads");
            assert_eq!(many.2, one.2, "504 sample with {threads} threads");
        }
    }
}
