//! Ground truth with real parts: HAProxy (as strict as ELB about malformed responses) stands in
//! for the load balancer in front of a real nginx and, separately, a real Apache httpd, each
//! proxying to a backend that misbehaves per request. HAProxy's log becomes Classic ELB lines
//! (tests/support::haproxy_to_elb); every LB 5xx must get the right source, cause and evidence.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{BEHAVIOURS, Backend};

/// Run HAProxy → `web` and return the correlation report and the ELB log text.
fn run(web: &mut support::Server, lb_dir: &Path, extra: &[&str]) -> (Value, String) {
    let mut lb = support::haproxy(lb_dir, web.port);
    for (path, _) in BEHAVIOURS {
        support::get(lb.port, path);
    }
    lb.stop();
    web.stop();
    let hl = std::fs::read_to_string(lb_dir.join("haproxy.log")).unwrap();
    let elb: Vec<String> = hl.lines().filter_map(support::haproxy_to_elb).collect();
    assert_eq!(elb.len(), BEHAVIOURS.len(), "one log line per request:\n{hl}");
    let elb_text = elb.join("\n") + "\n";
    let elb_path = lb_dir.join("elb.log");
    std::fs::write(&elb_path, &elb_text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate"))
        // HAProxy's `timeout server 2s` plays the ELB idle timeout.
        .args(["--correlate", "--format", "json", "--lb-idle-timeout", "2", "--backend", &format!("127.0.0.1:{}", web.port)])
        .arg("--log")
        .arg(web.access_log())
        .arg("--log")
        .arg(web.error_log())
        .args(extra)
        .arg(&elb_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_slice(&out.stdout).unwrap(), elb_text)
}

/// path → (elb status, source, cause, evidence summary)
fn by_path(rep: &Value) -> BTreeMap<String, (u64, String, String, Vec<String>)> {
    rep["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let req = f["elb"]["request"].as_str().unwrap();
            let path = req.split_whitespace().nth(1).unwrap().trim_start_matches("http://test.local:80").to_string();
            let ev: Vec<String> = f["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| match e["kind"].as_str().unwrap() {
                    "access" => format!("access {}", e["status"]),
                    _ => format!("error {}", e["problem"].as_str().unwrap_or("?")),
                })
                .collect();
            (path, (f["elb"]["elb_status"].as_u64().unwrap(), f["source"].as_str().unwrap().into(), f["cause"].as_str().unwrap().into(), ev))
        })
        .collect()
}

fn row(status: u64, source: &str, cause: &str, ev: &[&str]) -> (u64, String, String, Vec<String>) {
    (status, source.into(), cause.into(), ev.iter().map(|s| s.to_string()).collect())
}

#[test]
fn haproxy_in_front_of_nginx() {
    let backend = Backend::start();
    let d = support::server_dir();
    let mut ng = support::nginx(d.path(), backend.port, None);
    let l = support::server_dir();
    let (rep, elb) = run(&mut ng, l.path(), &[]);
    let got = by_path(&rep);
    let mut want = BTreeMap::new();
    // nginx turned the backend's failure into its own 502/504: the backend (nginx) answered,
    // and nginx's error log says why.
    want.insert("/invalid-header".into(), row(502, "backend", "backend-5xx", &["access 502", "error invalid-header"]));
    want.insert("/early-close".into(), row(502, "backend", "backend-5xx", &["access 502", "error premature-close"]));
    want.insert("/reset".into(), row(502, "backend", "backend-5xx", &["access 502", "error connection-reset"]));
    want.insert("/slow".into(), row(504, "backend", "backend-5xx", &["access 504", "error timeout"]));
    // No status line: nginx passed it through as HTTP/0.9 (logged 009) and HAProxy refused it.
    want.insert("/bad-status".into(), row(502, "lb", "malformed-response", &["access 9", "error invalid-status-line"]));
    // HAProxy gave up first (its 2 s server timeout, like the ELB idle timeout); nginx logged 499.
    want.insert("/very-slow".into(), row(504, "lb", "backend-timeout", &["access 499"]));
    // The application's own 5xx: nginx logged them, nothing in its error log.
    want.insert("/app-500".into(), row(500, "backend", "backend-5xx", &["access 500"]));
    want.insert("/app-502".into(), row(502, "backend", "backend-5xx", &["access 502"]));
    assert_eq!(got, want, "ELB lines:\n{elb}\nreport: {rep:#}");
    let f = rep["findings"].as_array().unwrap().iter().find(|f| f["elb"]["request"].as_str().unwrap().contains("/invalid-header")).unwrap();
    assert!(f["explanation"].as_str().unwrap().contains("web server made it"), "{f}");
    let ev = &f["evidence"][0];
    assert_eq!(ev["file"], ng.access_log().display().to_string());
    assert_eq!(ev["line"], 2);
    assert_eq!(rep["summary"]["lb_5xx"], 8);
    assert_eq!(rep["summary"]["lb_generated"], 2);
    assert_eq!(rep["summary"]["matched"], 8);
}

#[test]
fn haproxy_in_front_of_apache() {
    let backend = Backend::start();
    let d = support::server_dir();
    let mut ap = support::apache(d.path(), backend.port);
    let l = support::server_dir();
    let (rep, elb) = run(&mut ap, l.path(), &["--log-format", "apache-combined"]);
    let got = by_path(&rep);
    let mut want = BTreeMap::new();
    // Apache answers 502 for every upstream failure (timeout=1 s, so /very-slow too) and says
    // why in its error log; /bad-status passes through as a 200.
    want.insert("/invalid-header".into(), row(502, "backend", "backend-5xx", &["access 502", "error invalid-header"]));
    want.insert("/early-close".into(), row(502, "backend", "backend-5xx", &["access 502", "error premature-close", "error proxy-error"]));
    want.insert("/reset".into(), row(502, "backend", "backend-5xx", &["access 502", "error connection-reset", "error proxy-error"]));
    want.insert("/slow".into(), row(502, "backend", "backend-5xx", &["access 502", "error timeout", "error proxy-error"]));
    want.insert("/very-slow".into(), row(502, "backend", "backend-5xx", &["access 502", "error timeout", "error proxy-error"]));
    want.insert("/app-500".into(), row(500, "backend", "backend-5xx", &["access 500"]));
    want.insert("/app-502".into(), row(502, "backend", "backend-5xx", &["access 502"]));
    assert_eq!(got, want, "ELB lines:\n{elb}\nreport: {rep:#}\n{}", std::fs::read_to_string(d.path().join("error.log")).unwrap());
}
