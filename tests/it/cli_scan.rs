//! The real `tailgate` binary on files in a temp dir: bad input never stops a scan, every
//! output format says the same thing, threads don't change the answer.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

const GOOD_502: &str = r#"2026-11-25T08:00:01.000001Z lb 203.0.113.7:4000 10.0.1.5:80 0.000020 0.001000 0.000010 502 502 0 10 "GET http://x.example.com:80/api/orders?id=1 HTTP/1.1" "curl/8" - -"#;
const GOOD_200: &str = r#"2026-11-25T08:00:02.000001Z lb 203.0.113.7:4001 10.0.1.5:80 0.000020 0.001000 0.000010 200 200 0 10 "GET http://x.example.com:80/ HTTP/1.1" "curl/8" - -"#;
const LB_504: &str = r#"2026-11-25T08:01:02.000001Z lb 203.0.113.8:4002 - -1 -1 -1 504 0 0 0 "GET http://x.example.com:80/slow HTTP/1.1" "curl/8" - -"#;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tailgate"))
}

fn scan_json(args: &[&str]) -> (Value, i32) {
    let out = bin().arg("--scan").arg("--format").arg("json").args(args).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap())
}

fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn bad_input_is_counted_with_file_and_line_and_never_stops_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    data.extend_from_slice(GOOD_502.as_bytes()); // 1
    data.push(b'\n');
    data.extend_from_slice(&GOOD_200.as_bytes()[..60]); // 2: truncated
    data.push(b'\n');
    data.extend_from_slice(b"\x00\x01\x02\xff\xfe binary \x00 junk"); // 3
    data.push(b'\n');
    let mut bad_utf8 = GOOD_502.replace("curl/8", "curl/\u{1}X").into_bytes(); // 4: invalid UTF-8 in the UA
    let pos = bad_utf8.iter().position(|&b| b == 1).unwrap();
    bad_utf8[pos] = 0xC3;
    data.extend_from_slice(&bad_utf8);
    data.push(b'\n');
    data.extend(std::iter::repeat_n(b'A', 1 << 20)); // 5: a 1 MiB line
    data.push(b'\n');
    data.extend_from_slice(GOOD_200.as_bytes()); // 6: CRLF
    data.extend_from_slice(b"\r\n");
    data.extend(std::iter::repeat_n(b'B', 5 << 20)); // 7: over the line limit
    data.push(b'\n');
    data.extend_from_slice(LB_504.as_bytes()); // 8: last line without newline
    let path = write(dir.path(), "elb.log", &data);

    let (v, code) = scan_json(&["--log-format", "elb", &path]);
    assert_eq!(code, 0);
    let log = &v["logs"][0];
    assert_eq!(log["lines"], 8);
    assert_eq!(log["records"], 4, "{log}");
    assert_eq!(log["bad_lines"], 4);
    let bad: Vec<(u64, String)> =
        log["bad_examples"].as_array().unwrap().iter().map(|b| (b["line"].as_u64().unwrap(), b["reason"].as_str().unwrap().to_string())).collect();
    assert_eq!(bad.iter().map(|b| b.0).collect::<Vec<_>>(), vec![2, 3, 5, 7]);
    assert!(bad[0].1.contains("classic ELB"), "{bad:?}");
    assert!(bad[3].1.contains("longer than"), "{bad:?}");
    assert_eq!(log["status_5xx"]["502"], 2);
    assert_eq!(log["status_5xx"]["504"], 1);
    assert_eq!(log["lb_5xx"]["lb_generated"], 1);
    assert_eq!(log["lb_5xx"]["backend_generated"], 2);
    assert_eq!(log["top_failing_paths"][0], serde_json::json!(["/api/orders", 2]));

    // text mode quotes file:line for each bad line
    let out = bin().args(["--scan", "--log-format", "elb", &path]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{path}:2: classic ELB line")), "{text}");
    assert!(text.contains(&format!("{path}:7: line of {} bytes", 5 << 20)), "{text}");
}

#[test]
fn an_unreadable_log_is_reported_and_the_others_still_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "elb.log", format!("{GOOD_502}\n").as_bytes());
    let missing = dir.path().join("nope.log");
    let (v, code) = scan_json(&[missing.to_str().unwrap(), &good]);
    assert_eq!(code, 2);
    assert!(v["logs"][0]["error"].as_str().unwrap().contains("cannot read"), "{v}");
    assert_eq!(v["logs"][1]["status_5xx"]["502"], 1);
    assert_eq!(v["totals"]["unreadable"], 1);

    let junk = write(dir.path(), "junk.bin", b"\x00\x01\x02\x03 not a log\n");
    let (v, _) = scan_json(&[&junk]);
    assert!(v["logs"][0]["error"].as_str().unwrap().contains("--log-format"), "{v}");
}

#[test]
fn gzip_stdin_and_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!("{GOOD_502}\n{GOOD_200}\n{LB_504}\n");
    let gz = dir.path().join("elb.log.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(body.as_bytes()).unwrap();
    enc.finish().unwrap();
    let (v, code) = scan_json(&[gz.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(v["logs"][0]["format"], "elb");
    assert_eq!(v["logs"][0]["records"], 3);

    let mut child = bin().args(["--scan", "--format", "ndjson", "--log-format", "elb", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "2 events + 1 log summary");
    assert_eq!(lines[0]["type"], "event");
    assert_eq!(lines[0]["kind"], "lb-5xx");
    assert_eq!(lines[0]["source"], "backend");
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(lines[0]["backend"], "10.0.1.5:80");
    assert_eq!(lines[0]["timestamp"], "2026-11-25T08:00:01.000001Z");
    assert_eq!(lines[1]["source"], "lb");
    assert_eq!(lines[1]["line"], 3);
    assert_eq!(lines[2]["type"], "log");
    assert_eq!(lines[2]["path"], "-");
}

#[test]
fn since_skips_old_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "elb.log", format!("{GOOD_502}\n{GOOD_200}\n").as_bytes());
    // The fixture lines are from 2026-11-25T08:00Z; a window of 100 years includes them, 1s does not
    // (unless the clock is wrong by decades).
    let (v, _) = scan_json(&["--since", "36500d", &path]);
    assert_eq!(v["logs"][0]["skipped_old"], 0);
    let (v, _) = scan_json(&["--since", "1s", &path]);
    if chrono_now_after_2026() {
        assert_eq!(v["logs"][0]["skipped_old"], 2);
        assert_eq!(v["logs"][0]["records"], 0);
    }
    let out = bin().args(["--scan", "--since", "5y", &path]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown unit"));
}

fn chrono_now_after_2026() -> bool {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() > 1_764_057_602
}

#[test]
fn threads_do_not_change_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    // > 8 MiB so the parallel path is taken; bad lines and events spread over every chunk.
    let mut data = String::new();
    let mut i = 0u64;
    while data.len() < (10 << 20) {
        i += 1;
        match i % 7 {
            0 => data.push_str(GOOD_502),
            3 => data.push_str("garbage line"),
            5 => data.push_str(LB_504),
            _ => data.push_str(GOOD_200),
        }
        data.push('\n');
    }
    let path = write(dir.path(), "big.log", data.as_bytes());
    let (mut one, _) = scan_json(&["--threads", "1", "--examples", "1000000", &path]);
    let (mut four, _) = scan_json(&["--threads", "4", "--examples", "1000000", &path]);
    assert_eq!(one["logs"][0]["lines"].as_u64().unwrap(), i);
    assert_eq!(one["logs"][0]["bad_examples"][1]["line"], 10);
    let ev_one = one["logs"][0]["events"].take();
    let ev_four = four["logs"][0]["events"].take();
    assert_eq!(ev_one, ev_four, "same events, same line numbers");
    assert_eq!(one, four);
}

#[test]
fn iis_w3c_events_restore_the_query_and_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let log = "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2026-11-25 08:00:00\r\n\
#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n\
2026-11-25 08:00:01 10.0.0.5 GET /api/orders id=7&x=1 80 - 10.0.0.200 Mozilla/5.0+(Windows+NT+10.0) - 502 3 12030 15001\r\n\
2026-11-25 08:00:02 10.0.0.5 GET / - 80 - 10.0.0.200 ELB-HealthChecker/2.0 - 200 0 0 3\r\n\
#Fields: date time cs-method cs-uri-stem sc-status\r\n\
2026-11-25 08:01:00 POST /upload 500\r\n";
    let path = write(dir.path(), "u_ex261125.log", log.as_bytes());
    let out = bin().args(["--scan", "--format", "ndjson", &path]).output().unwrap();
    let lines: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["request"], "GET /api/orders?id=7&x=1");
    assert_eq!(lines[0]["user_agent"], "Mozilla/5.0 (Windows NT 10.0)");
    assert_eq!(lines[0]["status"], 502);
    assert_eq!(lines[0]["line"], 5);
    assert_eq!(lines[0]["timestamp"], "2026-11-25T08:00:01Z");
    // the second #Fields header (fewer columns) rules the last line
    assert_eq!(lines[1]["request"], "POST /upload");
    assert_eq!(lines[1]["line"], 8);
    let log = &lines[2];
    assert_eq!((log["format"].as_str(), log["records"].as_u64(), log["bad_lines"].as_u64()), (Some("w3c"), Some(3), Some(0)));
}
