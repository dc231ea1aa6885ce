//! `elb_log_dir`: ELB/ALB files that arrive there (a cron `aws s3 sync`) are correlated with
//! the local logs on a thread of their own — a million-line file takes seconds, and the agent's
//! own events must not wait for it — and each finding becomes an `lb-finding` event.
//!
//! A file is correlated once it has stopped growing, and never twice (the set of done files is
//! kept in the state directory). Findings reach the agent through a bounded queue: a slow sink
//! slows the correlation, not memory. The directory is walked once per look, each directory
//! once by device and inode (a symlink cycle lists nothing twice).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::event::AgentEvent;
use super::plan::Plan;
use crate::config::Config;

/// How often the directory is looked at.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Findings waiting for the agent loop.
const QUEUE: usize = 1024;

/// New files in the directory, by name and size.
struct ElbDir {
    dir: PathBuf,
    done_path: PathBuf,
    done: BTreeSet<String>,
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

/// What one correlation needs, taken from the configuration and the plan when the worker starts.
struct Job {
    local: Vec<(String, Option<crate::format::Format>)>,
    backends: Vec<crate::correlate::BackendFilter>,
    window_secs: f64,
    burst_min: usize,
    lb_idle_timeout_secs: u64,
    local_zone: Option<(crate::time::Zone, String)>,
}

impl Job {
    /// Correlate one ELB file with the local logs (each with its rotated siblings).
    fn run(&self, f: &Path) -> crate::correlate::Report {
        let mut local = Vec::new();
        for (p, fmt) in &self.local {
            let bases: Vec<PathBuf> =
                if crate::paths::has_glob(p) { glob::glob(p).map(|g| g.filter_map(Result::ok).collect()).unwrap_or_default() } else { vec![PathBuf::from(p)] };
            for b in bases {
                for h in crate::correlate::with_rotated(&b) {
                    local.push(crate::correlate::LocalLog { display: h.display().to_string(), path: h, format: fmt.clone() });
                }
            }
        }
        crate::correlate::correlate(&crate::correlate::Options {
            elb_inputs: vec![f.to_path_buf()],
            local,
            backends: self.backends.clone(),
            all_backends: false,
            window_secs: self.window_secs,
            lb_idle_timeout_secs: self.lb_idle_timeout_secs,
            infer_idle_timeout: false,
            burst_min: self.burst_min,
            threads: 1,
            local_zone: self.local_zone.clone(),
            keepalive: Vec::new(),
            stdin_name: None,
        })
    }
}

/// Start watching `cfg.elb_log_dir`, if it is set, on its own thread; `wake` wakes the agent
/// loop.
pub fn start(cfg: &Config, plan: &Plan, backends: &[crate::correlate::BackendFilter], wake: mpsc::Sender<()>) -> Option<super::Feed> {
    let dir = cfg.elb_log_dir.clone()?;
    let mut elb = ElbDir::new(dir, &cfg.state_dir);
    let job = Job {
        local: plan.paths.iter().map(|p| (p.clone(), plan.format_for(Path::new(p)).cloned())).collect(),
        backends: backends.to_vec(),
        window_secs: cfg.window_secs,
        burst_min: cfg.burst,
        lb_idle_timeout_secs: cfg.lb_idle_timeout_secs,
        local_zone: crate::time::Zone::host(&crate::paths::Root::new(None)),
    };
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    let quit = Arc::new(AtomicBool::new(false));
    let q = quit.clone();
    let spawned = std::thread::Builder::new().name("tailgate-elb".into()).spawn(move || {
        while !q.load(Ordering::SeqCst) {
            for f in elb.ready() {
                let rep = job.run(&f);
                for fnd in rep.findings {
                    if tx.send(AgentEvent::LbFinding(Box::new(fnd))).is_err() {
                        return;
                    }
                    let _ = wake.send(());
                }
                tracing::info!("{}: {} LB 5xx explained ({} with local evidence)", f.display(), rep.summary.lb_5xx, rep.summary.matched);
                elb.mark(&f);
                if q.load(Ordering::SeqCst) {
                    return;
                }
            }
            std::thread::sleep(LOOK_EVERY);
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the elb_log_dir worker: {e}");
        return None;
    }
    Some(super::Feed::new(rx, quit))
}
