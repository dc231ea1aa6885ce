//! `tailgate --scan`: one pass over logs, counting what matters at 3 a.m.
//!
//! Per log: lines, bad lines (first few with `file:line: reason`), 5xx by status (for LB logs
//! split into LB-generated and backend-generated), events by problem, a per-minute timeline and
//! the top failing paths. Large plain files with a stateless format are split at line boundaries
//! and scanned on all cores; partial results merge exactly (line numbers are fixed up by prefix
//! sums), so the answer never depends on the thread count.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use serde::Serialize;

use crate::detect::{Class, Event, EventKind, Problem, classify};
use crate::format::{Format, Parser, Record, detect};
use crate::read::{self, Line};
use crate::time::Timestamp;

/// How many bad lines are quoted per log.
pub const BAD_EXAMPLES: usize = 5;
/// How many failing paths are listed per log.
pub const TOP_PATHS: usize = 10;
/// How many distinct failing paths are counted exactly. Past it, the rarest are dropped (lossy
/// counting: a path as frequent as one in `PATHS_CAP / 2` failing requests is never dropped), so
/// memory stays bounded whatever the log; below it the counts are exact.
const PATHS_CAP: usize = 65_536;

/// How `--scan` reads its logs.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Force a format (otherwise detected per file).
    pub format: Option<Format>,
    /// Skip records older than this instant (unix micros).
    pub since_micros: Option<i64>,
    /// Threads for large files (each file of 8 MiB or more is split).
    pub threads: usize,
    /// How many example events to keep per log (every event goes to the event sink, when
    /// there is one, as it is found).
    pub example_events: usize,
    /// The time zone of error logs (their times carry no offset).
    pub zones: Zones,
    /// How reports name stdin (`-`), when not `-`.
    pub stdin_name: Option<String>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { format: None, since_micros: None, threads: 1, example_events: 20, zones: Zones::default(), stdin_name: None }
    }
}

/// Where error-log times (local, without an offset) get their zone: the offset the same server's
/// access log writes, else the host's zone, else UTC — and the report says which.
#[derive(Clone, Debug, Default)]
pub struct Zones {
    /// nginx's and Apache's access-log offsets, each with the log it was read from.
    pub nginx: Option<(i32, String)>,
    /// (Apache's.)
    pub apache: Option<(i32, String)>,
    /// The host's zone and where it came from (`/etc/localtime`).
    pub host: Option<(crate::time::Zone, String)>,
}

impl Zones {
    /// The zone for an error log of this format, and how to say where it came from.
    fn for_format(&self, f: &Format) -> Option<(crate::time::Zone, String)> {
        let access = match f {
            Format::NginxError => &self.nginx,
            Format::ApacheError => &self.apache,
            _ => return None,
        };
        let access = access.as_ref().map(|(o, from)| (*o, format!("the offset of the same server's access log {from}")));
        Some(
            crate::time::Zone::for_local_times(access, self.host.as_ref())
                .unwrap_or_else(|| (crate::time::Zone::Fixed(0), "UTC: no access log of the same server and no host time zone".to_string())),
        )
    }

    /// Learn the access-log offsets from these logs' first lines (regular files only: a stream
    /// can be read once, and that read is the scan's).
    pub fn learn(&mut self, paths: &[(PathBuf, Option<Format>)], forced: Option<&Format>) {
        for (p, f) in paths {
            if !std::fs::metadata(p).is_ok_and(|m| m.is_file()) {
                continue;
            }
            let Ok(sample) = read::sample(p, detect::SAMPLE_BYTES) else { continue };
            let fmt = match detect::resolve(&sample, forced.or(f.as_ref())) {
                detect::Resolved::Known(f) => f,
                _ => continue,
            };
            let slot = match fmt {
                Format::Nginx(_) => &mut self.nginx,
                Format::Apache(_) => &mut self.apache,
                _ => continue,
            };
            if slot.is_some() {
                continue;
            }
            let mut parser = fmt.parser();
            let off = read::strip_bom(&sample).split(|&b| b == b'\n').find_map(|l| match parser.parse(l) {
                Ok(r) => r.time().and_then(|t| t.offset),
                Err(_) => None,
            });
            if let Some(o) = off {
                *slot = Some((o, crate::paths::path_text(p)));
            }
        }
    }
}

/// A rejected line.
#[derive(Clone, Debug, Serialize)]
pub struct BadLine {
    /// Its line number (1-based).
    pub line: u64,
    /// Why no parser took it.
    pub reason: String,
    /// The start of the line, lossily decoded (at most 120 bytes).
    pub excerpt: String,
}

/// Counts for one minute.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Minute {
    /// Records in the minute.
    pub records: u64,
    /// Of them, with a 5xx status.
    pub http_5xx: u64,
    /// Events in the minute.
    pub events: u64,
}

/// LB 5xx split by who generated them.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LbSplit {
    /// With `elb_status_code` 5xx and no backend status (`-`): the load balancer's own.
    pub lb_generated: u64,
    /// With a backend status: the backend's answer.
    pub backend_generated: u64,
}

/// What a scan found in one log.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LogReport {
    /// The log's name (`--stdin-name` for stdin).
    pub path: String,
    /// The format used (`elb`, `nginx-combined`, `nginx:<format>`, …).
    pub format: String,
    /// Bytes read (decompressed).
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines parsed.
    pub records: u64,
    /// Lines rejected.
    pub bad_lines: u64,
    /// The first rejected lines, with their reasons.
    pub bad_examples: Vec<BadLine>,
    /// Records skipped because they are older than `--since`.
    pub skipped_old: u64,
    /// Records by 5xx status.
    pub status_5xx: BTreeMap<u16, u64>,
    /// Load-balancer logs: LB 5xx by who generated them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lb_5xx: Option<LbSplit>,
    /// Events by kind (`http-5xx`, `malformed-output`, `upstream-error`, …).
    pub events_by_kind: BTreeMap<String, u64>,
    /// Events by problem (`invalid-header`, `premature-close`, …).
    pub problems: BTreeMap<String, u64>,
    /// Per UTC minute (`2026-11-25T08:00:00Z`).
    pub timeline: BTreeMap<String, Minute>,
    /// The paths with the most 5xx, most first.
    pub top_failing_paths: Vec<(String, u64)>,
    /// The earliest record's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_time: Option<Timestamp>,
    /// The latest record's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_time: Option<Timestamp>,
    /// The first few events (`--examples`); with an event sink, every event went there.
    pub events: Vec<Event>,
    /// Why the log could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For logs whose times carry no offset (error logs): the zone they were read in, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// The per-thread accumulator. Line numbers are relative to the chunk until merged.
struct Acc {
    file: Arc<str>,
    lines: u64,
    records: u64,
    bad: u64,
    bad_examples: Vec<BadLine>,
    skipped_old: u64,
    status_5xx: [u64; 100],
    lb: LbSplit,
    is_lb: bool,
    kinds: HashMap<EventKind, u64>,
    problems: HashMap<Problem, u64>,
    minutes: HashMap<i64, Minute>,
    cur_minute: i64,
    /// `cur_minute` in micros (i64::MIN / 2 when none).
    cur_minute_us: i64,
    cur: Minute,
    paths: HashMap<Box<[u8]>, u64>,
    /// Counts at or below this were dropped from `paths` (see [`PATHS_CAP`]).
    paths_floor: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    events: Vec<Event>,
    example_events: usize,
    since: Option<i64>,
    /// The zone of times written without an offset.
    zone: Option<crate::time::Zone>,
    /// Where every event goes as it is found (ndjson output), or none.
    sink: Option<SyncSender<Event>>,
}

impl Acc {
    fn new(file: Arc<str>, opts: &ScanOptions, sink: Option<SyncSender<Event>>) -> Acc {
        Acc {
            file,
            lines: 0,
            records: 0,
            bad: 0,
            bad_examples: Vec::new(),
            skipped_old: 0,
            status_5xx: [0; 100],
            lb: LbSplit::default(),
            is_lb: false,
            kinds: HashMap::new(),
            problems: HashMap::new(),
            minutes: HashMap::new(),
            cur_minute: i64::MIN,
            cur_minute_us: i64::MIN / 2,
            cur: Minute::default(),
            paths: HashMap::new(),
            paths_floor: 0,
            first: None,
            last: None,
            events: Vec::new(),
            example_events: opts.example_events,
            since: opts.since_micros,
            zone: None,
            sink,
        }
    }

    fn bad_line(&mut self, reason: &str, line: &[u8]) {
        self.bad += 1;
        if self.bad_examples.len() < BAD_EXAMPLES {
            let cut = &line[..line.len().min(120)];
            self.bad_examples.push(BadLine { line: self.lines, reason: reason.to_string(), excerpt: String::from_utf8_lossy(cut).into_owned() });
        }
    }

    #[inline]
    fn flush_minute(&mut self) {
        if self.cur_minute != i64::MIN {
            let m = self.minutes.entry(self.cur_minute).or_default();
            m.records += self.cur.records;
            m.http_5xx += self.cur.http_5xx;
            m.events += self.cur.events;
        }
        self.cur = Minute::default();
    }

    #[inline]
    fn line(&mut self, parser: &mut Parser, no: u64, line: Line<'_>) {
        // (the record's first line: events and bad lines are numbered by it)
        self.lines = no;
        let bytes = match line {
            Line::Text(t) => t,
            Line::TooLong(n) => {
                self.bad += 1;
                if self.bad_examples.len() < BAD_EXAMPLES {
                    self.bad_examples.push(BadLine {
                        line: self.lines,
                        reason: format!("line of {n} bytes is longer than {} bytes: skipped", read::MAX_LINE),
                        excerpt: String::new(),
                    });
                }
                return;
            }
        };
        // (borrowed where it lies: moving a record out of the result copies it)
        let parsed = parser.parse(bytes);
        let rec = match &parsed {
            Ok(Record::Meta) => return,
            Ok(r) => r,
            Err(e) => {
                self.bad_line(e.reason, bytes);
                return;
            }
        };
        let time = match rec.time() {
            Some(t) if t.offset.is_none() => Some(self.in_zone(t)),
            t => t,
        };
        if let Some(t) = time {
            if let Some(since) = self.since
                && t.micros < since
            {
                self.skipped_old += 1;
                return;
            }
            if self.first.is_none_or(|f| t.micros < f.micros) {
                self.first = Some(t);
            }
            if self.last.is_none_or(|l| t.micros > l.micros) {
                self.last = Some(t);
            }
            // Same minute as the line before (the common case): no division.
            if t.micros < self.cur_minute_us || t.micros >= self.cur_minute_us + 60_000_000 {
                self.flush_minute();
                self.cur_minute = t.minute();
                self.cur_minute_us = self.cur_minute * 1_000_000;
            }
            self.cur.records += 1;
        }
        self.records += 1;
        if matches!(rec, Record::Lb(_)) {
            self.is_lb = true;
        }
        if let Some(class) = classify(rec) {
            self.event(rec, class, time);
        }
    }

    /// A time written without an offset, read in the log's zone (when one is known).
    #[cold]
    #[inline(never)]
    fn in_zone(&self, t: Timestamp) -> Timestamp {
        self.zone.as_ref().map_or(t, |z| z.resolve(t))
    }

    #[cold]
    fn event(&mut self, rec: &Record<'_>, class: Class, time: Option<Timestamp>) {
        let timed = time.is_some();
        *self.kinds.entry(class.kind).or_default() += 1;
        if let Some(p) = class.problem {
            *self.problems.entry(p).or_default() += 1;
        }
        // HTTP.sys answers 503 itself (queue full, app pool down): those count as 5xx too.
        let status_5xx = class.status.filter(|s| (500..600).contains(s));
        let is_5xx = status_5xx.is_some() && matches!(class.kind, EventKind::Http5xx | EventKind::Lb5xx | EventKind::HttpErr);
        if let (true, Some(s)) = (is_5xx, status_5xx) {
            self.status_5xx[(s - 500) as usize] += 1;
        }
        if let Some(g) = class.lb_generated {
            if g {
                self.lb.lb_generated += 1;
            } else {
                self.lb.backend_generated += 1;
            }
        }
        if timed {
            if is_5xx {
                self.cur.http_5xx += 1;
            }
            self.cur.events += 1;
        }
        let path = match rec {
            Record::Access(a) => Some(a.request.path()),
            Record::Lb(l) => Some(l.request.path()),
            Record::Error(e) => e.request.map(|r| r.path()),
            Record::HttpErr(h) => h.uri,
            Record::Meta => None,
        };
        if let Some(p) = path.filter(|p| !p.is_empty() && *p != b"-") {
            let p = &p[..memchr::memchr(b'?', p).unwrap_or(p.len())];
            let p = &p[..p.len().min(200)];
            match self.paths.get_mut(p) {
                Some(c) => *c += 1,
                None => {
                    self.paths.insert(p.into(), 1);
                    self.trim_paths();
                }
            }
        }
        // (the event's time is the one read in the log's zone)
        let event = || {
            let mut ev = Event::new(rec, class, &self.file, self.lines);
            ev.timestamp = time.or(ev.timestamp);
            ev
        };
        if let Some(tx) = &self.sink {
            // Blocks while the writer is behind: memory stays bounded by the queue.
            let _ = tx.send(event());
        } else if self.events.len() < self.example_events {
            let ev = event();
            if let Some(prev) = self.events.last_mut() {
                hand_over(prev, &ev);
            }
            self.events.push(ev);
        }
    }

    /// Keep `paths` within [`PATHS_CAP`]: past it, drop every path whose count is at most the
    /// median count (so at least half goes, and the next trim is `PATHS_CAP / 2` paths away).
    fn trim_paths(&mut self) {
        if self.paths.len() <= PATHS_CAP {
            return;
        }
        let mut counts: Vec<u64> = self.paths.values().copied().collect();
        let mid = counts.len() / 2;
        let median = *counts.select_nth_unstable(mid).1;
        self.paths_floor = self.paths_floor.max(median);
        let floor = self.paths_floor;
        self.paths.retain(|_, c| *c > floor);
    }

    /// Fold `other` (the chunk after this one) into `self`.
    fn merge(&mut self, mut other: Acc) {
        self.flush_minute();
        other.flush_minute();
        let off = self.lines;
        for mut b in other.bad_examples {
            if self.bad_examples.len() < BAD_EXAMPLES {
                b.line += off;
                self.bad_examples.push(b);
            }
        }
        for mut e in other.events {
            if self.events.len() < self.example_events {
                e.line += off;
                self.events.push(e);
            }
        }
        self.lines += other.lines;
        self.records += other.records;
        self.bad += other.bad;
        self.skipped_old += other.skipped_old;
        for i in 0..100 {
            self.status_5xx[i] += other.status_5xx[i];
        }
        self.lb.lb_generated += other.lb.lb_generated;
        self.lb.backend_generated += other.lb.backend_generated;
        self.is_lb |= other.is_lb;
        for (k, v) in other.kinds {
            *self.kinds.entry(k).or_default() += v;
        }
        for (k, v) in other.problems {
            *self.problems.entry(k).or_default() += v;
        }
        for (k, v) in other.minutes {
            let m = self.minutes.entry(k).or_default();
            m.records += v.records;
            m.http_5xx += v.http_5xx;
            m.events += v.events;
        }
        for (k, v) in other.paths {
            *self.paths.entry(k).or_default() += v;
        }
        self.paths_floor = self.paths_floor.max(other.paths_floor);
        self.trim_paths();
        if let Some(f) = other.first
            && self.first.is_none_or(|s| f.micros < s.micros)
        {
            self.first = Some(f);
        }
        if let Some(l) = other.last
            && self.last.is_none_or(|s| l.micros > s.micros)
        {
            self.last = Some(l);
        }
        self.cur_minute = i64::MIN;
        self.cur_minute_us = i64::MIN / 2;
    }

    fn into_report(mut self, path: String, format: String, bytes: u64) -> LogReport {
        self.flush_minute();
        let mut paths: Vec<(Box<[u8]>, u64)> = self.paths.into_iter().collect();
        paths.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        LogReport {
            path,
            format,
            bytes,
            lines: self.lines,
            records: self.records,
            bad_lines: self.bad,
            bad_examples: self.bad_examples,
            skipped_old: self.skipped_old,
            status_5xx: (0..100).filter(|&i| self.status_5xx[i] > 0).map(|i| (500 + i as u16, self.status_5xx[i])).collect(),
            lb_5xx: if self.is_lb { Some(self.lb) } else { None },
            events_by_kind: self.kinds.into_iter().map(|(k, v)| (k.as_str().to_string(), v)).collect(),
            problems: self.problems.into_iter().map(|(k, v)| (k.as_str().to_string(), v)).collect(),
            timeline: self.minutes.into_iter().map(|(m, c)| (crate::time::format_utc(m * 1_000_000, crate::time::Precision::Second), c)).collect(),
            top_failing_paths: paths.into_iter().take(TOP_PATHS).map(|(p, c)| (crate::format::unescape(&p), c)).collect(),
            first_time: self.first,
            last_time: self.last,
            events: self.events,
            error: None,
            time_zone: None,
        }
    }
}

/// Apache logs a proxy failure as two lines from the same connection: AH01102 (why, no path)
/// then AH00898 (the path of the 502 it sent). Give the first one the path.
fn hand_over(prev: &mut Event, ev: &Event) {
    if let Some(req) = &ev.request
        && prev.request.is_none()
        && prev.line + 1 == ev.line
        && prev.client.is_some()
        && prev.client == ev.client
    {
        prev.request = Some(req.clone());
    }
}

/// Where events go, one at a time, in file order, as they are found.
pub type EventSink<'a> = &'a mut dyn FnMut(Event);

/// How many events a worker may be ahead of the writer (bounded memory).
const EVENT_QUEUE: usize = 4096;

/// One chunk's scanner.
struct ScanWorker {
    acc: Acc,
    parser: Parser,
}

impl crate::fold::Worker for ScanWorker {
    #[inline]
    fn record(&mut self, line: u64, record: Line<'_>) {
        self.acc.line(&mut self.parser, line, record);
    }

    fn end(&mut self) {
        self.acc.sink = None; // ends the writer's loop over this worker's events
    }
}

/// Scan one log. Never fails: an unreadable file yields a report with `error` set.
pub fn scan_log(path: &Path, opts: &ScanOptions, progress: &(dyn Fn(u64) + Sync)) -> LogReport {
    scan_log_as(path, opts.format.as_ref(), opts, progress, None)
}

/// Scan one log in a given format (`None`: detect it). The log is opened once (stdin, FIFOs and
/// gzip streams cannot be read twice); every event goes to `sink`, when given, in file order
/// and as it is found.
pub fn scan_log_as(path: &Path, format: Option<&Format>, opts: &ScanOptions, progress: &(dyn Fn(u64) + Sync), sink: Option<EventSink<'_>>) -> LogReport {
    let name = read::input_name(path, opts.stdin_name.as_deref());
    let fail = |e: String, format: String, bytes: u64| LogReport { path: name.clone(), format, bytes, error: Some(e), ..Default::default() };
    let input = match read::Input::open(path, detect::SAMPLE_BYTES) {
        Ok(i) => i,
        Err(e) => return fail(format!("cannot read: {e}"), "unknown".into(), 0),
    };
    let file_bytes = input.file_len().unwrap_or(0);
    let (format, fmt_name) = match detect::resolve(&input.sample, format) {
        detect::Resolved::Known(f) => {
            let n = f.name();
            (f, n)
        }
        // Nothing to parse either way.
        detect::Resolved::Empty => (Format::Elb, "empty".to_string()),
        detect::Resolved::Unknown => {
            return fail(
                "could not recognise the log format from the first lines: pass --log-format (e.g. elb, alb, \
                 nginx-combined, apache-combined, 'nginx:<log_format>', w3c, nginx-error)"
                    .into(),
                "unknown".into(),
                file_bytes,
            );
        }
    };
    let file: Arc<str> = name.clone().into();
    let zone = opts.zones.for_format(&format);
    // Bytes read (for streams, whose size is not known beforehand).
    let counted = std::sync::atomic::AtomicU64::new(0);
    let progress = |n: u64| {
        counted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        progress(n)
    };
    // With a sink, each worker streams its events through a bounded queue of its own; the
    // queues are drained in file order (line numbers shifted past the earlier chunks).
    let streaming = sink.is_some();
    let queues: std::cell::RefCell<Vec<Option<std::sync::mpsc::Receiver<Event>>>> = Default::default();
    let mut sink = sink.map(|s| HandOverSink { pending: None, sink: s });
    let mut merged: Option<Acc> = None;
    let mut err = None;
    crate::fold::fold(
        input,
        &format,
        opts.threads,
        &progress,
        |_| {
            let tx = streaming.then(|| {
                let (t, r) = std::sync::mpsc::sync_channel(EVENT_QUEUE);
                queues.borrow_mut().push(Some(r));
                t
            });
            let mut acc = Acc::new(file.clone(), opts, tx);
            acc.zone = zone.as_ref().map(|z| z.0.clone());
            ScanWorker { acc, parser: format.parser() }
        },
        |i, base| {
            if let (Some(sink), Some(rx)) = (sink.as_mut(), queues.borrow_mut().get_mut(i).and_then(Option::take)) {
                for mut e in rx {
                    e.line += base;
                    sink.push(e);
                }
            }
        },
        |d| {
            let mut acc = d.worker.acc;
            acc.lines = d.lines;
            if let Err(e) = d.result {
                err.get_or_insert(e);
            }
            match merged.as_mut() {
                None => merged = Some(acc),
                Some(m) => m.merge(acc),
            }
        },
    );
    if let Some(s) = sink.as_mut() {
        s.finish();
    }
    let acc = merged.expect("at least one chunk");
    let bytes = if file_bytes > 0 { file_bytes } else { counted.into_inner() };
    let mut rep = acc.into_report(name, fmt_name, bytes);
    rep.time_zone = zone.map(|z| z.1);
    // What was read before a read error (a truncated .gz, a file cut by copytruncate) is kept.
    rep.error = err.map(|e| format!("read error: {e}"));
    rep
}

/// A sink that applies [`hand_over`] to events in file order, holding one back.
struct HandOverSink<'a> {
    pending: Option<Event>,
    sink: EventSink<'a>,
}

impl HandOverSink<'_> {
    fn push(&mut self, e: Event) {
        if let Some(mut p) = self.pending.take() {
            hand_over(&mut p, &e);
            (self.sink)(p);
        }
        self.pending = Some(e);
    }

    fn finish(&mut self) {
        if let Some(p) = self.pending.take() {
            (self.sink)(p);
        }
    }
}

/// Scan several logs, one after the other (each one uses all threads). A per-file format (from
/// discovery) wins over detection; `opts.format` wins over both. Every event goes to `sink`,
/// when given, in order, as it is found.
pub fn scan_all(paths: &[(PathBuf, Option<Format>)], opts: &ScanOptions, progress: &(dyn Fn(u64) + Sync), mut sink: Option<EventSink<'_>>) -> Vec<LogReport> {
    let mut learned;
    let opts = if opts.zones.nginx.is_none() && opts.zones.apache.is_none() {
        learned = opts.clone();
        learned.zones.learn(paths, opts.format.as_ref());
        &learned
    } else {
        opts
    };
    paths
        .iter()
        .map(|(p, f)| {
            let s: Option<EventSink<'_>> = match sink.as_mut() {
                Some(s) => Some(&mut **s),
                None => None,
            };
            scan_log_as(p, opts.format.as_ref().or(f.as_ref()), opts, progress, s)
        })
        .collect()
}
