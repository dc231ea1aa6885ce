//! The on-instance agent (no mode flag): follow every discovered log, emit every local 5xx and
//! malformed-output event as NDJSON, checkpoint, and survive rotation, restarts and signals.
//!
//! `notify` watches the directories of the followed logs; any event means "look now" (never a
//! count), and the poll interval is the fallback where events do not arrive (NFS) or a watch
//! cannot be set up (watch limit — said once as a warning). SIGTERM/SIGINT stop gracefully with a
//! final checkpoint; SIGHUP reloads the configuration and discovers again.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config::{Config, Sink};
use crate::detect::{Event, classify};
use crate::format::{Format, detect};
use crate::tail::{TailConfig, Tailer, checkpoint};

static STOP: AtomicBool = AtomicBool::new(false);
static RELOAD: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
fn install_signals() {
    extern "C" fn on_stop(_: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
    }
    extern "C" fn on_hup(_: libc::c_int) {
        RELOAD.store(true, Ordering::SeqCst);
    }
    // SAFETY: the handlers only store to atomics, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGHUP, on_hup as *const () as libc::sighandler_t);
    }
}

#[cfg(not(unix))]
fn install_signals() {}

/// Ask a running agent loop (in this process) to stop, as SIGTERM does (the Windows service
/// control handler uses this).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// What the agent follows: host paths (or globs) and the format of each.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub paths: Vec<String>,
    pub formats: HashMap<String, Format>,
}

/// Build the plan: discovered access/error logs, the config's `logs`, extra `--log`s, minus
/// `exclude`.
pub fn plan(cfg: &Config, extra: &[PathBuf], opts: &crate::discover::Options) -> Plan {
    let mut p = Plan::default();
    let root = &opts.root;
    if cfg.discover {
        let d = crate::discover::discover(opts);
        for s in d.sources.iter().filter(|s| matches!(s.kind, crate::discover::LogKind::Access | crate::discover::LogKind::Error | crate::discover::LogKind::Httperr)) {
            let fmt = s.format.as_deref().and_then(|f| Format::from_spec_named(f, s.format_name.as_deref().unwrap_or("custom")).ok());
            let path = match &s.target {
                crate::discover::Target::File(f) if s.server != crate::discover::ServerKind::Iis => root.host(Path::new(f)).display().to_string(),
                crate::discover::Target::Glob(g) if s.server != crate::discover::ServerKind::Iis => root.host(Path::new(g)).display().to_string(),
                crate::discover::Target::File(f) | crate::discover::Target::Glob(f) => crate::discover::iis::host_path(root, f).display().to_string(),
                _ => continue,
            };
            if let Some(f) = fmt {
                p.formats.insert(path.clone(), f);
            }
            if !p.paths.contains(&path) {
                p.paths.push(path);
            }
        }
    }
    for l in cfg.logs.iter().cloned().chain(extra.iter().map(|e| e.display().to_string())) {
        if !p.paths.contains(&l) {
            p.paths.push(l);
        }
    }
    let excl: Vec<glob::Pattern> = cfg.exclude.iter().filter_map(|g| glob::Pattern::new(g).ok()).collect();
    p.paths.retain(|path| !excl.iter().any(|e| e.matches(path)));
    p
}

struct Output {
    sink: Sink,
    file: Option<std::fs::File>,
    written: u64,
    max: u64,
}

impl Output {
    fn open(sink: Sink, max: u64) -> std::io::Result<Output> {
        let (file, written) = match &sink {
            Sink::Stdout => (None, 0),
            Sink::File(p) => {
                if let Some(d) = p.parent() {
                    std::fs::create_dir_all(d)?;
                }
                let f = std::fs::OpenOptions::new().create(true).append(true).open(p)?;
                let n = f.metadata().map(|m| m.len()).unwrap_or(0);
                (Some(f), n)
            }
        };
        Ok(Output { sink, file, written, max })
    }

    fn write(&mut self, line: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            None => {
                let mut o = std::io::stdout().lock();
                o.write_all(line)?;
                o.write_all(b"\n")?;
                o.flush()
            }
            Some(f) => {
                f.write_all(line)?;
                f.write_all(b"\n")?;
                self.written += line.len() as u64 + 1;
                if self.written >= self.max {
                    if let Sink::File(p) = &self.sink {
                        let rotated = PathBuf::from(format!("{}.1", p.display()));
                        std::fs::rename(p, rotated)?;
                        *f = std::fs::OpenOptions::new().create(true).append(true).open(p)?;
                        self.written = 0;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Run until SIGTERM/SIGINT. Returns an error message for a fatal start-up problem.
pub fn run(config_path: Option<&Path>, extra: &[PathBuf], opts: &crate::discover::Options) -> Result<(), String> {
    install_signals();
    let mut cfg = Config::load(config_path)?;
    let mut plan = plan(&cfg, extra, opts);
    if plan.paths.is_empty() {
        tracing::warn!("no logs to follow yet (nothing discovered, no `logs` in the config, no --log): waiting for a reload (SIGHUP)");
    }
    let state = cfg.state_dir.clone();
    let ck = match checkpoint::load(&state) {
        Ok(c) => c,
        Err(e) => {
            // Never silently start over: keep the bad file for a person to look at.
            let bad = checkpoint::path_in(&state).with_extension("json.bad");
            let _ = std::fs::rename(checkpoint::path_in(&state), &bad);
            tracing::error!("{e}; moved it to {} and starting from the end of existing files", bad.display());
            None
        }
    };
    let tail_cfg = |cfg: &Config, plan: &Plan| TailConfig {
        paths: plan.paths.clone(),
        start_at: cfg.start_at,
        rotate_wait: Duration::from_secs(cfg.rotate_wait_secs),
        max_line_bytes: cfg.max_line_bytes,
    };
    let mut tailer = Tailer::new(tail_cfg(&cfg, &plan), ck);
    let mut out = Output::open(cfg.sink(), cfg.sink_max_bytes).map_err(|e| format!("sink {}: {e}", cfg.sink))?;
    tracing::info!("following {} log(s); state in {}", plan.paths.len(), state.display());

    let (tx, rx) = mpsc::channel::<()>();
    let mut watcher = make_watcher(tx.clone());
    let watch = |w: &mut Option<notify::RecommendedWatcher>, dirs: &[PathBuf]| {
        use notify::Watcher;
        if let Some(w) = w.as_mut() {
            for d in dirs {
                if let Err(e) = w.watch(d, notify::RecursiveMode::NonRecursive) {
                    tracing::warn!("cannot watch {}: {e}; polling it every interval instead", d.display());
                }
            }
        }
    };
    watch(&mut watcher, &tailer.watch_dirs());

    let mut parsers: HashMap<PathBuf, crate::format::Parser> = HashMap::new();
    let mut last_ck = Instant::now();
    let mut last_summary = Instant::now();
    let mut events = 0u64;
    let poll = Duration::from_millis(cfg.poll_interval_ms);
    loop {
        let lines = tailer.poll();
        for l in &lines {
            let parser = parsers.entry(l.path.clone()).or_insert_with(|| {
                let key = l.path.display().to_string();
                let f = plan
                    .formats
                    .iter()
                    .find(|(p, _)| **p == key || glob::Pattern::new(p).is_ok_and(|g| g.matches(&key)))
                    .map(|(_, f)| f.clone())
                    .or_else(|| crate::read::sample(&l.path, 16 * 1024).ok().and_then(|s| detect::detect(&s)))
                    .unwrap_or(Format::NginxError);
                f.parser()
            });
            let Ok(rec) = parser.parse(&l.bytes) else { continue };
            if let Some(class) = classify(&rec) {
                let ev = Event::new(&rec, class, &l.path.display().to_string(), 0);
                #[derive(serde::Serialize)]
                struct Out<'a> {
                    #[serde(flatten)]
                    ev: &'a Event,
                    offset: u64,
                }
                let mut v = serde_json::to_value(Out { ev: &ev, offset: l.offset }).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.remove("line");
                }
                if let Err(e) = out.write(v.to_string().as_bytes()) {
                    tracing::error!("writing an event: {e}");
                }
                events += 1;
            }
        }
        let stopping = STOP.load(Ordering::SeqCst);
        if stopping || last_ck.elapsed() >= Duration::from_secs(cfg.checkpoint_interval_secs) {
            if let Err(e) = checkpoint::store(&state, &tailer.checkpoint()) {
                tracing::error!("cannot write the checkpoint in {}: {e} (events keep flowing)", state.display());
            }
            last_ck = Instant::now();
        }
        if stopping {
            tracing::info!("stopping: {} lines, {events} events, checkpoint written", tailer.stats.lines);
            return Ok(());
        }
        if RELOAD.swap(false, Ordering::SeqCst) {
            match Config::load(config_path) {
                Ok(c) => {
                    cfg = c;
                    plan = self::plan(&cfg, extra, opts);
                    let ck = tailer.checkpoint();
                    let _ = checkpoint::store(&state, &ck);
                    tailer = Tailer::new(tail_cfg(&cfg, &plan), Some(ck));
                    parsers.clear();
                    watch(&mut watcher, &tailer.watch_dirs());
                    tracing::info!("reloaded: following {} log(s)", plan.paths.len());
                }
                Err(e) => tracing::error!("reload failed, keeping the running configuration: {e}"),
            }
        }
        if cfg.summary_interval_secs > 0 && last_summary.elapsed() >= Duration::from_secs(cfg.summary_interval_secs) {
            let s = &tailer.stats;
            tracing::info!("summary: {} lines, {events} events, {} rotations, {} truncations", s.lines, s.rotations, s.truncations);
            last_summary = Instant::now();
        }
        // Sleep until a watched directory changes, or the poll interval passes.
        match rx.recv_timeout(poll) {
            Ok(()) => while rx.try_recv().is_ok() {},
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(poll),
        }
    }
}

fn make_watcher(tx: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    match notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
        // any event, or an error (overflow/rescan), means: look now
        let _ = tx.send(());
    }) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("file notifications are not available ({e}): polling instead");
            None
        }
    }
}
