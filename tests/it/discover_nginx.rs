//! nginx discovery on real and constructed config trees (tests/fixtures/configs, expectations from
//! tests/fixtures/configs/SOURCES.md), table-driven.

use crate::support;

use std::path::{Path, PathBuf};

use tailgate::discover::nginx::{self, Settings};
use tailgate::discover::{LogKind, Source, Target};
use tailgate::paths::Root;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs/nginx")
}

fn debian() -> Settings {
    Settings::from_v(
        "nginx version: nginx/1.22.1\nconfigure arguments: --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf --http-log-path=/var/log/nginx/access.log --error-log-path=stderr",
    )
}

fn discover(root: &Path, conf: &str, s: &Settings) -> (Vec<Source>, Vec<String>) {
    let root = Root::new(Some(root.to_path_buf()));
    let cfg = nginx::load(&root, Path::new(conf));
    let (sources, mut warnings) = nginx::logs(&cfg, s);
    warnings.extend(cfg.warnings);
    (sources, warnings.iter().map(ToString::to_string).collect())
}

#[test]
fn debian_default() {
    let (s, w) = discover(&fixtures().join("debian-bookworm-1.22.1"), "/etc/nginx/nginx.conf", &debian());
    assert_eq!(support::targets(&s, LogKind::Error), ["/var/log/nginx/error.log"]);
    assert_eq!(support::targets(&s, LogKind::Access), ["/var/log/nginx/access.log"]);
    let a = s.iter().find(|s| s.kind == LogKind::Access).unwrap();
    assert_eq!(a.format_name.as_deref(), Some("combined"));
    let o = a.origin.as_ref().unwrap();
    assert_eq!((o.file.as_str(), o.line), ("/etc/nginx/nginx.conf", 40));
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn upstream_default_uses_compiled_in_paths() {
    let root = fixtures().join("nginx-upstream-default");
    let (s, _) = discover(&root, "/conf/nginx.conf", &Settings::upstream_default());
    assert_eq!(support::targets(&s, LogKind::Error), ["/usr/local/nginx/logs/error.log"]);
    assert_eq!(support::targets(&s, LogKind::Access), ["/usr/local/nginx/logs/access.log"]);
    assert!(s.iter().all(|s| s.origin.is_none() && s.note.as_deref().unwrap().contains("compiled-in")));
    // Debian's binary: access to /var/log/nginx/access.log, errors to stderr.
    let (s, _) = discover(&root, "/conf/nginx.conf", &debian());
    assert_eq!(support::targets(&s, LogKind::Error), ["stderr"]);
    assert_eq!(support::targets(&s, LogKind::Access), ["/var/log/nginx/access.log"]);
}

#[test]
fn constructed_pitfalls() {
    let (s, w) = discover(&fixtures().join("constructed-pitfalls"), "/etc/nginx/nginx.conf", &debian());
    assert_eq!(
        support::targets(&s, LogKind::Error),
        ["/usr/share/nginx/logs/api-error.log", "/var/log/nginx/app-error.log", "/var/log/nginx/main-error.log", "syslog:server=unix:/dev/log,tag=nginx",]
    );
    assert_eq!(
        support::targets(&s, LogKind::Access),
        [
            "/usr/share/nginx/logs/api-access.log",
            "/var/log/nginx/access.json.gz",
            "/var/log/nginx/access.log",
            "/var/log/nginx/api-writes.log",
            "/var/log/nginx/app access.log",
            "/var/log/nginx/static#1.log",
            "glob:/var/log/nginx/api-v2-*.log",
            "syslog:server=10.0.0.5:514,facility=local7,tag=nginx,severity=info",
        ]
    );
    let by = |p: &str| s.iter().find(|s| matches!(&s.target, Target::File(f) if f == p)).unwrap();
    assert_eq!(by("/var/log/nginx/access.log").format_name.as_deref(), Some("elb"));
    assert!(by("/var/log/nginx/access.log").format.as_deref().unwrap().contains("urt=\"$upstream_response_time\""));
    assert_eq!(by("/var/log/nginx/access.json.gz").format_name.as_deref(), Some("json"));
    assert_eq!(by("/usr/share/nginx/logs/api-access.log").format_name.as_deref(), Some("combined"));
    let app = by("/var/log/nginx/app access.log");
    assert_eq!(app.origin.as_ref().unwrap().to_string(), "/etc/nginx/conf.d/app.conf:5");
    assert_eq!(by("/var/log/nginx/static#1.log").origin.as_ref().unwrap().to_string(), "/etc/nginx/snippets/common.conf:5");
    assert!(w.iter().any(|w| w.contains("syslog")), "{w:?}");
    assert!(w.iter().any(|w| w.contains("gzip")), "{w:?}");
    assert!(!w.iter().any(|w| w.contains("nonexistent")), "a glob matching nothing is fine: {w:?}");
}

/// Every crossplane config: which access/error logs, and which warnings.
#[test]
#[allow(clippy::type_complexity)] // a table of tuples reads better than a struct per row
fn crossplane_table() {
    let cases: &[(&str, &str, &[&str], &[&str], &[&str])] = &[
        // (dir, main file, access, error, warning substrings)
        ("simple", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("with-comments", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("messy", "nginx.conf", &[], &["/usr/share/nginx/off", "stderr"], &["writes a file named \"off\""]),
        ("quoted-right-brace", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("comments-between-args", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("includes-regular", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &["bar.conf"]),
        ("includes-globbed", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("lua-block-simple", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("lua-block-larger", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("lua-block-tricky", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("missing-semicolon", "broken-above.conf", &["/var/log/nginx/access.log"], &["stderr"], &["not terminated"]),
        ("missing-semicolon", "broken-below.conf", &["/var/log/nginx/access.log"], &["stderr"], &["not terminated"]),
        ("spelling-mistake", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("directive-with-space", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("empty-value-map", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("russian-text", "nginx.conf", &[], &["stderr"], &[]), // no http block
        ("non-unicode", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]),
        ("quote-behavior", "nginx.conf", &[], &["stderr"], &[]),
        ("bad-args", "nginx.conf", &["/var/log/nginx/access.log"], &["stderr"], &[]), // empty http{}: default server
    ];
    for (dir, main, access, error, warns) in cases {
        let root = fixtures().join("crossplane").join(dir);
        // The fixture directory is the config prefix: mount it at /etc/nginx.
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("etc")).unwrap();
        support::copy_dir(&root, &tmp.path().join("etc/nginx"));
        let (s, w) = discover(tmp.path(), &format!("/etc/nginx/{main}"), &debian());
        assert_eq!(support::targets(&s, LogKind::Access), *access, "{dir}/{main}: {s:#?}");
        assert_eq!(support::targets(&s, LogKind::Error), *error, "{dir}/{main}");
        for want in *warns {
            assert!(w.iter().any(|x| x.contains(want)), "{dir}/{main}: no warning with {want:?} in {w:?}");
        }
        if warns.is_empty() {
            assert!(w.is_empty(), "{dir}/{main}: unexpected warnings {w:?}");
        }
    }
}
