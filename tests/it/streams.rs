//! A log read from a stream counts exactly what the same log read from a file counts: stdin
//! through a real pipe, a FIFO, bash's `<(…)` process substitution, gzip recognised by its magic
//! bytes (a `.log` that is really gzip, gzip on stdin) and multi-member gzip — for every format,
//! with and without `--log-format`. Format detection reads the start of the stream and the parser
//! then reads that same start (before, the first 64 KiB of stdin were thrown away and a FIFO
//! hung).
//!
//! Inputs: the real samples in tests/fixtures (Classic ELB, ALB, IIS W3C and HTTPERR, nginx and
//! Apache error logs) and the access logs a real nginx and a real Apache write during the test,
//! each repeated past the 64 KiB detection sample. The line count is checked against the file's
//! own newline count.

use crate::support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tailgate");

/// The scan's counts, without what names the input (path, bytes, format of an empty stream).
fn counts(v: &Value) -> Value {
    let l = &v["logs"][0];
    serde_json::json!({
        "format": l["format"], "lines": l["lines"], "records": l["records"], "bad_lines": l["bad_lines"],
        "status_5xx": l["status_5xx"], "events_by_kind": l["events_by_kind"], "problems": l["problems"],
        "timeline": l["timeline"], "top_failing_paths": l["top_failing_paths"], "lb_5xx": l["lb_5xx"], "error": l["error"],
    })
}

fn parse(out: &[u8], what: &str) -> Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{what}: {e}: {}", String::from_utf8_lossy(out)))
}

fn scan_path(p: &Path, extra: &[&str]) -> Value {
    let o = Command::new(BIN).arg("--scan").arg(p).args(["--format", "json", "--threads", "2"]).args(extra).output().unwrap();
    parse(&o.stdout, &format!("{}", p.display()))
}

/// `cat FILE | tailgate --scan -`, through a real pipe.
fn scan_pipe(p: &Path, extra: &[&str]) -> Value {
    let mut cat = Command::new("cat").arg(p).stdout(Stdio::piped()).spawn().unwrap();
    let o = Command::new(BIN).args(["--scan", "-", "--format", "json"]).args(extra).stdin(Stdio::from(cat.stdout.take().unwrap())).output().unwrap();
    cat.wait().unwrap();
    parse(&o.stdout, "stdin")
}

/// A FIFO that a writer fills with the file.
fn scan_fifo(p: &Path, dir: &Path, extra: &[&str]) -> Value {
    let fifo = dir.join(format!("fifo-{}", p.file_name().unwrap().to_string_lossy()));
    let _ = std::fs::remove_file(&fifo);
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let data = std::fs::read(p).unwrap();
    let f2 = fifo.clone();
    let w = thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(&f2).unwrap();
        let _ = f.write_all(&data);
    });
    let mut child = Command::new(BIN).arg("--scan").arg(&fifo).args(["--format", "json"]).args(extra).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let t0 = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(10), "a FIFO must not hang the scan");
        thread::sleep(Duration::from_millis(10));
    }
    w.join().unwrap();
    parse(&out, "fifo")
}

/// bash's `<(cat FILE)`.
fn scan_substitution(p: &Path, extra: &[&str]) -> Value {
    let o = Command::new("bash").args(["-c", r#"f="$1"; shift; exec "$0" --scan <(cat "$f") --format json "$@""#, BIN]).arg(p).args(extra).output().unwrap();
    parse(&o.stdout, "<(…)")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `text` repeated until it is past 200 KiB (past the detection sample several times over).
fn repeated(text: &str) -> String {
    let mut s = String::new();
    while s.len() < 200 * 1024 {
        s.push_str(text);
        if !text.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}

/// Real access logs from a real nginx and a real Apache proxying to the test backend.
fn real_access_logs(dir: &Path) -> (String, String) {
    let backend = support::Backend::start();
    let dn = dir.join("nginx");
    let da = dir.join("apache");
    std::fs::create_dir_all(&dn).unwrap();
    std::fs::create_dir_all(&da).unwrap();
    let mut ng = support::nginx(&dn, backend.port, None);
    let mut ap = support::apache(&da, backend.port);
    for (i, path) in ["/ok", "/app-500", "/app-502", "/bad-status", "/early-close", "/ok?q=1", "/invalid-header"].iter().cycle().take(28).enumerate() {
        let p = format!("{path}{}n={i}", if path.contains('?') { "&" } else { "?" });
        support::get(ng.port, &p);
        support::get(ap.port, &p);
    }
    ng.stop();
    ap.stop();
    (std::fs::read_to_string(ng.access_log()).unwrap(), std::fs::read_to_string(ap.access_log()).unwrap())
}

#[test]
fn streams_count_what_files_count() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let read = |p: &str| std::fs::read_to_string(fx.join(p)).unwrap();
    let (nginx_log, apache_log) = real_access_logs(&dir.join("servers"));
    assert!(nginx_log.lines().count() >= 28 && apache_log.lines().count() >= 28, "the servers logged every request");
    let inputs: Vec<(&str, String, &str)> = vec![
        ("elb", read("elb/classic-samples.log"), "elb"),
        ("alb", read("elb/alb-samples.log"), "alb"),
        ("w3c", read("iis/logs/inetpub/logs/LogFiles/W3SVC1/u_ex210401.log"), "w3c"),
        ("httperr", read("iis/logs/Windows/System32/LogFiles/HTTPERR/httperr1.log"), "httperr"),
        ("nginx-error", read("errorlogs/nginx-error.log"), "nginx-error"),
        // records continued on lines of their own (PHP-FPM)
        ("nginx-error-multiline", read("realworld/beats-nginx-error.log"), "nginx-error"),
        // tab-separated W3C (CloudFront)
        ("w3c-tabs", read("realworld/cloudfront-web-1-0-2019-12.txt"), "w3c"),
        ("nginx-forwarded", read("realworld/beats-nginx-access.log"), "nginx-forwarded"),
        ("apache-error", read("errorlogs/apache-error.log"), "apache-error"),
        ("nginx-access", nginx_log, "nginx-combined"),
        ("apache-access", apache_log, "apache-combined"),
    ];
    for (name, text, spec) in &inputs {
        let text = repeated(text);
        let plain = dir.join(format!("{name}.log"));
        std::fs::write(&plain, &text).unwrap();
        let gz_no_ext = dir.join(format!("{name}-really-gzip.log"));
        std::fs::write(&gz_no_ext, gzip(text.as_bytes())).unwrap();
        // Two gzip members, cut at a line boundary in the middle.
        let cut = text[..text.len() / 2].rfind('\n').unwrap() + 1;
        let multi = dir.join(format!("{name}-multi.gz"));
        let mut m = gzip(&text.as_bytes()[..cut]);
        m.extend(gzip(&text.as_bytes()[cut..]));
        std::fs::write(&multi, m).unwrap();

        let newlines = text.bytes().filter(|&b| b == b'\n').count() as u64;
        for forced in [&[][..], &["--log-format", spec][..]] {
            let base = counts(&scan_path(&plain, forced));
            assert_eq!(base["lines"].as_u64(), Some(newlines), "{name} {forced:?}: every line of the file");
            assert!(base["error"].is_null(), "{name}: {base}");
            let variants: Vec<(&str, Value)> = vec![
                ("stdin", scan_pipe(&plain, forced)),
                ("fifo", scan_fifo(&plain, dir, forced)),
                ("<(…)", scan_substitution(&plain, forced)),
                ("gzip named .log", scan_path(&gz_no_ext, forced)),
                ("gzip on stdin", scan_pipe(&gz_no_ext, forced)),
                ("multi-member gzip", scan_path(&multi, forced)),
            ];
            for (how, v) in variants {
                assert_eq!(counts(&v), base, "{name} {forced:?}: {how} counts what the file counts");
            }
        }
    }
}

/// `aws s3 cp s3://…/x.log.gz - | tailgate --correlate -`: the README's command finds what the
/// file finds.
#[test]
fn correlate_reads_gzip_from_stdin() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
    let d = tempfile::tempdir().unwrap();
    let gz: PathBuf = d.path().join("elb.log.gz");
    std::fs::write(&gz, gzip(&std::fs::read(demo.join("elb.log")).unwrap())).unwrap();
    let run = |input: Option<&Path>| {
        let mut c = Command::new(BIN);
        c.arg("--correlate").arg(input.unwrap_or(Path::new("-"))).arg("--log").arg(demo.join("nginx_access.log")).args([
            "--backend",
            "10.0.1.11:80",
            "--format",
            "json",
        ]);
        if input.is_none() {
            let mut cat = Command::new("cat").arg(&gz).stdout(Stdio::piped()).spawn().unwrap();
            c.stdin(Stdio::from(cat.stdout.take().unwrap()));
            let o = c.output().unwrap();
            cat.wait().unwrap();
            return parse(&o.stdout, "stdin");
        }
        parse(&c.output().unwrap().stdout, "file")
    };
    let file = run(Some(&demo.join("elb.log")));
    let piped = run(None);
    assert!(file["summary"]["lb_5xx"].as_u64().unwrap() > 0);
    assert_eq!(piped["summary"]["lb_5xx"], file["summary"]["lb_5xx"]);
    assert_eq!(piped["summary"]["matched"], file["summary"]["matched"]);
    assert_eq!(piped["findings"].as_array().unwrap().len(), file["findings"].as_array().unwrap().len());
}

/// Run the binary with stdout read by a thread; its exit status and own peak RSS
/// ([`support::Measured`]).
fn run_rss(args: &[&str], stdin: Option<&Path>) -> (i32, usize, i64) {
    let mut m = support::Measured::new(BIN);
    let c = &mut m.cmd;
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::null());
    if let Some(p) = stdin {
        c.stdin(Stdio::from(std::fs::File::open(p).unwrap()));
    }
    let mut child = c.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let lines = thread::spawn(move || {
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => return n,
                Ok(k) => n += buf[..k].iter().filter(|&&b| b == b'\n').count(),
            }
        }
    });
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), lines.join().unwrap(), m.peak_kb())
}

/// `--scan --format ndjson` writes events as it finds them: 300 000 502s on 300 000 distinct
/// paths (43 MB) stay under 64 MB peak RSS (the release build: 25 MB, and 25 MB for 3.4 M lines
/// — benches/scan_memory.sh; before: 176 MB here, 1.2 GB for 3.4 M). The failing-path table is
/// bounded too, so text and json stay under it as well.
#[test]
fn ndjson_scan_memory_does_not_grow_with_the_log() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    let n = 300_000;
    for i in 0..n {
        writeln!(
            f,
            "10.0.{}.{} - - [25/Nov/2026:08:{:02}:{:02} +0000] \"GET /user/{i}/profile?x={i} HTTP/1.1\" 502 157 \"-\" \"curl/{}\"",
            i % 250,
            i % 200,
            (i / 5000) % 60,
            (i / 100) % 60,
            i % 9
        )
        .unwrap();
    }
    drop(f);
    let (code, lines, rss) = run_rss(&["--scan", p.to_str().unwrap(), "--format", "ndjson"], None);
    assert_eq!((code, lines), (0, n + 1), "every event and one summary line");
    assert!(rss <= 64 * 1024, "ndjson from a file: peak RSS {rss} KiB");
    let (code, lines, rss) = run_rss(&["--scan", "-", "--format", "ndjson"], Some(&p));
    assert_eq!((code, lines), (0, n + 1));
    assert!(rss <= 64 * 1024, "ndjson from stdin: peak RSS {rss} KiB");
    let (code, _, rss) = run_rss(&["--scan", p.to_str().unwrap(), "--format", "json"], None);
    assert_eq!(code, 0);
    assert!(rss <= 64 * 1024, "json: peak RSS {rss} KiB");
}
