//! Apache discovery on Debian's real config tree and the constructed RHEL-style tree
//! (expectations from tests/fixtures/configs/SOURCES.md).

use crate::support;

use std::path::{Path, PathBuf};

use tailgate::discover::apache::{self, Settings};
use tailgate::discover::{LogKind, Target, fill_files};
use tailgate::paths::Root;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs/apache").join(rel)
}

#[test]
fn debian_default_install() {
    let root = Root::new(Some(fixture("debian-bookworm-2.4.71")));
    let env = apache::envvars(&std::fs::read_to_string(fixture("debian-bookworm-2.4.71/etc/apache2/envvars")).unwrap());
    let cfg = apache::discover(&root, &Settings::debian(), env);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    assert_eq!(support::targets(&cfg.sources, LogKind::Error), ["/var/log/apache2/error.log"]);
    assert_eq!(support::targets(&cfg.sources, LogKind::Access), ["/var/log/apache2/access.log", "/var/log/apache2/other_vhosts_access.log"]);
    let main_err = cfg.sources.iter().find(|s| s.kind == LogKind::Error).unwrap();
    assert_eq!(main_err.origin.as_ref().unwrap().to_string(), "/etc/apache2/apache2.conf:134");
    let access = cfg.sources.iter().find(|s| matches!(&s.target, Target::File(f) if f.ends_with("/access.log"))).unwrap();
    assert_eq!(access.format_name.as_deref(), Some("combined"));
    assert_eq!(access.origin.as_ref().unwrap().to_string(), "/etc/apache2/sites-enabled/000-default.conf:21");
    let other = cfg.sources.iter().find(|s| matches!(&s.target, Target::File(f) if f.ends_with("other_vhosts_access.log"))).unwrap();
    assert_eq!(other.format_name.as_deref(), Some("vhost_combined"));
    assert!(other.format.as_deref().unwrap().starts_with("apache:%v:%p "));
    assert_eq!((cfg.keepalive, cfg.keepalive_timeout_ms), (true, 5000));
    assert_eq!(cfg.keepalive_origin.unwrap().to_string(), "/etc/apache2/apache2.conf:111");

    // Without envvars (the bare binary) the variable is undefined: httpd says AH00111, so do we.
    let cfg = apache::discover(&root, &Settings::debian(), Default::default());
    assert!(cfg.warnings.iter().any(|w| w.message.contains("${APACHE_LOG_DIR} is not defined")), "{:?}", cfg.warnings);
}

#[test]
fn constructed_rhel_tree() {
    // The fixture keeps etc/httpd/logs as a file holding the link target: make it the symlink it is on RHEL.
    let tmp = tempfile::tempdir().unwrap();
    support::copy_dir(&fixture("constructed-rhel"), tmp.path());
    let logs = tmp.path().join("etc/httpd/logs");
    let target = std::fs::read_to_string(&logs).unwrap();
    std::fs::remove_file(&logs).unwrap();
    std::os::unix::fs::symlink(target.trim(), &logs).unwrap();
    std::fs::create_dir_all(tmp.path().join("var/log/httpd")).unwrap();
    std::fs::write(tmp.path().join("var/log/httpd/error_log"), "").unwrap();
    std::fs::write(tmp.path().join("var/log/httpd/app_rot.20261125"), "").unwrap();

    let root = Root::new(Some(tmp.path().to_path_buf()));
    let mut cfg = apache::discover(&root, &Settings::rhel(), Default::default());
    fill_files(&mut cfg.sources, &root);
    assert_eq!(support::targets(&cfg.sources, LogKind::Error), ["/etc/httpd/logs/error_log", "/var/log/app-httpd/app_error.log", "syslog:local1"]);
    assert_eq!(
        support::targets(&cfg.sources, LogKind::Access),
        [
            "/etc/httpd/logs/access_log",
            "/etc/httpd/logs/app_transfer_log",
            "/var/log/app-httpd/app_access.log",
            "glob:/var/log/httpd/app_rot.*",
            "pipe:/usr/bin/logger -t httpd-access",
        ]
    );
    // the symlink resolves to /var/log/httpd for the files that exist now
    let err = cfg.sources.iter().find(|s| matches!(&s.target, Target::File(f) if f == "/etc/httpd/logs/error_log")).unwrap();
    assert_eq!(err.files, ["/var/log/httpd/error_log"]);
    let rot = cfg.sources.iter().find(|s| matches!(&s.target, Target::Glob(_))).unwrap();
    assert_eq!(rot.files, ["/var/log/httpd/app_rot.20261125"]);
    // inline format and TransferLog's CLF
    let app = cfg.sources.iter().find(|s| matches!(&s.target, Target::File(f) if f.ends_with("app_access.log"))).unwrap();
    assert_eq!(app.format.as_deref(), Some(r#"apache:%h %t "%r" %>s %D"#));
    let tl = cfg.sources.iter().find(|s| matches!(&s.target, Target::File(f) if f.ends_with("app_transfer_log"))).unwrap();
    assert_eq!(tl.format.as_deref(), Some(r#"apache:%h %l %u %t "%r" %>s %b"#));
    let w: Vec<&str> = cfg.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(w.iter().any(|m| m.contains("conditional log (env=!dontlog)")), "{w:?}");
    assert!(w.iter().any(|m| m.contains("piped to a program")), "{w:?}");
    assert!(w.iter().any(|m| m.contains("syslog")), "{w:?}");
    assert!(!w.iter().any(|m| m.contains("does-not-exist")), "IncludeOptional of nothing is silent: {w:?}");
}
