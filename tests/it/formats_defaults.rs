//! Formats a new user meets first: nginx.org's own `main` log format (the default nginx.conf and
//! the official Docker image), written here by a real nginx, is detected without
//! `--log-format`; and a UTF-8 byte-order mark before the first line (Windows tools, editors) is
//! not part of that line, read from a file, stdin or gzip.

use crate::support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tailgate");

fn scan(args: &[&str], stdin: Option<&[u8]>) -> Value {
    let mut c = Command::new(BIN).arg("--scan").args(args).args(["--format", "json"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut i = c.stdin.take().unwrap();
    if let Some(d) = stdin {
        let _ = i.write_all(d);
    }
    drop(i);
    let mut out = Vec::new();
    c.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    c.wait().unwrap();
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
}

#[test]
fn nginx_main_format_from_a_real_nginx_is_detected() {
    let backend = support::Backend::start();
    let d = support::server_dir();
    let mut ng = support::nginx(d.path(), backend.port, Some(tailgate::format::nginx::MAIN));
    for (i, path) in ["/ok", "/app-502", "/app-500", "/ok"].iter().enumerate() {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", ng.port)).unwrap();
        let xff = if i % 2 == 0 { "203.0.113.7, 10.0.0.2".to_string() } else { format!("198.51.100.{i}") };
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\nX-Forwarded-For: {xff}\r\nConnection: close\r\n\r\n").unwrap();
        let mut v = Vec::new();
        let _ = s.read_to_end(&mut v);
    }
    ng.stop();
    let log = ng.access_log();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.contains("\"203.0.113.7, 10.0.0.2\""), "nginx wrote the X-Forwarded-For list: {text}");
    let v = scan(&[log.to_str().unwrap()], None);
    let l = &v["logs"][0];
    assert_eq!(l["format"], "nginx:main", "{l}");
    assert_eq!((l["records"].as_u64(), l["bad_lines"].as_u64()), (Some(4), Some(0)), "{l}");
    assert_eq!(l["status_5xx"], serde_json::json!({"500": 1, "502": 1}), "{l}");
    // and by name
    let v = scan(&[log.to_str().unwrap(), "--log-format", "nginx-main"], None);
    assert_eq!(v["logs"][0]["bad_lines"], 0);
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_first_line() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let d = tempfile::tempdir().unwrap();
    for (name, rel) in [("w3c", "iis/logs/inetpub/logs/LogFiles/W3SVC1/u_ex210401.log"), ("alb", "elb/alb-samples.log"), ("elb", "elb/classic-samples.log")] {
        let plain = std::fs::read(fx.join(rel)).unwrap();
        let with_bom = [&b"\xEF\xBB\xBF"[..], &plain].concat();
        let p0 = d.path().join(format!("{name}.log"));
        let p1 = d.path().join(format!("{name}-bom.log"));
        std::fs::write(&p0, &plain).unwrap();
        std::fs::write(&p1, &with_bom).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&with_bom).unwrap();
        let gz = gz.finish().unwrap();
        let pick = |v: &Value| {
            let l = &v["logs"][0];
            (l["format"].clone(), l["lines"].clone(), l["records"].clone(), l["bad_lines"].clone(), l["status_5xx"].clone())
        };
        let base = pick(&scan(&[p0.to_str().unwrap()], None));
        assert_eq!(base.3, 0, "{name}: the fixture itself has no bad line");
        assert_eq!(pick(&scan(&[p1.to_str().unwrap()], None)), base, "{name}: a file with a BOM");
        assert_eq!(pick(&scan(&["-"], Some(&with_bom))), base, "{name}: stdin with a BOM");
        assert_eq!(pick(&scan(&["-"], Some(&gz))), base, "{name}: gzip with a BOM");
        assert_eq!(pick(&scan(&[p1.to_str().unwrap(), "--log-format", name], None)), base, "{name}: forced format, with a BOM");
    }
}
