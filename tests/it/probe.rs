//! `tailgate --probe` against a backend that serves each violation (and a clean twin of each),
//! with real HAProxy and nginx in front of the same backend as oracles: their verdict (a 5xx or
//! not) is compared with tailgate's, and every disagreement is listed and explained below.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the raw backend does after writing its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // After::CloseAfter(ms) says what it does
enum After {
    Close,
    KeepOpen,
    /// Close the idle connection after this many milliseconds.
    CloseAfter(u64),
    Reset,
    EndlessHeader,
    SilentFor(u64),
}

/// (path, raw response, what happens next, the rules tailgate must report)
fn cases() -> Vec<(&'static str, Vec<u8>, After, Vec<&'static str>)> {
    let ok = |extra: &str| format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: 2\r\n\r\nok").into_bytes();
    vec![
        ("/ok", ok(""), After::KeepOpen, vec![]),
        ("/status-line", b"HELLO I AM NOT HTTP\r\n\r\nbody".to_vec(), After::Close, vec!["status-line"]),
        ("/blank-line", b"HTTP/1.1 200 OK\r\n\r\nContent-Length: 2\r\n\r\nok".to_vec(), After::Close, vec!["blank-line-after-status", "no-framing"]),
        ("/no-colon", ok("Bad Header\r\n"), After::KeepOpen, vec!["header-syntax"]),
        ("/bad-name", ok("Bad(Name): x\r\n"), After::KeepOpen, vec!["header-syntax"]),
        ("/good-name", ok("X-Good_Name.1~: x\r\n"), After::KeepOpen, vec![]),
        ("/space-before-colon", b"HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\nok".to_vec(), After::KeepOpen, vec!["space-before-colon"]),
        ("/obs-fold", ok("X-A: a\r\n b\r\n"), After::KeepOpen, vec!["obs-fold"]),
        ("/bare-lf", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok".to_vec(), After::KeepOpen, vec!["bare-lf"]),
        ("/ctl", ok("X-A: a\x01b\r\n"), After::KeepOpen, vec!["ctl-in-value"]),
        ("/nul", ok("X-A: a\x00b\r\n"), After::KeepOpen, vec!["ctl-in-value"]),
        ("/tab-in-value", ok("X-A: a\tb\r\n"), After::KeepOpen, vec![]),
        ("/cl-invalid", b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nok".to_vec(), After::Close, vec!["content-length-invalid"]),
        ("/cl-negative", b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok".to_vec(), After::Close, vec!["content-length-invalid"]),
        ("/cl-overflow", b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nok".to_vec(), After::Close, vec!["content-length-invalid"]),
        ("/cl-conflict", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok".to_vec(), After::Close, vec!["content-length-conflict"]),
        ("/cl-same-twice", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok".to_vec(), After::KeepOpen, vec![]),
        (
            "/cl-and-te",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".to_vec(),
            After::Close,
            vec!["length-and-chunked"],
        ),
        ("/te-gzip", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx".to_vec(), After::Close, vec!["transfer-encoding-not-chunked"]),
        ("/chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".to_vec(), After::KeepOpen, vec![]),
        ("/chunked-bad-size", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n".to_vec(), After::Close, vec!["chunked-framing"]),
        ("/chunked-wrong-size", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nok\r\n0\r\n\r\n".to_vec(), After::Close, vec!["chunked-framing"]),
        ("/no-framing", b"HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nbody".to_vec(), After::KeepOpen, vec!["no-framing"]),
        ("/close-delimited", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody".to_vec(), After::Close, vec![]),
        ("/body-shorter", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok".to_vec(), After::Close, vec!["body-shorter"]),
        ("/body-longer", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA".to_vec(), After::KeepOpen, vec!["body-longer"]),
        ("/no-content", b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(), After::KeepOpen, vec![]),
        ("/huge-header", b"HTTP/1.1 200 OK\r\n".to_vec(), After::EndlessHeader, vec!["header-too-large"]),
        ("/close", Vec::new(), After::Close, vec!["no-response"]),
        ("/reset", Vec::new(), After::Reset, vec!["no-response"]),
        ("/silent", Vec::new(), After::SilentFor(3000), vec!["timeout"]),
    ]
}

/// A backend that writes each case's bytes raw; the path picks the case.
fn raw_backend() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let table: BTreeMap<&'static str, (Vec<u8>, After)> = cases().into_iter().map(|(p, b, a, _)| (p, (b, a))).collect();
    let mut table = table;
    table.insert("/ka-2s", (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(), After::CloseAfter(2000)));
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            let table = table.clone();
            thread::spawn(move || serve(s, &table));
        }
    });
    port
}

fn serve(mut s: TcpStream, table: &BTreeMap<&'static str, (Vec<u8>, After)>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut b = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let Some((bytes, after)) = table.get(path.as_str()) else { return };
    match *after {
        After::SilentFor(ms) => {
            thread::sleep(Duration::from_millis(ms));
            return;
        }
        After::Reset => {
            let sock = socket2::Socket::from(s);
            let _ = sock.set_linger(Some(Duration::from_secs(0)));
            return;
        }
        _ => {}
    }
    let _ = s.write_all(bytes);
    match *after {
        After::Close => {
            let _ = s.shutdown(Shutdown::Both);
        }
        After::KeepOpen => thread::sleep(Duration::from_secs(4)),
        After::CloseAfter(ms) => {
            thread::sleep(Duration::from_millis(ms));
            let _ = s.shutdown(Shutdown::Both);
        }
        After::EndlessHeader => {
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(5) {
                if s.write_all(b"X-Endless: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n").is_err() {
                    break;
                }
            }
        }
        _ => {}
    }
}

fn probe(port: u16, path: &str, extra: &[&str]) -> (Value, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate"))
        .args(["--probe", &format!("http://127.0.0.1:{port}{path}"), "--format", "json", "--timeout", "1"])
        .args(extra)
        .output()
        .unwrap();
    (serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout))), out.status.code().unwrap())
}

fn rules_of(v: &Value) -> BTreeSet<String> {
    v["violations"].as_array().unwrap().iter().map(|x| x["rule"].as_str().unwrap().to_string()).collect()
}

#[test]
fn every_rule_has_a_positive_and_a_negative_case() {
    let port = raw_backend();
    let cases = cases();
    let results: Vec<(String, BTreeSet<String>, i32, Vec<&str>)> = thread::scope(|s| {
        let hs: Vec<_> = cases
            .iter()
            .map(|(path, _, _, want)| {
                s.spawn(move || {
                    let (v, code) = probe(port, path, &["--idle", "0"]);
                    (path.to_string(), rules_of(&v), code, want.clone())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut fired = BTreeSet::new();
    for (path, got, code, want) in &results {
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, &want, "{path}");
        assert_eq!(*code, if want.is_empty() { 0 } else { 1 }, "{path}: exit status");
        fired.extend(got.iter().cloned());
    }
    // every rule except connect/keep-alive (tested below) and those of tests/probe_hostile.rs fires somewhere, and the clean twins pass
    for r in tailgate::probe::rules::ALL {
        // informational and unsolicited-data: tests/probe_hostile.rs
        if !matches!(r.id, "connect" | "keepalive-shorter-than-lb-idle" | "informational" | "unsolicited-data") {
            assert!(fired.contains(r.id), "rule {} has no positive case", r.id);
        }
    }
    // nothing listening: exit 2
    let free = support::free_port();
    let (v, code) = probe(free, "/", &["--idle", "0"]);
    assert_eq!(code, 2);
    assert!(v["error"].as_str().unwrap().contains("cannot connect"));
}

#[test]
fn probing_never_hangs() {
    let port = raw_backend();
    let t0 = Instant::now();
    let (v, _) = probe(port, "/huge-header", &["--idle", "0"]);
    assert!(rules_of(&v).contains("header-too-large"));
    let (v, _) = probe(port, "/silent", &["--idle", "0"]);
    assert!(rules_of(&v).contains("timeout"));
    assert!(t0.elapsed() < Duration::from_secs(4), "bounded by --timeout 1: {:?}", t0.elapsed());
}

#[test]
fn keepalive_shorter_than_the_lb_idle_timeout() {
    let port = raw_backend();
    let (v, code) = probe(port, "/ka-2s", &["--idle", "5", "--lb-idle-timeout", "3"]);
    assert_eq!(code, 1);
    let a = v["keepalive"]["closed_after_secs"].as_f64().unwrap();
    assert!((1.7..2.6).contains(&a), "{a}");
    assert!(rules_of(&v).contains("keepalive-shorter-than-lb-idle"));
    // a server that keeps it longer than the LB passes
    let (v, code) = probe(port, "/ka-2s", &["--idle", "3", "--lb-idle-timeout", "1"]);
    assert_eq!(code, 0, "{v}");
}

#[test]
fn keepalive_of_real_apache_and_nginx() {
    let backend = support::Backend::start();
    // Apache's default KeepAliveTimeout is 5 s.
    let da = support::server_dir();
    let _ap = support::apache(da.path(), backend.port);
    // nginx with keepalive_timeout 3s
    let dn = support::server_dir();
    let _ng = support::nginx_with(dn.path(), backend.port, None, "keepalive_timeout 3s;");
    let (va, vn) = thread::scope(|s| {
        let a = s.spawn(|| probe(_ap.port, "/ok", &["--idle", "9"]).0);
        let n = s.spawn(|| probe(_ng.port, "/ok", &["--idle", "9"]).0);
        (a.join().unwrap(), n.join().unwrap())
    });
    let a = va["keepalive"]["closed_after_secs"].as_f64().expect("Apache closes the idle connection");
    assert!((4.5..6.5).contains(&a), "Apache: {a}");
    assert!(rules_of(&va).contains("keepalive-shorter-than-lb-idle"));
    let n = vn["keepalive"]["closed_after_secs"].as_f64().expect("nginx closes the idle connection");
    assert!((2.5..4.5).contains(&n), "nginx: {n}");
}

/// The verdict of a real proxy in front of the raw backend: did it answer 5xx (or nothing)?
fn proxy_rejects(port: u16, path: &str) -> bool {
    let r = support::get(port, path);
    let head = String::from_utf8_lossy(&r[..r.len().min(64)]).into_owned();
    r.is_empty() || head.starts_with("HTTP/1.1 5") || head.starts_with("HTTP/1.0 5")
}

/// Where HAProxy or nginx disagree with tailgate ("LB would fail it" = any violation), and why.
/// Anything not listed here is an unexplained disagreement and fails the test.
const EXPLAINED: &[(&str, &str, &str)] = &[
    ("haproxy", "/bare-lf", "RFC 9112 §2.2 lets a recipient accept a bare LF, and HAProxy does; tailgate reports it because not every load balancer does"),
    ("nginx", "/bare-lf", "nginx accepts LF-only lines from upstreams (RFC 9112 §2.2 allows it); tailgate reports the risk"),
    ("nginx", "/bad-name", "nginx ignores an invalid upstream header name and passes the response; HAProxy refuses it"),
    ("nginx", "/ctl", "nginx ignores a header with a control character; HAProxy refuses it"),
    (
        "haproxy",
        "/no-framing",
        "HAProxy forwards a body without length until its server timeout and the client sees a truncated 200, not a 5xx; the LB still cannot reuse the connection",
    ),
    ("nginx", "/no-framing", "nginx reads the body until its proxy_read_timeout and logs a truncated 200; the response's end is unknowable"),
    (
        "haproxy",
        "/body-longer",
        "HAProxy forwards the declared 2 bytes and drops the rest; the extra bytes would corrupt the next response on a reused connection (the intermittent 502)",
    ),
    ("nginx", "/body-longer", "nginx warns `upstream sent more data than specified` and passes the declared body; a reused connection would be corrupted"),
    ("haproxy", "/body-shorter", "HAProxy has already forwarded the headers when the body ends early: the client gets a truncated 200, not a 5xx"),
    ("nginx", "/body-shorter", "nginx has already sent the headers when the body ends early: a truncated 200"),
    ("nginx", "/status-line", "nginx passes a response without a status line through as HTTP/0.9 (status 009): its client, not nginx, has to refuse it"),
    ("nginx", "/te-gzip", "nginx 1.22 (Debian 12) passes an unknown Transfer-Encoding; `upstream sent unknown \"Transfer-Encoding\"` is refused from 1.23 on"),
    (
        "haproxy",
        "/blank-line",
        "after the empty line the response is a valid close-delimited 200 whose body starts with `Content-Length: 2`: proxies pass it, but the headers the application meant are lost, and ELB documents more than one CRLF between headers as a malformed response",
    ),
    ("nginx", "/blank-line", "as for HAProxy: a close-delimited 200 to nginx, the intended headers become body"),
    ("haproxy", "/obs-fold", "HAProxy unfolds obs-fold lines in responses (RFC 9112 §5.2 allows a proxy to replace them with spaces); ELB does not promise to"),
    ("haproxy", "/ctl", "HAProxy passes a control character in a response header value; RFC 9110 §5.5 forbids it and other proxies refuse it"),
    ("haproxy", "/nul", "HAProxy passes a NUL in a response header value; RFC 9110 §5.5 forbids it and nginx refuses it"),
    (
        "nginx",
        "/cl-invalid",
        "nginx 1.22 ignores a Content-Length it cannot parse and reads to the connection's close; later nginx refuses it (`upstream sent invalid \"Content-Length\" header`)",
    ),
    ("nginx", "/cl-negative", "as /cl-invalid: nginx 1.22 ignores it"),
    ("nginx", "/cl-overflow", "as /cl-invalid: nginx 1.22 ignores it"),
    ("nginx", "/cl-conflict", "nginx 1.22 keeps the last Content-Length; the duplicate-header check came in 1.23"),
    (
        "haproxy",
        "/cl-and-te",
        "RFC 9112 §6.3 lets a recipient drop Content-Length and use the chunked coding, as HAProxy does; ELB's desync mitigation classifies the message as ambiguous",
    ),
    ("nginx", "/cl-and-te", "nginx 1.22 uses the chunked coding; from 1.23 it refuses both headers together"),
];

#[test]
fn haproxy_and_nginx_agree_or_the_difference_is_explained() {
    let port = raw_backend();
    let dh = support::server_dir();
    let hp = support::haproxy(dh.path(), port);
    let dn = support::server_dir();
    let ng = support::nginx(dn.path(), port, None);
    let mut unexplained = Vec::new();
    let mut explained_seen = BTreeSet::new();
    for (path, _, _, want) in cases() {
        if matches!(path, "/silent" | "/huge-header") {
            continue; // timeouts and endless headers: both proxies give up with a 5xx, as tailgate does (tested above)
        }
        let ours = !want.is_empty();
        for (name, p) in [("haproxy", hp.port), ("nginx", ng.port)] {
            let theirs = proxy_rejects(p, path);
            if theirs != ours {
                match EXPLAINED.iter().find(|(n, pa, _)| *n == name && *pa == path) {
                    Some(_) => {
                        explained_seen.insert((name, path));
                    }
                    None => unexplained.push(format!("{name} {path}: proxy rejects={theirs}, tailgate violations={want:?}")),
                }
            }
        }
    }
    assert!(unexplained.is_empty(), "unexplained disagreements:\n{}", unexplained.join("\n"));
    // and no stale explanations
    let stale: Vec<String> = EXPLAINED.iter().filter(|(n, p, _)| !explained_seen.contains(&(*n, *p))).map(|(n, p, _)| format!("{n} {p}")).collect();
    assert!(stale.is_empty(), "these now agree with tailgate; remove their explanations: {stale:?}");
}

/// https: a real nginx with a self-signed certificate (made by the openssl CLI), probed like
/// `curl -k`; with --verify the unknown issuer makes the probe impossible (exit 2).
#[test]
fn https_probe_against_real_nginx() {
    let nginx = support::need("nginx");
    let d = support::server_dir();
    let p = d.path();
    let st = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(p.join("k.pem"))
        .arg("-out")
        .arg(p.join("c.pem"))
        .output()
        .expect("openssl CLI");
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let port = support::free_port();
    for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(p.join("tmp").join(t)).unwrap();
    }
    let dd = p.display();
    std::fs::write(
        p.join("nginx.conf"),
        format!(
            "daemon off; pid {dd}/nginx.pid; error_log {dd}/error.log; events {{}}\nhttp {{ access_log {dd}/access.log; client_body_temp_path {dd}/tmp/body; proxy_temp_path {dd}/tmp/proxy; fastcgi_temp_path {dd}/tmp/fastcgi; uwsgi_temp_path {dd}/tmp/uwsgi; scgi_temp_path {dd}/tmp/scgi;\n keepalive_timeout 2s;\n server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {dd}/c.pem; ssl_certificate_key {dd}/k.pem; location / {{ return 200 \"ok\\n\"; }} }} }}\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(nginx).args(["-p", &dd.to_string(), "-c", &format!("{dd}/nginx.conf"), "-e", &format!("{dd}/error.log")]).spawn().unwrap();
    let t0 = Instant::now();
    while !support::listening(port) {
        assert!(t0.elapsed() < Duration::from_secs(10), "nginx did not start: {}", std::fs::read_to_string(p.join("error.log")).unwrap_or_default());
        thread::sleep(Duration::from_millis(20));
    }
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tailgate"))
            .args(["--probe", &format!("https://localhost:{port}/"), "--format", "json", "--timeout", "3"])
            .args(extra)
            .output()
            .unwrap();
        (serde_json::from_slice::<Value>(&out.stdout).unwrap(), out.status.code().unwrap())
    };
    let (v, code) = run(&["--idle", "4", "--lb-idle-timeout", "60"]);
    let elog = std::fs::read_to_string(p.join("error.log")).unwrap_or_default();
    let (vv, code_verify) = run(&["--verify", "--idle", "0"]);
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    assert_eq!(v["status"], 200, "nginx error log: {elog}\nreport: {v}");
    assert_eq!(v["body_bytes"], 3);
    // nginx's keepalive_timeout 2s is shorter than the LB's 60 s: the one violation
    assert_eq!(rules_of(&v), BTreeSet::from(["keepalive-shorter-than-lb-idle".to_string()]), "{v}");
    assert_eq!(code, 1);
    assert_eq!(code_verify, 2);
    assert!(vv["error"].as_str().unwrap().starts_with("TLS:"), "{vv}");
}
