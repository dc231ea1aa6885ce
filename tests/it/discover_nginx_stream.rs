//! nginx's `stream {}` (TCP/UDP proxy) logs, judged by a running nginx: discovery lists the
//! stream access and error logs as such, with the stream block's own `log_format`, and every line
//! nginx writes there parses with it — a session whose upstream refused the connection is the
//! stream status 502 nginx wrote.

use crate::support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tailgate::discover::{LogKind, Target, nginx};
use tailgate::format::{Format, Record};
use tailgate::paths::Root;

const MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";

#[test]
fn stream_logs_are_found_with_their_own_format() {
    let bin = support::need("nginx");
    assert!(Path::new(MODULE).exists(), "{MODULE} (Debian's libnginx-mod-stream) is needed: the README's test command installs it");
    let backend = support::Backend::start();
    let dir = support::server_dir();
    let d = dir.path().display().to_string();
    let (good, refused) = (support::free_port(), support::free_port());
    let closed = support::free_port(); // nothing listens there
    support::discover_tree(
        "nginx-stream",
        dir.path(),
        &[("PORT1", good.to_string()), ("PORT2", refused.to_string()), ("BACKEND", backend.port.to_string()), ("CLOSED", closed.to_string())],
    );
    let conf = dir.path().join("nginx.conf");
    let mut child = Command::new(bin).args(["-p", &d, "-c", &conf.display().to_string()]).spawn().unwrap();
    let t0 = Instant::now();
    while !(support::listening(good) && support::listening(refused)) {
        assert!(t0.elapsed() < Duration::from_secs(10), "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for port in [good, refused, good] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    // (the session is logged when it ends)
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill").args(["-QUIT", &child.id().to_string()]).status();
    let _ = child.wait();

    let cfg = nginx::load(&Root::new(None), &conf);
    let settings = nginx::Settings { prefix: dir.path().to_path_buf(), conf_path: conf.clone(), ..nginx::Settings::upstream_default() };
    let (sources, _) = nginx::logs(&cfg, &settings);
    let stream = sources
        .iter()
        .find(|s| s.kind == LogKind::Access && s.target == Target::File(format!("{d}/stream.log")))
        .unwrap_or_else(|| panic!("stream access log not found: {sources:?}"));
    assert!(stream.note.as_deref().unwrap_or("").contains("stream"), "{stream:?}");
    assert_eq!(stream.format_name.as_deref(), Some("basic"));
    assert!(sources.iter().any(|s| s.kind == LogKind::Error && s.target == Target::File(format!("{d}/stream-error.log"))), "{sources:?}");

    let text = std::fs::read_to_string(dir.path().join("stream.log")).unwrap();
    // (each session, the readiness probes' too)
    assert!(text.lines().count() >= 3, "nginx logged each session: {text}");
    let fmt = Format::from_spec(stream.format.as_deref().unwrap()).unwrap();
    let mut p = fmt.parser();
    let statuses: Vec<Option<u16>> = text
        .lines()
        .map(|l| match p.parse(l.as_bytes()) {
            Ok(Record::Access(a)) => a.status,
            other => panic!("{l:?}: {other:?}"),
        })
        .collect();
    // nginx's own words: 200 for a session proxied, 502 when the upstream refused
    let written: Vec<Option<u16>> = text.lines().map(|l| l.split_whitespace().nth(4).and_then(|s| s.parse().ok())).collect();
    assert_eq!(statuses, written);
    assert!(statuses.contains(&Some(502)) && statuses.contains(&Some(200)), "{text}");
}
