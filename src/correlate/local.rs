//! Pass 2: the instance's access and error logs, streamed once. Only lines whose request
//! (method, path, query) is one the load balancer failed, within a wide time window, are kept.

use std::collections::HashMap;

use serde::Serialize;

use super::elb::{Wanted, request_key};
use super::Options;
use crate::detect::{Problem, error_problem};
use crate::format::{Format, Record, detect, text, unescape};
use crate::read::{self, Line};

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

fn stamp_of(f: &Format) -> Stamp {
    match f {
        Format::Apache(_) => Stamp::Start,
        _ => Stamp::End,
    }
}

/// Collect candidates for `wanted` from every local log.
pub fn collect(opts: &Options, wanted: &[Wanted]) -> Collected {
    let mut index: HashMap<u64, Vec<u32>> = HashMap::new();
    let mut paths: HashMap<u64, ()> = HashMap::new();
    for (i, w) in wanted.iter().enumerate() {
        index.entry(w.key).or_default().push(i as u32);
        paths.insert(request_key(b"", w.path.as_bytes()), ());
    }
    let window_us = (opts.window_secs * 1e6) as i64;
    let idle_us = opts.lb_idle_timeout_secs as i64 * 1_000_000;
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
        let fmt = match &log.format {
            // A forced access format does not turn an error log into bad access lines.
            Some(f) => match read::sample(&log.path, 64 * 1024).ok().and_then(|s| detect::detect(&s)) {
                Some(e @ (Format::NginxError | Format::ApacheError)) => e,
                _ => f.clone(),
            },
            None => match read::sample(&log.path, 64 * 1024).map(|s| detect::detect(&s)) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    out.problems.push(format!("{}: format not recognised: skipped (pass --log-format)", log.display));
                    continue;
                }
                Err(e) => {
                    out.problems.push(format!("{}: cannot read: {e}", log.display));
                    continue;
                }
            },
        };
        let file = out.files.len() as u32;
        out.files.push(log.display.clone());
        let stamp = stamp_of(&fmt);
        let mut parser = fmt.parser();
        let (mut n, mut bad) = (0u64, 0u64);
        // Apache's AH01102 (why) precedes AH00898 (path) for the same client: carry the path back.
        let mut pending: Option<(ErrorLine, String)> = None;
        let res = read::open(&log.path).and_then(|r| {
            read::for_each_line(
                r,
                |l| {
                    n += 1;
                    let Line::Text(bytes) = l else {
                        bad += 1;
                        return;
                    };
                    let rec = match parser.parse(bytes) {
                        Ok(r) => r,
                        Err(_) => {
                            bad += 1;
                            return;
                        }
                    };
                    match rec {
                        Record::Access(a) => {
                            let Some(ts) = a.time else { return };
                            if let Some(o) = ts.offset {
                                *offsets.entry(o).or_default() += 1;
                            }
                            let target = a.request.path();
                            let key = request_key(a.request.method, target);
                            let Some(ws) = index.get(&key) else { return };
                            for &wi in ws {
                                let w = &wanted[wi as usize];
                                // Wide window: any clock offset up to `window`, the request's
                                // duration, a 1 s stamp, and for LB-generated answers the idle timeout.
                                let late = if w.lb_generated { idle_us + window_us } else { w.proc_us.unwrap_or(0) + window_us };
                                let d = ts.micros - w.arrival_us;
                                if d < -(window_us + ts.precision.micros()) || d > late + ts.precision.micros() {
                                    continue;
                                }
                                // A different user agent is a different request.
                                if let Some(ua) = a.user_agent {
                                    if !w.user_agent.is_empty() && w.user_agent != "-" && unescape(ua) != w.user_agent {
                                        continue;
                                    }
                                }
                                let client_match = a.client.is_some_and(|c| c == w.client.as_bytes())
                                    || a.x_forwarded_for.is_some_and(|x| {
                                        x.split(|&b| b == b',').any(|p| p.trim_ascii() == w.client.as_bytes())
                                    });
                                out.candidates.push(Candidate {
                                    wanted: wi,
                                    file,
                                    line: n,
                                    ts,
                                    stamp,
                                    status: a.status,
                                    client_match,
                                    bytes: a.bytes_sent,
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
                                line: n,
                                wall_us: e.time.micros,
                                ts: e.time,
                                message: crate::detect::Event::new(&Record::Error(e), crate::detect::classify(&Record::Error(e)).unwrap(), "", 0)
                                    .message
                                    .unwrap_or_default(),
                                problem,
                            };
                            let path = e.request.map(|r| r.path());
                            let client = e.client.map(text).unwrap_or_default();
                            if let Some((prev, prev_client)) = pending.take() {
                                if let (Some(p), true) = (path, prev_client == client && !client.is_empty()) {
                                    let k = request_key(b"", p);
                                    if paths.contains_key(&k) {
                                        out.errors_by_request.entry(k).or_default().push(prev);
                                    }
                                }
                            }
                            match path {
                                Some(p) => {
                                    let k = request_key(b"", p);
                                    if paths.contains_key(&k) {
                                        out.errors_by_request.entry(k).or_default().push(ev);
                                    }
                                }
                                None => pending = Some((ev, client)),
                            }
                        }
                        _ => {}
                    }
                },
                |_| {},
            )
        });
        if let Err(e) = res {
            out.problems.push(format!("{}: read error after line {n}: {e} (the lines before it are used)", log.display));
        }
        out.summaries.push(LocalSummary { file: log.display.clone(), format: fmt.name(), lines: n, bad_lines: bad });
    }
    out.local_offset = offsets.into_iter().max_by_key(|(_, c)| *c).map(|(o, _)| o);
    out
}
