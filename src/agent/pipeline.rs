//! Lines → records → events, with the state each followed file needs (its parser, W3C
//! `#Fields`, its bad-line count). That state is keyed by the tail engine's number for the file
//! ([`TailLine::file`]), never by inode (inodes are reused), and dropped when the engine releases
//! the file.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::event::{AgentEvent, BadLine, LineCut};
use super::plan::Plan;
use crate::detect::{Event, classify};
use crate::format::{Format, Parser, Record, detect};
use crate::tail::{LineEnd, TailLine};

/// At most one `bad-line` event per file this often (the count is in every one).
const BAD_LINE_EVERY: Duration = Duration::from_secs(60);
/// How often a file of unknown format is sampled again.
const REDETECT_EVERY: Duration = Duration::from_secs(5);

struct FileState {
    /// `None`: the format is not known (yet).
    parser: Option<Parser>,
    bad: u64,
    last_bad_event: Option<Instant>,
    not_reported: u64,
    last_detect: Instant,
    /// The last line was (part of) a record of a format with continuation lines: a continuation
    /// that arrives in a later batch belongs to it (already reported), not a bad line.
    in_record: bool,
}

/// The per-file states and counters of the running agent.
#[derive(Default)]
pub struct Pipeline {
    files: HashMap<u64, FileState>,
    /// The host's zone, for error-log times (written without an offset); read once, when first
    /// needed.
    zone: Option<Option<crate::time::Zone>>,
    pub events: u64,
    pub bad_lines: u64,
}

/// The parser for a followed file: the plan's format, else detected from the file's start.
fn parser_for(plan: &Plan, l: &TailLine) -> Option<Parser> {
    let f = match plan.format_for(&l.path) {
        Some(f) => f.clone(),
        None => match crate::read::sample(&l.path, detect::SAMPLE_BYTES).map(|s| detect::resolve(&s, None)) {
            Ok(detect::Resolved::Known(f)) => f,
            _ => return None,
        },
    };
    let mut parser = f.parser();
    if matches!(f, Format::W3c | Format::HttpErr) && l.offset > 0 {
        prime_w3c(&mut parser, &l.path, l.offset);
    }
    Some(parser)
}

impl Pipeline {
    /// The events of these lines, in order.
    pub fn process(&mut self, lines: &[TailLine], plan: &Plan, lines_cut: u64, max_line_bytes: usize, out: &mut Vec<AgentEvent>) {
        let mut joined = Vec::new();
        let mut skip = 0usize;
        for (i, l) in lines.iter().enumerate() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            // (the path as text only for what emits something: not per line)
            let file = || l.path.display().to_string();
            if l.end == LineEnd::Cut {
                out.push(AgentEvent::LineCut(LineCut { file: file(), offset: l.offset, max_line_bytes, lines_cut }));
            }
            let st = self.files.entry(l.file).or_insert_with(|| {
                let parser = parser_for(plan, l);
                if parser.is_none() {
                    tracing::warn!("{}: log format not recognised from its first lines: its lines are counted as bad (set its format, e.g. `logs` with a known server, or check the file)", crate::text::escape(&file()));
                }
                FileState { parser, bad: 0, last_bad_event: None, not_reported: 0, last_detect: Instant::now(), in_record: false }
            });
            if st.parser.is_none() && st.last_detect.elapsed() >= REDETECT_EVERY {
                st.last_detect = Instant::now();
                st.parser = parser_for(plan, l);
            }
            // nginx error records with continuation lines (PHP-FPM's messages carry raw
            // newlines): the record is the line and the continuations that follow it in this
            // batch (nginx writes a record in one write(2)), as `crate::fold` joins them.
            let mut bytes: &[u8] = &l.bytes;
            if matches!(st.parser, Some(Parser::NginxError)) {
                if !crate::fold::starts_record(strip_cr(bytes)) {
                    if st.in_record {
                        continue;
                    }
                } else {
                    st.in_record = true;
                    let more = lines[i + 1..]
                        .iter()
                        .take(crate::fold::MAX_JOINED_LINES as usize - 1)
                        .take_while(|n| n.file == l.file && n.end != LineEnd::Cut && !crate::fold::starts_record(strip_cr(&n.bytes)))
                        .count();
                    if more > 0 {
                        joined.clear();
                        joined.extend_from_slice(strip_cr(bytes));
                        for n in &lines[i + 1..=i + more] {
                            joined.push(b'\n');
                            joined.extend_from_slice(strip_cr(&n.bytes));
                        }
                        bytes = &joined;
                        skip = more;
                    }
                }
            }
            let reason = match st.parser.as_mut().map(|p| p.parse(bytes)) {
                Some(Ok(Record::Meta)) => continue,
                Some(Ok(rec)) => {
                    if let Some(class) = classify(&rec) {
                        let mut ev = Event::new(&rec, class, &file(), 0);
                        if let Some(t) = ev.timestamp.filter(|t| t.offset.is_none()) {
                            let zone = self.zone.get_or_insert_with(|| crate::time::Zone::host(&crate::paths::Root::new(None)).map(|z| z.0));
                            ev.timestamp = Some(zone.as_ref().map_or(t, |z| z.resolve(t)));
                        }
                        out.push(AgentEvent::of_log(ev, l.offset));
                        self.events += 1;
                    }
                    continue;
                }
                Some(Err(e)) => e.reason,
                None => "the file's log format is not recognised",
            };
            st.bad += 1;
            self.bad_lines += 1;
            let due = st.last_bad_event.is_none_or(|t| t.elapsed() >= BAD_LINE_EVERY);
            if due {
                st.last_bad_event = Some(Instant::now());
                let cut = &bytes[..bytes.len().min(200)];
                out.push(AgentEvent::BadLine(BadLine {
                    file: file(),
                    offset: l.offset,
                    reason: reason.to_string(),
                    excerpt: String::from_utf8_lossy(cut).into_owned(),
                    bad_lines: st.bad,
                    not_reported: std::mem::take(&mut st.not_reported),
                }));
            } else {
                st.not_reported += 1;
            }
        }
    }

    /// The engine released these files: their state goes with them.
    pub fn forget(&mut self, released: &[u64]) {
        for f in released {
            self.files.remove(f);
        }
    }

    /// Drop every file's state (after a reload: the tail engine starts anew).
    pub fn clear(&mut self) {
        self.files.clear();
    }
}

fn strip_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// A W3C or HTTPERR log names its columns in `#Fields:` lines — at the top, and again after each
/// IIS restart. A file followed from its middle (the first start at its end, or a checkpoint)
/// gets them from the directives before `upto`, read once when its parser is made.
fn prime_w3c(parser: &mut Parser, path: &Path, upto: u64) {
    use std::io::{BufRead, Read};
    const MAX_DIRECTIVE: usize = 64 * 1024;
    let Ok(f) = crate::tail::identity::open_shared(path) else { return };
    let mut r = std::io::BufReader::with_capacity(256 * 1024, f.take(upto));
    // Streamed: only directive lines are kept (up to 64 KiB each), whatever else the file holds.
    let mut directive: Option<Vec<u8>> = None;
    let mut at_line_start = true;
    loop {
        let chunk = match r.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(c) => c,
        };
        let mut pos = 0;
        while pos < chunk.len() {
            if at_line_start && chunk[pos] == b'#' {
                directive = Some(Vec::new());
            }
            let end = memchr::memchr(b'\n', &chunk[pos..]).map(|i| pos + i);
            let stop = end.unwrap_or(chunk.len());
            if let Some(d) = directive.as_mut()
                && d.len() + (stop - pos) <= MAX_DIRECTIVE
            {
                d.extend_from_slice(&chunk[pos..stop]);
            }
            at_line_start = end.is_some();
            if end.is_some()
                && let Some(d) = directive.take()
            {
                let _ = parser.parse(d.strip_suffix(b"\r").unwrap_or(&d));
            }
            pos = stop + usize::from(end.is_some());
        }
        let n = chunk.len();
        r.consume(n);
    }
}
