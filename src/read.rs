//! One-shot reading of a log: lines out of a file, a `.gz` file or stdin, through one reused
//! buffer, with byte ranges for parallel scans.
//!
//! Lines are handed out as `&[u8]` without their `\n` (a `\r` before it is left for the parser,
//! which strips it). A line longer than [`MAX_LINE`] is not buffered: it is reported as
//! [`Line::TooLong`] with its length and skipped, so one runaway line cannot exhaust memory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The longest line kept whole (longer ones are skipped and reported).
pub const MAX_LINE: usize = 4 << 20;
const CHUNK: usize = 1 << 20;

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `b` without a UTF-8 byte-order mark at its start (Windows tools write one before W3C logs;
/// an editor re-saving an ALB log may add one). It is not part of the first line.
pub fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(BOM).unwrap_or(b)
}

/// What the reader hands to its callback.
pub enum Line<'a> {
    /// A line, without its `\n` (a `\r` before it is left to the parser).
    Text(&'a [u8]),
    /// A line longer than [`MAX_LINE`]; its length in bytes.
    TooLong(u64),
}

/// Read every line of `r`, calling `f(line)`; `progress(bytes)` is told of each block read.
/// A final line without `\n` is delivered too.
pub fn for_each_line<R: Read>(mut r: R, mut f: impl FnMut(Line<'_>), mut progress: impl FnMut(u64)) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK * 2];
    let mut start = 0usize; // start of the unconsumed part
    let mut end = 0usize; // end of valid data
    let mut skipping: Option<u64> = None; // inside an over-long line: bytes seen so far
    let mut first = true; // (a byte-order mark before the first line is not part of it)
    loop {
        if end == buf.len() {
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            } else if buf.len() < MAX_LINE + CHUNK {
                buf.resize((buf.len() * 2).min(MAX_LINE + CHUNK), 0);
            } else {
                // The pending partial line is over the limit: drop it and skip to its end.
                skipping = Some(skipping.unwrap_or(0) + (end - start) as u64);
                start = 0;
                end = 0;
            }
        }
        let n = match r.read(&mut buf[end..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        progress(n as u64);
        let scan_from = end;
        end += n;
        let mut pos = scan_from;
        while let Some(i) = memchr::memchr(b'\n', &buf[pos..end]) {
            let nl = pos + i;
            if let Some(skipped) = skipping.take() {
                f(Line::TooLong(skipped + (nl - start) as u64));
            } else if nl - start > MAX_LINE {
                f(Line::TooLong((nl - start) as u64));
            } else if first {
                f(Line::Text(strip_bom(&buf[start..nl])));
            } else {
                f(Line::Text(&buf[start..nl]));
            }
            first = false;
            start = nl + 1;
            pos = start;
        }
    }
    if let Some(skipped) = skipping {
        f(Line::TooLong(skipped + (end - start) as u64));
    } else if end > start {
        if end - start > MAX_LINE {
            f(Line::TooLong((end - start) as u64));
        } else if first {
            f(Line::Text(strip_bom(&buf[start..end])));
        } else {
            f(Line::Text(&buf[start..end]));
        }
    }
    Ok(())
}

/// Read the lines of a plain (uncompressed) file — all of it, or the byte range `[start, end)` —
/// through a memory mapping when possible (no copy; see `crate::mapped`) and read(2) otherwise
/// (special files, `TAILGATE_NO_MMAP` set). A file that shrinks while it is read ends the read
/// with an error saying where. Anything that may be a stream or gzip goes through [`Input`],
/// which decides that once and calls this for regular plain files.
pub fn for_each_line_in(path: &Path, range: Option<(u64, u64)>, f: impl FnMut(Line<'_>), progress: impl FnMut(u64)) -> io::Result<()> {
    lines_in(path, range, std::env::var_os("TAILGATE_NO_MMAP").is_none(), f, progress)
}

fn lines_in(path: &Path, range: Option<(u64, u64)>, mmap: bool, mut f: impl FnMut(Line<'_>), mut progress: impl FnMut(u64)) -> io::Result<()> {
    // A regular file's end when reading started: reading it through read(2) must not end
    // short of it unnoticed (the mapping notices by itself).
    let mut extent = None;
    {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_file() {
            let (start, end) = range.unwrap_or((0, meta.len()));
            let end = end.min(meta.len());
            if end <= start {
                return Ok(());
            }
            if mmap && let Some(m) = crate::mapped::Mapped::new(&file, start, (end - start) as usize) {
                return lines_of_mapping(&m, start, &mut f, &mut progress);
            }
            extent = Some(end);
        }
    }
    let mut read = 0u64;
    let counted = |n: u64| {
        read += n;
        progress(n)
    };
    match range {
        Some((a, b)) => for_each_line(range_reader(path, a, b)?, f, counted)?,
        None => for_each_line(File::open(path)?, f, counted)?,
    }
    // Without a mapping (Windows, TAILGATE_NO_MMAP): a file cut while it was read reads as a
    // short file. Same error as the mapping's.
    if let Some(end) = extent {
        let start = range.map_or(0, |r| r.0);
        let now = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if start + read < end && now < end {
            return Err(shrank(start + read));
        }
    }
    Ok(())
}

/// The error for a file cut while it was being read, mapped or not.
fn shrank(near: u64) -> io::Error {
    io::Error::other(format!("the file shrank while it was read (truncated, e.g. by logrotate copytruncate): stopped near byte {near}"))
}

fn lines_of_mapping(m: &crate::mapped::Mapped, start: u64, f: &mut impl FnMut(Line<'_>), progress: &mut impl FnMut(u64)) -> io::Result<()> {
    const BLOCK: usize = 4 << 20;
    let data = m.bytes();
    let mut pos = 0usize;
    let mut reported = 0usize;
    let mut block_end = BLOCK.min(data.len());
    loop {
        let next_nl = memchr::memchr(b'\n', &data[pos..]).map(|i| pos + i);
        let end = next_nl.unwrap_or(data.len());
        if end > pos || next_nl.is_some() {
            if end - pos > MAX_LINE {
                f(Line::TooLong((end - pos) as u64));
            } else if pos == 0 && start == 0 {
                f(Line::Text(strip_bom(&data[pos..end])));
            } else {
                f(Line::Text(&data[pos..end]));
            }
        }
        pos = match next_nl {
            Some(nl) => nl + 1,
            None => data.len(),
        };
        if pos >= block_end || pos >= data.len() {
            let upto = pos.min(data.len());
            progress((upto - reported) as u64);
            m.release(reported, upto);
            reported = upto;
            if m.truncated() {
                return Err(shrank(start + block_end.min(data.len()) as u64));
            }
            if pos >= data.len() {
                return Ok(());
            }
            block_end = (block_end + BLOCK).max(pos).min(data.len());
        }
    }
}

/// The gzip magic bytes (RFC 1952 §2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A log opened once: the first bytes of its (decompressed) content, for format detection, and
/// the rest of the same stream, so that nothing is read twice and nothing is lost.
///
/// - A regular, uncompressed file is read by path afterwards ([`Input::file_len`]): mapped, or
///   split into byte ranges for threads.
/// - Everything else — stdin (`-`), a FIFO, `<(…)` process substitution, a character device —
///   is a stream that can be read only once: the sample is kept and replayed before the rest.
/// - gzip is recognised by its magic bytes, whatever the name (stdin, `.log` files that are
///   really gzip, `.gz` files), and every member of a multi-member file is read.
pub struct Input {
    /// What was opened (`-`: stdin).
    pub path: PathBuf,
    /// The first bytes of the content (decompressed), at most the size asked for.
    pub sample: Vec<u8>,
    body: Body,
}

enum Body {
    /// A regular plain file, this long when it was opened.
    File(u64),
    Stream(Box<dyn Read + Send>),
}

/// Read into `buf` until it is full or the reader ends.
fn fill(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    while buf.len() < want {
        let n = match r.read(&mut chunk[..(want - buf.len()).min(16 * 1024)]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

impl Input {
    /// Open `path` (`-` for stdin) and read up to `sample_len` bytes of its content.
    pub fn open(path: &Path, sample_len: usize) -> io::Result<Input> {
        let (mut raw, regular): (Box<dyn Read + Send>, Option<u64>) = if path.as_os_str() == "-" {
            (Box::new(io::stdin()), None)
        } else {
            let f = File::open(path)?;
            let m = f.metadata()?;
            let regular = m.is_file().then_some(m.len());
            (Box::new(f), regular)
        };
        let mut head = Vec::with_capacity(2);
        fill(&mut *raw, &mut head, 2)?;
        if head[..] == GZIP_MAGIC {
            let rest = io::Cursor::new(head).chain(raw);
            let mut dec: Box<dyn Read + Send> = Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(CHUNK, rest)));
            let mut sample = Vec::new();
            fill(&mut *dec, &mut sample, sample_len)?;
            return Ok(Input { path: path.to_path_buf(), body: Body::Stream(Box::new(io::Cursor::new(sample.clone()).chain(dec))), sample });
        }
        let mut sample = head;
        fill(&mut *raw, &mut sample, sample_len)?;
        if let Some(len) = regular {
            return Ok(Input { path: path.to_path_buf(), sample, body: Body::File(len) });
        }
        Ok(Input { path: path.to_path_buf(), body: Body::Stream(Box::new(io::Cursor::new(sample.clone()).chain(raw))), sample })
    }

    /// A regular uncompressed file (its length when opened): it can be mapped and split into
    /// ranges by path. `None` for a stream.
    pub fn file_len(&self) -> Option<u64> {
        match self.body {
            Body::File(len) => Some(len),
            Body::Stream(_) => None,
        }
    }

    /// Every line of the whole content, the sample included.
    pub fn for_each_line(self, f: impl FnMut(Line<'_>), progress: impl FnMut(u64)) -> io::Result<()> {
        match self.body {
            Body::File(_) => for_each_line_in(&self.path, None, f, progress),
            Body::Stream(r) => for_each_line(r, f, progress),
        }
    }
}

/// The first `n` bytes of a log's content (decompressed), for format detection. Opens the file
/// by path: for stdin and FIFOs use [`Input::open`], which keeps what it read.
pub fn sample(path: &Path, n: usize) -> io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        return Err(io::Error::other("stdin can be read only once: use read::Input"));
    }
    Ok(Input::open(path, n)?.sample)
}

/// Split a plain file into up to `parts` byte ranges that start at line starts.
pub fn split_ranges(path: &Path, parts: usize) -> io::Result<Vec<(u64, u64)>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut bounds = vec![0u64];
    let mut probe = vec![0u8; 64 * 1024];
    for i in 1..parts {
        let target = len * i as u64 / parts as u64;
        let prev = *bounds.last().unwrap();
        if target <= prev {
            continue;
        }
        f.seek(SeekFrom::Start(target))?;
        let mut at = target;
        let found = loop {
            let n = f.read(&mut probe)?;
            if n == 0 {
                break None;
            }
            if let Some(j) = memchr::memchr(b'\n', &probe[..n]) {
                break Some(at + j as u64 + 1);
            }
            at += n as u64;
        };
        match found {
            Some(b) if b < len && b > prev => bounds.push(b),
            _ => {}
        }
    }
    bounds.push(len);
    Ok(bounds.windows(2).map(|w| (w[0], w[1])).filter(|(a, b)| b > a).collect())
}

/// A reader over `[start, end)` of a file.
pub fn range_reader(path: &Path, start: u64, end: u64) -> io::Result<impl Read> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(start))?;
    Ok(f.take(end - start))
}

/// How reports name an input: stdin (`-`) by `stdin_name` when given (`--stdin-name`: the S3 key
/// a pipeline streams, say), every other path as it is (see [`crate::paths::path_text`]).
pub fn input_name(path: &Path, stdin_name: Option<&str>) -> String {
    match stdin_name {
        Some(n) if path.as_os_str() == "-" => n.to_string(),
        _ => crate::paths::path_text(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for_each_line(
            data,
            |l| match l {
                Line::Text(t) => out.push(String::from_utf8_lossy(t).into_owned()),
                Line::TooLong(n) => out.push(format!("<{n}>")),
            },
            |_| {},
        )
        .unwrap();
        out
    }

    #[test]
    fn splits_lines() {
        assert_eq!(lines(b"a\nb\r\n\nc"), vec!["a", "b\r", "", "c"]);
        assert_eq!(lines(b""), Vec::<String>::new());
        assert_eq!(lines(b"x\n"), vec!["x"]);
    }

    #[test]
    fn mapped_and_read_agree() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.log");
        let mut data = Vec::new();
        for i in 0..200_000 {
            data.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 50)).as_bytes());
        }
        data.extend_from_slice(b"last without newline");
        std::fs::write(&p, &data).unwrap();
        let collect = |mmap: bool, range: Option<(u64, u64)>| {
            let mut v = Vec::new();
            if mmap {
                for_each_line_in(
                    &p,
                    range,
                    |l| {
                        if let Line::Text(t) = l {
                            v.push(t.to_vec())
                        }
                    },
                    |_| {},
                )
                .unwrap();
            } else {
                let r: Box<dyn Read> = match range {
                    Some((a, b)) => Box::new(range_reader(&p, a, b).unwrap()),
                    None => Box::new(File::open(&p).unwrap()),
                };
                for_each_line(
                    r,
                    |l| {
                        if let Line::Text(t) = l {
                            v.push(t.to_vec())
                        }
                    },
                    |_| {},
                )
                .unwrap();
            }
            v
        };
        assert_eq!(collect(true, None), collect(false, None));
        let ranges = split_ranges(&p, 3).unwrap();
        for r in ranges {
            assert_eq!(collect(true, Some(r)), collect(false, Some(r)));
        }
    }

    #[test]
    fn a_file_truncated_while_mapped_is_an_error_not_a_crash() {
        // Mapped (where the platform maps files) and through read(2) (Windows, TAILGATE_NO_MMAP).
        for mmap in [true, false] {
            truncated_while_read(mmap);
        }
    }

    fn truncated_while_read(mmap: bool) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("live.log");
        let line = b"2026-11-25T08:00:01.000001Z some log line that is long enough\n";
        let mut data = Vec::new();
        while data.len() < 32 << 20 {
            data.extend_from_slice(line);
        }
        std::fs::write(&p, &data).unwrap();
        let mut lines = 0u64;
        let mut truncated = false;
        let res = lines_in(
            &p,
            None,
            mmap,
            |_| lines += 1,
            |_| {
                // logrotate copytruncate, after the first block
                if !truncated {
                    truncated = true;
                    std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(0).unwrap();
                }
            },
        );
        let e = res.unwrap_err();
        assert!(e.to_string().contains("shrank"), "mmap {mmap}: {e}");
        assert!(lines > 0 && lines < (data.len() / line.len()) as u64 + 2, "{lines}");
    }

    #[test]
    fn long_lines_are_skipped_not_buffered() {
        let mut data = vec![b'a'; MAX_LINE + 10];
        data.extend_from_slice(b"\nok\n");
        data.extend(std::iter::repeat_n(b'b', MAX_LINE * 2));
        assert_eq!(lines(&data), vec![format!("<{}>", MAX_LINE + 10), "ok".into(), format!("<{}>", MAX_LINE * 2)]);
        // just under the limit is kept whole
        let mut data = vec![b'c'; MAX_LINE - 1];
        data.push(b'\n');
        assert_eq!(lines(&data)[0].len(), MAX_LINE - 1);
    }
}
