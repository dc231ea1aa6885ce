//! Pass 1: the load balancer's logs, streamed once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::{BackendRate, BadElbLine, Burst, MinuteCounts, Options, Summary};
use crate::format::{Format, LbRecord, Record, detect, strip_authority, text, unescape};
use crate::read::{self, Line};
use crate::time::{Precision, Timestamp, format_utc};

/// One LB 5xx in scope, kept until the local pass.
#[derive(Clone, Debug)]
pub struct Wanted {
    pub file: u32,
    pub line: u64,
    pub ts: Timestamp,
    /// When the request reached the LB (Classic stamps arrival; ALB stamps the response and
    /// records `request_creation_time`).
    pub arrival_us: i64,
    /// request + backend processing time, when the LB logged them.
    pub proc_us: Option<i64>,
    pub backend: Option<String>,
    pub ours: bool,
    pub elb_status: u16,
    pub backend_status: Option<u16>,
    pub lb_generated: bool,
    pub request: String,
    pub method: String,
    /// Origin-form target (`/p?q`).
    pub path: String,
    pub client: String,
    pub user_agent: String,
    pub sent_bytes: u64,
    /// ALB `error_reason`.
    pub error_reason: String,
    pub key: u64,
}

/// A 64-bit hash of method and path, eight bytes at a time: the join key between the passes
/// (computed for every local line, so it must be cheap; collisions only cost a comparison that
/// the time, status and user-agent checks then reject).
#[inline]
pub fn request_key(method: &[u8], path: &[u8]) -> u64 {
    #[inline]
    fn mix(mut h: u64, b: &[u8]) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            h = (h ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(K).rotate_left(29);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // (the zero-padded little-endian word, built in registers: a `copy_from_slice`
            // of a variable length here is a libc memcpy call per key)
            let mut w = 0u64;
            for (i, &b) in rest.iter().enumerate() {
                w |= (b as u64) << (8 * i);
            }
            h = (h ^ w ^ ((rest.len() as u64) << 59)).wrapping_mul(K).rotate_left(29);
        }
        h ^ (b.len() as u64).wrapping_mul(K)
    }
    let h = mix(0x243F_6A88_85A3_08D3, method);
    let h = mix(h.wrapping_mul(31), path);
    h ^ (h >> 32)
}

/// What pass 1 produced.
pub struct Ingest {
    pub wanted: Vec<Wanted>,
    pub summary: Summary,
    /// Input file names, indexed by `Wanted::file`.
    pub files: Vec<String>,
}

/// Expand inputs: directories recursively (sorted), files as given, `-` as stdin.
pub fn expand_inputs(inputs: &[PathBuf], errors: &mut Vec<String>) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
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
            if p.is_dir() {
                walk(&p, out, errors);
            } else if p.is_file() {
                out.push(p);
            } else {
                match std::fs::metadata(&p) {
                    Err(e) => errors.push(format!("{}: cannot read: {e}", p.display())),
                    Ok(_) => errors.push(format!("{}: not a regular file: skipped", p.display())),
                }
            }
        }
    }
    let mut out = Vec::new();
    for i in inputs {
        if i.as_os_str() == "-" {
            out.push(i.clone());
        } else if i.is_dir() {
            walk(i, &mut out, errors);
        } else {
            out.push(i.clone());
        }
    }
    out
}

#[derive(Default)]
struct Run {
    count: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    first_line: String,
}

struct State<'a> {
    opts: &'a Options,
    wanted: Vec<Wanted>,
    summary: Summary,
    minutes: BTreeMap<i64, MinuteCounts>,
    /// The minute being counted (flushed into `minutes` when the minute changes).
    cur_minute: i64,
    cur: MinuteCounts,
    /// Per backend token (as written): its run of successive 502s and its (requests, 5xx).
    backends: Vec<(Box<[u8]>, Run, u64, u64)>,
    /// Token → index into `backends`.
    backend_index: HashMap<Box<[u8]>, usize, super::local::KeyHash>,
    /// The last token's index: ELB logs come in runs per backend, and a compare of a
    /// dozen bytes is cheaper than hashing them on every line.
    last_backend: usize,
    bursts: Vec<Burst>,
}

fn backend_name(raw: &[u8]) -> String {
    text(raw)
}

impl State<'_> {
    fn flush_minute(&mut self) {
        if self.cur_minute != i64::MIN {
            let m = self.minutes.entry(self.cur_minute).or_default();
            m.requests += self.cur.requests;
            m.elb_5xx += self.cur.elb_5xx;
            m.backend_5xx += self.cur.backend_5xx;
        }
        self.cur = MinuteCounts::default();
    }

    fn close_run(bursts: &mut Vec<Burst>, min: usize, backend: &[u8], r: &mut Run) {
        if r.count as usize >= min {
            bursts.push(Burst { backend: backend_name(backend), count: r.count, first: r.first.unwrap(), last: r.last.unwrap(), first_line: std::mem::take(&mut r.first_line) });
        }
        *r = Run::default();
    }

    #[inline]
    fn record(&mut self, r: &LbRecord<'_>, file: u32, file_name: &str, line: u64) {
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
                Some(b) if *b.0 == *r.backend_raw => self.last_backend,
                _ => {
                    let i = match self.backend_index.get(r.backend_raw) {
                        Some(&i) => i,
                        None => {
                            self.backends.push((r.backend_raw.into(), Run::default(), 0, 0));
                            self.backend_index.insert(r.backend_raw.into(), self.backends.len() - 1);
                            self.backends.len() - 1
                        }
                    };
                    self.last_backend = i;
                    i
                }
            };
            let e = &mut self.backends[i];
            e.2 += 1;
            if is_5xx {
                e.3 += 1;
            }
            if r.elb_status == Some(502) {
                let run = &mut e.1;
                run.count += 1;
                if run.first.is_none() {
                    run.first = Some(r.time);
                    run.first_line = format!("{file_name}:{line}");
                }
                run.last = Some(r.time);
            } else if e.1.count > 0 {
                Self::close_run(&mut self.bursts, self.opts.burst_min, r.backend_raw, &mut e.1);
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
        let backend = r.backend_ip.map(|_| backend_name(r.backend_raw));
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
            crate::format::LbKind::Alb => alb.request_creation_time.map(|t| t.micros).unwrap_or_else(|| {
                r.time.micros - proc_us.unwrap_or(0) - r.response_processing_us.unwrap_or(0)
            }),
        };
        self.wanted.push(Wanted {
            file,
            line,
            ts: r.time,
            arrival_us,
            proc_us,
            backend,
            ours,
            elb_status: r.elb_status.unwrap_or(0),
            backend_status: r.backend_status(),
            lb_generated: lb_gen,
            request: unescape(r.request.raw),
            method: text(r.request.method),
            path: text(path),
            client: text(r.client_ip),
            user_agent: text(r.user_agent),
            sent_bytes: r.sent_bytes,
            error_reason: text(alb.error_reason),
            key: request_key(r.request.method, path),
        });
    }
}

/// Read every ELB/ALB input.
pub fn ingest(opts: &Options) -> Ingest {
    let mut errors = Vec::new();
    let inputs = expand_inputs(&opts.elb_inputs, &mut errors);
    let mut st = State {
        opts,
        wanted: Vec::new(),
        summary: Summary::default(),
        minutes: BTreeMap::new(),
        cur_minute: i64::MIN,
        cur: MinuteCounts::default(),
        backends: Vec::new(),
        backend_index: HashMap::default(),
        last_backend: 0,
        bursts: Vec::new(),
    };
    let mut files = Vec::new();
    for path in &inputs {
        let name = path.display().to_string();
        let stdin = path.as_os_str() == "-";
        // stdin cannot be sampled without consuming it: its format is taken from its first line.
        let sampled = if stdin { Ok(b"2000-01-01T00:00:00Z x 1.1.1.1:1 - -1 -1 -1 503 0 0 0 \"- - - \" \"-\" - -".to_vec()) } else { read::sample(path, 16 * 1024) };
        let fmt = match sampled {
            Ok(s) if s.is_empty() => continue,
            Ok(s) => match detect::detect(&s) {
                Some(f @ (Format::Elb | Format::Alb)) => f,
                Some(other) => {
                    errors.push(format!("{name}: looks like {}, not a load-balancer log: skipped", other.name()));
                    continue;
                }
                None => Format::Elb, // every line will be reported bad with its reason
            },
            Err(e) => {
                errors.push(format!("{name}: cannot read: {e}"));
                continue;
            }
        };
        let file = files.len() as u32;
        files.push(name.clone());
        let mut parser = fmt.parser();
        let mut decided = !stdin;
        let mut line_no = 0u64;
        let res = {
            read::for_each_line_in(
                path,
                None,
                |l| {
                    line_no += 1;
                    st.summary.elb_lines += 1;
                    let bytes = match l {
                        Line::Text(t) => t,
                        Line::TooLong(_) => {
                            st.summary.bad_lines += 1;
                            return;
                        }
                    };
                    if !decided && !bytes.is_empty() {
                        decided = true;
                        if crate::format::alb::is_conn_type(bytes.split(|&b| b == b' ').next().unwrap_or(b"")) {
                            parser = Format::Alb.parser();
                        }
                    }
                    match parser.parse(bytes) {
                        Ok(Record::Lb(r)) => st.record(&r, file, &name, line_no),
                        Ok(_) => {}
                        Err(e) => {
                            st.summary.bad_lines += 1;
                            if st.summary.bad_examples.len() < 10 {
                                st.summary.bad_examples.push(BadElbLine { file: name.clone(), line: line_no, reason: e.reason.to_string() });
                            }
                        }
                    }
                },
                |_| {},
            )
        };
        if let Err(e) = res {
            errors.push(format!("{name}: read error after line {line_no}: {e} (the lines before it are used)"));
        }
    }
    st.flush_minute();
    for (b, run, _, _) in st.backends.iter_mut() {
        State::close_run(&mut st.bursts, opts.burst_min, b, run);
    }
    st.bursts.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.micros.cmp(&b.first.micros)));
    let mut summary = st.summary;
    summary.per_minute = st
        .minutes
        .into_iter()
        .map(|(m, mut c)| {
            c.minute = format_utc(m * 1_000_000, Precision::Second);
            c
        })
        .collect();
    summary.bursts = st.bursts;
    if opts.all_backends {
        let mut v: Vec<BackendRate> = st
            .backends
            .iter()
            .map(|(b, _, n, e)| BackendRate { backend: backend_name(b), requests: *n, lb_5xx: *e, rate: if *n == 0 { 0.0 } else { *e as f64 / *n as f64 } })
            .collect();
        v.sort_by(|a, b| b.rate.total_cmp(&a.rate).then(b.lb_5xx.cmp(&a.lb_5xx)));
        summary.backends = v;
    }
    summary.errors = errors;
    Ingest { wanted: st.wanted, summary, files }
}
