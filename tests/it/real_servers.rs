//! Real nginx and Apache httpd in front of a misbehaving backend; `tailgate --scan` must report
//! exactly the 5xx and malformed-output events those servers actually wrote.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{BEHAVIOURS, Backend};

fn scan(paths: &[&Path], extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--scan", "--format", "ndjson"]).args(extra).args(paths).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut events = Vec::new();
    let mut logs = Vec::new();
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        if v["type"] == "event" { events.push(v) } else { logs.push(v) }
    }
    serde_json::json!({"events": events, "logs": logs})
}

/// Drive every behaviour once through the proxy.
fn drive(port: u16) {
    for (path, _) in BEHAVIOURS {
        support::get(port, path);
    }
}

/// Independent reading of a combined access log: status per request path.
fn statuses(access: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(access)
        .unwrap()
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.split('"').collect();
            let path = parts[1].split_whitespace().nth(1).unwrap().to_string();
            let status = parts[2].split_whitespace().next().unwrap().to_string();
            (path, status)
        })
        .collect()
}

fn dump(dir: &Path) -> String {
    format!(
        "--- access.log\n{}\n--- error.log\n{}",
        std::fs::read_to_string(dir.join("access.log")).unwrap_or_default(),
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    )
}

/// Error-log lines that name a backend failure, found independently of tailgate (plain substring
/// search for the messages these servers write), as 1-based line numbers.
fn failure_lines(error_log: &Path) -> Vec<u64> {
    const NEEDLES: &[&str] = &["upstream sent", "upstream prematurely", "upstream timed out", "() failed (", "AH01102", "AH00898", "AH01106"];
    std::fs::read_to_string(error_log).unwrap().lines().enumerate().filter(|(_, l)| NEEDLES.iter().any(|n| l.contains(n))).map(|(i, _)| i as u64 + 1).collect()
}

/// Check tailgate's events against the server's own logs, and return path → problems from the
/// error log.
fn check(dir: &Path, scan: &Value) -> BTreeMap<String, Vec<String>> {
    let access = dir.join("access.log");
    let error = dir.join("error.log");
    let events = scan["events"].as_array().unwrap();
    let ctx = dump(dir);

    // Access log: every 5xx and every 009 the server wrote is an event, and nothing else is.
    let st = statuses(&access);
    let mut want: Vec<(String, String, String)> = st
        .iter()
        .filter(|(_, s)| s.starts_with('5') || *s == "009")
        .map(|(p, s)| (p.clone(), s.trim_start_matches('0').to_string(), if s == "009" { "malformed-output" } else { "http-5xx" }.to_string()))
        .collect();
    let mut got: Vec<(String, String, String)> = events
        .iter()
        .filter(|e| e["file"] == access.to_str().unwrap())
        .map(|e| {
            let path = e["request"].as_str().unwrap().split_whitespace().nth(1).unwrap().to_string();
            (path, e["status"].to_string(), e["kind"].as_str().unwrap().to_string())
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{ctx}");

    // Error log: exactly the failure lines are events, each with its request path.
    let err_events: Vec<&Value> = events.iter().filter(|e| e["file"] == error.to_str().unwrap()).collect();
    let lines: Vec<u64> = err_events.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, failure_lines(&error), "{ctx}");
    let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in err_events {
        let req = e["request"].as_str().unwrap_or_else(|| panic!("error event without a request: {e}\n{ctx}"));
        let path = req.split_whitespace().find(|p| p.starts_with('/')).unwrap().to_string();
        by_path.entry(path).or_default().push(e["problem"].as_str().unwrap().to_string());
    }
    // The per-log summary agrees with the events.
    let log = scan["logs"].as_array().unwrap().iter().find(|l| l["path"] == access.to_str().unwrap()).unwrap();
    let n5xx: u64 = log["status_5xx"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(n5xx, st.values().filter(|s| s.starts_with('5')).count() as u64);
    assert_eq!(log["bad_lines"], 0, "{ctx}");
    by_path
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn nginx_and_apache_failures_are_reported_as_the_servers_wrote_them() {
    let backend = Backend::start();
    let d1 = support::server_dir();
    let mut ng = support::nginx(d1.path(), backend.port, None);
    let d2 = support::server_dir();
    let mut ap = support::apache(d2.path(), backend.port);
    std::thread::scope(|s| {
        s.spawn(|| drive(ng.port));
        s.spawn(|| drive(ap.port));
    });
    ng.stop();
    ap.stop();

    // nginx: format detected (combined access log, nginx error log).
    let scan_ng = scan(&[&ng.access_log(), &ng.error_log()], &[]);
    let formats: Vec<&str> = scan_ng["logs"].as_array().unwrap().iter().map(|l| l["format"].as_str().unwrap()).collect();
    assert_eq!(formats, ["nginx:combined", "nginx-error"]);
    let st = statuses(&ng.access_log());
    assert_eq!(st["/bad-status"], "009", "nginx passes a response without a status line through as HTTP/0.9");
    let by_path = check(ng.dir.as_path(), &scan_ng);
    let mut want = BTreeMap::new();
    want.insert("/invalid-header".to_string(), v(&["invalid-header"]));
    want.insert("/bad-status".to_string(), v(&["invalid-status-line"]));
    want.insert("/early-close".to_string(), v(&["premature-close"]));
    want.insert("/reset".to_string(), v(&["connection-reset"]));
    want.insert("/slow".to_string(), v(&["timeout"]));
    assert_eq!(by_path, want, "{}", dump(ng.dir.as_path()));

    // Apache: the access log is the same shape as nginx's combined, so force Apache's format.
    let scan_ap = scan(&[&ap.access_log()], &["--log-format", "apache-combined"]);
    let scan_err = scan(&[&ap.error_log()], &[]);
    assert_eq!(scan_err["logs"][0]["format"], "apache-error");
    let mut both = scan_ap.clone();
    both["events"].as_array_mut().unwrap().extend(scan_err["events"].as_array().unwrap().iter().cloned());
    let by_path = check(ap.dir.as_path(), &both);
    let mut want = BTreeMap::new();
    // Apache 2.4 answers 502 and logs AH01106 for an unparsable header section.
    want.insert("/invalid-header".to_string(), v(&["invalid-header"]));
    // AH01102 says why (errno), AH00898 names the path of the 502 it then sent.
    want.insert("/early-close".to_string(), v(&["premature-close", "proxy-error"]));
    want.insert("/reset".to_string(), v(&["connection-reset", "proxy-error"]));
    want.insert("/slow".to_string(), v(&["timeout", "proxy-error"]));
    want.insert("/very-slow".to_string(), v(&["timeout", "proxy-error"]));
    // /bad-status: Apache passes a response without a status line through as HTTP/0.9 with
    // status 200 and logs nothing — invisible in its logs; that is what `--probe` is for.
    assert_eq!(statuses(&ap.access_log())["/bad-status"], "200");
    // AH01102 lines carry no path: tailgate takes it from the AH00898 line of the same
    // connection that follows.
    assert_eq!(by_path, want, "{}", dump(ap.dir.as_path()));
}

#[test]
fn nginx_custom_log_format_compiled_from_its_log_format_string() {
    let backend = Backend::start();
    let d = support::server_dir();
    let fmt = r#"$remote_addr [$time_iso8601] "$request" $status $request_time "$upstream_status" $upstream_addr "$http_user_agent""#;
    let mut ng = support::nginx(d.path(), backend.port, Some(fmt));
    drive(ng.port);
    ng.stop();
    let spec = format!("nginx:{fmt}");
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--scan", "--format", "ndjson", "--log-format", &spec]).arg(ng.access_log()).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let all: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let log = all.last().unwrap();
    assert_eq!(log["bad_lines"], 0, "{}", dump(d.path()));
    assert_eq!(log["records"], BEHAVIOURS.len() as u64);
    let events: Vec<&Value> = all.iter().filter(|e| e["type"] == "event").collect();
    let slow = events.iter().find(|e| e["request"] == "GET /slow HTTP/1.1").expect("the 504 is an event");
    assert_eq!(slow["status"], 504);
    assert_eq!(slow["upstream"], format!("127.0.0.1:{}", backend.port));
    assert!(slow["timestamp"].as_str().unwrap().ends_with('Z'));
    let bad = events.iter().find(|e| e["request"] == "GET /bad-status HTTP/1.1").unwrap();
    assert_eq!((bad["kind"].as_str(), bad["problem"].as_str()), (Some("malformed-output"), Some("http09-response")));
    assert_eq!(events.len(), 7, "six 5xx and one 009 (/very-slow is a slow 200 through nginx alone): {text}");
}
