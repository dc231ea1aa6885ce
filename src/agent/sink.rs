//! Where events go, and what "written" means.
//!
//! A [`Sink`] takes a batch of NDJSON lines as a whole: when a write fails (a full disk), a file
//! sink cuts itself back to where the batch began, so no line is ever left half-written. The
//! [`Outbox`] in front of it holds events until the sink has accepted them: on a failure it keeps
//! them (up to [`HOLD_BYTES`]; past that the agent stops reading — back-pressure), retries with a
//! backoff, and says so once when it starts failing and once when it recovers. The agent stores a
//! checkpoint only when the outbox is empty and the sink synced, so a checkpoint never covers an
//! event that is not in the sink.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::event::AgentEvent;

/// How many bytes of events may wait for the sink before reading pauses.
pub const HOLD_BYTES: usize = 16 << 20;
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// A destination for NDJSON lines.
pub trait Sink: Send {
    /// Write `lines` (each without its newline), all of them or none: after an error nothing of
    /// the batch may remain.
    fn write_lines(&mut self, lines: &mut dyn Iterator<Item = &[u8]>) -> io::Result<()>;
    /// Make what was written durable (before a checkpoint is stored).
    fn sync(&mut self) -> io::Result<()>;
    /// For messages.
    fn name(&self) -> String;
}

/// The lines of a batch, each ended by a newline, in one buffer (one write).
fn batch(lines: &mut dyn Iterator<Item = &[u8]>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 * 1024);
    for l in lines {
        buf.extend_from_slice(l);
        buf.push(b'\n');
    }
    buf
}

/// Standard output (the default; a service manager's journal). A failed write cannot be taken
/// back here: the batch is retried whole.
pub struct StdoutSink;

impl Sink for StdoutSink {
    fn write_lines(&mut self, lines: &mut dyn Iterator<Item = &[u8]>) -> io::Result<()> {
        let buf = batch(lines);
        let mut out = io::stdout().lock();
        out.write_all(&buf)?;
        out.flush()
    }

    fn sync(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }

    fn name(&self) -> String {
        "stdout".into()
    }
}

/// An NDJSON file, rotated to `FILE.1` past `max` bytes.
pub struct FileSink {
    path: PathBuf,
    file: File,
    /// Bytes of whole lines in the file.
    len: u64,
    max: u64,
}

impl FileSink {
    /// Open (or create) the file; a torn last line left by a crash or a full disk in an earlier
    /// run is cut off, so every line in the file is whole.
    pub fn open(path: &Path, max: u64) -> io::Result<FileSink> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        let len = whole_lines_len(&mut file, size)?;
        if len < size {
            tracing::warn!("{}: cut a torn last line ({} bytes) left by an earlier run", path.display(), size - len);
            file.set_len(len)?;
        }
        Ok(FileSink { path: path.to_path_buf(), file, len, max })
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.sync_data()?;
        let rotated = PathBuf::from(format!("{}.1", self.path.display()));
        std::fs::rename(&self.path, rotated)?;
        self.file = OpenOptions::new().create(true).read(true).append(true).open(&self.path)?;
        self.len = 0;
        Ok(())
    }
}

/// The length of the file up to and including its last newline.
fn whole_lines_len(f: &mut File, size: u64) -> io::Result<u64> {
    let mut end = size;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut buf[..n])?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

impl Sink for FileSink {
    fn write_lines(&mut self, lines: &mut dyn Iterator<Item = &[u8]>) -> io::Result<()> {
        let buf = batch(lines);
        if let Err(e) = self.file.write_all(&buf).and_then(|_| self.file.flush()) {
            // Part of the batch may be in the file: cut it back to the last whole line.
            if let Err(c) = self.file.set_len(self.len) {
                tracing::error!("{}: cannot cut a partly written batch back ({c})", self.path.display());
            }
            return Err(e);
        }
        self.len += buf.len() as u64;
        if self.len >= self.max
            && let Err(e) = self.rotate()
        {
            tracing::error!("{}: cannot rotate the events file: {e} (it keeps growing)", self.path.display());
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// Events on their way to the sink.
pub struct Outbox {
    sink: Box<dyn Sink>,
    held: VecDeque<Vec<u8>>,
    held_bytes: usize,
    failing: Option<Failing>,
    /// Events the sink accepted.
    pub written: u64,
}

struct Failing {
    since: Instant,
    backoff: Duration,
    next_try: Instant,
}

impl Outbox {
    pub fn new(sink: Box<dyn Sink>) -> Outbox {
        Outbox { sink, held: VecDeque::new(), held_bytes: 0, failing: None, written: 0 }
    }

    pub fn push(&mut self, e: &AgentEvent) {
        let line = e.to_line();
        self.held_bytes += line.len() + 1;
        self.held.push_back(line);
    }

    /// Too much is waiting: stop reading until the sink takes it.
    pub fn full(&self) -> bool {
        self.held_bytes >= HOLD_BYTES
    }

    /// Nothing waits for the sink.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// When to try again, while the sink is failing.
    pub fn retry_in(&self) -> Option<Duration> {
        self.failing.as_ref().map(|f| f.next_try.saturating_duration_since(Instant::now()))
    }

    /// Hand what is held to the sink (unless a retry is not due yet). True when nothing is held
    /// afterwards.
    pub fn flush(&mut self) -> bool {
        if self.held.is_empty() {
            return true;
        }
        let now = Instant::now();
        if self.failing.as_ref().is_some_and(|f| now < f.next_try) {
            return false;
        }
        let n = self.held.len();
        match self.sink.write_lines(&mut self.held.iter().map(Vec::as_slice)) {
            Ok(()) => {
                self.held.clear();
                self.held_bytes = 0;
                self.written += n as u64;
                if let Some(f) = self.failing.take() {
                    tracing::warn!(
                        "events sink {}: writing again after {:.1} s; the {n} events held meanwhile are written",
                        self.sink.name(),
                        f.since.elapsed().as_secs_f64()
                    );
                }
                true
            }
            Err(e) => {
                match self.failing.as_mut() {
                    None => {
                        tracing::error!(
                            "events sink {}: {e}: holding {n} events and retrying; nothing is lost — the checkpoint waits for them, and reading pauses past {} MiB held",
                            self.sink.name(),
                            HOLD_BYTES >> 20
                        );
                        self.failing = Some(Failing { since: now, backoff: FIRST_RETRY, next_try: now + FIRST_RETRY });
                    }
                    Some(f) => {
                        f.backoff = (f.backoff * 2).min(LAST_RETRY);
                        f.next_try = now + f.backoff;
                    }
                }
                false
            }
        }
    }

    /// Flush, then make it durable: true when every event is in the sink and synced.
    pub fn settle(&mut self) -> bool {
        self.flush() && self.sync_written()
    }

    /// Sync what the sink accepted so far (the events still held are not covered).
    pub fn sync_written(&mut self) -> bool {
        self.sink.sync().map_err(|e| tracing::error!("events sink {}: sync: {e}", self.sink.name())).is_ok()
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that fails while `fail` is set, writing half the batch first (a short write).
    struct Flaky {
        inner: FileSink,
        fail: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl Sink for Flaky {
        fn write_lines(&mut self, lines: &mut dyn Iterator<Item = &[u8]>) -> io::Result<()> {
            if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = self.inner.file.write_all(b"{\"kind\":\"half");
                let _ = self.inner.file.set_len(self.inner.len);
                return Err(io::Error::other("No space left on device"));
            }
            self.inner.write_lines(lines)
        }
        fn sync(&mut self) -> io::Result<()> {
            self.inner.sync()
        }
        fn name(&self) -> String {
            self.inner.name()
        }
    }

    #[test]
    fn held_events_are_written_once_when_the_sink_recovers() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("events.ndjson");
        let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut o = Outbox::new(Box::new(Flaky { inner: FileSink::open(&p, 1 << 30).unwrap(), fail: fail.clone() }));
        let ev = |n: u64| AgentEvent::LineCut(super::super::event::LineCut { file: "f".into(), offset: n, max_line_bytes: 1, lines_cut: n });
        o.push(&ev(0));
        assert!(o.settle());
        fail.store(true, std::sync::atomic::Ordering::SeqCst);
        for n in 1..=3 {
            o.push(&ev(n));
        }
        assert!(!o.flush() && !o.is_empty() && o.retry_in().is_some());
        fail.store(false, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(FIRST_RETRY);
        assert!(o.settle());
        let text = std::fs::read_to_string(&p).unwrap();
        let offsets: Vec<u64> = text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["offset"].as_u64().unwrap()).collect();
        assert_eq!(offsets, [0, 1, 2, 3]);
    }

    #[test]
    fn a_torn_last_line_is_cut_at_open() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("events.ndjson");
        std::fs::write(&p, "{\"a\":1}\n{\"b\":").unwrap();
        FileSink::open(&p, 1 << 30).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\":1}\n");
    }
}
