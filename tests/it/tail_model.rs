//! Model-based test of the tail engine, as Vector's `model_tests` do: random sequences of writes,
//! partial writes, rename rotations, copytruncate, truncation, deletion, graceful restarts and
//! crashes run against real files and the real engine, and the lines it emits are checked
//! against an in-memory model: every line exactly once and in order per file, except that after a
//! crash lines since the last checkpoint may come again (counted, and only those).
//!
//! Every rotation is drawn with and without a poll right before it: lines written after the
//! engine last looked, then rotated away (renamed, or copied and truncated as logrotate's
//! `copytruncate` does), must still come — from the renamed file's open handle, or from the
//! copy — whenever the engine had seen the file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use tailgate::tail::checkpoint::Checkpoint;
use tailgate::tail::{LineEnd, StartAt, TailConfig, Tailer};

#[derive(Clone, Debug)]
enum Action {
    Write(usize, usize),
    WritePartial,
    Poll,
    /// (poll first?)
    RotateRename(bool),
    CopyTruncate(bool),
    Truncate(bool),
    Delete,
    Checkpoint,
    Restart,
    Crash,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (1usize..20, 0usize..60).prop_map(|(n, pad)| Action::Write(n, pad)),
        1 => Just(Action::WritePartial),
        5 => Just(Action::Poll),
        1 => any::<bool>().prop_map(Action::RotateRename),
        2 => any::<bool>().prop_map(Action::CopyTruncate),
        1 => any::<bool>().prop_map(Action::Truncate),
        // (TAILGATE_MODEL_NO_DELETE=1: packaging/windows/test.sh runs this model under Wine 8, whose
        // delete-while-open matches neither Windows nor Unix — re-creating the name appends to the
        // deleted file still held open — so deletion is left out there.)
        1 => Just(()).prop_map(|_| if std::env::var_os("TAILGATE_MODEL_NO_DELETE").is_some() { Action::Truncate(false) } else { Action::Delete }),
        1 => Just(Action::Checkpoint),
        1 => Just(Action::Restart),
        1 => Just(Action::Crash),
    ]
}

/// The model of one physical file: complete lines not yet read, and an unterminated tail.
#[derive(Default)]
struct FileModel {
    exists: bool,
    /// Seqs of complete lines written and not yet handed to the engine by a poll.
    unread: Vec<u64>,
    /// The unterminated line being written (its seq and text so far).
    partial: Option<(u64, String)>,
    /// The engine has polled since this content started, while the file had bytes (it knows
    /// the file's head and how far it read — a file seen empty has no head to recognise a copy
    /// or a truncation by): what a rotation takes away, it can still find.
    seen: bool,
}

struct Harness {
    dir: PathBuf,
    log: PathBuf,
    cfg: TailConfig,
    tailer: Tailer,
    last_checkpoint: Option<Checkpoint>,
    next_seq: u64,
    cur: FileModel,
    /// Lines that must be emitted (every complete line the engine could see).
    expected: BTreeSet<u64>,
    /// Lines that can no longer be read (truncated or deleted before any poll saw them).
    lost: BTreeSet<u64>,
    emitted: Vec<u64>,
    /// Seqs emitted since the last checkpoint (a crash may repeat them).
    since_checkpoint: BTreeSet<u64>,
    may_repeat: BTreeSet<u64>,
    duplicates: u64,
    /// Unterminated lines of files that went away: emitted once, flagged partial.
    orphans: BTreeSet<u64>,
    /// Lines only in the copy `a.log.1` that no poll has read yet: gone if it is overwritten.
    in_copy: Vec<u64>,
    /// Lines of a renamed-away file the engine holds open, not read yet: it drains them
    /// through its handle (unless a crash drops the handle, or `cp` overwrites that inode).
    in_renamed: Vec<u64>,
    /// This engine instance has polled (holds handles); a restarted or crashed one knows files
    /// only from the checkpoint, and finds a rotated file by its path.
    engine_holds: bool,
}

fn seq_of(bytes: &[u8]) -> u64 {
    let s = std::str::from_utf8(bytes).unwrap();
    let first = s.split_whitespace().next().unwrap();
    first.strip_prefix("seq=").unwrap_or_else(|| panic!("bad line {s:?}")).parse().unwrap()
}

impl Harness {
    fn new(dir: &Path) -> Harness {
        let log = dir.join("a.log");
        let cfg = TailConfig {
            paths: vec![log.display().to_string()],
            start_at: StartAt::Beginning,
            rotate_wait: Duration::ZERO,
            max_line_bytes: 1 << 20,
            read_budget: 4 << 20,
        };
        Harness {
            dir: dir.to_path_buf(),
            log,
            tailer: Tailer::new(cfg.clone(), None),
            cfg,
            last_checkpoint: None,
            next_seq: 0,
            cur: FileModel::default(),
            expected: BTreeSet::new(),
            lost: BTreeSet::new(),
            emitted: Vec::new(),
            since_checkpoint: BTreeSet::new(),
            may_repeat: BTreeSet::new(),
            duplicates: 0,
            orphans: BTreeSet::new(),
            in_copy: Vec::new(),
            in_renamed: Vec::new(),
            engine_holds: false,
        }
    }

    fn append(&mut self, data: &str) {
        let mut f = OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        f.write_all(data.as_bytes()).unwrap();
        self.cur.exists = true;
    }

    fn poll(&mut self) {
        for l in self.tailer.poll() {
            let s = seq_of(&l.bytes);
            assert_eq!(l.end == LineEnd::Unterminated, self.orphans.contains(&s), "only the unterminated line of a file that went away is partial: {l:?}");
            if self.emitted.contains(&s) {
                assert!(self.may_repeat.remove(&s), "line seq={s} emitted twice without a crash in between");
                self.duplicates += 1;
            } else {
                self.emitted.push(s);
            }
            self.since_checkpoint.insert(s);
        }
        // Everything complete in the current file (and in a fresh copy) has been read now.
        self.cur.unread.clear();
        self.in_copy.clear();
        self.in_renamed.clear();
        self.engine_holds = true;
        if self.cur.exists && std::fs::metadata(&self.log).is_ok_and(|m| m.len() > 0) {
            self.cur.seen = true;
        }
    }

    /// `a.log.1` is about to be replaced: lines only in the copy there are gone.
    fn lose_copy(&mut self) {
        for s in self.in_copy.drain(..) {
            self.expected.remove(&s);
            self.lost.insert(s);
        }
    }

    /// Lines of a renamed-away file that the engine will not find by its handle any more: they
    /// may come (from the path) or not.
    fn lose_renamed(&mut self) {
        for s in self.in_renamed.drain(..) {
            self.expected.remove(&s);
            self.lost.insert(s);
        }
    }

    /// The current file's unread lines can no longer be read.
    fn lose_unread(&mut self) {
        for s in self.cur.unread.drain(..) {
            self.expected.remove(&s);
            self.lost.insert(s);
        }
        self.cur.partial = None;
    }

    fn step(&mut self, a: &Action) {
        match *a {
            Action::Write(n, pad) => {
                let mut data = String::new();
                if let Some((s, text)) = self.cur.partial.take() {
                    // the partial line ends now
                    data.push('\n');
                    let _ = text;
                    self.cur.unread.push(s);
                    self.expected.insert(s);
                }
                for _ in 0..n {
                    let s = self.next_seq;
                    self.next_seq += 1;
                    data.push_str(&format!("seq={s} {}\n", "x".repeat(pad)));
                    self.cur.unread.push(s);
                    self.expected.insert(s);
                }
                self.append(&data);
            }
            Action::WritePartial => {
                if self.cur.partial.is_none() {
                    let s = self.next_seq;
                    self.next_seq += 1;
                    let text = format!("seq={s} partial");
                    self.append(&text);
                    self.cur.partial = Some((s, text));
                }
            }
            Action::Poll => self.poll(),
            Action::RotateRename(poll_first) => {
                if !self.cur.exists {
                    return;
                }
                if poll_first {
                    self.poll();
                }
                if let Some((s, _)) = self.cur.partial.take() {
                    // the writer finishes its line before the rotation (the orphaned-partial case
                    // is covered by Delete)
                    self.append("\n");
                    self.cur.unread.push(s);
                    self.expected.insert(s);
                }
                // whatever sat at a.log.1 is replaced (a file the engine holds open is still read)
                self.lose_copy();
                if self.cur.seen && self.engine_holds {
                    // the engine holds the file open: it drains them through its handle
                    self.in_renamed.extend(std::mem::take(&mut self.cur.unread));
                } else if self.cur.seen {
                    // a restarted engine finds it at a.log.1 from its checkpoint
                    self.in_copy.extend(std::mem::take(&mut self.cur.unread));
                } else {
                    // A file the engine never saw, renamed before it looked: nothing tells it
                    // where that file went.
                    self.lose_unread();
                }
                if let Err(e) = std::fs::rename(&self.log, self.dir.join("a.log.1")) {
                    // Windows cannot replace a file someone holds open (the engine, draining
                    // the last a.log.1): it must let go first, as IIS's rotation waits too.
                    if !cfg!(windows) {
                        panic!("rename: {e}");
                    }
                    self.poll();
                    std::fs::rename(&self.log, self.dir.join("a.log.1")).unwrap();
                }
                self.cur = FileModel::default();
                if poll_first {
                    self.poll(); // drains and releases the renamed file
                }
            }
            Action::CopyTruncate(poll_first) => {
                if !self.cur.exists {
                    return;
                }
                if poll_first {
                    self.poll();
                }
                // cp overwrites a.log.1 in place: a copy there, or a renamed file still being
                // drained through its handle, is gone
                self.lose_copy();
                self.lose_renamed();
                if std::fs::copy(&self.log, self.dir.join("a.log.1")).is_err() {
                    // (Windows: not over a file the engine holds open; it lets go at a poll)
                    if !cfg!(windows) {
                        panic!("copy onto a.log.1 failed");
                    }
                    self.poll();
                    std::fs::copy(&self.log, self.dir.join("a.log.1")).unwrap();
                }
                OpenOptions::new().write(true).open(&self.log).unwrap().set_len(0).unwrap();
                if let Some((s, _)) = &self.cur.partial {
                    // The unterminated line survives in the copy; if the copy lands on an inode
                    // the engine still follows (a.log.1 was the renamed old file), it is read
                    // there and emitted once, flagged partial. Either outcome is right.
                    self.orphans.insert(*s);
                    self.lost.insert(*s);
                }
                self.cur.partial = None;
                if self.cur.seen {
                    // Lines written after the last poll are only in the copy now: the engine
                    // finds the copy by the file's head and reads it from where it stopped.
                    self.in_copy = std::mem::take(&mut self.cur.unread);
                } else {
                    self.lose_unread();
                }
                self.cur.seen = false;
            }
            Action::Truncate(poll_first) => {
                if !self.cur.exists {
                    return;
                }
                if poll_first {
                    self.poll();
                }
                // lines written since the last poll are gone
                self.lose_unread();
                OpenOptions::new().write(true).open(&self.log).unwrap().set_len(0).unwrap();
                self.cur.seen = false;
            }
            Action::Delete => {
                if !self.cur.exists {
                    return;
                }
                self.poll(); // the engine holds the file open: its lines survive the unlink
                if let Some((s, _)) = self.cur.partial.take() {
                    // its unterminated last line is emitted once, flagged partial
                    self.orphans.insert(s);
                    self.expected.insert(s);
                }
                std::fs::remove_file(&self.log).unwrap();
                self.cur = FileModel::default();
                self.poll();
            }
            Action::Checkpoint => {
                self.last_checkpoint = Some(self.tailer.checkpoint());
                self.since_checkpoint.clear();
            }
            Action::Restart => {
                self.poll();
                let c = self.tailer.checkpoint();
                self.last_checkpoint = Some(c.clone());
                self.since_checkpoint.clear();
                self.tailer = Tailer::new(self.cfg.clone(), Some(c));
                self.engine_holds = false;
            }
            Action::Crash => {
                // Whatever was emitted since the last durable checkpoint may come again.
                self.may_repeat.extend(self.since_checkpoint.iter().copied());
                self.since_checkpoint.clear();
                // The new engine has no handles: what only they could read may or may not be
                // found from the checkpoint (tests below cover the cases it must).
                self.lose_renamed();
                self.lose_copy();
                self.cur.seen = false;
                self.engine_holds = false;
                self.tailer = Tailer::new(self.cfg.clone(), self.last_checkpoint.clone());
            }
        }
    }

    fn check(&mut self) {
        // finish: complete the partial line and poll until quiet
        if let Some((s, _)) = self.cur.partial.take() {
            self.append("\n");
            self.expected.insert(s);
        }
        self.poll();
        self.poll();
        let emitted: BTreeSet<u64> = self.emitted.iter().copied().collect();
        let missing: Vec<u64> = self.expected.difference(&emitted).copied().collect();
        assert!(missing.is_empty(), "lines never emitted: {missing:?}");
        let extra: Vec<u64> = emitted.difference(&self.expected).filter(|s| !self.lost.contains(s)).copied().collect();
        assert!(extra.is_empty(), "lines emitted that were never completed: {extra:?}");
        // in order: seqs only grow (one writer, one file at a time, rotated files drained first)
        // (an orphaned partial line comes when its file is released, after newer lines of the
        // next file: order is per file, so those are left out of this check)
        // (nor are lines the model lets go — a line recovered from a sibling after it was given
        // up, e.g. through a checkpoint that knew the file only empty, comes late)
        let ordered: Vec<u64> = self.emitted.iter().copied().filter(|s| !self.orphans.contains(s) && !self.lost.contains(s)).collect();
        let mut sorted = ordered.clone();
        sorted.sort_unstable();
        assert_eq!(ordered, sorted, "emitted out of order");
        assert!(self.tailer.open_files().len() <= 1, "rotated or deleted files are released: {:?}", self.tailer.open_files());
    }
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a longer run.
    #![proptest_config(ProptestConfig::default())]
    #[test]
    fn tail_engine_matches_the_model(actions in proptest::collection::vec(action(), 1..60)) {
        let d = tempfile::tempdir().unwrap();
        let mut h = Harness::new(d.path());
        for a in &actions {
            h.step(a);
        }
        h.check();
    }
}

/// Per-file facts for the targeted scenarios below.
fn lines_of(t: &mut Tailer) -> BTreeMap<u64, Vec<u8>> {
    t.poll().into_iter().map(|l| (l.offset, l.bytes)).collect()
}

#[test]
fn a_renamed_file_is_drained_through_its_open_handle() {
    // tail-scenarios 7: the writer keeps writing to the old fd after the rename
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    let cfg =
        TailConfig { paths: vec![log.display().to_string()], start_at: StartAt::Beginning, rotate_wait: Duration::from_millis(300), ..Default::default() };
    let mut t = Tailer::new(cfg, None);
    let mut old = OpenOptions::new().create(true).append(true).open(&log).unwrap();
    writeln!(old, "one").unwrap();
    assert_eq!(lines_of(&mut t).len(), 1);
    std::fs::rename(&log, d.path().join("a.log.1")).unwrap();
    std::fs::write(&log, "new-1\n").unwrap();
    writeln!(old, "two (old fd, after the rename)").unwrap();
    let got: Vec<String> = t.poll().into_iter().map(|l| String::from_utf8(l.bytes).unwrap()).collect();
    assert_eq!(got, ["two (old fd, after the rename)", "new-1"]);
    assert_eq!(t.open_files().len(), 2, "the renamed file stays open for rotate_wait");
    std::thread::sleep(Duration::from_millis(350));
    assert!(t.poll().is_empty());
    assert_eq!(t.open_files().len(), 1, "and is released after it");
}

#[test]
fn truncate_and_rewrite_past_the_old_offset_starts_again_at_zero() {
    // tail-scenarios 10: size >= offset, but the head changed
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    std::fs::write(&log, "aaaa 1\naaaa 2\n").unwrap();
    let mut t = Tailer::new(TailConfig { paths: vec![log.display().to_string()], start_at: StartAt::Beginning, ..Default::default() }, None);
    assert_eq!(t.poll().len(), 2);
    std::fs::write(&log, "bbbb 1 a longer line than before\nbbbb 2\n").unwrap();
    let got: Vec<(u64, String)> = t.poll().into_iter().map(|l| (l.offset, String::from_utf8(l.bytes).unwrap())).collect();
    assert_eq!(got, [(0, "bbbb 1 a longer line than before".to_string()), (33, "bbbb 2".to_string())]);
    assert_eq!(t.stats.truncations, 1);
}

#[test]
fn sparse_holes_are_not_lines_and_partial_lines_wait() {
    // tail-scenarios 4 and 12
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    std::fs::write(&log, "").unwrap();
    let mut t = Tailer::new(TailConfig { paths: vec![log.display().to_string()], start_at: StartAt::Beginning, ..Default::default() }, None);
    let mut f = OpenOptions::new().append(true).open(&log).unwrap();
    write!(f, "seq=1 abc").unwrap();
    assert!(t.poll().is_empty(), "nothing before the newline");
    let ck = t.checkpoint();
    assert_eq!(ck.files[0].offset, 0, "the checkpoint never passes an unterminated line");
    writeln!(f, "def").unwrap();
    let l = t.poll();
    assert_eq!((l[0].offset, l[0].bytes.as_slice()), (0, &b"seq=1 abcdef"[..]));
    // a writer without O_APPEND after a truncate leaves a hole of NULs
    let mut w = OpenOptions::new().write(true).open(&log).unwrap();
    use std::io::Seek;
    w.seek(std::io::SeekFrom::Start(4096)).unwrap();
    f.set_len(0).unwrap();
    writeln!(w, "seq=2 after the hole").unwrap();
    let l = t.poll();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].bytes, b"seq=2 after the hole");
    assert_eq!(l[0].offset, 4096);
    assert_eq!(t.stats.nul_runs_skipped, 1);
}

#[test]
fn start_at_end_only_for_files_present_at_the_first_start() {
    // tail-scenarios 1 and 2
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.log");
    std::fs::write(&a, "old 1\nold 2\n").unwrap();
    let pat = d.path().join("*.log").display().to_string();
    let mut t = Tailer::new(TailConfig { paths: vec![pat], start_at: StartAt::End, ..Default::default() }, None);
    assert!(t.poll().is_empty(), "existing lines skipped under start_at=end");
    std::fs::write(d.path().join("b.log"), "new file 1\n").unwrap();
    let l = t.poll();
    assert_eq!(l.len(), 1, "a file that appears later is read from 0");
    assert_eq!(l[0].bytes, b"new file 1");
}

/// Append `lines` to `p` as one write (a burst the engine has not polled yet).
fn burst(p: &Path, from: u64, n: u64) {
    let mut data = String::new();
    for i in from..from + n {
        data.push_str(&format!("seq={i} after the last poll\n"));
    }
    OpenOptions::new().create(true).append(true).open(p).unwrap().write_all(data.as_bytes()).unwrap();
}

fn seqs(lines: Vec<tailgate::tail::TailLine>) -> Vec<u64> {
    lines.iter().map(|l| seq_of(&l.bytes)).collect()
}

/// logrotate `copytruncate`: a burst written after the engine's last read, then at once
/// `cp a.log a.log.1; : > a.log` — the burst is only in the copy, and is read from there
/// (issue: 5 of 5 such lines were lost, every time), before what the live file gets next.
#[test]
fn copytruncate_right_after_a_burst_loses_nothing() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("a.log");
    let mut t = Tailer::new(
        TailConfig { paths: vec![log.display().to_string()], start_at: StartAt::Beginning, rotate_wait: Duration::ZERO, ..Default::default() },
        None,
    );
    burst(&log, 0, 3);
    assert_eq!(seqs(t.poll()), [0, 1, 2]);
    burst(&log, 3, 5);
    std::fs::copy(&log, d.path().join("a.log.1")).unwrap();
    OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
    burst(&log, 8, 2);
    assert_eq!(seqs(t.poll()), [3, 4, 5, 6, 7, 8, 9], "the burst from the copy, then the live file");
    assert!(t.poll().is_empty(), "the copy is read once");
    // Again, with logrotate's shift first: a.log.1 -> a.log.2, then the copy to a.log.1.
    burst(&log, 10, 5);
    std::fs::rename(d.path().join("a.log.1"), d.path().join("a.log.2")).unwrap();
    std::fs::copy(&log, d.path().join("a.log.1")).unwrap();
    OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
    assert_eq!(seqs(t.poll()), [10, 11, 12, 13, 14], "after a shift the copy is the new a.log.1");
    burst(&log, 15, 1);
    assert_eq!(seqs(t.poll()), [15]);
}

/// An engine that read lines 0..4 of `a.log` in `dir`, then stopped: its checkpoint, kept for a
/// restart after whatever happens to the files meanwhile.
struct Stopped {
    log: PathBuf,
    cfg: TailConfig,
    ck: Checkpoint,
}

fn stopped_after_four(dir: &Path) -> Stopped {
    let log = dir.join("a.log");
    let cfg = TailConfig { paths: vec![log.display().to_string()], start_at: StartAt::Beginning, rotate_wait: Duration::ZERO, ..Default::default() };
    let mut t = Tailer::new(cfg.clone(), None);
    burst(&log, 0, 4);
    assert_eq!(seqs(t.poll()), [0, 1, 2, 3]);
    Stopped { ck: t.checkpoint(), log, cfg }
}

impl Stopped {
    fn copy_truncate(&self) {
        std::fs::copy(&self.log, self.log.with_extension("log.1")).unwrap();
        OpenOptions::new().write(true).open(&self.log).unwrap().set_len(0).unwrap();
    }

    fn restart_emits(self, want: &[u64]) {
        let mut t = Tailer::new(self.cfg, Some(self.ck));
        assert_eq!(seqs(t.poll()), want);
        assert!(t.poll().is_empty());
    }
}

/// The same while the agent is down: the checkpoint's file was copied and truncated before the
/// restart; the lines after the checkpoint are read from the copy.
#[test]
fn copytruncate_while_stopped_is_read_from_the_copy() {
    let d = tempfile::tempdir().unwrap();
    let s = stopped_after_four(d.path());
    burst(&s.log, 4, 5);
    s.copy_truncate();
    burst(&s.log, 9, 1);
    s.restart_emits(&[4, 5, 6, 7, 8, 9]);
}

/// Copytruncate, more lines, then a rename rotation — all while the agent is down: the renamed
/// file is all new since the checkpoint (read from 0), after the rest of the copy.
#[test]
fn copytruncate_then_rename_while_stopped() {
    let d = tempfile::tempdir().unwrap();
    let s = stopped_after_four(d.path());
    burst(&s.log, 4, 2);
    s.copy_truncate();
    burst(&s.log, 6, 3);
    std::fs::rename(d.path().join("a.log.1"), d.path().join("a.log.2")).unwrap();
    std::fs::rename(&s.log, d.path().join("a.log.1")).unwrap();
    burst(&s.log, 9, 1);
    s.restart_emits(&[4, 5, 6, 7, 8, 9]);
}
