//! The tail engine: follow log files through rotation, truncation and restarts without losing or
//! duplicating a line.
//!
//! Split the way Vector's file source is:
//! - `identity`: which file is which — device + inode **plus** the file's first bytes, so a new
//!   file at a reused inode, or a file truncated and rewritten past the old offset, is read again
//!   from 0, and a renamed file is not read twice;
//! - [`checkpoint`]: offsets per identity, written atomically (temp file, fsync, rename, fsync dir);
//! - [`Tailer`] (this module): the file server. [`Tailer::poll`] is synchronous — find the paths,
//!   match identities, detect rotation and truncation, read every complete line — so tests drive it
//!   step by step; the agent calls it when `notify` reports a change in a watched directory (any
//!   event means "look now") and on a poll interval as a fallback.
//!
//! Rules: a file renamed away keeps being read through its open handle until it is quiet for
//! `rotate_wait` (or deleted and drained), then its unterminated last line is emitted once, flagged
//! partial, and the handle is closed. A file shorter than the offset, or whose head changed, starts
//! again at 0. A line is emitted only when its newline arrives; the checkpoint never goes past the
//! first byte of an unterminated line. Files present at the first start begin at their end (or
//! beginning, by configuration); files that appear later begin at 0.

pub mod checkpoint;
pub(crate) mod identity;
pub(crate) mod watch;

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use checkpoint::{Checkpoint, Entry};
use identity::Identity;

/// Where to start in files that already exist at the very first start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Read existing files from their first byte.
    Beginning,
    /// Read only what is written after the start.
    End,
}

/// What to follow, and how.
#[derive(Clone, Debug)]
pub struct TailConfig {
    /// Files or glob patterns to follow (host paths).
    pub paths: Vec<String>,
    /// Where to start in files that exist at the first start.
    pub start_at: StartAt,
    /// How long a renamed-away file is kept open after its last growth.
    pub rotate_wait: Duration,
    /// Longer lines are cut (the rest of the line is skipped and counted).
    pub max_line_bytes: usize,
    /// At most this many bytes are read per poll (the rest at the next one: see
    /// [`Tailer::has_more`]), so a backlog never sits in memory whole.
    pub read_budget: usize,
}

impl Default for TailConfig {
    fn default() -> Self {
        TailConfig { paths: Vec::new(), start_at: StartAt::End, rotate_wait: Duration::from_secs(5), max_line_bytes: 1 << 20, read_budget: 4 << 20 }
    }
}

/// How a line ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEnd {
    /// With its newline: a whole line.
    Newline,
    /// The file went away (rotated and quiet, or deleted) with this line unterminated.
    Unterminated,
    /// Longer than `max_line_bytes`: this is its head; the rest is skipped.
    Cut,
}

/// One line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailLine {
    /// The path the file had when the line was read.
    pub path: PathBuf,
    /// Which followed file it came from: a number for this tracking of it, never reused, so
    /// per-file state (a parser, W3C `#Fields`) can be keyed by it and dropped when the file is
    /// released (see [`Tailer::take_released`]) — an inode number is reused.
    pub file: u64,
    /// Byte offset of the line's first byte in its file.
    pub offset: u64,
    /// Without the line terminator (`\n`, and a `\r` before it).
    pub bytes: Vec<u8>,
    /// How the line ended (a newline, or cut).
    pub end: LineEnd,
}

/// Counters worth reporting.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Lines handed out.
    pub lines: u64,
    /// Files found shorter than their read offset (truncated in place, `copytruncate`).
    pub truncations: u64,
    /// Files renamed or replaced (a new inode at the path).
    pub rotations: u64,
    /// Lines longer than the limit, cut.
    pub long_lines_cut: u64,
    /// Runs of NUL bytes skipped at a line's start (the sparse hole a writer without `O_APPEND` leaves after a truncation).
    pub nul_runs_skipped: u64,
    /// Files let go (deleted, or rotated away and quiet past `rotate_wait`).
    pub closed: u64,
}

struct Tracked {
    /// See [`TailLine::file`].
    serial: u64,
    path: PathBuf,
    id: Identity,
    file: File,
    /// Next byte to read.
    offset: u64,
    /// Bytes of an unterminated line, starting at `partial_start`.
    partial: Vec<u8>,
    partial_start: u64,
    /// Still found at its path.
    live: bool,
    last_growth: Instant,
    /// Skipping the rest of an over-long line.
    skipping: bool,
    /// `id.head` in hex, for checkpoints (cached: a head changes rarely, checkpoints are taken
    /// often).
    head_hex: std::cell::RefCell<HexCache>,
    /// A rotated-away file rewritten in place since (`cp` onto `a.log.1`): its content is no
    /// longer what we were reading; released without reading.
    overwritten: bool,
}

/// A file head's hex form, remembered with the head it was made from.
#[derive(Default)]
struct HexCache {
    of: Vec<u8>,
    hex: String,
}

impl HexCache {
    fn get(&mut self, id: &Identity) -> &str {
        if self.of != id.head || (self.hex.is_empty() && !id.head.is_empty()) {
            self.of = id.head.clone();
            self.hex = id.head_hex();
        }
        &self.hex
    }
}

impl Tracked {
    /// The offset a restart may resume from: never past an unterminated line.
    fn committed(&self) -> u64 {
        if self.partial.is_empty() && !self.skipping { self.offset } else { self.partial_start }
    }
}

/// The file server.
pub struct Tailer {
    cfg: TailConfig,
    files: Vec<Tracked>,
    /// Checkpoints not yet matched to a file (from the last run).
    pending: HashMap<(u64, u64), Entry>,
    /// Whether this is the very first start (no checkpoint existed).
    first_start: bool,
    /// The first poll has run (files found later start at 0).
    started: bool,
    /// When the previous poll ran (rotated siblings newer than this were never seen).
    last_poll: Option<std::time::SystemTime>,
    /// Heads and read offsets of files truncated recently (copytruncate): a copy of one of them
    /// that appears under the include pattern resumes where the original was read to.
    truncated_heads: Vec<(Vec<u8>, u64)>,
    /// Files released recently (identity, bytes read): a rotated sibling that is one of them is
    /// not read again (only what it grew by since).
    closed: Vec<(Identity, u64)>,
    /// Paths already warned about (one warning per path, not one per poll).
    warned: std::collections::HashSet<PathBuf>,
    buf: Vec<u8>,
    /// The next [`Tracked::serial`].
    next_serial: u64,
    /// Files released since [`Tailer::take_released`] was last called.
    released: Vec<u64>,
    /// The last poll stopped at its read budget with bytes left to read.
    more: bool,
    /// The counters so far.
    pub stats: Stats,
}

/// Rotated logs compressed by logrotate are never tailed: their content was read from the
/// open handle before compression (or is reported lost), and compressed bytes are not lines.
fn compressed(p: &Path) -> bool {
    p.extension().is_some_and(|e| matches!(e.to_str(), Some("gz" | "bz2" | "xz" | "zst" | "zip" | "lz4")))
}

/// The rotated siblings of a log that can be followed (not compressed ones), sorted.
fn siblings(base: &Path) -> Vec<PathBuf> {
    let mut sibs = crate::paths::rotated_siblings(base);
    sibs.retain(|p| !compressed(p));
    sibs
}

fn expand(pattern: &str) -> Vec<PathBuf> {
    if crate::paths::has_glob(pattern) {
        let mut v: Vec<PathBuf> = glob::glob(pattern).map(|g| g.filter_map(Result::ok).filter(|p| !compressed(p)).collect()).unwrap_or_default();
        v.sort();
        v
    } else {
        vec![PathBuf::from(pattern)]
    }
}

impl Tailer {
    /// A tailer resuming from `checkpoint` (`None`: the very first start).
    pub fn new(cfg: TailConfig, checkpoint: Option<Checkpoint>) -> Tailer {
        let first_start = checkpoint.is_none();
        let pending = checkpoint.map(|c| c.files.into_iter().map(|e| ((e.dev, e.ino), e)).collect()).unwrap_or_default();
        Tailer {
            cfg,
            files: Vec::new(),
            pending,
            first_start,
            started: false,
            last_poll: None,
            truncated_heads: Vec::new(),
            closed: Vec::new(),
            warned: Default::default(),
            buf: vec![0u8; 256 * 1024],
            next_serial: 0,
            released: Vec::new(),
            more: false,
            stats: Stats::default(),
        }
    }

    /// The directories to watch for changes (the parents of every configured path).
    pub fn watch_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .cfg
            .paths
            .iter()
            .filter_map(|p| {
                let p = Path::new(p);
                let mut dir = p.parent()?.to_path_buf();
                while crate::paths::has_glob(&dir.display().to_string()) {
                    dir = dir.parent()?.to_path_buf();
                }
                Some(dir)
            })
            .flat_map(|d| {
                // A symlinked directory: events happen in its target (notify reports none in the
                // directory holding the link), so watch the target too.
                let c = std::fs::canonicalize(&d).ok().filter(|c| *c != d);
                std::iter::once(d).chain(c)
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// The state to persist.
    pub fn checkpoint(&self) -> Checkpoint {
        let mut files: Vec<Entry> = self
            .files
            .iter()
            .map(|t| Entry {
                path: t.path.display().to_string(),
                dev: t.id.dev,
                ino: t.id.ino,
                head: t.head_hex.borrow_mut().get(&t.id).to_string(),
                offset: t.committed(),
            })
            .collect();
        // Keep checkpoints of files not seen yet this run (e.g. a path temporarily missing).
        files.extend(self.pending.values().cloned());
        Checkpoint { version: 1, files }
    }

    /// Files still at their configured path.
    pub fn live_files(&self) -> usize {
        self.files.iter().filter(|t| t.live).count()
    }

    /// Whether some file ends in an unterminated line (a rotation may orphan it).
    pub fn has_partial(&self) -> bool {
        self.files.iter().any(|t| !t.partial.is_empty() && !t.live)
    }

    /// Open file handles (to check that rotated and deleted files are released).
    pub fn open_files(&self) -> Vec<PathBuf> {
        self.files.iter().map(|t| t.path.clone()).collect()
    }

    /// The checkpoint of this file: by device and inode, or — after a remount changed the
    /// device — by inode and a full head.
    fn take_pending(&mut self, id: &Identity) -> Option<Entry> {
        if let Some(e) = self.pending.remove(&(id.dev, id.ino)) {
            return Some(e);
        }
        if id.head.len() == identity::HEAD {
            let key =
                self.pending.iter().find(|(k, e)| k.1 == id.ino && id.matches_head_hex(&e.head) && e.head.len() == 2 * identity::HEAD).map(|(k, _)| *k)?;
            return self.pending.remove(&key);
        }
        None
    }

    fn new_tracked(&mut self, path: PathBuf, id: Identity, file: File, offset: u64, live: bool, now: Instant) -> Tracked {
        self.next_serial += 1;
        Tracked {
            serial: self.next_serial,
            path,
            id,
            file,
            offset,
            partial: Vec::new(),
            partial_start: offset,
            live,
            last_growth: now,
            skipping: false,
            head_hex: Default::default(),
            overwritten: false,
        }
    }

    fn track(&mut self, path: PathBuf, id: Identity, file: File, offset: u64, live: bool, now: Instant) {
        let t = self.new_tracked(path, id, file, offset, live, now);
        self.files.push(t);
    }

    /// The followed files released since the last call (their [`TailLine::file`] numbers).
    pub fn take_released(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.released)
    }

    /// The last poll stopped at its read budget: poll again at once.
    pub fn has_more(&self) -> bool {
        self.more
    }

    /// Follow a rotated-away file (not live) from `offset`, read before the file at `at`.
    fn track_at(&mut self, at: usize, path: PathBuf, id: Identity, file: File, offset: u64, now: Instant) {
        let t = self.new_tracked(path, id, file, offset, false, now);
        self.files.insert(at, t);
    }

    /// A file whose full head equals that of a file already read (a copytruncate copy, or a
    /// file being read under another inode) resumes where that one was read to.
    fn copy_offset(&self, id: &Identity, size: u64) -> Option<u64> {
        if id.head.len() < identity::HEAD {
            return None;
        }
        let known = self.files.iter().filter(|t| t.id.head == id.head).map(|t| t.committed());
        let truncated = self.truncated_heads.iter().filter(|(h, _)| *h == id.head).map(|(_, o)| *o);
        known.chain(truncated).max().map(|o| o.min(size))
    }

    /// A file followed at `live` was truncated (copytruncate: `cp a.log a.log.1; : > a.log`)
    /// after we had read it to `offset`: lines written after our last read are only in the copy.
    /// Find it among the rotated siblings — it starts with the old `head` and is at least
    /// `offset` long, and is neither followed nor released already (the newest such file) — and
    /// follow it from `offset`, placed before the live file so its older lines come first.
    fn follow_copy(&mut self, live: &Path, head: &[u8], offset: u64, now: Instant) {
        let at = self.files.iter().position(|t| t.path == live).unwrap_or(self.files.len());
        if let Some(t) = self.find_copy(live, head, offset, now) {
            self.files.insert(at, t);
        }
    }

    /// The copy [`Tailer::follow_copy`] looks for, ready to be followed from `offset`.
    fn find_copy(&mut self, live: &Path, head: &[u8], offset: u64, now: Instant) -> Option<Tracked> {
        let mut best: Option<(std::time::SystemTime, PathBuf, Identity, File)> = None;
        for p in siblings(live) {
            let Ok(f) = identity::open_shared(&p) else { continue };
            let Ok(meta) = f.metadata() else { continue };
            if !meta.is_file() || meta.len() < offset {
                continue;
            }
            let Some(id) = Identity::of(&f, &meta) else { continue };
            // (a released file whose head we never saw — it was empty — says nothing: its inode
            // may have been reused by this very copy)
            let released = self.closed.iter().any(|(c, _)| !c.head.is_empty() && c.same_file(&id));
            if !id.starts_with_head(head) || released || self.files.iter().any(|t| t.id.same_file(&id)) {
                continue;
            }
            let m = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            if best.as_ref().is_none_or(|b| m > b.0) {
                best = Some((m, p, id, f));
            }
        }
        let (_, p, id, f) = best?;
        tracing::info!("{}: truncated; reading the rest of its copy {} from byte {offset}", live.display(), p.display());
        self.stats.rotations += 1;
        Some(self.new_tracked(p, id, f, offset, false, now))
    }

    fn scan_siblings(&mut self, now: Instant) {
        let bases: Vec<PathBuf> = self.cfg.paths.iter().filter(|p| !crate::paths::has_glob(p)).map(PathBuf::from).collect();
        for base in bases {
            // Oldest first, and all of them before the live file: their lines came earlier.
            let mut sibs: Vec<(std::time::SystemTime, PathBuf)> =
                siblings(&base).into_iter().map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), p)).collect();
            sibs.sort();
            for (_, p) in sibs {
                let before = self.files.iter().position(|t| t.path == base).unwrap_or(self.files.len());
                let Ok(f) = identity::open_shared(&p) else { continue };
                let Ok(meta) = f.metadata() else { continue };
                let Some(id) = Identity::of(&f, &meta) else { continue };
                if self.files.iter().any(|t| t.id.same_file(&id)) {
                    continue;
                }
                // A file we released already: only what it grew by since (usually nothing).
                if let Some(&(_, read)) = self.closed.iter().rev().find(|(c, _)| c.same_file(&id)) {
                    if meta.len() > read {
                        self.track_at(before, p, id, f, read, now);
                    }
                    continue;
                }
                // File times are coarse (the kernel's tick): a file written just after our last
                // poll can carry an mtime a little before it. Released files are excluded above,
                // so a generous margin cannot read anything twice.
                let since = self.last_poll.map(|l| l - Duration::from_secs(2));
                let pending = self.take_pending(&id);
                let offset = match &pending {
                    // the file we were reading when we stopped, rotated away since
                    Some(e) if id.matches_head_hex(&e.head) && e.offset <= meta.len() => Some(e.offset),
                    // the same, but truncated and written again before it was rotated away
                    // (copytruncate, then a rename, while we were down): all of it is new since
                    // our checkpoint, and the rest of its old content is in the copy — read first
                    Some(e) => {
                        if let Some(c) = identity::head_from_hex(&e.head).and_then(|h| self.find_copy(&base, &h, e.offset, now)) {
                            let at = self.files.iter().position(|t| t.path == base).unwrap_or(self.files.len());
                            self.files.insert(at, c);
                        }
                        Some(0)
                    }
                    // written since we last looked: a rotation we never saw the live file of
                    _ if self.started && meta.modified().ok().zip(since).is_some_and(|(m, l)| m >= l) => Some(self.copy_offset(&id, meta.len()).unwrap_or(0)),
                    _ => None,
                };
                if let Some(o) = offset {
                    self.stats.rotations += 1;
                    // (after a copy of its older content, if one was just placed before the live file)
                    let at = self.files.iter().position(|t| t.path == base).unwrap_or(self.files.len());
                    self.track_at(at, p, id, f, o, now);
                }
            }
        }
    }

    /// Find files, follow rotations and truncations, and return every new complete line.
    pub fn poll(&mut self) -> Vec<TailLine> {
        let mut out = Vec::new();
        let now = Instant::now();
        for t in self.files.iter_mut() {
            t.live = false;
        }
        let paths: Vec<PathBuf> = self.cfg.paths.iter().flat_map(|p| expand(p)).collect();
        let mut takeovers: Vec<PathBuf> = Vec::new();
        for p in paths {
            // Still the file we follow there? (stat only: no open, no read)
            if let Ok(m) = std::fs::metadata(&p) {
                let (dev, ino) = identity::dev_ino_at(&p, &m);
                // (integers first: comparing paths is the expensive part)
                if let Some(t) = self.files.iter_mut().find(|t| t.id.ino == ino && t.id.dev == dev && m.len() >= t.offset && t.path == p) {
                    t.live = true;
                    continue;
                }
            }
            let f = match identity::open_shared(&p) {
                Ok(f) => f,
                Err(e) => {
                    if e.kind() != io::ErrorKind::NotFound && self.warned.insert(p.clone()) {
                        tracing::warn!("{}: {e} (will keep trying)", p.display());
                    }
                    continue;
                }
            };
            self.warned.remove(&p);
            let Ok(meta) = f.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let Some(id) = Identity::of(&f, &meta) else { continue };
            // The same file, maybe renamed here (or reached through a symlink)?
            if let Some(t) = self.files.iter_mut().find(|t| t.id.same_file(&id)) {
                t.live = true;
                t.path = p.clone();
                continue;
            }
            // A different file took over a path we follow: the old one was rotated away.
            let takeover = self.files.iter().any(|t| t.path == p);
            // Same dev+inode, other content: the file at this path was truncated and rewritten
            // past our offset (or, elsewhere, the inode was reused). Either way: from 0.
            let before = self.files.len();
            let rewritten_here = self.files.iter().any(|t| t.id.dev == id.dev && t.id.ino == id.ino && t.path == p);
            // (remember what the old content was read to: a copy of it may show up next, or be
            // there already — copytruncate)
            let mut copy_wanted = None;
            for t in self.files.iter().filter(|t| t.id.dev == id.dev && t.id.ino == id.ino) {
                if t.id.head.len() == identity::HEAD {
                    self.truncated_heads.push((t.id.head.clone(), t.committed()));
                }
                if t.path == p {
                    copy_wanted = Some((t.id.head.clone(), t.committed()));
                }
            }
            let released = &mut self.released;
            self.files.retain(|t| {
                let gone = t.id.dev == id.dev && t.id.ino == id.ino;
                if gone {
                    released.push(t.serial);
                }
                !gone
            });
            if rewritten_here && self.files.len() < before {
                self.stats.truncations += 1;
            } else if takeover {
                self.stats.rotations += 1;
                takeovers.push(p.clone());
            }
            let pending = if copy_wanted.is_some() { None } else { self.take_pending(&id) };
            let offset = match &pending {
                Some(e) if id.matches_head_hex(&e.head) && e.offset <= meta.len() => e.offset,
                _ if !self.started && self.first_start && self.cfg.start_at == StartAt::End => meta.len(),
                _ => self.copy_offset(&id, meta.len()).unwrap_or(0),
            };
            // Our checkpoint's file, truncated while we were down: the rest of what we had not
            // read is in its copy.
            let copy_wanted = match &pending {
                Some(e) if !(id.matches_head_hex(&e.head) && e.offset <= meta.len()) => identity::head_from_hex(&e.head).map(|h| (h, e.offset)),
                _ => copy_wanted,
            };
            self.track(p.clone(), id, f, offset, true, now);
            if let Some((head, off)) = copy_wanted {
                self.follow_copy(&p, &head, off, now);
            }
        }
        // Rotated siblings (`a.log.1`, `a.log-20261125`) we have not seen: after a takeover (a
        // second rotation came before we looked), and at the first poll (rotation while down).
        if !takeovers.is_empty() || !self.started {
            self.scan_siblings(now);
        }
        if self.started {
            // Checkpoints of files that are gone are not kept (inode numbers get reused).
            self.pending.clear();
        }
        self.started = true;
        self.last_poll = Some(std::time::SystemTime::now());
        // Truncated files first (copytruncate): their copies are read before what is new.
        let mut copies = Vec::new();
        for t in self.files.iter_mut() {
            if let Some((head, offset)) = restart_if_truncated(t, &mut self.stats) {
                if head.len() == identity::HEAD {
                    self.truncated_heads.push((head.clone(), offset));
                    if self.truncated_heads.len() > 16 {
                        self.truncated_heads.remove(0);
                    }
                }
                copies.push((t.path.clone(), head, offset));
            }
        }
        for (path, head, offset) in copies {
            self.follow_copy(&path, &head, offset, now);
        }
        // Read what is new in every open file (live ones and rotated ones being drained), in
        // order, up to the read budget.
        let max = self.cfg.max_line_bytes;
        let mut budget = self.cfg.read_budget.max(1) as u64;
        self.more = false;
        for t in self.files.iter_mut().filter(|t| !t.overwritten) {
            if budget == 0 {
                self.more = true;
                break;
            }
            match read_new(t, max, budget, &mut out, &mut self.stats, &mut self.buf) {
                Ok((read, left)) => {
                    budget = budget.saturating_sub(read);
                    self.more |= left;
                }
                Err(e) => tracing::warn!("{}: {e}", t.path.display()),
            }
        }
        // Release files that are gone: renamed away and quiet for rotate_wait, or deleted and drained.
        let wait = self.cfg.rotate_wait;
        let mut keep = Vec::with_capacity(self.files.len());
        for mut t in self.files.drain(..) {
            // (a rotated-away file, never before it is drained: the read budget may have left
            // bytes in it; a live one is not looked at)
            let done = !t.live
                && (t.overwritten
                    || (t.file.metadata().map(|m| t.offset >= m.len()).unwrap_or(true)
                        && (now.duration_since(t.last_growth) >= wait || identity::deleted(&t.file))));
            if done {
                if !t.partial.is_empty() {
                    out.push(TailLine {
                        path: t.path.clone(),
                        file: t.serial,
                        offset: t.partial_start,
                        bytes: std::mem::take(&mut t.partial),
                        end: LineEnd::Unterminated,
                    });
                    self.stats.lines += 1;
                }
                self.released.push(t.serial);
                self.stats.closed += 1;
                self.closed.push((t.id.clone(), t.offset));
                if self.closed.len() > 256 {
                    self.closed.remove(0);
                }
            } else {
                keep.push(t);
            }
        }
        self.files = keep;
        out
    }
}

fn read_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        f.read_at(buf, off)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        f.seek_read(buf, off)
    }
}

/// A file truncated (copytruncate, `: > file`) or rewritten past our offset with other content
/// starts again at 0. Returns the head and committed offset of its previous content, for
/// finding a copy of it.
fn restart_if_truncated(t: &mut Tracked, stats: &mut Stats) -> Option<(Vec<u8>, u64)> {
    let meta = t.file.metadata().ok()?;
    let size = meta.len();
    if !t.live {
        // A rotated-away file is only ever appended to; shorter or with another head, it was
        // overwritten (`cp` onto it): not ours any more.
        if size < t.offset || !t.id.head_still_matches(&t.file) {
            tracing::info!("{}: truncated or rewritten after it was rotated away: released", t.path.display());
            t.overwritten = true;
            // (its unterminated line was cut away with the rest, as for a truncated live file)
            t.partial.clear();
        }
        return None;
    }
    let rewritten = size > 0 && !t.id.head_still_matches(&t.file);
    if size < t.offset || rewritten {
        let old = (t.id.head.clone(), t.committed());
        stats.truncations += 1;
        tracing::info!("{}: truncated (size {size} < offset {}): reading again from 0", t.path.display(), t.offset);
        t.offset = 0;
        t.partial.clear();
        t.partial_start = 0;
        t.skipping = false;
        if let Some(id) = Identity::of(&t.file, &meta) {
            t.id = id;
        }
        return Some(old);
    }
    None
}

/// Read what is new, at most `budget` bytes: returns the bytes read and whether some are left.
fn read_new(t: &mut Tracked, max: usize, budget: u64, out: &mut Vec<TailLine>, stats: &mut Stats, buf: &mut [u8]) -> io::Result<(u64, bool)> {
    let size = t.file.metadata()?.len();
    t.id.extend_head(&t.file, size);
    let start = t.offset;
    let stop = size.min(t.offset.saturating_add(budget));
    while t.offset < stop {
        let want = ((stop - t.offset) as usize).min(buf.len());
        let n = read_at(&t.file, &mut buf[..want], t.offset)?;
        if n == 0 {
            break;
        }
        t.last_growth = Instant::now();
        let chunk = &buf[..n];
        let base = t.offset;
        let mut start = 0usize;
        while let Some(i) = memchr::memchr(b'\n', &chunk[start..]) {
            let end = start + i;
            if t.skipping {
                t.skipping = false;
            } else {
                let line_start = if t.partial.is_empty() { base + start as u64 } else { t.partial_start };
                let mut bytes = std::mem::take(&mut t.partial);
                bytes.extend_from_slice(&chunk[start..end]);
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
                emit(t, bytes, line_start, max, out, stats);
            }
            start = end + 1;
        }
        if start < n && !t.skipping {
            if t.partial.is_empty() {
                t.partial_start = base + start as u64;
            }
            t.partial.extend_from_slice(&chunk[start..n]);
            if t.partial.len() > max {
                // over-long unterminated line: emit the head, skip to its newline
                let head: Vec<u8> = t.partial.drain(..max).collect();
                stats.long_lines_cut += 1;
                out.push(TailLine { path: t.path.clone(), file: t.serial, offset: t.partial_start, bytes: head, end: LineEnd::Cut });
                stats.lines += 1;
                t.partial.clear();
                t.skipping = true;
            }
        }
        t.offset += n as u64;
        if t.partial.is_empty() && !t.skipping {
            t.partial_start = t.offset;
        }
    }
    Ok((t.offset - start, t.offset < size))
}

fn emit(t: &Tracked, mut bytes: Vec<u8>, mut offset: u64, max: usize, out: &mut Vec<TailLine>, stats: &mut Stats) {
    // A UTF-8 byte-order mark (IIS) is not part of the first line; offsets stay raw.
    if offset == 0 && bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
        offset = 3;
    }
    // A sparse hole (a non-O_APPEND writer after a truncate) reads as NULs: not a line.
    let nul_prefix = bytes.iter().take_while(|&&b| b == 0).count();
    let (bytes, offset) = if nul_prefix > 0 {
        stats.nul_runs_skipped += 1;
        if nul_prefix == bytes.len() {
            return;
        }
        (bytes[nul_prefix..].to_vec(), offset + nul_prefix as u64)
    } else {
        (bytes, offset)
    };
    let (bytes, end) = if bytes.len() > max {
        stats.long_lines_cut += 1;
        (bytes[..max].to_vec(), LineEnd::Cut)
    } else {
        (bytes, LineEnd::Newline)
    };
    stats.lines += 1;
    out.push(TailLine { path: t.path.clone(), file: t.serial, offset, bytes, end });
}
