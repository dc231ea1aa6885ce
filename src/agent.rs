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

/// What the agent follows: host paths (or globs) and the format of each.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub paths: Vec<String>,
    pub formats: HashMap<String, Format>,
    /// The web servers' config files discovery read (host paths) and their modification times:
    /// a change means discovering again.
    pub configs: Vec<(PathBuf, Option<std::time::SystemTime>)>,
}

impl Plan {
    fn configs_changed(&self) -> bool {
        self.configs.iter().any(|(p, m)| std::fs::metadata(p).and_then(|x| x.modified()).ok() != *m)
    }

    /// Directories holding the config files (watched, so an edit is seen at once).
    fn config_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.configs.iter().filter_map(|(p, _)| p.parent().map(Path::to_path_buf)).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Build the plan: discovered access/error logs, the config's `logs`, extra `--log`s, minus
/// `exclude`.
pub fn plan(cfg: &Config, extra: &[PathBuf], opts: &crate::discover::Options) -> Plan {
    let mut p = Plan::default();
    let root = &opts.root;
    if cfg.discover {
        let d = crate::discover::discover(opts);
        p.configs = d
            .configs
            .iter()
            .map(|c| root.host(Path::new(c)))
            .map(|h| {
                let m = std::fs::metadata(&h).and_then(|x| x.modified()).ok();
                (h, m)
            })
            .collect();
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

/// New files in `elb_log_dir` (recursively), by name and size: a file is correlated once it has
/// stopped growing, and never twice (the set of done files is kept in the state directory).
struct ElbDir {
    dir: PathBuf,
    done_path: PathBuf,
    done: std::collections::BTreeSet<String>,
    sizes: HashMap<PathBuf, u64>,
}

impl ElbDir {
    fn new(dir: PathBuf, state: &Path) -> ElbDir {
        let done_path = state.join("elb-done.json");
        let done = std::fs::read(&done_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        ElbDir { dir, done_path, done, sizes: HashMap::new() }
    }

    /// Files that arrived and did not grow since the last look.
    fn ready(&mut self) -> Vec<PathBuf> {
        let mut errs = Vec::new();
        let files = crate::correlate::elb::expand_inputs(std::slice::from_ref(&self.dir), &mut errs);
        let mut ready = Vec::new();
        for f in files {
            let key = f.display().to_string();
            if self.done.contains(&key) {
                continue;
            }
            let size = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
            match self.sizes.insert(f.clone(), size) {
                Some(prev) if prev == size && size > 0 => ready.push(f),
                _ => {}
            }
        }
        ready
    }

    fn mark(&mut self, f: &Path) {
        self.sizes.remove(f);
        self.done.insert(f.display().to_string());
        if let Some(d) = self.done_path.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        let tmp = self.done_path.with_extension("json.tmp");
        if std::fs::write(&tmp, serde_json::to_vec(&self.done).unwrap_or_default()).and_then(|_| std::fs::rename(&tmp, &self.done_path)).is_err() {
            tracing::error!("cannot record correlated ELB files in {}", self.done_path.display());
        }
    }
}

/// Correlate one ELB file with the local logs (each with its rotated siblings).
fn correlate_file(cfg: &Config, plan: &Plan, f: &Path, backends: &[crate::correlate::BackendFilter]) -> crate::correlate::Report {
    let mut local = Vec::new();
    for p in &plan.paths {
        let bases: Vec<PathBuf> = if crate::discover::has_glob(p) {
            glob::glob(p).map(|g| g.filter_map(Result::ok).collect()).unwrap_or_default()
        } else {
            vec![PathBuf::from(p)]
        };
        for b in bases {
            let fmt = plan.formats.get(p).cloned();
            for h in crate::correlate::with_rotated(&b) {
                local.push(crate::correlate::LocalLog { display: h.display().to_string(), path: h, format: fmt.clone() });
            }
        }
    }
    let opts = crate::correlate::Options {
        elb_inputs: vec![f.to_path_buf()],
        local,
        backends: backends.to_vec(),
        all_backends: false,
        window_secs: 5.0,
        lb_idle_timeout_secs: cfg.lb_idle_timeout_secs,
        burst_min: 3,
        threads: 1,
    };
    crate::correlate::correlate(&opts)
}

/// Probe the configured URLs on their intervals, each on its own thread (a probe that hangs
/// until its deadline holds up no other), sending each violation as a finished NDJSON event and
/// waking the main loop.
fn start_probes(probes: &[crate::config::ProbeConfig], lb_idle: u64, wake: mpsc::Sender<()>, quit: std::sync::Arc<AtomicBool>) -> Option<mpsc::Receiver<Vec<u8>>> {
    if probes.is_empty() {
        return None;
    }
    let (tx, rx) = mpsc::channel();
    for (i, p) in probes.iter().enumerate() {
        let (p, tx, wake, quit) = (p.clone(), tx.clone(), wake.clone(), quit.clone());
        let url = p.url.clone();
        let spawned = std::thread::Builder::new().name(format!("tailgate-probe-{i}")).spawn(move || {
            // The ranges are checked when the configuration is read (crate::limits).
            let timeout = Duration::from_secs_f64(p.timeout_secs);
            let interval = Duration::from_secs(p.interval_secs);
            while !quit.load(Ordering::SeqCst) {
                let next = Instant::now() + interval;
                let rep = crate::probe::probe(&crate::probe::Options {
                    url: p.url.clone(),
                    method: "GET".into(),
                    headers: p.headers.clone(),
                    timeout,
                    deadline: timeout * 3,
                    idle: Duration::ZERO,
                    lb_idle_timeout: Duration::from_secs(lb_idle),
                    verify: false,
                });
                for v in &rep.violations {
                    let ev = serde_json::json!({
                        "kind": "malformed-output",
                        "source": "probe",
                        "rule": v.rule,
                        "rfc": v.rfc,
                        "url": p.url,
                        "status": rep.status,
                        "message": v.message,
                        "fix": v.fix,
                        "timestamp": crate::time::format_utc(
                            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0),
                            crate::time::Precision::Milli),
                    });
                    if tx.send(ev.to_string().into_bytes()).is_err() || wake.send(()).is_err() {
                        return;
                    }
                }
                while !quit.load(Ordering::SeqCst) {
                    let left = next.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    std::thread::sleep(left.min(Duration::from_millis(200)));
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start the probe of {url}: {e}");
        }
    }
    Some(rx)
}

struct Output {
    sink: Sink,
    /// Events of one poll, written out together.
    stdout: std::io::BufWriter<std::io::Stdout>,
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
        Ok(Output { sink, stdout: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()), file, written, max })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stdout.flush()?;
        if let Some(f) = &mut self.file {
            f.flush()?;
        }
        Ok(())
    }

    fn write(&mut self, line: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            None => {
                self.stdout.write_all(line)?;
                self.stdout.write_all(b"\n")
            }
            Some(f) => {
                f.write_all(line)?;
                f.write_all(b"\n")?;
                self.written += line.len() as u64 + 1;
                if self.written >= self.max
                    && let Sink::File(p) = &self.sink
                {
                    let rotated = PathBuf::from(format!("{}.1", p.display()));
                    std::fs::rename(p, rotated)?;
                    *f = std::fs::OpenOptions::new().create(true).append(true).open(p)?;
                    self.written = 0;
                }
                Ok(())
            }
        }
    }
}

/// Run until SIGTERM/SIGINT. Returns an error message for a fatal start-up problem.
pub fn run(config_path: Option<&Path>, extra: &[PathBuf], opts: &crate::discover::Options) -> Result<(), String> {
    run_with(config_path, extra, opts, None)
}

/// [`run`], with the file events go to when the configuration says `stdout` (the Windows
/// service has no console).
pub fn run_with(config_path: Option<&Path>, extra: &[PathBuf], opts: &crate::discover::Options, stdout_replacement: Option<&Path>) -> Result<(), String> {
    let (tx, rx) = mpsc::channel::<()>();
    install_signals(tx.clone());
    *WAKE.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx.clone());
    let sink_of = |cfg: &Config| match (cfg.sink(), stdout_replacement) {
        (Sink::Stdout, Some(p)) => Sink::File(p.to_path_buf()),
        (s, _) => s,
    };
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
    let mut elb_dir = cfg.elb_log_dir.clone().map(|d| ElbDir::new(d, &state));
    let backends: Vec<crate::correlate::BackendFilter> = if cfg.backends.is_empty() {
        crate::platform::addresses().into_iter().map(|ip| crate::correlate::BackendFilter { ip, port: None }).collect()
    } else {
        cfg.backends.iter().filter_map(|b| crate::correlate::BackendFilter::parse(b).ok()).collect()
    };
    let mut out = Output::open(sink_of(&cfg), cfg.sink_max_bytes).map_err(|e| format!("sink {}: {e}", cfg.sink))?;
    tracing::info!("following {} log(s); state in {}", plan.paths.len(), state.display());

    let mut watcher = make_watcher(tx.clone());
    // Whether some change can only be found by polling (no notify, a watch that failed, a
    // directory on NFS/SMB/FUSE). Otherwise the loop sleeps until something happens.
    let poll_ms = cfg.poll_interval_ms;
    let watch = |w: &mut Option<crate::tail::watch::DirWatcher>, dirs: &[PathBuf]| -> bool {
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
    };
    let mut probe_quit = std::sync::Arc::new(AtomicBool::new(false));
    let mut probe_rx = start_probes(&cfg.probes, cfg.lb_idle_timeout_secs, tx.clone(), probe_quit.clone());
    // New ELB files are found by looking every poll interval (they arrive in batches).
    let mut must_poll = watch(&mut watcher, &tailer.watch_dirs()) || elb_dir.is_some();
    watch(&mut watcher, &plan.config_dirs());

    // One parser per followed file (by inode: a rotated file keeps its format).
    let mut parsers: HashMap<u64, crate::format::Parser> = HashMap::new();
    let mut last_ck = Instant::now();
    let mut last_summary = Instant::now();
    let mut events = 0u64;
    // Lines read since the last checkpoint / summary (nothing to write when idle).
    let mut dirty = false;
    let mut active = false;
    let poll = Duration::from_millis(cfg.poll_interval_ms);
    loop {
        let lines = tailer.poll();
        if !lines.is_empty() {
            dirty = true;
            active = true;
        }
        for l in &lines {
            if l.partial && l.bytes.len() >= cfg.max_line_bytes {
                // a line longer than max_line_bytes: its head was kept, the rest skipped
                let ev = serde_json::json!({
                    "kind": "line-cut",
                    "file": l.path.display().to_string(),
                    "offset": l.offset,
                    "max_line_bytes": cfg.max_line_bytes,
                    "lines_cut": tailer.stats.long_lines_cut,
                });
                if let Err(e) = out.write(ev.to_string().as_bytes()) {
                    tracing::error!("writing an event: {e}");
                }
            }
            let parser = parsers.entry(l.ino).or_insert_with(|| {
                let key = l.path.display().to_string();
                let f = plan
                    .formats
                    .iter()
                    .find(|(p, _)| **p == key || glob::Pattern::new(p).is_ok_and(|g| g.matches(&key)))
                    .map(|(_, f)| f.clone())
                    .or_else(|| crate::read::sample(&l.path, 16 * 1024).ok().and_then(|s| detect::detect(&s)))
                    .unwrap_or(Format::NginxError);
                let mut parser = f.parser();
                if matches!(f, Format::W3c | Format::HttpErr) && l.offset > 0 {
                    prime_w3c(&mut parser, &l.path, l.offset);
                }
                parser
            });
            let Ok(rec) = parser.parse(&l.bytes) else { continue };
            if let Some(class) = classify(&rec) {
                let ev = Event::new(&rec, class, &l.path.display().to_string(), 0);
                // The agent's events carry the byte offset of the line (line numbers are not
                // known when a file is followed from its middle).
                #[derive(serde::Serialize)]
                struct Out<'a> {
                    kind: crate::detect::EventKind,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    problem: Option<crate::detect::Problem>,
                    file: &'a str,
                    offset: u64,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    timestamp: Option<crate::time::Timestamp>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    status: Option<u16>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    source: Option<&'a str>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    request: Option<&'a str>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    client: Option<&'a str>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    upstream: Option<&'a str>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    user_agent: Option<&'a str>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    message: Option<&'a str>,
                }
                let o = Out {
                    kind: ev.kind,
                    problem: ev.problem,
                    file: &ev.file,
                    offset: l.offset,
                    timestamp: ev.timestamp,
                    status: ev.status,
                    source: ev.source,
                    request: ev.request.as_deref(),
                    client: ev.client.as_deref(),
                    upstream: ev.upstream.as_deref(),
                    user_agent: ev.user_agent.as_deref(),
                    message: ev.message.as_deref(),
                };
                if let Err(e) = serde_json::to_vec(&o).map_err(std::io::Error::other).and_then(|v| out.write(&v)) {
                    tracing::error!("writing an event: {e}");
                }
                events += 1;
            }
        }
        if let Some(prx) = &probe_rx {
            while let Ok(ev) = prx.try_recv() {
                if let Err(e) = out.write(&ev) {
                    tracing::error!("writing a probe event: {e}");
                }
                events += 1;
            }
        }
        if let Some(ed) = elb_dir.as_mut() {
            for f in ed.ready() {
                let rep = correlate_file(&cfg, &plan, &f, &backends);
                for fnd in &rep.findings {
                    #[derive(serde::Serialize)]
                    struct Out<'a> {
                        kind: &'static str,
                        #[serde(flatten)]
                        finding: &'a crate::correlate::Finding,
                    }
                    if let Err(e) = serde_json::to_vec(&Out { kind: "lb-finding", finding: fnd }).map_err(std::io::Error::other).and_then(|v| out.write(&v)) {
                        tracing::error!("writing a finding: {e}");
                    }
                    events += 1;
                }
                tracing::info!("{}: {} LB 5xx explained ({} with local evidence)", f.display(), rep.findings.len(), rep.summary.matched);
                ed.mark(&f);
            }
        }
        if let Err(e) = out.flush() {
            tracing::error!("writing events: {e}");
        }
        let stopping = STOP.load(Ordering::SeqCst);
        if stopping || (dirty && last_ck.elapsed() >= Duration::from_secs(cfg.checkpoint_interval_secs)) {
            if let Err(e) = checkpoint::store(&state, &tailer.checkpoint()) {
                tracing::error!("cannot write the checkpoint in {}: {e} (events keep flowing)", state.display());
            }
            last_ck = Instant::now();
            dirty = false;
        }
        if stopping {
            tracing::info!("stopping: {} lines, {events} events, checkpoint written", tailer.stats.lines);
            return Ok(());
        }
        if plan.configs_changed() {
            tracing::info!("a web-server configuration changed: discovering again");
            RELOAD.store(true, Ordering::SeqCst);
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
                    elb_dir = cfg.elb_log_dir.clone().map(|d| ElbDir::new(d, &state));
                    probe_quit.store(true, Ordering::SeqCst);
                    probe_quit = std::sync::Arc::new(AtomicBool::new(false));
                    probe_rx = start_probes(&cfg.probes, cfg.lb_idle_timeout_secs, tx.clone(), probe_quit.clone());
                    must_poll = watch(&mut watcher, &tailer.watch_dirs()) || elb_dir.is_some();
                    watch(&mut watcher, &plan.config_dirs());
                    tracing::info!("reloaded: following {} log(s)", plan.paths.len());
                }
                Err(e) => tracing::error!("reload failed, keeping the running configuration: {e}"),
            }
        }
        if active && cfg.summary_interval_secs > 0 && last_summary.elapsed() >= Duration::from_secs(cfg.summary_interval_secs) {
            active = false;
            let s = &tailer.stats;
            tracing::info!("summary: {} lines, {events} events, {} rotations, {} truncations", s.lines, s.rotations, s.truncations);
            last_summary = Instant::now();
        }
        // Sleep until a watched directory changes or a signal comes — or until the nearest thing
        // that must happen on time: a poll (where events cannot be trusted), a checkpoint of
        // lines already read, a rotated file's rotate_wait. Idle and watched: no wake-ups at all.
        let mut wait: Option<Duration> = None;
        let mut sooner = |d: Duration| wait = Some(wait.map_or(d, |w: Duration| w.min(d)));
        if must_poll {
            sooner(poll);
        }
        if dirty {
            sooner(Duration::from_secs(cfg.checkpoint_interval_secs).saturating_sub(last_ck.elapsed()));
        }
        if tailer.open_files().len() > tailer.live_files() || tailer.has_partial() {
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
            Err(true) => std::thread::sleep(poll),
        }
    }
}

/// A W3C or HTTPERR log names its columns in `#Fields:` lines — at the top, and again after each
/// IIS restart. A file followed from its middle (the first start at its end, or a checkpoint)
/// gets them from the directives before `upto`, read once when its parser is made.
fn prime_w3c(parser: &mut crate::format::Parser, path: &Path, upto: u64) {
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

fn make_watcher(tx: mpsc::Sender<()>) -> Option<crate::tail::watch::DirWatcher> {
    match crate::tail::watch::DirWatcher::new(tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("file notifications are not available ({e}): polling instead");
            None
        }
    }
}
