//! The agent (no mode flag), as a real process: events as NDJSON on stdout, checkpoints, a
//! graceful stop with 0 duplicates, a kill -9 with no loss, and a real nginx whose log the real
//! `logrotate` rotates (create and copytruncate) under load — every request exactly once.

use crate::support;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use support::agent::{start, start_with};

fn line(n: u64, status: u16) -> String {
    format!("10.0.0.1 - - [25/Nov/2026:08:00:00 +0000] \"GET /r?n={n} HTTP/1.1\" {status} 5 \"-\" \"curl\"\n")
}

fn append(p: &Path, s: &str) {
    std::fs::OpenOptions::new().create(true).append(true).open(p).unwrap().write_all(s.as_bytes()).unwrap();
}

fn n_of(e: &Value) -> u64 {
    let r = e["request"].as_str().unwrap();
    r.split("n=").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap()
}

fn config(dir: &Path, logs: &[&Path]) -> std::path::PathBuf {
    let cfg = dir.join("tailgate.toml");
    let logs: Vec<String> = logs.iter().map(|l| format!("{:?}", l.display().to_string())).collect();
    std::fs::write(
        &cfg,
        format!(
            "logs = [{}]\nstate_dir = {:?}\nstart_at = \"beginning\"\ndiscover = false\npoll_interval_ms = 100\ncheckpoint_interval_secs = 1\nrotate_wait_secs = 2\n",
            logs.join(", "),
            dir.join("state").display().to_string()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn restart_and_crash_lose_nothing() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("access.log");
    append(&log, &(line(0, 200) + &line(1, 502)));
    let cfg = config(d.path(), &[&log]);
    let mut a = start(&cfg);
    let ev = a.take(1, 10);
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0]["kind"].as_str(), ev[0]["status"].as_u64(), n_of(&ev[0])), (Some("http-5xx"), Some(502), 1));
    assert_eq!(ev[0]["file"], log.display().to_string());
    assert!(ev[0]["offset"].as_u64().unwrap() > 0);
    append(&log, &(line(2, 500) + &line(3, 200) + &line(4, 503)));
    let ev = a.take(2, 10);
    assert_eq!(ev.iter().map(n_of).collect::<Vec<_>>(), [2, 4]);
    // graceful stop: a final checkpoint, then nothing again after the restart
    assert_eq!(a.signal("TERM"), Some(0));
    assert!(d.path().join("state/checkpoints.json").exists());
    append(&log, &line(5, 504));
    let mut a = start(&cfg);
    let ev = a.take(3, 5);
    assert_eq!(ev.iter().map(n_of).collect::<Vec<_>>(), [5], "only the new line: 0 duplicates after SIGTERM");
    // kill -9: no loss; duplicates only since the last checkpoint (≤ 1 s ago)
    std::thread::sleep(Duration::from_millis(1500));
    append(&log, &(line(6, 500) + &line(7, 500)));
    assert_eq!(a.take(2, 10).len(), 2);
    a.signal("KILL");
    append(&log, &line(8, 500));
    let a = start(&cfg);
    let ev: Vec<u64> = a.take(10, 4).iter().map(n_of).collect();
    assert!(ev.contains(&8), "the line written while the agent was down: {ev:?}");
    assert!(ev.iter().all(|n| [6, 7, 8].contains(n)), "at most the lines since the last checkpoint repeat: {ev:?}");
    drop(a);
}

#[test]
fn bad_config_is_an_error_naming_the_key() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("t.toml");
    std::fs::write(&cfg, "sinkk = \"stdout\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--config", cfg.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("t.toml") && e.contains("sinkk"), "{e}");
}

/// Real nginx under a bounded load on 127.0.0.1 while the real logrotate rotates its access log
/// with `create` (nginx reopens on USR1) and with `copytruncate`; every request exactly once.
#[test]
fn nginx_under_load_through_logrotate() {
    let logrotate = support::need("logrotate");
    let backend = support::Backend::start();
    let dn = support::server_dir();
    let ng = support::nginx(dn.path(), backend.port, None);
    let access = ng.access_log();
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), &[&access]);
    let mut a = start(&cfg);
    std::thread::sleep(Duration::from_millis(500));
    let rotate = |copytruncate: bool, i: usize| {
        let conf = d.path().join(format!("lr{i}.conf"));
        let how = if copytruncate {
            "copytruncate".to_string()
        } else {
            format!("create\n    postrotate\n        kill -USR1 $(cat {}/nginx.pid)\n    endscript", dn.path().display())
        };
        std::fs::write(&conf, format!("{} {{\n    rotate 10\n    missingok\n    nocompress\n    {how}\n}}\n", access.display())).unwrap();
        let st = Command::new(&logrotate).args(["-f", "-s"]).arg(d.path().join("lr.state")).arg(&conf).status().unwrap();
        assert!(st.success(), "logrotate failed");
    };
    // Every request is an application 500, so every request is an event.
    let mut n = 0u64;
    let mut burst = |count: u64| {
        for _ in 0..count {
            support::get(ng.port, &format!("/app-500?n={n}"));
            n += 1;
        }
    };
    burst(200);
    rotate(false, 1); // create: nginx keeps writing the renamed file until USR1 reopens
    burst(200);
    std::thread::sleep(Duration::from_millis(600)); // the agent catches up before the copy
    rotate(true, 2); // copytruncate (the load pauses during the copy: logrotate's own loss window stays out)
    burst(200);
    rotate(false, 3);
    burst(200);
    let total = n;
    let mut ev = a.take(total as usize, 30);
    ev.extend(a.take(50, 1)); // anything more would be a duplicate
    a.signal("TERM");
    let mut seen: Vec<u64> = ev.iter().map(n_of).collect();
    let count = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), count, "no request twice");
    assert_eq!(seen, (0..total).collect::<Vec<_>>(), "every request exactly once");
}

/// `elb_log_dir`: ELB files that arrive are correlated with the followed logs, once, and their
/// findings come out as events.
#[test]
fn continuous_correlation_of_arriving_elb_files() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("access.log");
    append(&log, "203.0.113.7 - - [25/Nov/2026:08:00:01 +0000] \"GET /api/x HTTP/1.1\" 500 4 \"-\" \"curl/8\"\n");
    let elb = d.path().join("elb");
    std::fs::create_dir_all(&elb).unwrap();
    let cfg = config(d.path(), &[&log]);
    let mut c = std::fs::read_to_string(&cfg).unwrap();
    c.push_str(&format!("elb_log_dir = {:?}\nbackends = [\"10.0.1.5:80\"]\n", elb.display().to_string()));
    std::fs::write(&cfg, c).unwrap();
    let mut a = start(&cfg);
    assert_eq!(a.take(1, 10).len(), 1, "the local 500 first");
    std::fs::write(
        elb.join("123_elasticloadbalancing_eu-west-1_lb_20261125T0800Z_10.0.0.1_x.log"),
        "2026-11-25T08:00:00.900000Z lb 203.0.113.7:4000 10.0.1.5:80 0.000020 0.100000 0.000010 500 500 0 4 \"GET http://x.example.com:80/api/x HTTP/1.1\" \"curl/8\" - -\n",
    )
    .unwrap();
    let ev = a.take(1, 10);
    assert_eq!(ev.len(), 1, "one finding");
    let f = &ev[0];
    assert_eq!((f["kind"].as_str(), f["cause"].as_str(), f["source"].as_str()), (Some("lb-finding"), Some("backend-5xx"), Some("backend")));
    assert_eq!(f["evidence"][0]["file"], log.display().to_string());
    assert_eq!(f["evidence"][0]["line"], 1);
    assert!(a.take(1, 3).is_empty(), "the file is correlated once");
    a.signal("TERM");
    assert!(d.path().join("state/elb-done.json").exists());
}

/// Editing a web server's configuration makes the agent discover again and follow the new log.
#[test]
fn a_config_change_triggers_discovery() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    std::fs::create_dir_all(root.join("etc/nginx")).unwrap();
    std::fs::create_dir_all(root.join("var/log/nginx")).unwrap();
    std::fs::write(root.join("etc/os-release"), "ID=debian\nVERSION_ID=12\n").unwrap();
    let conf = root.join("etc/nginx/nginx.conf");
    std::fs::write(&conf, "events {}\nhttp {\n access_log /var/log/nginx/a.log;\n server { listen 80; }\n}\n").unwrap();
    std::fs::write(root.join("var/log/nginx/a.log"), "").unwrap();
    let cfg = d.path().join("t.toml");
    std::fs::write(&cfg, format!("state_dir = {:?}\nstart_at = \"beginning\"\npoll_interval_ms = 100\n", d.path().join("state").display().to_string()))
        .unwrap();
    let mut a = start_with(&cfg, &["--root", root.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(500));
    append(&root.join("var/log/nginx/a.log"), &line(1, 500));
    let ev = a.take(1, 10);
    assert_eq!(ev.len(), 1);
    assert!(ev[0]["file"].as_str().unwrap().ends_with("/a.log"));
    std::fs::write(root.join("var/log/nginx/b.log"), "").unwrap();
    std::fs::write(&conf, "events {}\nhttp {\n access_log /var/log/nginx/b.log;\n server { listen 80; }\n}\n").unwrap();
    std::thread::sleep(Duration::from_millis(800));
    append(&root.join("var/log/nginx/b.log"), &line(2, 502));
    let ev = a.take(1, 10);
    assert_eq!(ev.len(), 1, "the new log is followed after the edit");
    assert!(ev[0]["file"].as_str().unwrap().ends_with("/b.log"));
    assert_eq!(a.signal("TERM"), Some(0));
}

/// `probes`: the agent probes a URL periodically; a response the load balancer would reject is a
/// malformed-output event naming the rule.
#[test]
fn periodic_probes_emit_malformed_output_events() {
    let backend = support::Backend::start();
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("t.toml");
    std::fs::write(
        &cfg,
        format!(
            "state_dir = {:?}\ndiscover = false\n[[probes]]\nurl = \"http://127.0.0.1:{}/invalid-header\"\ninterval_secs = 1\ntimeout_secs = 2\n[[probes]]\nurl = \"http://127.0.0.1:{}/ok\"\ninterval_secs = 1\n",
            d.path().join("state").display().to_string(),
            backend.port,
            backend.port
        ),
    )
    .unwrap();
    let mut a = start(&cfg);
    let ev = a.take(2, 10);
    assert!(ev.len() >= 2, "{ev:?}");
    for e in &ev {
        assert_eq!((e["kind"].as_str(), e["source"].as_str(), e["rule"].as_str()), (Some("malformed-output"), Some("probe"), Some("header-syntax")));
        assert!(e["url"].as_str().unwrap().ends_with("/invalid-header"), "the clean URL gives no event: {e}");
    }
    assert_eq!(a.signal("TERM"), Some(0));
}

/// A file sink rotates at `sink_max_bytes`; an over-long line is cut and said so.
#[test]
fn file_sink_rotates_and_long_lines_are_reported() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("access.log");
    append(&log, "");
    let sink = d.path().join("out/events.ndjson");
    let cfg = config(d.path(), &[&log]);
    let mut c = std::fs::read_to_string(&cfg).unwrap();
    c.push_str(&format!("sink = {:?}\nsink_max_bytes = 2000\nmax_line_bytes = 4096\n", sink.display().to_string()));
    std::fs::write(&cfg, c).unwrap();
    let mut a = start(&cfg);
    std::thread::sleep(Duration::from_millis(400));
    let mut data = String::new();
    for n in 0..40 {
        data.push_str(&line(n, 500));
    }
    data.push_str(&"x".repeat(10_000));
    data.push('\n');
    append(&log, &data);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(a.signal("TERM"), Some(0));
    let cur = std::fs::read_to_string(&sink).unwrap();
    let old = std::fs::read_to_string(d.path().join("out/events.ndjson.1")).expect("rotated once past 2000 bytes");
    assert!(std::fs::metadata(&sink).unwrap().len() < 2000 + 1000);
    let all: Vec<Value> = old.lines().chain(cur.lines()).map(|l| serde_json::from_str(l).unwrap()).collect();
    let ns: Vec<u64> = all.iter().filter(|e| e["kind"] == "http-5xx").map(n_of).collect();
    // one rotation keeps events.ndjson.1 only: the newest events are all there, in order
    assert!(ns.windows(2).all(|w| w[1] == w[0] + 1) && *ns.last().unwrap() == 39, "{ns:?}");
    let cut: Vec<&Value> = all.iter().filter(|e| e["kind"] == "line-cut").collect();
    assert_eq!(cut.len(), 1, "the 10 000-byte line is cut at 4096 and reported");
    assert_eq!(cut[0]["max_line_bytes"], 4096);
}

/// IIS declares a W3C log's columns once at the top (`#Fields:`), and again only after a
/// restart. Followed from its end — the first start, or resuming from a checkpoint — the agent
/// still knows them.
#[test]
fn w3c_followed_from_its_middle_knows_its_fields() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("u_ex261125.log");
    let header = "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2026-11-25 08:00:00\r\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n";
    let w3c = |n: u64, status: u16| format!("2026-11-25 08:00:{:02} 10.0.0.5 GET /r n={n} 80 - 10.0.0.9 curl/8.0 - {status} 0 0 15\r\n", n % 60);
    append(&log, &(header.to_string() + &w3c(0, 500) + &w3c(1, 200)));
    let cfg = config(d.path(), &[&log]);
    let text = std::fs::read_to_string(&cfg).unwrap().replace("start_at = \"beginning\"", "start_at = \"end\"");
    std::fs::write(&cfg, text).unwrap();
    let mut a = start(&cfg);
    // Append until the agent has taken its starting position (lines before it are rightly skipped).
    let mut ev = Vec::new();
    for n in 2..40 {
        append(&log, &w3c(n, 502));
        ev = a.take(1, 1);
        if !ev.is_empty() {
            break;
        }
    }
    assert_eq!(ev.len(), 1, "no event for a 502 appended to a W3C log followed from its end");
    assert_eq!((ev[0]["kind"].as_str(), ev[0]["status"].as_u64()), (Some("http-5xx"), Some(502)));
    let n = n_of(&ev[0]);
    assert!(n >= 2, "line {n} was written before the agent started (start_at = end)");
    assert_eq!(ev[0]["request"].as_str(), Some(format!("GET /r?n={n}")).as_deref());
    assert_eq!(a.signal("TERM"), Some(0));
    // Resumed from the checkpoint: the columns again, and after an IIS restart, the new ones.
    append(&log, &w3c(50, 503));
    append(&log, "#Software: Microsoft Internet Information Services 10.0\r\n#Fields: date time c-ip cs-method cs-uri-stem sc-status time-taken\r\n");
    append(&log, "2026-11-25 09:00:00 10.0.0.9 GET /after-restart 504 30000\r\n");
    let a = start(&cfg);
    let ev = a.take(2, 10);
    let got: Vec<(Option<u64>, Option<&str>)> = ev.iter().map(|e| (e["status"].as_u64(), e["request"].as_str())).collect();
    assert_eq!(got, [(Some(503), Some("GET /r?n=50")), (Some(504), Some("GET /after-restart"))]);
    drop(a);
}

/// PHP-FPM's messages carry raw newlines into nginx's error log: the agent reports the record
/// once, whole, at its first line's offset — its continuation lines are not bad lines, whether
/// they arrive with it or (split by a read) later.
#[test]
fn nginx_error_records_with_continuation_lines() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("error.log");
    // Filebeat's test file (tests/fixtures/realworld): one 3-line PHP record among one-liners.
    let real = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realworld/beats-nginx-error.log")).unwrap();
    append(&log, &real);
    let cfg = config(d.path(), &[&log]);
    let mut a = start(&cfg);
    let ev = a.take(1, 10);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0]["kind"].as_str(), ev[0]["problem"].as_str()), (Some("upstream-error"), Some("app-stderr")));
    let msg = ev[0]["message"].as_str().unwrap();
    assert_eq!(msg.matches("PHP message:").count(), 3, "the whole record: {msg}");
    let third = real.lines().take(2).map(|l| l.len() as u64 + 1).sum::<u64>();
    assert_eq!(ev[0]["offset"].as_u64(), Some(third), "at its first line");
    assert!(ev[0]["timestamp"].as_str().unwrap().ends_with('Z'), "an instant, read in the host's zone: {}", ev[0]);
    // A record whose continuation arrives in a later write: still no bad line.
    append(&log, "2026/11/28 10:00:00 [error] 7#7: *9 FastCGI sent in stderr: \"PHP message: PHP Fatal error:  boom\n");
    std::thread::sleep(Duration::from_millis(600));
    append(
        &log,
        "PHP message: second line\" while reading response header from upstream, client: 10.0.0.1, server: x, request: \"GET /php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php-fpm.sock:\", host: \"x\"\n",
    );
    append(
        &log,
        "2026/11/28 10:00:01 [error] 7#7: *10 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: x, request: \"GET /down HTTP/1.1\", upstream: \"http://127.0.0.1:9/down\", host: \"x\"\n",
    );
    let ev = a.take(2, 10);
    let kinds: Vec<(&str, &str)> = ev.iter().map(|e| (e["kind"].as_str().unwrap(), e["problem"].as_str().unwrap_or("-"))).collect();
    assert_eq!(kinds, [("upstream-error", "app-stderr"), ("upstream-error", "connect-failed")], "{ev:?}");
    assert!(a.take(1, 2).is_empty(), "no bad-line event");
    assert_eq!(a.signal("TERM"), Some(0));
}
