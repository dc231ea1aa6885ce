//! One parallel fold over a log's records, for every mode (`--scan`, both passes of
//! `--correlate`).
//!
//! The caller has opened the log once ([`Input`]) and decided its format
//! ([`crate::format::detect::resolve`]); [`fold`] then decides how to read it — a large regular
//! plain file in a format whose lines stand alone is split at line boundaries and read on every
//! core, anything else (streams, gzip, W3C with its `#Fields`, small files) by one worker — and
//! hands each [`Worker`] its records with their line numbers within the worker's chunk. The caller
//! merges the workers' results in file order: [`Done::base`] is the number of lines before each
//! chunk, so `base + line` is the line in the file and the answer never depends on the thread
//! count.
//!
//! A record is usually one line. In formats with continuation lines (nginx error logs, where
//! PHP-FPM's `FastCGI sent in stderr: "PHP message: …"` carries raw newlines) the lines that do
//! not start a record are joined to the one before, `\n` between them, and the record is numbered
//! by its first line; at most [`MAX_JOINED_LINES`] lines and [`read::MAX_LINE`] bytes are joined
//! (what follows is handed out line by line, so garbage after a good line still counts as bad).

use std::io;

use crate::format::Format;
use crate::read::{self, Input, Line};

/// Files smaller than this are read on one thread.
pub const PARALLEL_MIN_BYTES: u64 = 8 << 20;
/// The most physical lines one record may span.
pub const MAX_JOINED_LINES: u64 = 1000;

/// What reads one chunk: it sees every record of the chunk, in order, on a thread of its own.
pub trait Worker: Send {
    /// One record; `line` is the number (from 1) of its first line within the chunk.
    fn record(&mut self, line: u64, record: Line<'_>);
    /// The chunk is read (on the worker's thread: a worker that streams out closes here).
    fn end(&mut self) {}
}

/// A worker's result, handed to the caller in file order.
pub struct Done<W> {
    /// Which chunk (0-based, in file order).
    pub index: usize,
    /// The worker, with what it gathered from its chunk.
    pub worker: W,
    /// Lines in the file before this chunk.
    pub base: u64,
    /// Lines in this chunk.
    pub lines: u64,
    /// A read error that ended this chunk early (what was read before it was folded).
    pub result: io::Result<()>,
}

/// Lines before each chunk of each file, from [`Done::base`]: records kept with their
/// chunk-relative line (and the chunk) are placed in their file once every chunk is read.
#[derive(Clone, Debug, Default)]
pub struct Bases(Vec<Vec<u64>>);

impl Bases {
    /// Chunk `chunk` of file `file` starts after `base` lines.
    pub fn set(&mut self, file: u32, chunk: u32, base: u64) {
        let (f, c) = (file as usize, chunk as usize);
        if self.0.len() <= f {
            self.0.resize(f + 1, Vec::new());
        }
        if self.0[f].len() <= c {
            self.0[f].resize(c + 1, 0);
        }
        self.0[f][c] = base;
    }

    /// Make a chunk-relative `line` the line in its file (and `chunk` 0).
    pub fn place(&self, file: u32, chunk: &mut u32, line: &mut u64) {
        *line += self.0.get(file as usize).and_then(|b| b.get(*chunk as usize)).copied().unwrap_or(0);
        *chunk = 0;
    }
}

/// What one worker reads.
enum Job {
    Whole(Input),
    Range((u64, u64)),
}

/// Fold every record of `input`, read as `format`.
///
/// - `new(i)` makes the worker of chunk `i` (on the caller's thread);
/// - `turn(i, base)` is called on the caller's thread when chunk `i` is next to finish, while
///   it may still run: a caller that streams out of a worker drains it here;
/// - `done` gets each worker in file order.
pub fn fold<W: Worker>(
    input: Input,
    format: &Format,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
    mut new: impl FnMut(usize) -> W,
    mut turn: impl FnMut(usize, u64),
    mut done: impl FnMut(Done<W>),
) {
    let path = input.path.clone();
    let join = joins(format);
    let ranges = match input.file_len() {
        Some(len) if threads > 1 && format.stateless() && !join && len >= PARALLEL_MIN_BYTES => read::split_ranges(&path, threads).unwrap_or_default(),
        _ => Vec::new(),
    };
    let jobs: Vec<Job> = if ranges.len() > 1 { ranges.into_iter().map(Job::Range).collect() } else { vec![Job::Whole(input)] };
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .enumerate()
            .map(|(i, job)| {
                let mut w = new(i);
                let path = &path;
                s.spawn(move || {
                    let mut r = Records::new(join);
                    let mut out = |n: u64, l: Line<'_>| w.record(n, l);
                    let result = match job {
                        Job::Whole(input) => input.for_each_line(|l| r.push(l, &mut out), progress),
                        Job::Range(range) => read::for_each_line_in(path, Some(range), |l| r.push(l, &mut out), progress),
                    };
                    r.finish(&mut out);
                    w.end();
                    (w, r.lines, result)
                })
            })
            .collect();
        let mut base = 0u64;
        for (index, h) in handles.into_iter().enumerate() {
            turn(index, base);
            let (worker, lines, result) = h.join().expect("a log worker panicked");
            done(Done { index, worker, base, lines, result });
            base += lines;
        }
    });
}

/// Whether `format` has continuation lines (see the module's doc).
pub fn joins(format: &Format) -> bool {
    matches!(format, Format::NginxError)
}

/// Whether `line` starts a record of a format that [`joins`] lines: an nginx error-log line
/// starts with its `YYYY/MM/DD HH:MM:SS ` timestamp.
pub fn starts_record(line: &[u8]) -> bool {
    let l = line;
    l.len() >= 20 && l[..4].iter().all(u8::is_ascii_digit) && l[4] == b'/' && l[7] == b'/' && l[10] == b' ' && l[13] == b':' && l[16] == b':' && l[19] == b' '
}

/// Lines → records: counts lines and, when joining, holds the record being continued.
struct Records {
    join: bool,
    /// Lines seen so far.
    lines: u64,
    /// The held record (joining only): its first line's number, its text, how many lines.
    held: Option<(u64, Vec<u8>, u64)>,
}

impl Records {
    fn new(join: bool) -> Records {
        Records { join, lines: 0, held: None }
    }

    #[inline]
    fn push(&mut self, l: Line<'_>, out: &mut impl FnMut(u64, Line<'_>)) {
        self.lines += 1;
        if !self.join {
            out(self.lines, l);
            return;
        }
        match l {
            Line::Text(t) => {
                let t = t.strip_suffix(b"\r").unwrap_or(t);
                if !starts_record(t)
                    && let Some((_, buf, n)) = self.held.as_mut()
                    && *n < MAX_JOINED_LINES
                    && buf.len() + 1 + t.len() <= read::MAX_LINE
                {
                    buf.push(b'\n');
                    buf.extend_from_slice(t);
                    *n += 1;
                    return;
                }
                self.finish(out);
                if starts_record(t) {
                    self.held = Some((self.lines, t.to_vec(), 1));
                } else {
                    out(self.lines, Line::Text(t));
                }
            }
            Line::TooLong(n) => {
                self.finish(out);
                out(self.lines, Line::TooLong(n));
            }
        }
    }

    fn finish(&mut self, out: &mut impl FnMut(u64, Line<'_>)) {
        if let Some((no, buf, _)) = self.held.take() {
            out(no, Line::Text(&buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(join: bool, text: &[u8]) -> Vec<(u64, String)> {
        let mut r = Records::new(join);
        let mut out = Vec::new();
        let mut push = |n: u64, l: Line<'_>| {
            out.push((
                n,
                match l {
                    Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    Line::TooLong(n) => format!("<{n}>"),
                },
            ))
        };
        read::for_each_line(text, |l| r.push(l, &mut push), |_| {}).unwrap();
        r.finish(&mut push);
        assert_eq!(r.lines as usize, text.split(|&b| b == b'\n').count() - usize::from(text.ends_with(b"\n")));
        out
    }

    #[test]
    fn continuation_lines_join_their_record() {
        let log = b"2019/10/30 23:26:34 [error] 1#1: *1 FastCGI sent in stderr: \"PHP message: a\r\nPHP message: b\n\nPHP message: c\" while reading, client: 1.2.3.4\n2019/10/30 23:26:35 [error] 1#1: x\n";
        let r = records(true, log);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], (1, "2019/10/30 23:26:34 [error] 1#1: *1 FastCGI sent in stderr: \"PHP message: a\nPHP message: b\n\nPHP message: c\" while reading, client: 1.2.3.4".into()));
        assert_eq!(r[1].0, 5);
        // Not joining: every line is its own record.
        assert_eq!(records(false, log).len(), 5);
    }

    #[test]
    fn lines_before_any_record_and_past_the_cap_stay_lines() {
        let mut log = b"garbage first\n2019/10/30 23:26:34 [error] 1#1: x\n".to_vec();
        for _ in 0..MAX_JOINED_LINES + 5 {
            log.extend_from_slice(b"more\n");
        }
        let r = records(true, &log);
        assert_eq!(r[0], (1, "garbage first".into()));
        assert_eq!(r[1].0, 2);
        assert_eq!(r[1].1.matches('\n').count() as u64, MAX_JOINED_LINES - 1);
        assert_eq!(r.len(), 2 + 6, "the 6 lines past the cap are handed out one by one");
        assert_eq!(r.last().unwrap().0, MAX_JOINED_LINES + 7);
    }

    #[test]
    fn record_starts() {
        assert!(starts_record(b"2024/11/03 06:09:29 [error] 1#1: x"));
        assert!(!starts_record(b"PHP message: PHP Warning"));
        assert!(!starts_record(b"2024-11-03 06:09:29 [error]"));
        assert!(!starts_record(b""));
    }
}
