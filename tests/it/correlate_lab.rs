//! The evidence lab: real HAProxy (the load balancer, strict about responses, with a 2 s server
//! timeout that nobody passes on the command line) in front of a real nginx writing its access log
//! with `escape=default`, one with `escape=json`, and a real Apache httpd, each proxying to a backend
//! that misbehaves per request. Requests carry quotes, backslashes, `%`-encoding and non-ASCII in
//! their query and user agent. HAProxy's log becomes Classic ELB lines and ALB lines, with the
//! LB's clock 1.3 s ahead.
//!
//! Judges: HAProxy's own termination state says who generated each 5xx; the web server's own
//! access log says which of its lines is the request (by the request's id). Every LB 5xx with a
//! local line must get that line as evidence, and the inferred idle timeout must be HAProxy's.

use crate::support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{BEHAVIOURS, Backend};

/// The LB's clock minus the instance's (µs).
const SKEW_US: i64 = 1_300_000;

/// User agents and query values with what each server escapes differently.
const UAS: &[&[u8]] = &[b"Mozilla/5.0 (X11) \"quoted\" agent", b"back\\slash agent", b"caf\xc3\xa9 agent", b"curl/8.5.0"];
const QUERIES: &[&[u8]] = &[b"q=\"a\"", b"q=b\\c", b"q=%20caf\xc3\xa9'", b"q=plain"];

/// HAProxy writes `"` and bytes outside ASCII as `#XX`: the bytes it received.
fn haproxy_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        if let (b'#', Some(v)) = (b[i], hex) {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// One request as HAProxy logged it.
struct Logged {
    /// accept time, µs
    accept_us: i64,
    client: String,
    server: String,
    tr: i64,
    tc: i64,
    tres: i64,
    ta: i64,
    status: u16,
    recv: u64,
    sent: u64,
    state: String,
    /// method, target, protocol (bytes as received)
    request: (Vec<u8>, Vec<u8>, Vec<u8>),
    ua: Vec<u8>,
}

impl Logged {
    fn parse(line: &str) -> Logged {
        let (head, rest) = line.split_once(" \"").unwrap_or_else(|| panic!("not a request line: {line:?}"));
        let f: Vec<&str> = head.split_whitespace().collect();
        let (request, rest) = rest.split_once("\" \"{").unwrap_or_else(|| panic!("not a request line: {line}"));
        let ua = rest.trim_end().trim_end_matches("}\"");
        let (secs, ms) = f[0].split_once('.').unwrap();
        let req = haproxy_decode(request);
        let sp1 = req.iter().position(|&c| c == b' ').unwrap();
        let sp2 = req.iter().rposition(|&c| c == b' ').unwrap();
        Logged {
            accept_us: secs.parse::<i64>().unwrap() * 1_000_000 + ms.parse::<i64>().unwrap() * 1000,
            client: f[1].to_string(),
            server: f[2].to_string(),
            tr: f[3].parse().unwrap(),
            tc: f[4].parse().unwrap(),
            tres: f[5].parse().unwrap(),
            ta: f[6].parse().unwrap(),
            status: f[7].parse().unwrap(),
            recv: f[8].parse().unwrap(),
            sent: f[9].parse().unwrap(),
            state: f[10].to_string(),
            request: (req[..sp1].to_vec(), req[sp1 + 1..sp2].to_vec(), req[sp2 + 1..].to_vec()),
            ua: haproxy_decode(ua),
        }
    }

    /// HAProxy answered itself: a 5xx whose termination state blames the server side or a
    /// timeout (`S`, `s`, `P`, `I`), not a status the server sent.
    fn lb_generated(&self) -> bool {
        self.status >= 500 && matches!(self.state.as_bytes()[0], b'S' | b's' | b'P' | b'I')
    }

    fn id(&self) -> Option<u64> {
        let t = String::from_utf8_lossy(&self.request.1).into_owned();
        t.split(['?', '&']).find_map(|p| p.strip_prefix("n=")).and_then(|n| n.parse().ok())
    }

    fn secs(ms: i64) -> String {
        if ms < 0 { "-1".into() } else { format!("{:.6}", ms as f64 / 1000.0) }
    }

    /// The user agent as the LB writes it (`"` escaped).
    fn lb_ua(&self) -> Vec<u8> {
        tailgate::format::escape::Escaping::Quotes.encode(&self.ua)
    }

    fn request_line(&self) -> Vec<u8> {
        [&self.request.0[..], b" http://test.local:80", &self.request.1, b" ", &self.request.2].concat()
    }

    /// The three processing times and the backend's status, as both LB formats write them:
    /// `-1 -1 -1` and `-` when the LB answered itself.
    fn times_and_backend_status(&self) -> (String, String) {
        if self.lb_generated() {
            ("-1 -1 -1".to_string(), "-".to_string())
        } else {
            (format!("{} {} 0.000001", Self::secs(self.tr.max(0)), Self::secs(self.tc.max(0) + self.tres.max(0))), self.status.to_string())
        }
    }

    fn classic(&self) -> Vec<u8> {
        let t = tailgate::time::format_utc(self.accept_us + SKEW_US, tailgate::time::Precision::Micro);
        let (times, bstatus) = self.times_and_backend_status();
        let mut l = format!("{t} test-lb {} {} {times} {} {bstatus} {} {} \"", self.client, self.server, self.status, self.recv, self.sent).into_bytes();
        l.extend(self.request_line());
        l.extend(b"\" \"");
        l.extend(self.lb_ua());
        l.extend(b"\" - -\n");
        l
    }

    fn alb(&self) -> Vec<u8> {
        let created = tailgate::time::format_utc(self.accept_us + SKEW_US, tailgate::time::Precision::Micro);
        let done = tailgate::time::format_utc(self.accept_us + SKEW_US + self.ta * 1000, tailgate::time::Precision::Micro);
        let (times, tstatus) = self.times_and_backend_status();
        let mut l = format!(
            "http {done} app/test-alb/50dc6c495c0c9188 {} {} {times} {} {tstatus} {} {} \"",
            self.client, self.server, self.status, self.recv, self.sent
        )
        .into_bytes();
        l.extend(self.request_line());
        l.extend(b"\" \"");
        l.extend(self.lb_ua());
        l.extend(
            format!(
                "\" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/tg/73e2d6bc24d8a067 \"Root=1-58337262-36d228ad5d99923122bbe354\" \"-\" \"-\" 0 {created} \"forward\" \"-\" \"-\" \"{}\" \"{tstatus}\" \"-\" \"-\"\n",
                self.server
            )
            .bytes(),
        );
        l
    }
}

/// Send every behaviour with every user agent and query, one at a time.
fn drive(port: u16) -> usize {
    let mut n = 0;
    for (path, _) in BEHAVIOURS {
        for (i, ua) in UAS.iter().enumerate() {
            let q = QUERIES[(i + n) % QUERIES.len()];
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(15))).unwrap();
            let req =
                [&format!("GET {path}?n={n}&").into_bytes()[..], q, b" HTTP/1.1\r\nHost: test.local\r\nUser-Agent: ", ua, b"\r\nConnection: close\r\n\r\n"]
                    .concat();
            s.write_all(&req).unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            n += 1;
        }
    }
    n
}

fn correlate(elb: &Path, web: &support::Server, flavour: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate"))
        .args(["--correlate", "--format", "json", "--backend", &format!("127.0.0.1:{}", web.port)])
        .arg("--log")
        .arg(web.access_log())
        .arg("--log")
        .arg(web.error_log())
        .arg(elb)
        .output()
        .unwrap();
    assert!(out.status.success(), "{flavour}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The access-log line number (from 1) of each request id, read from the server's own log.
fn local_lines(access: &Path) -> std::collections::HashMap<u64, u64> {
    let text = std::fs::read(access).unwrap();
    let mut m = std::collections::HashMap::new();
    for (i, l) in text.split(|&b| b == b'\n').enumerate() {
        let l = String::from_utf8_lossy(l);
        if let Some(n) = l.split(['?', '&']).find_map(|p| p.strip_prefix("n=")).and_then(|n| n.parse::<u64>().ok()) {
            m.insert(n, i as u64 + 1);
        }
    }
    m
}

fn lab(name: &str, start: impl FnOnce(&Path, u16) -> support::Server) {
    let backend = Backend::start();
    let dir = support::server_dir();
    let wd = dir.path().join("web");
    let ld = dir.path().join("lb");
    std::fs::create_dir_all(&wd).unwrap();
    std::fs::create_dir_all(&ld).unwrap();
    let mut web = start(&wd, backend.port);
    let mut lb = support::haproxy_with(&ld, web.port, "option accept-invalid-http-request");
    let sent = drive(lb.port);
    lb.stop();
    web.stop();
    let hl = std::fs::read_to_string(ld.join("haproxy.log")).unwrap();
    // Request lines only: not HAProxy's own messages ("Proxy fe stopped"), nor the port probe
    // that waited for it to listen (connects and closes: `CR "<BADREQ>"`).
    let logged: Vec<Logged> = hl.lines().filter(|l| l.contains(" \"{") && !l.contains("\"<BADREQ>\"")).map(Logged::parse).collect();
    assert_eq!(logged.len(), sent, "{name}: HAProxy logged every request:\n{hl}");
    let local = local_lines(&web.access_log());
    let fivexx: Vec<&Logged> = logged.iter().filter(|l| l.status >= 500).collect();
    // (Apache gives up on the backend first, so every 5xx there is its own)
    assert!(fivexx.iter().any(|l| !l.lb_generated()), "{name}: 5xx from the instance:\n{hl}");
    if name.starts_with("nginx") {
        assert!(fivexx.iter().any(|l| l.lb_generated()), "{name}: 5xx from the LB:\n{hl}");
    }

    for flavour in ["classic", "alb"] {
        let text: Vec<u8> = logged.iter().flat_map(|l| if flavour == "classic" { l.classic() } else { l.alb() }).collect();
        let elb = dir.path().join(format!("{flavour}.log"));
        std::fs::write(&elb, &text).unwrap();
        let rep = correlate(&elb, &web, flavour);
        let findings = rep["findings"].as_array().unwrap();
        assert_eq!(findings.len(), fivexx.len(), "{name} {flavour}: one finding per LB 5xx: {rep:#}");
        let mut with_local = 0;
        for (f, l) in findings.iter().zip(&fivexx) {
            let id = l.id().unwrap();
            let want_src = if l.lb_generated() { "lb" } else { "backend" };
            assert_eq!(f["source"], want_src, "{name} {flavour} n={id} ({} {}): {f:#}", l.status, l.state);
            if let Some(&line) = local.get(&id) {
                with_local += 1;
                let access: Vec<u64> =
                    f["evidence"].as_array().unwrap().iter().filter(|e| e["kind"] == "access").map(|e| e["line"].as_u64().unwrap()).collect();
                assert_eq!(access, [line], "{name} {flavour} n={id}: the server's own line for this request is the evidence: {f:#}");
            }
        }
        assert!(with_local > 0, "{name} {flavour}: some 5xx have a local line");
        // The idle timeout was not given: HAProxy's 2 s, inferred, whenever an LB 504 pairs with a
        // line stamped at its end (nginx); ALB lines say it themselves.
        let idle = &rep["summary"]["lb_idle_timeout_s"];
        let lb504 = fivexx.iter().any(|l| l.lb_generated() && l.status == 504);
        if lb504 && (flavour == "alb" || name.starts_with("nginx")) {
            assert_eq!(idle["from"], "inferred", "{name} {flavour}: {idle}");
            let v = idle["value"].as_u64().unwrap();
            assert!(v.abs_diff(2) <= 1, "{name} {flavour}: inferred {v}s, HAProxy's is 2s");
        }
        let off = rep["summary"]["clock_offset_ms"].as_f64().unwrap();
        assert!((off + SKEW_US as f64 / 1000.0).abs() < 1000.0, "{name} {flavour}: clock offset {off} ms, skew {} ms", SKEW_US / 1000);
    }
}

const NGINX_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

#[test]
fn nginx_escape_default() {
    lab("nginx-default", |d, p| support::nginx(d, p, Some(NGINX_FORMAT)));
}

#[test]
fn nginx_escape_json() {
    lab("nginx-json", |d, p| support::nginx_escaped(d, p, "json", NGINX_FORMAT));
}

#[test]
fn apache() {
    lab("apache", support::apache);
}
