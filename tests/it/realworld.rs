//! Real log lines that nobody here wrote: files from public projects' test data
//! (`tests/fixtures/realworld/`, each with its source in `SOURCES.md` and, where the source has
//! one, its expected output), and logs written by a real Apache httpd in the formats users
//! configure. Exact record and bad-line counts per file; field values checked against the
//! source's own expected output, or against another field the server itself wrote.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tailgate::format::{Format, Record};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realworld").join(name)
}

/// `tailgate --scan --format json [extra] path`: the one log's report.
fn scan(path: &Path, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--scan", "--format", "json"]).args(extra).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array().map(|a| a[0].clone()).unwrap_or_else(|| v["logs"][0].clone())
}

/// `tailgate --scan --format ndjson`: the events.
fn events(path: &Path, extra: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--scan", "--format", "ndjson"]).args(extra).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|v| v["type"] == "event").collect()
}

fn counts(r: &Value) -> (u64, u64, u64) {
    (r["lines"].as_u64().unwrap(), r["records"].as_u64().unwrap(), r["bad_lines"].as_u64().unwrap())
}

/// Every record of a file through the library, with the format given.
fn records<T>(data: &[u8], f: &Format, mut each: impl FnMut(Record<'_>) -> T) -> Vec<T> {
    let mut p = f.parser();
    data.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| each(p.parse(l).unwrap_or_else(|e| panic!("{}: {}", e.reason, String::from_utf8_lossy(l)))))
        .collect()
}

// ---- family 1: multi-line nginx error records (PHP-FPM) -----------------------------------------

#[test]
fn nginx_error_records_with_php_continuation_lines() {
    let log = fixture("beats-nginx-error.log");
    let r = scan(&log, &[]);
    assert_eq!(r["format"], "nginx-error");
    assert_eq!(counts(&r), (6, 4, 0), "6 lines, 4 records (one spans 3 lines), no bad line: {r}");
    // Against Filebeat's expected output for the same file: pid, connection, wall-clock time, and
    // for the multi-line record the whole message with its newlines.
    let expected: Vec<Value> = serde_json::from_slice(&std::fs::read(fixture("beats-nginx-error.log-expected.json")).unwrap()).unwrap();
    let mut recs = Vec::new();
    let mut fold_lines = Vec::new();
    // (the records as `--scan` folds them: through the same engine)
    tailgate::fold::fold(
        tailgate::read::Input::open(&log, 1 << 16).unwrap(),
        &Format::NginxError,
        1,
        &|_| {},
        |_| Collect(Vec::new()),
        |_, _| {},
        |d| fold_lines = d.worker.0,
    );
    assert_eq!(fold_lines.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2, 3, 6], "numbered by their first line");
    for (_, text) in &fold_lines {
        let mut p = Format::NginxError.parser();
        let Ok(Record::Error(e)) = p.parse(text) else { panic!("not an error record: {}", String::from_utf8_lossy(text)) };
        recs.push((
            e.time.to_rfc3339(),
            e.pid,
            e.connection,
            String::from_utf8_lossy(e.message).into_owned(),
            e.request.map(|r| String::from_utf8_lossy(r.target).into_owned()),
        ));
    }
    assert_eq!(recs.len(), expected.len());
    for (got, want) in recs.iter().zip(&expected) {
        assert_eq!(got.0, want["@timestamp"].as_str().unwrap()[..19], "wall-clock time");
        assert_eq!(got.1.map(u64::from), want["process.pid"].as_u64());
        assert_eq!(got.2, want["nginx.error.connection_id"].as_u64());
        let msg = want["message"].as_str().unwrap();
        assert!(msg.starts_with(&got.3), "message {:?} is the start of Filebeat's {msg:?} (which keeps the context)", got.3);
    }
    assert_eq!(recs[2].3.matches('\n').count(), 2, "the PHP record keeps its own newlines");
    assert_eq!(recs[2].3, expected[2]["message"].as_str().unwrap());
    assert_eq!(recs[3].4.as_deref(), Some("/pysio"));
}

struct Collect(Vec<(u64, Vec<u8>)>);

impl tailgate::fold::Worker for Collect {
    fn record(&mut self, line: u64, record: tailgate::read::Line<'_>) {
        if let tailgate::read::Line::Text(t) = record {
            self.0.push((line, t.to_vec()));
        }
    }
}

// ---- families 2–4: access-log formats -----------------------------------------------------------

/// Filebeat's nginx access test file mixes shapes of line. Detection must pick the one most
/// lines have — the client as an X-Forwarded-For list (`10.0.0.2, 10.0.0.1, 127.0.0.1 - - [`) —
/// and count the rest as bad, never put a list or two fields into a client address.
#[test]
fn nginx_access_lines_with_forwarded_lists() {
    let log = fixture("beats-nginx-access.log");
    let r = scan(&log, &[]);
    assert_eq!(r["format"], "nginx:forwarded", "{r}");
    assert_eq!(counts(&r), (7, 6, 1), "{r}");
    let bad: Vec<u64> = r["bad_examples"].as_array().unwrap().iter().map(|b| b["line"].as_u64().unwrap()).collect();
    assert_eq!(bad, [2], "nginx `main` (one more field) is not this format");
    // Field values against Filebeat's expected output: status, time, and every address of the
    // forwarded list in order.
    let expected: Vec<Value> = serde_json::from_slice(&std::fs::read(fixture("beats-nginx-access.log-expected.json")).unwrap()).unwrap();
    let data = std::fs::read(&log).unwrap();
    let f = Format::Nginx(std::sync::Arc::new(tailgate::format::nginx::forwarded()));
    let mut p = f.parser();
    for (i, line) in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let want = &expected[i];
        match p.parse(line) {
            Ok(Record::Access(a)) => {
                assert_eq!(a.status.map(u64::from), want["http.response.status_code"].as_u64(), "line {}", i + 1);
                assert_eq!(a.bytes_sent, want["http.response.body.bytes"].as_u64(), "line {}", i + 1);
                assert_eq!(a.time.unwrap().to_rfc3339(), chrono_like(want["@timestamp"].as_str().unwrap()), "line {}", i + 1);
                let xff = String::from_utf8_lossy(a.x_forwarded_for.unwrap()).into_owned();
                let got: Vec<&str> = xff.split([',', ' ', '"']).filter(|s| !s.is_empty()).collect();
                let ips: Vec<&str> = want["nginx.access.remote_ip_list"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
                assert_eq!(got, ips, "line {}: the whole list", i + 1);
                assert_eq!(a.client, None, "no client address field in this format");
            }
            Err(_) => assert_eq!(i, 1, "line {} should parse", i + 1),
            Ok(other) => panic!("line {}: {other:?}", i + 1),
        }
    }
}

/// `2016-12-07T10:05:07.000Z` → `2016-12-07T10:05:07Z`.
fn chrono_like(s: &str) -> String {
    s.replace(".000", "")
}

/// RHEL's `ssl_request_log` format (mod_ssl's `%{VAR}x`): Filebeat's test file, read with the
/// LogFormat from RHEL's ssl.conf.
#[test]
fn apache_ssl_request_log() {
    let fmt = r#"apache:%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x \"%r\" %b"#;
    let r = scan(&fixture("beats-apache-ssl-request.log"), &["--log-format", fmt]);
    assert_eq!(counts(&r), (2, 2, 0), "{r}");
    assert_eq!(r["first_time"], "2018-08-10T07:45:56Z");
    assert_eq!(r["last_time"], "2019-10-16T09:53:47Z");
}

/// A real Apache httpd writes every request to logs in the formats users configure: Debian's
/// `vhost_combined`, RHEL's `ssl_request_log` and custom time formats. tailgate must read each
/// with 0 bad lines, detect `vhost_combined` by itself with the client as one token, and read
/// each time exactly as Apache's own `%{usec}t` of the same request says (judge.log).
#[test]
fn real_apache_writes_the_formats_users_configure() {
    let backend = support::Backend::start();
    let dir = support::server_dir();
    let d = dir.path().display().to_string();
    // Apache's local time is Asia/Kolkata (+05:30, no daylight saving).
    let formats: &[(&str, &str)] = &[
        ("vhost", r#"%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\""#),
        ("ssl", r#"%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x \"%r\" %b"#),
        ("iso", r#"%{%Y-%m-%d %H:%M:%S}t %h \"%r\" %>s %b"#),
        ("split", r#"[%{%d/%b/%Y:%H:%M:%S}t.%{msec_frac}t %{%z}t] %h \"%r\" %>s %b"#),
        ("usfrac", r#"%{%FT%T}t.%{usec_frac}t%{%z}t %h \"%r\" %>s %b"#),
        ("end", r#"%{end:%Y-%m-%dT%H:%M:%S%z}t %h \"%r\" %>s %b %D"#),
        ("msec", r#"%{msec}t %h \"%r\" %>s %b"#),
        ("xff", r#"%{X-Forwarded-For}i %l %u %t \"%r\" %>s %b"#),
        ("judge", r#"%{usec}t %{end:usec}t"#),
    ];
    let mut extra = "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n".to_string();
    for (n, f) in formats {
        extra.push_str(&format!("LogFormat \"{f}\" {n}\nCustomLog {d}/{n}.log {n}\n"));
    }
    let mut server = support::apache_with(dir.path(), backend.port, &extra, &[("TZ", "Asia/Kolkata")]);
    // Requests one at a time, so every log has them in the same order.
    let paths = ["/ok", "/app-500", "/ok?x=1", "/app-502", "/ok"];
    for p in paths {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        use std::io::{Read, Write};
        write!(s, "GET {p} HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 203.0.113.9, 10.0.0.7\r\nConnection: close\r\n\r\n").unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    server.stop();
    let read = |n: &str| std::fs::read(dir.path().join(format!("{n}.log"))).unwrap();
    let judge: Vec<(i64, i64)> = String::from_utf8(read("judge"))
        .unwrap()
        .lines()
        .map(|l| {
            let (a, b) = l.split_once(' ').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    assert_eq!(judge.len(), paths.len());

    // Debian's vhost_combined: detected, client one token.
    let vhost = dir.path().join("vhost.log");
    let r = scan(&vhost, &[]);
    assert_eq!(r["format"], "apache:vhost_combined", "{r}");
    assert_eq!(counts(&r), (5, 5, 0));
    let ev = events(&vhost, &[]);
    assert_eq!(ev.len(), 2, "the two 5xx");
    assert!(ev.iter().all(|e| e["client"] == "127.0.0.1"), "{ev:?}");

    let kolkata = 19_800_000_000i64; // +05:30 in µs
    for (n, f) in formats.iter().filter(|(n, _)| *n != "judge" && *n != "vhost") {
        let path = dir.path().join(format!("{n}.log"));
        let spec = format!("apache:{f}");
        let r = scan(&path, &["--log-format", &spec]);
        assert_eq!(counts(&r), (5, 5, 0), "{n}: {r}");
        let fmt = Format::from_spec(&spec).unwrap();
        let times = records(&read(n), &fmt, |rec| match rec {
            Record::Access(a) => (a.time.unwrap(), a.client.map(|c| c.to_vec()), a.x_forwarded_for.map(|c| c.to_vec())),
            other => panic!("{other:?}"),
        });
        for (i, (t, client, xff)) in times.iter().enumerate() {
            let (begin, end) = judge[i];
            let (want, unit) = match *n {
                // no %z: the wall clock, offset unknown
                "iso" => ((begin + kolkata) / 1_000_000 * 1_000_000, 1_000_000),
                "split" => (begin / 1000 * 1000, 1000),
                "usfrac" => (begin, 1),
                "end" => (end / 1_000_000 * 1_000_000, 1_000_000),
                "msec" => (begin / 1000 * 1000, 1000),
                _ => (begin / 1_000_000 * 1_000_000, 1_000_000),
            };
            assert_eq!(t.micros, want, "{n} line {}: {} vs Apache's own {begin}", i + 1, t.to_rfc3339());
            assert_eq!(t.precision.micros(), unit, "{n}");
            match *n {
                "iso" => assert_eq!(t.offset, None, "no %z: local time of unknown offset"),
                "split" | "usfrac" | "end" => assert_eq!(t.offset, Some(19_800)),
                _ => {}
            }
            if *n == "xff" {
                assert_eq!(xff.as_deref(), Some(&b"203.0.113.9, 10.0.0.7"[..]), "the whole list as the first field");
            } else if *n != "msec" {
                assert_eq!(client.as_deref(), Some(&b"127.0.0.1"[..]));
            }
        }
        if *n == "end" {
            assert!(fmt_time_at_end(&fmt), "%{{end:…}}t is the request's end");
        }
    }
}

fn fmt_time_at_end(f: &Format) -> bool {
    match f {
        Format::Apache(t) => t.time_at_end,
        _ => false,
    }
}

/// An unknown directive is an error when the format is compiled, not lines without a timestamp.
#[test]
fn unsupported_directives_are_errors_at_compile_time() {
    for bad in [r#"%h %Z"#, r#"%{%c}t %h"#, r#"%h %{%Y"#] {
        let out = Command::new(env!("CARGO_BIN_EXE_tailgate"))
            .args(["--scan", "--log-format", &format!("apache:{bad}"), "-"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("LogFormat"), "{bad}: {err}");
    }
}

// ---- family 5: W3C extended from writers other than IIS -----------------------------------------

/// Amazon CloudFront's standard logs are W3C extended with tab-separated values (the 2019 layout
/// with tabs in its directives too, and a tab after the last value): node-cloudfront-log-parser's
/// test files, with the values its tests expect.
#[test]
fn cloudfront_tab_separated_w3c() {
    let r = scan(&fixture("cloudfront-web-1-0.txt"), &[]);
    assert_eq!((r["format"].as_str(), counts(&r)), (Some("w3c"), (4, 2, 0)), "{r}");
    assert_eq!(r["first_time"], "2014-05-23T01:13:11Z");
    let data = std::fs::read(fixture("cloudfront-web-1-0.txt")).unwrap();
    let got = records(&data, &Format::W3c, |rec| match rec {
        Record::Access(a) => Some((String::from_utf8_lossy(a.request.target).into_owned(), a.status)),
        Record::Meta => None,
        other => panic!("{other:?}"),
    });
    let got: Vec<_> = got.into_iter().flatten().collect();
    assert_eq!(got, [("/view/my/file.html".to_string(), Some(200)), ("/soundtrack/happy.mp3".to_string(), Some(304))]);

    let r = scan(&fixture("cloudfront-web-1-0-2019-12.txt"), &[]);
    assert_eq!((r["format"].as_str(), counts(&r)), (Some("w3c"), (5, 3, 0)), "{r}");
    // A 5xx among tab-separated values is counted (space-splitting saw one value per line).
    let text = String::from_utf8(std::fs::read(fixture("cloudfront-web-1-0-2019-12.txt")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cf-503.log");
    std::fs::write(&p, text.replacen("\t/index.html\t200\t", "\t/index.html\t503\t", 1)).unwrap();
    let r = scan(&p, &[]);
    assert_eq!(r["status_5xx"]["503"], 1, "{r}");
}

/// The W3C working draft's own example: a `time` column and no `date` — the date is the
/// `#Date:` directive's (written `12-Jan-1996 00:00:00` there, `2002-05-24 20:18:01` by IIS).
#[test]
fn w3c_time_without_date_takes_the_date_directive() {
    let r = scan(&fixture("w3c-wd-logfile-example.log"), &[]);
    assert_eq!((r["format"].as_str(), counts(&r)), (Some("w3c"), (7, 4, 0)), "{r}");
    assert_eq!(r["first_time"], "1996-01-12T00:34:23Z");
    assert_eq!(r["last_time"], "1996-01-12T12:57:34Z");
}

// ---- family 7: one spelling of a bracketed IPv6 backend -----------------------------------------

/// `--scan` events and `--correlate` findings name an IPv6 backend the same way, as the load
/// balancer wrote it (`[fd00::1]:80`, not the ambiguous `fd00::1:80`).
#[test]
fn ipv6_backends_print_the_same_in_scan_and_correlate() {
    let dir = tempfile::tempdir().unwrap();
    let elb = dir.path().join("elb.log");
    std::fs::write(
        &elb,
        "2026-11-25T08:00:01.000000Z my-lb [2001:db8::7]:2817 [fd00::1]:80 0.000073 0.001048 -1 502 - 0 29 \"GET http://www.example.com:80/a HTTP/1.1\" \"curl/7.38.0\" - -\n",
    )
    .unwrap();
    let ev = events(&elb, &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--correlate", "--format", "json", "--all-backends"]).arg(&elb).output().unwrap();
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ev[0]["backend"], "[fd00::1]:80");
    assert_eq!(c["findings"][0]["elb"]["backend"], ev[0]["backend"]);
    assert_eq!(c["summary"]["backends"][0]["backend"], ev[0]["backend"]);
}

// ---- family 8: error-log times get a zone, and the report says which ----------------------------

/// nginx's error log writes local time without an offset: read with the offset of the same
/// server's access log when one is scanned (the zone nginx itself wrote there), else the host's
/// zone (`/etc/localtime` under `--root`), and the report says which.
#[test]
fn error_log_times_take_the_access_log_offset_or_the_host_zone() {
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.log");
    let error = dir.path().join("error.log");
    std::fs::write(&access, "1.2.3.4 - - [28/Nov/2026:10:00:00 +0530] \"GET /x HTTP/1.1\" 502 5 \"-\" \"curl\"\n").unwrap();
    std::fs::write(&error, "2026/11/28 10:00:00 [error] 1#1: *1 upstream prematurely closed connection while reading response header from upstream, client: 1.2.3.4, server: x, request: \"GET /x HTTP/1.1\", upstream: \"http://127.0.0.1:1/x\", host: \"x\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--scan", "--format", "ndjson"]).arg(&access).arg(&error).output().unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ev: Vec<&Value> = lines.iter().filter(|v| v["type"] == "event").collect();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0]["timestamp"], ev[1]["timestamp"], "the same instant: {ev:?}");
    assert_eq!(ev[1]["timestamp"], "2026-11-28T04:30:00Z");
    let log = lines.iter().find(|v| v["type"] == "log" && v["path"].as_str().unwrap().ends_with("error.log")).unwrap();
    assert!(log["time_zone"].as_str().unwrap().contains("UTC+05:30") && log["time_zone"].as_str().unwrap().contains("access.log"), "{log}");

    // Alone, under --root: the tree's /etc/localtime (a link to its zoneinfo, re-rooted).
    let Some(root) = paris_root(dir.path()) else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--scan", "--format", "ndjson", "--root"]).arg(&root).arg(&error).output().unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["timestamp"], "2026-11-28T09:00:00Z", "CET in November: {lines:?}");
    assert!(lines[1]["time_zone"].as_str().unwrap().contains("host's time zone"), "{}", lines[1]);
}

/// A tree under `dir` whose `/etc/localtime` is an absolute link to its own Europe/Paris (copied
/// from the host's tzdata; `None` without it).
fn paris_root(dir: &Path) -> Option<PathBuf> {
    let paris = std::fs::read("/usr/share/zoneinfo/Europe/Paris").ok()?;
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("usr/share/zoneinfo/Europe")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("usr/share/zoneinfo/Europe/Paris"), paris).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/usr/share/zoneinfo/Europe/Paris", root.join("etc/localtime")).unwrap();
    Some(root)
}

/// `--correlate` with only an error log (no access log to take the offset from): its local times
/// are read in the host's zone — here the `--root` tree's Europe/Paris — so the 502's error line
/// one hour "later" on the wall clock is the same instant, and is the evidence.
#[test]
fn correlate_reads_error_logs_in_the_host_zone() {
    let dir = tempfile::tempdir().unwrap();
    let Some(root) = paris_root(dir.path()) else { return };
    let elb = dir.path().join("elb.log");
    std::fs::write(&elb, "2026-11-28T09:00:00.500000Z my-lb 203.0.113.7:2817 10.0.1.11:80 0.000073 -1 -1 502 - 0 0 \"GET http://www.example.com:80/php/x HTTP/1.1\" \"curl/8\" - -\n").unwrap();
    let error = dir.path().join("error.log");
    std::fs::write(&error, "2026/11/28 10:00:00 [error] 7#7: *9 upstream prematurely closed connection while reading response header from upstream, client: 203.0.113.7, server: x, request: \"GET /php/x HTTP/1.1\", upstream: \"http://127.0.0.1:9000/php/x\", host: \"www.example.com\"\n").unwrap();
    let run = |root: Option<&Path>| -> Value {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tailgate"));
        c.args(["--correlate", "--format", "json", "--backend", "10.0.1.11:80", "--log"]).arg(&error).arg(&elb);
        if let Some(r) = root {
            c.arg("--root").arg(r);
        }
        serde_json::from_slice(&c.output().unwrap().stdout).unwrap()
    };
    let v = run(Some(&root));
    let ev = &v["findings"][0]["evidence"];
    assert_eq!(ev[0]["kind"], "error", "{v}");
    assert_eq!(ev[0]["timestamp"], "2026-11-28T09:00:00Z");
    assert!(v["summary"]["error_log_time_zone"].as_str().unwrap().contains("host's time zone"), "{v}");
}
