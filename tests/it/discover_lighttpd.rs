//! lighttpd discovery on Debian's real default tree and the upstream annotated config.

use std::path::Path;

use tailgate::discover::{LogKind, Target, lighttpd};
use tailgate::paths::Root;

fn fixture(rel: &str) -> Root {
    Root::new(Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs/lighttpd").join(rel)))
}

#[test]
fn debian_default_has_an_error_log_and_no_access_log() {
    let cfg = lighttpd::discover(&fixture("debian-bookworm-1.4.69"), Path::new("/etc/lighttpd/lighttpd.conf"));
    let errs: Vec<_> = cfg.sources.iter().filter(|s| s.kind == LogKind::Error).collect();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].target, Target::File("/var/log/lighttpd/error.log".into()));
    assert_eq!(errs[0].origin.as_ref().unwrap().to_string(), "/etc/lighttpd/lighttpd.conf:10");
    assert!(cfg.sources.iter().all(|s| s.kind != LogKind::Access), "mod_accesslog is not enabled on a fresh install");
    let w: Vec<&str> = cfg.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(w.iter().filter(|m| m.contains("include_shell")).count(), 2, "{w:?}");
}

#[test]
fn debian_with_accesslog_enabled() {
    // lighty-enable-mod accesslog links conf-available/10-accesslog.conf into conf-enabled/
    let tmp = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs/lighttpd/debian-bookworm-1.4.69/etc/lighttpd");
    let dst = tmp.path().join("etc/lighttpd");
    std::fs::create_dir_all(dst.join("conf-enabled")).unwrap();
    std::fs::copy(src.join("lighttpd.conf"), dst.join("lighttpd.conf")).unwrap();
    std::fs::copy(src.join("conf-available/10-accesslog.conf"), dst.join("conf-enabled/10-accesslog.conf")).unwrap();
    let cfg = lighttpd::discover(&Root::new(Some(tmp.path().to_path_buf())), Path::new("/etc/lighttpd/lighttpd.conf"));
    let acc: Vec<_> = cfg.sources.iter().filter(|s| s.kind == LogKind::Access).collect();
    assert_eq!(acc.len(), 1);
    assert_eq!(acc[0].target, Target::File("/var/log/lighttpd/access.log".into()));
    assert_eq!(acc[0].origin.as_ref().unwrap().to_string(), "/etc/lighttpd/conf-enabled/10-accesslog.conf:3");
    assert_eq!(acc[0].format.as_deref(), Some(format!("apache:{}", lighttpd::DEFAULT_FORMAT).as_str()));
}

#[test]
fn upstream_doc_config_with_variables_and_concatenation() {
    let cfg = lighttpd::discover(&fixture("upstream-doc-config"), Path::new("/etc/lighttpd/lighttpd.conf"));
    let t = |k: LogKind| cfg.sources.iter().filter(|s| s.kind == k).map(|s| s.target.clone()).collect::<Vec<_>>();
    assert_eq!(t(LogKind::Error), [Target::File("/var/log/lighttpd/error.log".into())]);
    assert_eq!(t(LogKind::Access), [Target::File("/var/log/lighttpd/access.log".into())]);
    let acc = cfg.sources.iter().find(|s| s.kind == LogKind::Access).unwrap();
    assert_eq!(acc.origin.as_ref().unwrap().to_string(), "/etc/lighttpd/conf.d/access_log.conf:10");
}
