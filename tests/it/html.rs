//! `--format html` in real headless Chromium (Debian's `chromium`, driven over the DevTools
//! protocol): what the browser itself reports — exceptions, console and log errors (content
//! security policy violations among them), every network request — and what its DOM holds.

use crate::support;
use crate::support::cdp;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

fn tailgate<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn demo(args: &[&str]) -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut v: Vec<String> = ["--correlate", "-q", "--backend", "10.0.1.11:80", "--log"].iter().map(|s| s.to_string()).collect();
    v.push(format!("{root}/examples/demo/nginx_access.log"));
    v.push(format!("{root}/examples/demo/elb.log"));
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

/// Nothing went wrong in the browser, and the page asked the network for nothing.
fn clean(c: &cdp::Chrome, page_url: &str) {
    assert!(c.reported.problems.is_empty(), "the browser reported: {:#?}", c.reported.problems);
    let others: Vec<_> = c.reported.requests.iter().filter(|u| *u != page_url).collect();
    assert!(others.is_empty(), "network requests: {others:?}");
}

/// A screenshot with content: many colours, and a fair share of non-background pixels.
fn assert_not_blank(png_bytes: &[u8]) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    let inked = pixels.iter().filter(|p| p[..3].iter().any(|&c| c < 200)).count();
    assert!(colours.len() > 50, "{} colours", colours.len());
    assert!(inked * 100 > pixels.len(), "{inked} of {} pixels drawn", pixels.len());
}

fn rows(c: &mut cdp::Chrome) -> Vec<Value> {
    c.eval("Array.from(document.querySelectorAll('#tg-findings tbody tr.row')).map(r => ({cause: r.dataset.cause, source: r.dataset.source, cells: Array.from(r.cells).map(td => td.textContent)}))")
        .as_array()
        .unwrap()
        .clone()
}

fn choose(c: &mut cdp::Chrome, select: &str, value: &str) {
    c.eval(&format!(
        "(() => {{ const s = document.getElementById({select:?}); s.value = {value:?}; s.dispatchEvent(new Event('change')); return s.value; }})()"
    ));
}

#[test]
fn the_demo_report_in_chromium() {
    let d = tempfile::tempdir().unwrap();
    let html = d.path().join("report.html");
    tailgate(&demo(&["--format", "html", "-o", html.to_str().unwrap()]));
    let json: Value = serde_json::from_slice(&tailgate(&demo(&["--format", "json"])).stdout).unwrap();
    let (summary, findings) = (&json["summary"], json["findings"].as_array().unwrap());

    let mut c = cdp::Chrome::start(1400, 1800);
    let url = c.open(&html);
    c.wait_for("document.body.dataset.ready === '1'");
    // The verdict the server rendered, and the table the script built, hold the report's counts.
    assert_eq!(c.eval("document.getElementById('tg-lb5xx').textContent"), json!(summary["lb_5xx"].to_string()));
    assert_eq!(c.eval("document.getElementById('tg-lbgen').textContent"), json!(summary["lb_generated"].to_string()));
    assert_eq!(c.eval("document.getElementById('tg-begen').textContent"), json!(summary["backend_generated"].to_string()));
    assert_eq!(c.eval("document.getElementById('tg-count').dataset.total"), json!(findings.len().to_string()));
    let all = rows(&mut c);
    assert_eq!(all.len(), findings.len());
    // The timeline is drawn by uPlot, with a point per minute.
    assert_eq!(c.eval("document.querySelectorAll('#tg-timeline canvas').length"), json!(1));
    // Filtering by each cause shows exactly that cause's rows.
    let causes: BTreeMap<String, u64> = serde_json::from_value(summary["causes"].clone()).unwrap();
    assert!(causes.len() >= 3, "{causes:?}");
    for (cause, n) in &causes {
        choose(&mut c, "f-cause", cause);
        let shown = rows(&mut c);
        assert_eq!(shown.len() as u64, *n, "{cause}");
        assert!(shown.iter().all(|r| r["cause"] == json!(cause)), "{cause}: {shown:?}");
        assert_eq!(c.eval("document.getElementById('tg-count').dataset.matching"), json!(n.to_string()));
    }
    // The cause link in the verdict does the same.
    choose(&mut c, "f-cause", "");
    c.eval("document.querySelector('.cause-link[data-cause=\"backend-5xx\"]').click()");
    assert!(rows(&mut c).iter().all(|r| r["cause"] == "backend-5xx"));
    choose(&mut c, "f-cause", "");
    // A click on a minute of the timeline (real mouse events) shows that minute's findings.
    let mut per_minute: BTreeMap<String, u64> = BTreeMap::new();
    for f in findings {
        *per_minute.entry(f["elb"]["timestamp"].as_str().unwrap()[..16].to_string()).or_default() += 1;
    }
    let (minute, n) = per_minute.iter().max_by_key(|(_, n)| **n).unwrap();
    let at = c.eval(&format!(
        "(() => {{ const u = window.tailgate.timeline; const i = u.data[0].indexOf(Date.parse('{minute}:00Z') / 1000);           const r = u.over.getBoundingClientRect(); return [r.left + u.valToPos(u.data[0][i], 'x'), r.top + r.height / 2, i]; }})()"
    ));
    assert!(at[2].as_i64().unwrap() >= 0, "{minute} is on the timeline");
    let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
    c.call("Input.dispatchMouseEvent", json!({"type": "mouseMoved", "x": x, "y": y}));
    c.call("Input.dispatchMouseEvent", json!({"type": "mousePressed", "x": x, "y": y, "button": "left", "clickCount": 1}));
    c.call("Input.dispatchMouseEvent", json!({"type": "mouseReleased", "x": x, "y": y, "button": "left", "clickCount": 1}));
    let shown = rows(&mut c);
    assert_eq!(shown.len() as u64, *n, "{minute}");
    assert!(shown.iter().all(|r| r["cells"][0].as_str().unwrap().starts_with(minute.as_str())), "{shown:?}");
    c.eval("document.getElementById('f-minute-clear').click()");
    assert_eq!(rows(&mut c).len(), findings.len());
    // A row opens to its evidence, file:line first, as the JSON report has it.
    let with = findings.iter().position(|f| !f["evidence"].as_array().unwrap().is_empty()).unwrap();
    let ev = &findings[with]["evidence"][0];
    c.eval(&format!("document.querySelectorAll('#tg-findings tbody tr.row')[{with}].click()"));
    let detail = c.eval("document.querySelector('#tg-findings tr.detail').textContent").as_str().unwrap().to_string();
    assert!(detail.contains(&format!("{}:{}", ev["file"].as_str().unwrap(), ev["line"])), "{detail}");
    // Sorting by the LB status puts 502s before 503s and 504s.
    c.eval("document.querySelector('#tg-findings th[data-sort=\"elb_status\"]').click()");
    let statuses: Vec<u64> = rows(&mut c).iter().map(|r| r["cells"][1].as_str().unwrap().parse().unwrap()).collect();
    assert!(statuses.is_sorted(), "{statuses:?}");
    assert_not_blank(&c.screenshot());
    clean(&c, &url);
}

#[test]
fn hostile_log_text_renders_as_text() {
    let d = tempfile::tempdir().unwrap();
    let evil = r#"<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">"#;
    // An LB line whose request carries markup (Classic ELB writes the URL as it came), and an
    // nginx access line whose user agent does (the scan shows it).
    std::fs::write(
        d.path().join("elb.log"),
        format!(
            "2026-11-25T03:00:57.394664Z lb 203.0.113.9:4000 10.0.1.11:80 -1 -1 -1 502 - 0 0 \"GET http://www.example.com:80/{evil} HTTP/1.1\" \"{}\" - -\n",
            evil.replace('"', "\\\"")
        ),
    )
    .unwrap();
    std::fs::write(
        d.path().join("access.log"),
        format!("203.0.113.9 - - [25/Nov/2026:03:00:58 +0000] \"GET /x HTTP/1.1\" 502 157 \"-\" \"{}\"\n", evil.replace('"', "\\x22")),
    )
    .unwrap();
    let corr = d.path().join("corr.html");
    let scan = d.path().join("scan.html");
    let p = |n: &str| d.path().join(n).to_str().unwrap().to_string();
    tailgate(&["--correlate", "-q", "--backend", "10.0.1.11", "--format", "html", "-o", &p("corr.html"), &p("elb.log")]);
    tailgate(&["--scan", "-q", "--format", "html", "-o", &p("scan.html"), &p("access.log")]);
    let mut c = cdp::Chrome::start(1200, 900);
    for (page, expect) in [(&corr, format!("/{evil}")), (&scan, evil.to_string())] {
        let url = c.open(page);
        c.wait_for("document.body.dataset.ready === '1'");
        assert_eq!(c.eval("window.__pwned === undefined"), json!(true), "{}", page.display());
        assert_eq!(c.eval("document.querySelectorAll('main img, main script').length"), json!(0));
        let text = c.eval("document.querySelector('main').textContent").as_str().unwrap().to_string();
        assert!(text.contains(&expect), "{}: the markup is shown as text: {text}", page.display());
        clean(&c, &url);
    }
}

/// 100 000 LB 5xx: half 502s of the instance the LB could not reach, half 503s without a
/// backend; the page opens with the first rows, counts them all, filters them.
fn hundred_thousand(dir: &Path) -> std::path::PathBuf {
    use std::fmt::Write as _;
    let mut s = String::new();
    for i in 0..100_000u64 {
        let (sec, us) = (i * 864 / 1000, i % 1_000_000);
        let (h, m, ss) = (sec / 3600, sec / 60 % 60, sec % 60);
        if i % 2 == 0 {
            writeln!(s, "2026-11-30T{h:02}:{m:02}:{ss:02}.{us:06}Z lb 198.51.100.{}:4000 10.0.1.5:80 -1 -1 -1 502 - 0 0 \"GET http://lb.example.com:80/user/{i}/profile HTTP/1.1\" \"curl/8\" - -", i % 250).unwrap();
        } else {
            writeln!(s, "2026-11-30T{h:02}:{m:02}:{ss:02}.{us:06}Z lb 198.51.100.{}:4000 - -1 -1 -1 503 - 0 0 \"GET http://lb.example.com:80/cart/{i} HTTP/1.1\" \"curl/8\" - -", i % 250).unwrap();
        }
    }
    let p = dir.join("elb-100k.log");
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn a_hundred_thousand_findings_open_and_filter() {
    let d = tempfile::tempdir().unwrap();
    let elb = hundred_thousand(d.path());
    let html = d.path().join("big.html");
    // (an empty --root: this host's own web servers' keep-alive settings stay out of it)
    let empty = tempfile::tempdir().unwrap();
    tailgate(&[
        "--correlate",
        "-q",
        "--root",
        empty.path().to_str().unwrap(),
        "--backend",
        "10.0.1.5",
        "--lb-idle-timeout",
        "60",
        "--format",
        "html",
        "-o",
        html.to_str().unwrap(),
        elb.to_str().unwrap(),
    ]);
    let mut c = cdp::Chrome::start(1400, 1000);
    let url = c.open(&html);
    c.wait_for("document.body.dataset.ready === '1'");
    let ready_ms: u64 = c.eval("document.body.dataset.readyMs").as_str().unwrap().parse().unwrap();
    eprintln!("100 000 findings: interactive after {ready_ms} ms");
    assert_eq!(c.eval("document.getElementById('tg-count').dataset.total"), json!("100000"));
    assert_eq!(rows(&mut c).len(), 500, "the first page of rows");
    assert_eq!(c.eval("document.getElementById('tg-more').hidden"), json!(false));
    for (cause, source) in [("connection-closed", "lb"), ("no-healthy-backend", "lb")] {
        choose(&mut c, "f-cause", cause);
        assert_eq!(c.eval("document.getElementById('tg-count').dataset.matching"), json!("50000"));
        let shown = rows(&mut c);
        assert_eq!(shown.len(), 500);
        assert!(shown.iter().all(|r| r["cause"] == cause && r["source"] == source));
    }
    // The path filter narrows to the one request.
    choose(&mut c, "f-cause", "");
    c.eval("(() => { const p = document.getElementById('f-path'); p.value = '/user/4242/'; p.dispatchEvent(new Event('input')); })()");
    let shown = rows(&mut c);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0]["cells"][6].as_str().unwrap().contains("/user/4242/profile"));
    assert_not_blank(&c.screenshot());
    clean(&c, &url);
    assert!(ready_ms < 20_000, "interactive after {ready_ms} ms");
}

#[test]
fn html_is_for_scan_and_correlate_and_output_names_a_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(["--discover", "--format", "html"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format html is for --scan and --correlate"));
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("no/such/dir/report.html");
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate"))
        .args(["--scan", "-q", "--format", "json", "-o", bad.to_str().unwrap(), &format!("{root}/examples/demo/nginx_access.log")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output"), "{}", String::from_utf8_lossy(&out.stderr));
    // Every format goes to --output when given, and nothing to stdout.
    let file = d.path().join("scan.json");
    let out = tailgate(&["--scan", "-q", "--format", "json", "-o", file.to_str().unwrap(), &format!("{root}/examples/demo/nginx_access.log")]);
    assert!(out.stdout.is_empty());
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(v["totals"]["lines"], 1029);
}

#[test]
fn all_backends_are_ranked_with_a_sparkline_each() {
    let d = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let elb = format!("{root}/examples/demo/elb.log");
    let html = d.path().join("all.html");
    tailgate(&["--correlate", "-q", "--all-backends", "--format", "html", "-o", html.to_str().unwrap(), &elb]);
    let json: Value = serde_json::from_slice(&tailgate(&["--correlate", "-q", "--all-backends", "--format", "json", &elb]).stdout).unwrap();
    let backends = json["summary"]["backends"].as_array().unwrap();
    assert!(backends.len() >= 3, "{backends:?}");
    let mut c = cdp::Chrome::start(1200, 900);
    let url = c.open(&html);
    c.wait_for("document.body.dataset.ready === '1'");
    let shown = c.eval("Array.from(document.querySelectorAll('#tg-backends tbody tr')).map(r => [r.cells[0].textContent, r.cells[2].textContent, r.querySelectorAll('canvas').length])");
    let want: Vec<Value> = backends.iter().map(|b| json!([b["backend"], b["lb_5xx"].to_string(), 1])).collect();
    assert_eq!(shown, json!(want), "ranked as the JSON report ranks them, a sparkline each");
    clean(&c, &url);
}

#[test]
fn the_scan_page_holds_what_the_scan_found() {
    let d = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let demo = format!("{root}/examples/demo/nginx_access.log");
    // A log with lines the parser rejects, between good ones.
    let mut text = std::fs::read_to_string(&demo).unwrap().lines().take(200).collect::<Vec<_>>().join("\n");
    text.push_str("\nthis is not an access log line\n\u{1b}[31mred\u{1b}[0m garbage\n");
    let broken = d.path().join("broken.log");
    std::fs::write(&broken, text).unwrap();
    let html = d.path().join("scan.html");
    tailgate(&["--scan", "-q", "--format", "html", "-o", html.to_str().unwrap(), &demo, broken.to_str().unwrap()]);
    let json: Value = serde_json::from_slice(&tailgate(&["--scan", "-q", "--format", "json", &demo, broken.to_str().unwrap()]).stdout).unwrap();
    let mut c = cdp::Chrome::start(1200, 1200);
    let url = c.open(&html);
    c.wait_for("document.body.dataset.ready === '1'");
    assert_eq!(c.eval("document.getElementById('tg-http5xx').textContent"), json!(json["totals"]["http_5xx"].to_string()));
    let table = |c: &mut cdp::Chrome, path: &str, part: &str| -> Value {
        c.eval(&format!(
            "Array.from(document.querySelectorAll('section.log')).filter(s => s.dataset.path === {path:?}).map(s => Array.from(s.querySelectorAll('table[data-part={part:?}] tbody tr')).map(r => Array.from(r.cells).map(td => td.textContent)))[0]"
        ))
    };
    for log in json["logs"].as_array().unwrap() {
        let path = log["path"].as_str().unwrap();
        let st: Vec<Value> = log["status_5xx"].as_object().unwrap().iter().map(|(k, v)| json!([k, v.to_string()])).collect();
        assert_eq!(table(&mut c, path, "5xx by status"), json!(st), "{path}");
        let top: Vec<Value> = log["top_failing_paths"].as_array().unwrap().iter().map(|p| json!([p[0], p[1].to_string()])).collect();
        assert_eq!(table(&mut c, path, "top failing paths"), json!(top), "{path}");
        let bad: Vec<Value> = log["bad_examples"].as_array().unwrap().iter().map(|b| json!([b["line"].to_string(), b["reason"], b["excerpt"]])).collect();
        assert_eq!(table(&mut c, path, "bad lines"), json!(bad), "{path}");
    }
    assert_eq!(json["logs"][1]["bad_examples"].as_array().unwrap().len(), 2, "the broken log's two bad lines");
    assert_eq!(c.eval("document.querySelectorAll('section.log canvas').length"), json!(2), "a timeline per log");
    clean(&c, &url);
}

/// `examples/demo/report.html` (linked from the README) is what this build writes for the demo.
#[test]
fn the_committed_demo_report_is_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    let empty = tempfile::tempdir().unwrap();
    // (the README's demo command, with an empty --root: this host's servers stay out of it)
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate"))
        .current_dir(root)
        .args(["--correlate", "examples/demo/elb.log", "--log", "examples/demo/nginx_access.log", "--backend", "10.0.1.11:80", "--root"])
        .arg(empty.path())
        .args(["--format", "html", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let committed = std::fs::read(format!("{root}/examples/demo/report.html")).unwrap();
    assert!(
        out.stdout == committed,
        "examples/demo/report.html is stale: regenerate it with `tailgate --correlate examples/demo/elb.log --log examples/demo/nginx_access.log --backend 10.0.1.11:80 --root $(mktemp -d) --format html -o examples/demo/report.html` (and its screenshot, examples/demo/README.md)"
    );
}

/// The verdict's keep-alive check: a web server whose keep-alive timeout is shorter than the LB's
/// idle timeout is flagged with its directive's file:line; a longer one is fine.
#[test]
fn the_keepalive_check_names_the_directive() {
    let mut c = cdp::Chrome::start(1200, 900);
    for (directive, class, says) in [("keepalive_timeout 5s;", "bad", "shorter than"), ("keepalive_timeout 75s;", "ok", "not shorter than")] {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        support::nginx_tree_with(root, directive);
        std::fs::write(
            root.join("elb.log"),
            "2026-11-25T08:00:01.000000Z lb 203.0.113.7:2817 10.0.1.11:80 -1 -1 -1 502 - 0 0 \"GET http://x:80/a HTTP/1.1\" \"curl/8\" - -\n",
        )
        .unwrap();
        let html = root.join("k.html");
        tailgate(&[
            "--correlate",
            "-q",
            "--root",
            root.to_str().unwrap(),
            "--backend",
            "10.0.1.11:80",
            "--lb-idle-timeout",
            "60",
            "--format",
            "html",
            "-o",
            html.to_str().unwrap(),
            root.join("elb.log").to_str().unwrap(),
        ]);
        let url = c.open(&html);
        c.wait_for("document.body.dataset.ready === '1'");
        let li = c.eval("Array.from(document.querySelectorAll('#tg-keepalive li')).map(l => [l.className, l.textContent])");
        let li = li.as_array().unwrap();
        assert_eq!(li.len(), 1, "{li:?}");
        assert_eq!(li[0][0], class);
        let text = li[0][1].as_str().unwrap();
        assert!(text.contains(directive.trim_end_matches(';')) && text.contains("/etc/nginx/nginx.conf:4") && text.contains(says), "{text}");
        assert_eq!(c.eval("document.getElementById('tg-idle').textContent"), json!("60 s, from --lb-idle-timeout"));
        clean(&c, &url);
    }
}
