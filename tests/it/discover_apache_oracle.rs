//! Apache httpd's own behaviour as the judge of what discovery reads from its config:
//! `apache2 -t -D DUMP_INCLUDES` for the files an `Include` of a directory reads (recursively), and
//! a running httpd for `LogFormat` scope and order, `GlobalLog`, `KeepAliveTimeout` units and
//! logs sent to the server's standard output.

use crate::support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tailgate::discover::apache::{self, Settings};
use tailgate::discover::{LogKind, Target};
use tailgate::format::{Format, Record};
use tailgate::paths::Root;

fn settings(conf: &Path, root: &Path) -> Settings {
    Settings { server_root: root.to_path_buf(), config_file: conf.to_path_buf(), ..Settings::debian() }
}

/// `Include dir/` reads every file under it, subdirectories too, in name order — as
/// `apache2 -t -D DUMP_INCLUDES` lists them.
#[test]
fn include_of_a_directory_recurses_like_httpd() {
    let bin = support::need("apache2");
    let dir = support::server_dir();
    let d = dir.path();
    support::discover_tree("apache-include-dir", d, &[("LISTEN", format!("Listen 127.0.0.1:{}", support::free_port()))]);
    let conf = d.join("httpd.conf");
    let out = Command::new(bin).args(["-f", &conf.display().to_string(), "-t", "-D", "DUMP_INCLUDES"]).env("APACHE_RUN_DIR", d).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // "  (*) /…/httpd.conf\n    (N) /…/conf.d/a.conf"
    let httpd: Vec<String> = text.lines().filter_map(|l| l.split_once(") ").map(|(_, p)| p.trim().to_string())).filter(|p| p.starts_with('/')).collect();
    assert!(httpd.len() >= 4, "apache2 -t -D DUMP_INCLUDES:\n{text}");
    let cfg = apache::discover(&Root::new(None), &settings(&conf, d), HashMap::new());
    assert_eq!(cfg.files, httpd, "the files httpd reads, in its order");
    assert!(httpd.iter().any(|f| f.ends_with("deeper/c.conf")), "{httpd:?}");
}

/// What a running httpd writes, and what discovery says about the same config.
#[test]
fn logformat_scope_order_globallog_keepalive_units_and_stdout() {
    let bin = support::need("apache2");
    let dir = support::server_dir();
    let d = dir.path();
    let (p1, p2, p3) = (support::free_port(), support::free_port(), support::free_port());
    let listen = [p1, p2, p3].iter().map(|p| format!("Listen 127.0.0.1:{p}")).collect::<Vec<_>>().join("\n");
    support::discover_tree("apache-logformat", d, &[("LISTEN", listen), ("PORT2", p2.to_string()), ("PORT3", p3.to_string())]);
    let conf = d.join("httpd.conf");
    let stdout = std::fs::File::create(d.join("stdout.txt")).unwrap();
    let mut child = Command::new(bin)
        .args(["-f", &conf.display().to_string(), "-DFOREGROUND"])
        .env("APACHE_RUN_DIR", d)
        .stdout(stdout)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !(support::listening(p1) && support::listening(p2) && support::listening(p3)) {
        assert!(t0.elapsed() < Duration::from_secs(10), "httpd did not start: {}", std::fs::read_to_string(d.join("error.log")).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in [p1, p2, p3] {
        support::get(p, "/x");
    }
    // KeepAliveTimeout 1500ms: an idle kept-alive connection is closed after 1.5 s.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", p1)).unwrap();
    s.write_all(b"GET /ka HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 4096];
    let _ = s.read(&mut buf).unwrap();
    let idle_from = Instant::now();
    while s.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
    let closed_after = idle_from.elapsed();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    assert!(
        closed_after >= Duration::from_millis(1300) && closed_after < Duration::from_millis(3000),
        "httpd closed the idle connection after {closed_after:?}"
    );

    let cfg = apache::discover(&Root::new(None), &settings(&conf, d), HashMap::new());
    assert_eq!(cfg.keepalive_timeout_ms, 1500);
    let by_target: HashMap<String, &tailgate::discover::Source> = cfg
        .sources
        .iter()
        .filter(|s| s.kind == LogKind::Access)
        .map(|s| {
            let t = match &s.target {
                Target::File(p) => PathBuf::from(p).file_name().unwrap().to_string_lossy().into_owned(),
                Target::Stdout => "stdout".into(),
                other => format!("{other:?}"),
            };
            (t, s)
        })
        .collect();
    assert_eq!(by_target["stdout"].target, Target::Stdout, "a log to /dev/stdout is the server's output, not a file");
    let stdout_lines = std::fs::read_to_string(d.join("stdout.txt")).unwrap();
    assert!(stdout_lines.lines().any(|l| l.starts_with("STDOUT ")), "httpd wrote it there: {stdout_lines}");
    // Every line httpd wrote parses with the format discovery found for that file.
    let mut seen = 0;
    for (name, first_word) in [("main.log", "MAIN"), ("global.log", "GLOBAL"), ("vh.log", "VH"), ("vh2.log", "vhonly")] {
        let text = std::fs::read_to_string(d.join(name)).unwrap();
        assert!(!text.is_empty() && text.lines().all(|l| l.starts_with(first_word)), "{name}: {text}");
        let src = by_target.get(name).unwrap_or_else(|| panic!("{name} not discovered: {:?}", cfg.sources));
        let fmt = Format::from_spec(src.format.as_deref().unwrap()).unwrap();
        let mut p = fmt.parser();
        for l in text.lines() {
            assert!(matches!(p.parse(l.as_bytes()), Ok(Record::Access(_))), "{name}: {l:?} with {:?}", src.format);
            seen += 1;
        }
    }
    assert!(seen >= 6);
    // (GlobalLog covers the virtual hosts: no "their requests are not logged" warning)
    assert!(!cfg.warnings.iter().any(|w| w.message.contains("not logged")), "{:?}", cfg.warnings);
}

#[test]
fn keepalive_timeout_units_as_httpd_reads_them() {
    for (v, ms) in [("5", Some(5000)), ("5s", Some(5000)), ("500ms", Some(500)), ("2mi", Some(120_000)), ("1h", Some(3_600_000)), ("5x", None), ("", None)] {
        assert_eq!(apache::timeout_ms(v), ms, "{v}");
    }
}

/// mod_macro: `<Macro>` bodies expanded where `Use` is, parameters replaced — the logs a running
/// httpd writes for two virtual hosts made from one macro are the ones discovery lists.
#[test]
fn macros_expand_where_they_are_used() {
    let bin = support::need("apache2");
    let dir = support::server_dir();
    let d = dir.path();
    let ds = d.display().to_string();
    let (p1, p2, p3) = (support::free_port(), support::free_port(), support::free_port());
    let listen = [p1, p2, p3].iter().map(|p| format!("Listen 127.0.0.1:{p}")).collect::<Vec<_>>().join("\n");
    support::discover_tree("apache-macro", d, &[("LISTEN", listen), ("PORT2", p2.to_string()), ("PORT3", p3.to_string())]);
    let conf = d.join("httpd.conf");
    let mut child = Command::new(bin)
        .args(["-f", &conf.display().to_string(), "-DFOREGROUND"])
        .env("APACHE_RUN_DIR", d)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !(support::listening(p2) && support::listening(p3)) {
        assert!(t0.elapsed() < Duration::from_secs(10), "httpd did not start: {}", std::fs::read_to_string(d.join("error.log")).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(50));
    }
    support::get(p2, "/a");
    support::get(p3, "/b");
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let cfg = apache::discover(&Root::new(None), &settings(&conf, d), HashMap::new());
    for name in ["alpha", "beta"] {
        let file = format!("{ds}/site-{name}.log");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.lines().any(|l| l.starts_with(name)), "httpd wrote {file}: {text}");
        let src = cfg.sources.iter().find(|s| s.target == Target::File(file.clone())).unwrap_or_else(|| panic!("{file} not discovered: {:?}", cfg.sources));
        let fmt = Format::from_spec(src.format.as_deref().unwrap()).unwrap();
        let mut p = fmt.parser();
        for l in text.lines() {
            assert!(matches!(p.parse(l.as_bytes()), Ok(Record::Access(_))), "{l:?} with {:?}", src.format);
        }
    }
    assert!(!cfg.sources.iter().any(|s| matches!(&s.target, Target::File(f) if f.contains('$'))), "no unexpanded parameter: {:?}", cfg.sources);
}
