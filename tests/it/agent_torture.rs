//! Torture, bounded (about 90 s): a writer appends numbered 502 lines without pause while the
//! real `logrotate` rotates the log every way it can — `create` with `.1`→`.2` shifting and a
//! writer that reopens late (nginx before its USR1), `copytruncate`, `compress` +
//! `delaycompress` — and the agent is stopped with SIGTERM or killed with -9 in between, with
//! rotations while it is down. Judged from the events file at the end: every line exactly once
//! across SIGTERM, at least once across `kill -9` (repeats only from just before a kill), none
//! invented.
//!
//! (copytruncate loses whatever is written between logrotate's copy and its truncation — its
//! own documented race, not the agent's — so the writer pauses during those rotations only.)

use crate::support;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const RATE: u64 = 800; // lines per second
const RUN: Duration = Duration::from_secs(75);

fn open_append(p: &Path) -> std::fs::File {
    std::fs::OpenOptions::new().create(true).append(true).mode(0o644).open(p).unwrap()
}

struct Writer {
    next: Arc<AtomicU64>,
    reopen: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Held by the writer around each write; taken to pause it.
    gate: Arc<Mutex<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

fn writer(log: PathBuf) -> Writer {
    let next = Arc::new(AtomicU64::new(0));
    let reopen = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let gate = Arc::new(Mutex::new(()));
    let (n, r, s, g) = (next.clone(), reopen.clone(), stop.clone(), gate.clone());
    let handle = std::thread::spawn(move || {
        let mut f = open_append(&log);
        let t0 = Instant::now();
        while !s.load(Ordering::SeqCst) {
            if r.swap(false, Ordering::SeqCst) {
                f = open_append(&log);
            }
            {
                let _g = g.lock().unwrap();
                let i = n.load(Ordering::SeqCst);
                let line = format!("10.0.0.1 - - [25/Nov/2026:08:00:00 +0000] \"GET /t?n={i} HTTP/1.1\" 502 5 \"-\" \"torture\"\n");
                f.write_all(line.as_bytes()).unwrap();
                n.store(i + 1, Ordering::SeqCst);
            }
            let due = t0 + Duration::from_secs_f64(n.load(Ordering::SeqCst) as f64 / RATE as f64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    });
    Writer { next, reopen, stop, gate, handle: Some(handle) }
}

fn start_agent(cfg: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--config", cfg.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

fn events(sink: &Path) -> Vec<u64> {
    let mut out = Vec::new();
    for f in [PathBuf::from(format!("{}.1", sink.display())), sink.to_path_buf()] {
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("a broken line in the sink: {e}: {l:?}"));
            if v["kind"] == "http-5xx" {
                let n = v["request"].as_str().and_then(|r| r.split("n=").nth(1)).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok());
                out.push(n.unwrap_or_else(|| panic!("an event for no line we wrote: {v}")));
            }
        }
    }
    out
}

fn logrotate(bin: &Path, dir: &Path, log: &Path, how: &str) {
    let conf = dir.join("logrotate.conf");
    std::fs::write(&conf, format!("{} {{\n  rotate 3\n  missingok\n  {how}\n}}\n", log.display())).unwrap();
    let o = Command::new(bin).arg("-f").arg("-s").arg(dir.join("logrotate.state")).arg(&conf).output().unwrap();
    assert!(o.status.success(), "logrotate ({how}): {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn rotation_every_way_logrotate_does_with_stops_and_kills() {
    let lr = support::need("logrotate");
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let log = dir.join("access.log");
    let sink = dir.join("events.ndjson");
    std::fs::write(&log, "").unwrap();
    let cfg = dir.join("tailgate.toml");
    std::fs::write(
        &cfg,
        format!(
            "logs = [{:?}]\nstate_dir = {:?}\nstart_at = \"beginning\"\ndiscover = false\npoll_interval_ms = 100\ncheckpoint_interval_secs = 1\nrotate_wait_secs = 3\nsink = {:?}\nsink_max_bytes = 1073741824\n",
            log.display().to_string(),
            dir.join("state").display().to_string(),
            sink.display().to_string()
        ),
    )
    .unwrap();
    let mut agent = start_agent(&cfg);
    std::thread::sleep(Duration::from_millis(500));
    let mut w = writer(log.clone());
    // Per kill -9: the highest line in the sink when it died (repeats may come from just below).
    let mut kills: Vec<u64> = Vec::new();
    let (mut terms, mut rotations) = (0, 0);
    let t0 = Instant::now();
    let mut round = 0u64;
    // What happened when (the writer's next line at the time), printed when the test fails.
    let mut timeline: Vec<String> = Vec::new();
    let at = |w: &Writer| w.next.load(Ordering::SeqCst);
    while t0.elapsed() < RUN {
        std::thread::sleep(Duration::from_millis(1200));
        round += 1;
        match round % 3 {
            0 => {
                // create, shifting .1 -> .2; the writer reopens a little later
                timeline.push(format!("{} create", at(&w)));
                logrotate(&lr, dir, &log, "create 0644");
                std::thread::sleep(Duration::from_millis(50 + (round * 37) % 250));
                w.reopen.store(true, Ordering::SeqCst);
            }
            1 => {
                timeline.push(format!("{} copytruncate", at(&w)));
                let _pause = w.gate.lock().unwrap();
                logrotate(&lr, dir, &log, "copytruncate");
            }
            _ => {
                timeline.push(format!("{} create+delaycompress", at(&w)));
                logrotate(&lr, dir, &log, "create 0644\n  compress\n  delaycompress");
                std::thread::sleep(Duration::from_millis(30));
                w.reopen.store(true, Ordering::SeqCst);
            }
        }
        rotations += 1;
        if round.is_multiple_of(4) {
            // Stop (SIGTERM) or kill -9, rotate while it is down, start again.
            let kill = round.is_multiple_of(8);
            timeline.push(format!("{} {}", at(&w), if kill { "kill -9" } else { "SIGTERM" }));
            if kill {
                agent.kill().unwrap();
            } else {
                let _ = Command::new("kill").args(["-TERM", &agent.id().to_string()]).status();
            }
            let st = agent.wait().unwrap();
            if kill {
                kills.push(events(&sink).into_iter().max().unwrap_or(0));
            } else {
                assert_eq!(st.code(), Some(0), "a clean stop");
                terms += 1;
            }
            std::thread::sleep(Duration::from_millis(300));
            if round % 3 == 1 {
                // (a rename rotation while down; the writer follows at once)
                timeline.push(format!("{} create (agent down)", at(&w)));
                logrotate(&lr, dir, &log, "create 0644");
                w.reopen.store(true, Ordering::SeqCst);
                rotations += 1;
            }
            agent = start_agent(&cfg);
            timeline.push(format!("{} started", at(&w)));
        }
    }
    w.stop.store(true, Ordering::SeqCst);
    w.handle.take().unwrap().join().unwrap();
    let written = w.next.load(Ordering::SeqCst);
    // Let the agent catch up, then stop it cleanly.
    let caught_up = Instant::now();
    while events(&sink).into_iter().max() != Some(written - 1) && caught_up.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("kill").args(["-TERM", &agent.id().to_string()]).status();
    assert_eq!(agent.wait().unwrap().code(), Some(0));

    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for n in events(&sink) {
        *seen.entry(n).or_default() += 1;
    }
    let missing: Vec<u64> = (0..written).filter(|n| !seen.contains_key(n)).collect();
    let invented: Vec<u64> = seen.keys().filter(|&&n| n >= written).copied().collect();
    // A repeat is allowed only for a line at most a few checkpoint intervals below a kill.
    let window = RATE * 4;
    let bad_repeats: Vec<u64> = seen.iter().filter(|(n, c)| **c > 1 && !kills.iter().any(|k| **n <= *k && *n + window >= *k)).map(|(n, _)| *n).collect();
    let repeats = seen.values().filter(|c| **c > 1).count();
    eprintln!("torture: {written} lines, {rotations} rotations, {terms} SIGTERM, {} kill -9, {repeats} repeated after kills", kills.len());
    if !missing.is_empty() {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &n in &missing {
            match runs.last_mut() {
                Some(r) if r.1 + 1 == n => r.1 = n,
                _ => runs.push((n, n)),
            }
        }
        panic!("lost {} lines, in runs {runs:?}\ntimeline (writer position, action):\n{}", missing.len(), timeline.join("\n"));
    }
    assert!(invented.is_empty(), "invented {invented:?}");
    assert!(bad_repeats.is_empty(), "repeated without a kill -9 before them: {:?}", &bad_repeats[..bad_repeats.len().min(20)]);
    assert!(terms >= 3 && !kills.is_empty() && rotations >= 40, "the run did what it says");
}
