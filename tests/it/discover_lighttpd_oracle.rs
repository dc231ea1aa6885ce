//! lighttpd itself as the judge of its access logs: a running lighttpd writes each request to the
//! `accesslog.filename` its `$HTTP["host"]` conditions select (all of them are listed, the
//! conditional ones with their condition), writes no access log at all when no
//! `accesslog.filename` is set (not to stderr), and `lighttpd -tt` accepts every config used.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tailgate::discover::{LogKind, Target, lighttpd};
use tailgate::format::{Format, Record};
use tailgate::paths::Root;

/// Run lighttpd on `conf` (checked with `-tt` first), send one request per Host header, stop it;
/// its stdout and stderr.
fn run(conf: &Path, port: u16, hosts: &[&str]) -> String {
    let bin = support::need("lighttpd");
    let t = Command::new(&bin).args(["-tt", "-f"]).arg(conf).output().unwrap();
    assert!(t.status.success(), "lighttpd -tt: {}", String::from_utf8_lossy(&t.stderr));
    let out = conf.with_extension("out");
    let mut child = Command::new(&bin)
        .args(["-D", "-f"])
        .arg(conf)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::from(std::fs::File::create(conf.with_extension("err")).unwrap()))
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !support::listening(port) {
        assert!(t0.elapsed() < Duration::from_secs(10), "lighttpd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for h in hosts {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET /x HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n").unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    std::thread::sleep(Duration::from_millis(200));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    std::fs::read_to_string(&out).unwrap_or_default() + &std::fs::read_to_string(conf.with_extension("err")).unwrap_or_default()
}

#[test]
fn per_host_access_logs_are_all_listed_with_their_conditions() {
    let dir = support::server_dir();
    let d = dir.path().display().to_string();
    let port = support::free_port();
    support::discover_tree("lighttpd-per-host", dir.path(), &[("PORT1", port.to_string())]);
    let conf = dir.path().join("lighttpd.conf");
    run(&conf, port, &["a.example", "b.example", "c.example", "a.example"]);
    let cfg = lighttpd::discover(&Root::new(None), &conf);
    let access: Vec<&tailgate::discover::Source> = cfg.sources.iter().filter(|s| s.kind == LogKind::Access).collect();
    for (file, lines, cond) in [("access.log", 1, None), ("a.log", 2, Some("a.example")), ("b.log", 1, Some("^b\\."))] {
        let path = format!("{d}/{file}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("lighttpd wrote no {file}"));
        assert_eq!(text.lines().count(), lines, "{file}: {text}");
        let src = access.iter().find(|s| s.target == Target::File(path.clone())).unwrap_or_else(|| panic!("{file} not listed: {access:?}"));
        match cond {
            Some(c) => assert!(src.note.as_deref().unwrap_or("").contains(c), "{file}: {:?}", src.note),
            None => assert!(src.note.is_none(), "{file}: {:?}", src.note),
        }
        let fmt = Format::from_spec(src.format.as_deref().unwrap()).unwrap();
        let mut p = fmt.parser();
        for l in text.lines() {
            assert!(matches!(p.parse(l.as_bytes()), Ok(Record::Access(_))), "{file}: {l:?}");
        }
    }
    assert_eq!(access.len(), 3, "{access:?}");
}

#[test]
fn no_accesslog_filename_means_no_access_log() {
    let dir = support::server_dir();
    let port = support::free_port();
    support::discover_tree("lighttpd-no-filename", dir.path(), &[("PORT1", port.to_string())]);
    let conf = dir.path().join("lighttpd.conf");
    let output = run(&conf, port, &["x.example"]);
    assert!(!output.contains("GET /x"), "lighttpd wrote an access line to its output: {output}");
    let logs: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log") && n != "error.log")
        .collect();
    assert!(logs.is_empty(), "{logs:?}");
    let cfg = lighttpd::discover(&Root::new(None), &conf);
    assert!(!cfg.sources.iter().any(|s| s.kind == LogKind::Access), "{:?}", cfg.sources);
    assert!(cfg.warnings.iter().any(|w| w.message.contains("no access log")), "{:?}", cfg.warnings);

    // accesslog.use-syslog: the access log goes to syslog, whatever the file name says.
    support::discover_tree("lighttpd-syslog", dir.path(), &[("PORT1", port.to_string())]);
    let t = Command::new(support::need("lighttpd")).args(["-tt", "-f"]).arg(&conf).output().unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let cfg = lighttpd::discover(&Root::new(None), &conf);
    let access: Vec<&Target> = cfg.sources.iter().filter(|s| s.kind == LogKind::Access).map(|s| &s.target).collect();
    assert_eq!(access, [&Target::Syslog("accesslog.use-syslog".into())]);
}
