//! The on-instance agent (no mode flag): follow every discovered log, emit every local 5xx and
//! malformed-output event as NDJSON, checkpoint, and survive rotation, restarts, signals and a
//! full disk — losing nothing.
//!
//! A pipeline of small parts, each in its own module:
//!
//! ```text
//! plan (discovery + config → paths, formats) ─► tail::Tailer (lines, per poll, bounded)
//!        ─► pipeline (lines → records → events; per-file state keyed by the tail's file number)
//!        ─► sink::Outbox (held until the sink accepts them) ─► Sink (stdout / rotating file)
//! probes (one thread per probe) ──┘      elb (elb_log_dir, its own thread) ──┘
//! ```
//!
//! The loop below reads only while the outbox has room (back-pressure), and stores a checkpoint
//! only when every event is in the sink and synced: a checkpoint never covers an event that was
//! not written. `notify` watches the directories of the followed logs; any event means "look
//! now", and the poll interval is the fallback where events do not arrive (NFS) or a watch cannot
//! be set up. SIGTERM/SIGINT stop with a final checkpoint; SIGHUP reloads and discovers again.
//! Every event is an `event::AgentEvent`: that enum is the NDJSON schema.

pub(crate) mod elb;
pub(crate) mod event;
pub(crate) mod pipeline;
pub(crate) mod plan;
pub(crate) mod probes;
pub(crate) mod sink;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config::{Config, Sink as SinkConfig};
use crate::tail::{TailConfig, Tailer, checkpoint};

pub use plan::{Plan, plan};

/// Threads that feed the loop events (the probes, the `elb_log_dir` worker): their queue, and
/// the flag that stops them when this is dropped (on reload or exit).
pub struct Feed {
    /// The events, in the order the threads sent them.
    pub rx: mpsc::Receiver<event::AgentEvent>,
    quit: std::sync::Arc<AtomicBool>,
}

impl Feed {
    fn new(rx: mpsc::Receiver<event::AgentEvent>, quit: std::sync::Arc<AtomicBool>) -> Feed {
        Feed { rx, quit }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::SeqCst);
    }
}

static STOP: AtomicBool = AtomicBool::new(false);
static RELOAD: AtomicBool = AtomicBool::new(false);

/// Forward SIGTERM/SIGINT/SIGHUP into the wake-up channel from a thread (the handler itself only
/// writes to a pipe, which is async-signal-safe), so the loop can sleep without a timeout.
#[cfg(unix)]
fn install_signals(tx: mpsc::Sender<()>) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(mut sigs) => {
            std::thread::spawn(move || {
                for sig in sigs.forever() {
                    if sig == SIGHUP {
                        RELOAD.store(true, Ordering::SeqCst);
                    } else {
                        STOP.store(true, Ordering::SeqCst);
                    }
                    let _ = tx.send(());
                }
            });
        }
        Err(e) => tracing::error!("cannot handle signals ({e}): stop with SIGKILL loses up to a checkpoint interval"),
    }
}

/// Windows console: Ctrl+C, Ctrl+Break and closing the console stop gracefully, as SIGTERM does
/// (the service gets its STOP through the service control handler instead).
#[cfg(windows)]
fn install_signals(_tx: mpsc::Sender<()>) {
    unsafe extern "system" fn on_ctrl(_ctrl: u32) -> windows_sys::core::BOOL {
        request_stop();
        // Handled: the process is not ended here; the loop writes its checkpoint and returns.
        1
    }
    // SAFETY: registers a handler that only touches atomics and a mutex-guarded channel.
    if unsafe { windows_sys::Win32::System::Console::SetConsoleCtrlHandler(Some(on_ctrl), 1) } == 0 {
        tracing::warn!("cannot handle Ctrl+C: {}", std::io::Error::last_os_error());
    }
}

#[cfg(not(any(unix, windows)))]
fn install_signals(_tx: mpsc::Sender<()>) {}

/// Whether a directory lives on a network or FUSE filesystem, where inotify events do not
/// arrive for changes made by other hosts: those are polled.
/// Why `dir` must be polled whatever its watch reports, if it must.
#[cfg(target_os = "linux")]
fn needs_polling(dir: &Path) -> Option<&'static str> {
    if on_network_fs(dir) { Some("is on a network filesystem") } else { None }
}

#[cfg(target_os = "linux")]
fn on_network_fs(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return true };
    // SAFETY: statfs fills the zeroed struct for a valid NUL-terminated path.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return false; // missing for now: found by the poll after the parent's event
    }
    const NFS: i64 = 0x6969;
    const SMB: i64 = 0x517B;
    const CIFS: i64 = 0xFF53_4D42;
    const SMB2: i64 = 0xFE53_4D42;
    const FUSE: i64 = 0x6573_5546;
    const NINEP: i64 = 0x0102_1997;
    const CEPH: i64 = 0x00C3_6400;
    matches!(st.f_type as i64, NFS | SMB | CIFS | SMB2 | FUSE | NINEP | CEPH)
}

#[cfg(not(target_os = "linux"))]
fn needs_polling(_dir: &Path) -> Option<&'static str> {
    // ReadDirectoryChangesW can overflow without telling (notify 8.2): reconcile periodically.
    Some("may lose change notifications on this platform")
}

/// The running loop's wake-up channel, for [`request_stop`].
static WAKE: std::sync::Mutex<Option<mpsc::Sender<()>>> = std::sync::Mutex::new(None);

/// Ask a running agent loop (in this process) to stop, as SIGTERM does (the Windows service
/// control handler uses this): the loop wakes at once, writes its checkpoint and returns.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
    if let Some(tx) = WAKE.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        let _ = tx.send(());
    }
}

/// Run until SIGTERM/SIGINT. Returns an error message for a fatal start-up problem.
pub fn run(config_path: Option<&Path>, extra: &[PathBuf], opts: &crate::discover::Options) -> anyhow::Result<()> {
    run_with(config_path, extra, opts, None)
}

fn tail_config(cfg: &Config, plan: &Plan) -> TailConfig {
    TailConfig {
        paths: plan.paths.clone(),
        start_at: cfg.start_at,
        rotate_wait: Duration::from_secs(cfg.rotate_wait_secs),
        max_line_bytes: cfg.max_line_bytes,
        // (a backlog is read a few MiB per turn of the loop: memory does not grow with it)
        read_budget: 4 << 20,
    }
}

/// The checkpoint in `state`; a corrupt one is moved aside (never silently lost), and the message
/// says what happens instead.
fn load_checkpoint(state: &Path, start_at: crate::tail::StartAt) -> Option<checkpoint::Checkpoint> {
    match checkpoint::load(state) {
        Ok(c) => c,
        Err(e) => {
            let bad = checkpoint::path_in(state).with_extension("json.bad");
            let _ = std::fs::rename(checkpoint::path_in(state), &bad);
            let what = match start_at {
                crate::tail::StartAt::End => "following existing files from their end (start_at = \"end\")",
                crate::tail::StartAt::Beginning => "reading existing files again from their beginning (start_at = \"beginning\")",
            };
            tracing::error!("{e}; moved it to {} and {what}", bad.display());
            None
        }
    }
}

fn open_sink(s: SinkConfig, max: u64) -> std::io::Result<Box<dyn sink::Sink>> {
    Ok(match s {
        SinkConfig::Stdout => Box::new(sink::StdoutSink),
        SinkConfig::File(p) => Box::new(sink::FileSink::open(&p, max)?),
    })
}

/// The directories to watch; true when some change can only be found by polling (no notify,
/// a watch that failed, a directory on NFS/SMB/FUSE, one that does not exist yet).
fn watch(w: &mut Option<crate::tail::watch::DirWatcher>, dirs: &[PathBuf], poll_ms: u64) -> bool {
    let Some(w) = w.as_mut() else { return true };
    let mut must_poll = false;
    for d in dirs {
        // A directory that does not exist yet is found through its nearest existing parent.
        let mut target = d.clone();
        while !target.exists() {
            match target.parent() {
                Some(p) => target = p.to_path_buf(),
                None => break,
            }
        }
        if target != *d {
            must_poll = true; // its creation is seen, the files in it only by the next poll
        }
        if let Err(e) = w.watch(&target) {
            tracing::warn!("cannot watch {}: {e}; polling it every {poll_ms} ms instead", target.display());
            must_poll = true;
        }
        if let Some(why) = needs_polling(&target) {
            tracing::info!("{} {why}: polling it every {poll_ms} ms", target.display());
            must_poll = true;
        }
    }
    must_poll
}

/// Everything that follows from the configuration (rebuilt on reload).
struct Running {
    cfg: Config,
    plan: Plan,
    tailer: Tailer,
    probes: Option<Feed>,
    elb: Option<Feed>,
    must_poll: bool,
}

impl Running {
    fn start(
        cfg: Config,
        plan: Plan,
        ck: Option<checkpoint::Checkpoint>,
        wake: &mpsc::Sender<()>,
        watcher: &mut Option<crate::tail::watch::DirWatcher>,
    ) -> Running {
        let tailer = Tailer::new(tail_config(&cfg, &plan), ck);
        let backends: Vec<crate::correlate::BackendFilter> = if cfg.backends.is_empty() {
            crate::platform::addresses().into_iter().map(|ip| crate::correlate::BackendFilter { ip, port: None }).collect()
        } else {
            cfg.backends.iter().filter_map(|b| crate::correlate::BackendFilter::parse(b).ok()).collect()
        };
        let probes = probes::start(&cfg.probes, cfg.lb_idle_timeout_secs, wake.clone());
        let elb = elb::start(&cfg, &plan, &backends, wake.clone());
        let must_poll = watch(watcher, &tailer.watch_dirs(), cfg.poll_interval_ms);
        watch(watcher, &plan.config_dirs(), cfg.poll_interval_ms);
        Running { cfg, plan, tailer, probes, elb, must_poll }
    }
}

/// [`run`], with the file events go to when the configuration says `stdout` (the Windows
/// service has no console).
pub fn run_with(config_path: Option<&Path>, extra: &[PathBuf], opts: &crate::discover::Options, stdout_replacement: Option<&Path>) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel::<()>();
    install_signals(tx.clone());
    *WAKE.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx.clone());
    let sink_of = |cfg: &Config| match (cfg.sink(), stdout_replacement) {
        (SinkConfig::Stdout, Some(p)) => SinkConfig::File(p.to_path_buf()),
        (s, _) => s,
    };
    let cfg = Config::load(config_path)?;
    let plan = plan::plan(&cfg, extra, opts);
    if plan.paths.is_empty() {
        tracing::warn!("no logs to follow yet (nothing discovered, no `logs` in the config, no --log): waiting for a reload (SIGHUP)");
    }
    let state = cfg.state_dir.clone();
    let ck = load_checkpoint(&state, cfg.start_at);
    let mut out = sink::Outbox::new(open_sink(sink_of(&cfg), cfg.sink_max_bytes).map_err(|e| anyhow::anyhow!("sink {}: {e}", cfg.sink))?);
    let mut watcher = make_watcher(tx.clone());
    tracing::info!("following {} log(s); state in {}", plan.paths.len(), state.display());
    let mut run = Running::start(cfg, plan, ck, &tx, &mut watcher);
    let mut pipe = pipeline::Pipeline::default();
    // The tail position up to which every event is in the sink (what a checkpoint may store).
    let mut written_upto: Option<checkpoint::Checkpoint> = None;
    // Lines were read since `written_upto` was last taken.
    let mut unsnapshotted = false;
    let mut events: Vec<event::AgentEvent> = Vec::new();
    let mut last_ck = Instant::now();
    let mut last_summary = Instant::now();
    // Lines read since the last checkpoint / summary (nothing to write when idle).
    let mut dirty = false;
    let mut active = false;
    loop {
        // Read — unless the sink is behind: then the lines wait in the files (back-pressure).
        if !out.full() {
            let lines = run.tailer.poll();
            if !lines.is_empty() {
                dirty = true;
                active = true;
                unsnapshotted = true;
            }
            pipe.process(&lines, &run.plan, run.tailer.stats.long_lines_cut, run.cfg.max_line_bytes, &mut events);
            pipe.forget(&run.tailer.take_released());
        }
        for rx in [run.probes.as_ref().map(|p| &p.rx), run.elb.as_ref().map(|e| &e.rx)].into_iter().flatten() {
            while !out.full()
                && let Ok(e) = rx.try_recv()
            {
                events.push(e);
            }
        }
        for e in events.drain(..) {
            out.push(&e);
        }
        // Everything read so far is in the sink: this position is safe to checkpoint. (While
        // the sink fails, `written_upto` stays at the last such position.)
        if out.flush() && unsnapshotted {
            written_upto = Some(run.tailer.checkpoint());
            unsnapshotted = false;
        }
        let stopping = STOP.load(Ordering::SeqCst);
        if stopping || (dirty && last_ck.elapsed() >= Duration::from_secs(run.cfg.checkpoint_interval_secs)) {
            if out.settle() {
                written_upto = Some(run.tailer.checkpoint());
                unsnapshotted = false;
            }
            // A checkpoint covers only what the sink holds, synced.
            if let Some(ck) = written_upto.take()
                && (out.is_empty() || out.sync_written())
            {
                if let Err(e) = checkpoint::store(&state, &ck) {
                    tracing::error!("cannot write the checkpoint in {}: {e} (events keep flowing)", state.display());
                }
                last_ck = Instant::now();
                dirty = !out.is_empty();
            }
        }
        if stopping {
            let s = &run.tailer.stats;
            if out.is_empty() {
                tracing::info!("stopping: {} lines, {} events, checkpoint written", s.lines, out.written);
            } else {
                tracing::error!(
                    "stopping with {} events the sink did not take: the checkpoint is at the last event written, so they are read again at the next start",
                    out.held()
                );
            }
            return Ok(());
        }
        if run.plan.configs_changed() {
            tracing::info!("a web-server configuration changed: discovering again");
            RELOAD.store(true, Ordering::SeqCst);
        }
        if RELOAD.swap(false, Ordering::SeqCst) {
            match Config::load(config_path) {
                Ok(c) => {
                    let p = plan::plan(&c, extra, opts);
                    // The new engine resumes where this one is (what the sink has not taken yet
                    // is still held and written first).
                    let ck = run.tailer.checkpoint();
                    if out.settle() {
                        let _ = checkpoint::store(&state, &ck);
                        written_upto = None;
                    }
                    tracing::info!("reloaded: following {} log(s)", p.paths.len());
                    run = Running::start(c, p, Some(ck), &tx, &mut watcher);
                    pipe.clear();
                }
                Err(e) => tracing::error!("reload failed, keeping the running configuration: {e}"),
            }
        }
        let cfg = &run.cfg;
        if active && cfg.summary_interval_secs > 0 && last_summary.elapsed() >= Duration::from_secs(cfg.summary_interval_secs) {
            active = false;
            let s = &run.tailer.stats;
            tracing::info!(
                "summary: {} lines, {} events written, {} bad lines, {} rotations, {} truncations",
                s.lines,
                out.written,
                pipe.bad_lines,
                s.rotations,
                s.truncations
            );
            last_summary = Instant::now();
        }
        // More to read right now (a backlog, read a budget at a time): go on at once.
        if run.tailer.has_more() && !out.full() {
            continue;
        }
        // Sleep until a watched directory changes or a signal comes — or until the nearest thing
        // that must happen on time: a poll (where events cannot be trusted), a retry of the sink,
        // a checkpoint of lines already read, a rotated file's rotate_wait. Idle and watched: no
        // wake-ups at all.
        let mut wait: Option<Duration> = None;
        let mut sooner = |d: Duration| wait = Some(wait.map_or(d, |w: Duration| w.min(d)));
        if run.must_poll {
            sooner(Duration::from_millis(cfg.poll_interval_ms));
        }
        if let Some(r) = out.retry_in() {
            sooner(r);
        }
        if dirty {
            sooner(Duration::from_secs(cfg.checkpoint_interval_secs).saturating_sub(last_ck.elapsed()));
        }
        if run.tailer.open_files().len() > run.tailer.live_files() || run.tailer.has_partial() {
            sooner(Duration::from_secs(cfg.rotate_wait_secs.max(1)));
        }
        if active && cfg.summary_interval_secs > 0 {
            sooner(Duration::from_secs(cfg.summary_interval_secs).saturating_sub(last_summary.elapsed()));
        }
        let got = match wait {
            Some(w) => rx.recv_timeout(w).map_err(|e| matches!(e, mpsc::RecvTimeoutError::Disconnected)),
            None => rx.recv().map_err(|_| true),
        };
        match got {
            // (the watcher already gathers a burst for a few milliseconds before it wakes us)
            Ok(()) => while rx.try_recv().is_ok() {},
            Err(false) => {}
            Err(true) => std::thread::sleep(Duration::from_millis(cfg.poll_interval_ms)),
        }
    }
}

fn make_watcher(tx: mpsc::Sender<()>) -> Option<crate::tail::watch::DirWatcher> {
    match crate::tail::watch::DirWatcher::new(tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("file notifications are not available ({e}): polling instead");
            None
        }
    }
}
