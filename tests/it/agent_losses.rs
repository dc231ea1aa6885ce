//! The agent as a real process, on each way it used to lose data: a copytruncate right after a
//! burst (by hand and by the real `logrotate`), a full disk under the events file (a real tmpfs
//! filled to the brim), lines that do not parse, a reused inode with another format, a big ELB
//! file in `elb_log_dir` holding up local events, and a backlog read whole into memory.

use crate::support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::agent::start;

fn line(n: u64, status: u16) -> String {
    format!("10.0.0.1 - - [25/Nov/2026:08:00:00 +0000] \"GET /r?n={n} HTTP/1.1\" {status} 5 \"-\" \"curl\"\n")
}

fn lines(from: u64, to: u64, status: u16) -> String {
    (from..to).map(|n| line(n, status)).collect()
}

fn append(p: &Path, s: &str) {
    std::fs::OpenOptions::new().create(true).append(true).open(p).unwrap().write_all(s.as_bytes()).unwrap();
}

/// The request number of an http-5xx event.
fn n_of(e: &Value) -> Option<u64> {
    e["request"].as_str()?.split("n=").nth(1)?.split(' ').next()?.parse().ok()
}

fn config(dir: &Path, logs: &[&Path], extra: &str) -> PathBuf {
    let cfg = dir.join("tailgate.toml");
    let logs: Vec<String> = logs.iter().map(|l| format!("{:?}", l.display().to_string())).collect();
    std::fs::write(
        &cfg,
        format!(
            "logs = [{}]\nstate_dir = {:?}\nstart_at = \"beginning\"\ndiscover = false\npoll_interval_ms = 100\ncheckpoint_interval_secs = 1\nrotate_wait_secs = 1\n{extra}",
            logs.join(", "),
            dir.join("state").display().to_string()
        ),
    )
    .unwrap();
    cfg
}

/// Count of each request number among http-5xx events.
fn counts(events: &[Value]) -> BTreeMap<u64, u32> {
    let mut m = BTreeMap::new();
    for e in events.iter().filter(|e| e["kind"] == "http-5xx") {
        *m.entry(n_of(e).expect("a numbered request")).or_default() += 1;
    }
    m
}

fn exactly_once(m: &BTreeMap<u64, u32>, want: std::ops::Range<u64>, what: &str) {
    let missing: Vec<u64> = want.clone().filter(|n| !m.contains_key(n)).collect();
    let twice: Vec<u64> = m.iter().filter(|(_, c)| **c > 1).map(|(n, _)| *n).collect();
    let invented: Vec<u64> = m.keys().filter(|n| !want.contains(n)).copied().collect();
    assert!(missing.is_empty() && twice.is_empty() && invented.is_empty(), "{what}: missing {missing:?}, twice {twice:?}, invented {invented:?}");
}

/// A burst written right before `cp a.log a.log.1; : > a.log` is only in the copy: read from
/// there (5 of 5 were lost every time). Then the real logrotate with `copytruncate` and
/// `rotate 3` (it shifts a.log.1 to a.log.2 first).
#[test]
fn copytruncate_right_after_a_burst() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("access.log");
    append(&log, "");
    let a = start(&config(d.path(), &[&log], ""));
    std::thread::sleep(Duration::from_millis(500));
    append(&log, &lines(0, 10, 502));
    let mut got = a.take(10, 15);
    // The burst, then at once the copy and the truncation (no chance for the agent to read it).
    append(&log, &lines(10, 15, 502));
    std::fs::copy(&log, d.path().join("access.log.1")).unwrap();
    std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
    append(&log, &lines(15, 17, 502));
    got.extend(a.take(7, 15));
    exactly_once(&counts(&got), 0..17, "by hand");

    let logrotate = support::need("logrotate");
    let conf = d.path().join("logrotate.conf");
    std::fs::write(&conf, format!("{} {{\n  copytruncate\n  rotate 3\n  missingok\n}}\n", log.display())).unwrap();
    append(&log, &lines(17, 22, 502));
    let st = Command::new(logrotate).arg("-f").arg("-s").arg(d.path().join("logrotate.state")).arg(&conf).output().unwrap();
    assert!(st.status.success(), "logrotate: {}", String::from_utf8_lossy(&st.stderr));
    assert!(d.path().join("access.log.2").exists(), "logrotate shifted .1 to .2");
    append(&log, &lines(22, 24, 502));
    got.extend(a.take(7, 15));
    got.extend(a.take(1, 2));
    exactly_once(&counts(&got), 0..24, "through logrotate copytruncate");
}

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn fill(dir: &Path) -> PathBuf {
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).unwrap();
    let block = vec![0u8; 4096];
    while f.write_all(&block).is_ok() {}
    // (the last partial block too)
    while f.write_all(&[0u8]).is_ok() {}
    p
}

fn agent_with_stderr(cfg: &Path, err: &Path) -> support::agent::Agent {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tailgate"))
        .args(["--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(err).unwrap())
        .spawn()
        .unwrap();
    let _ = child.stdout.take();
    let (_tx, rx) = std::sync::mpsc::channel();
    support::agent::Agent { child, rx }
}

fn sink_events(p: &Path) -> Vec<Value> {
    let mut all = Vec::new();
    for f in [PathBuf::from(format!("{}.1", p.display())), p.to_path_buf()] {
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        for l in text.lines() {
            all.push(serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("a torn or broken line in the sink: {e}: {l:?}")));
        }
    }
    all
}

fn wait_for(mut ok: impl FnMut() -> bool, secs: u64) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ok()
}

/// The events file on a real tmpfs filled to the brim: nothing is dropped, no line is torn, the
/// checkpoint does not pass unwritten events, and the agent says so once — then writes them all
/// when space comes back, by itself or after a stop and restart.
#[test]
fn a_full_disk_under_the_sink_loses_nothing() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED a_full_disk_under_the_sink_loses_nothing: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let mnt = d.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let st = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tailgate-test"]).arg(&mnt).status().unwrap();
    assert!(st.success(), "mount a tmpfs");
    let _m = Mount(mnt.clone());
    let sink = mnt.join("events.ndjson");
    let log = d.path().join("access.log");
    append(&log, "");
    let cfg = config(d.path(), &[&log], &format!("sink = {:?}\nsink_max_bytes = 1073741824\n", sink.display().to_string()));

    // 1. Full, then space again while the agent runs.
    let filler = fill(&mnt);
    let err1 = d.path().join("stderr1");
    let mut a = agent_with_stderr(&cfg, &err1);
    std::thread::sleep(Duration::from_millis(500));
    append(&log, &lines(0, 1000, 502));
    std::thread::sleep(Duration::from_secs(3));
    assert!(a.child.try_wait().unwrap().is_none(), "the agent keeps running");
    assert!(sink_events(&sink).is_empty(), "nothing fits (and nothing is torn)");
    std::fs::remove_file(&filler).unwrap();
    assert!(wait_for(|| counts(&sink_events(&sink)).len() == 1000, 15), "written once space came back: {}", counts(&sink_events(&sink)).len());
    exactly_once(&counts(&sink_events(&sink)), 0..1000, "recovered while running");

    // 2. Full again, then a stop while failing, space, and a restart.
    let filler = fill(&mnt);
    append(&log, &lines(1000, 3100, 502));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(a.signal("TERM"), Some(0), "a clean stop, even with events held");
    let err = std::fs::read_to_string(&err1).unwrap();
    let failing = err.lines().filter(|l| l.contains("events sink") && l.contains("holding")).count();
    let recovered = err.lines().filter(|l| l.contains("events sink") && l.contains("writing again")).count();
    assert_eq!((failing, recovered), (2, 1), "one line per change of state, not one per event:\n{err}");
    assert!(err.lines().count() < 20, "stderr stays short:\n{err}");
    let partial = sink_events(&sink);
    std::fs::remove_file(&filler).unwrap();
    let err2 = d.path().join("stderr2");
    let mut b = agent_with_stderr(&cfg, &err2);
    assert!(
        wait_for(|| counts(&sink_events(&sink)).len() == 3100, 20),
        "every event after the restart: {} (had {} before)",
        counts(&sink_events(&sink)).len(),
        counts(&partial).len()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(b.signal("TERM"), Some(0));
    exactly_once(&counts(&sink_events(&sink)), 0..3100, "across a full disk, a stop and a restart");
}

/// Lines that do not parse are counted and reported (`bad-line`, rate-limited per file, with
/// the offset and the reason); a file in no known format is said so, not read as an nginx
/// error log.
#[test]
fn unparsed_lines_are_counted_and_reported() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("access.log");
    let junk = d.path().join("junk.log");
    append(&log, &line(0, 200));
    append(&junk, "");
    let a = start(&config(d.path(), &[&log, &junk], ""));
    std::thread::sleep(Duration::from_millis(500));
    let garbage = "this is not an access log line\n";
    append(&log, &format!("{}{garbage}{garbage}{}{garbage}", line(1, 502), line(2, 503)));
    append(&junk, "\u{1}\u{2} binary noise\n\u{3}\u{4} more\n");
    let ev = a.take(4, 10);
    let bad: Vec<&Value> = ev.iter().filter(|e| e["kind"] == "bad-line").collect();
    let on_log: Vec<&&Value> = bad.iter().filter(|e| e["file"] == log.display().to_string()).collect();
    assert_eq!(on_log.len(), 1, "one event for the burst of bad lines (rate-limited): {ev:?}");
    let first_bad_offset = (line(0, 200).len() + line(1, 502).len()) as u64;
    assert_eq!(on_log[0]["offset"], first_bad_offset);
    assert_eq!(on_log[0]["bad_lines"], 1);
    assert!(on_log[0]["excerpt"].as_str().unwrap().starts_with("this is not"), "{}", on_log[0]);
    assert!(!on_log[0]["reason"].as_str().unwrap().is_empty());
    let on_junk: Vec<&&Value> = bad.iter().filter(|e| e["file"] == junk.display().to_string()).collect();
    assert_eq!(on_junk.len(), 1, "{ev:?}");
    assert!(on_junk[0]["reason"].as_str().unwrap().contains("not recognised"), "{}", on_junk[0]);
    exactly_once(&counts(&ev), 1..3, "the good lines around the bad ones");
}

/// A file's parser (and W3C `#Fields`) belong to the followed file, not to its inode: a new file
/// at a reused inode in another format is read in its own format.
#[test]
fn a_reused_inode_with_another_format() {
    use std::os::unix::fs::MetadataExt;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("logs");
    std::fs::create_dir(&dir).unwrap();
    let first = dir.join("a.log");
    append(&first, &line(0, 502));
    let pattern = dir.join("*.log");
    let a = start(&config(d.path(), &[&pattern], ""));
    let ev = a.take(1, 10);
    assert_eq!(ev[0]["kind"], "http-5xx", "{ev:?}");
    let ino = std::fs::metadata(&first).unwrap().ino();
    std::fs::remove_file(&first).unwrap();
    std::thread::sleep(Duration::from_millis(800)); // the agent sees it gone and releases it
    // A W3C log, at the same inode where the file system gives it back.
    let w3c = "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2026-11-25 08:00:00\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n2026-11-25 08:00:01 10.0.0.5 GET /iis n=7 80 - 10.0.0.9 curl/8.0 - 500 0 0 15\n";
    let mut reused = false;
    let mut made = Vec::new();
    for i in 0..50 {
        let p = dir.join(format!("w{i}.tmp"));
        std::fs::write(&p, w3c).unwrap();
        if std::fs::metadata(&p).unwrap().ino() == ino {
            std::fs::rename(&p, dir.join("w.log")).unwrap();
            reused = true;
            break;
        }
        made.push(p);
    }
    if !reused {
        eprintln!("note: the file system did not give inode {ino} back; the W3C file is a new inode");
        std::fs::write(dir.join("w.log"), w3c).unwrap();
    }
    let ev = a.take(1, 10);
    assert_eq!(ev.len(), 1, "the W3C 500 is read as W3C (reused inode: {reused}): {ev:?}");
    assert_eq!((ev[0]["kind"].as_str(), ev[0]["status"].as_u64()), (Some("http-5xx"), Some(500)), "{ev:?}");
    assert!(ev[0]["request"].as_str().unwrap().contains("/iis"), "{ev:?}");
}

/// A million-line ELB file in `elb_log_dir` is correlated on its own thread: a local 5xx
/// written meanwhile reaches the sink within a second (it took 29 s).
#[test]
fn elb_log_dir_does_not_hold_up_local_events() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("access.log");
    append(&log, "");
    let elb_dir = d.path().join("elb");
    std::fs::create_dir(&elb_dir).unwrap();
    let a = start(&config(d.path(), &[&log], &format!("elb_log_dir = {:?}\nbackends = [\"10.0.1.11\"]\n", elb_dir.display().to_string())));
    // 1 M lines, a 502 from this backend every 10th.
    let big = d.path().join("big.log.tmp");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        for i in 0..1_000_000u64 {
            let (elb, be) = if i % 10 == 0 { (502, "502") } else { (200, "200") };
            writeln!(
                w,
                "2026-11-25T08:{:02}:{:02}.{:06}Z lb 203.0.113.{}:{} 10.0.1.11:80 0.000025 0.001 0.000032 {elb} {be} 0 157 \"GET http://x:80/p{i} HTTP/1.1\" \"curl\" - -",
                (i / 60000) % 60,
                (i / 1000) % 60,
                i % 1000 * 1000,
                i % 250,
                1024 + i % 60000
            )
            .unwrap();
        }
    }
    std::fs::rename(&big, elb_dir.join("big.log")).unwrap();
    // The worker picks it up once it has not grown for a look (about 2 s), then correlates.
    std::thread::sleep(Duration::from_secs(4));
    let mut worst = Duration::ZERO;
    for n in 0..3u64 {
        let t0 = Instant::now();
        append(&log, &line(n, 502));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match a.rx.recv_timeout(left) {
                Ok(e) if e["kind"] == "http-5xx" && n_of(&e) == Some(n) => break,
                Ok(_) => continue,
                Err(_) => panic!("local event {n} never came"),
            }
        }
        worst = worst.max(t0.elapsed());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(worst <= Duration::from_secs(1), "a local 5xx took {worst:?} while the ELB file was being correlated");
}

/// A 200 MB backlog at `start_at = "beginning"` is read a few MiB at a time: peak RSS ≤ 64 MB
/// (it was 548 MB).
#[test]
fn a_backlog_is_read_in_bounded_memory() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("access.log");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
        let mut n = 0u64;
        let mut size = 0usize;
        while size < 200 << 20 {
            let l = line(n, 200);
            size += l.len();
            w.write_all(l.as_bytes()).unwrap();
            n += 1;
        }
        w.write_all(line(u64::MAX / 2, 502).as_bytes()).unwrap();
    }
    let a = start(&config(d.path(), &[&log], ""));
    let ev = a.take(1, 120);
    assert_eq!(ev.first().and_then(n_of), Some(u64::MAX / 2), "the last line's event after 200 MB: {ev:?}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", a.child.id())).unwrap();
    let hwm_kb: u64 = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(hwm_kb <= 64 * 1024, "peak RSS {hwm_kb} KiB reading a 200 MB backlog");
}
