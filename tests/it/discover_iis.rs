//! IIS discovery on the constructed applicationHost.config fixtures and the real IIS log samples
//! (tests/fixtures/configs/SOURCES.md, "IIS").

use crate::support;

use std::path::{Path, PathBuf};

use tailgate::discover::iis;
use tailgate::discover::{LogKind, Target};
use tailgate::paths::Root;

const CONFIG: &str = "C:\\Windows\\System32\\inetsrv\\config\\applicationHost.config";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs/iis")
}

/// A Windows system drive: the site-mode config plus the real log samples.
fn drive(mode: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    support::copy_dir(&fixtures().join(mode), t.path());
    support::copy_dir(&fixtures().join("logs"), t.path());
    t
}

#[test]
fn site_mode() {
    let d = drive("site-mode");
    let cfg = iis::discover(&Root::new(Some(d.path().to_path_buf())), CONFIG, &iis::default_env());
    let access: Vec<_> = cfg.sources.iter().filter(|s| s.kind == LogKind::Access).collect();
    assert_eq!(access.len(), 2, "{access:#?}");
    assert_eq!(access[0].target, Target::Glob("C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex*.log".into()));
    assert_eq!(access[0].files, ["C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex160110.log", "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210401.log"]);
    assert_eq!(access[0].format.as_deref(), Some("w3c"));
    assert_eq!(access[1].target, Target::Glob("D:\\logs\\iis\\W3SVC3\\u_ex*.log".into()));
    assert!(access[1].note.as_deref().unwrap().contains("Hourly"));
    assert_eq!(access[1].origin.as_ref().unwrap().line, 31);
    let httperr = cfg.sources.iter().find(|s| s.kind == LogKind::Httperr).unwrap();
    assert_eq!(httperr.target, Target::Glob("C:\\Windows\\System32\\LogFiles\\HTTPERR\\httperr*.log".into()));
    assert_eq!(httperr.files, ["C:\\Windows\\System32\\LogFiles\\HTTPERR\\httperr1.log"]);
    assert!(cfg.warnings.iter().any(|w| w.message.contains("site 12 \"legacy\": logging disabled")), "{:?}", cfg.warnings);
    assert_eq!(cfg.connection_timeout, 120);
}

#[test]
fn central_w3c_mode() {
    let d = drive("central-w3c-mode");
    std::fs::create_dir_all(d.path().join("E/IISLogs/W3SVC")).unwrap();
    std::fs::write(d.path().join("E/IISLogs/W3SVC/u_extend26112508.log"), "#Fields: date time\n").unwrap();
    let cfg = iis::discover(&Root::new(Some(d.path().to_path_buf())), CONFIG, &iis::default_env());
    let access: Vec<_> = cfg.sources.iter().filter(|s| s.kind == LogKind::Access).collect();
    assert_eq!(access.len(), 1);
    assert_eq!(access[0].target, Target::Glob("E:\\IISLogs\\**\\*.log".into()));
    assert_eq!(access[0].files.len(), 1, "{:?}", access[0].files);
}

#[test]
fn broken_xml_is_a_warning_with_a_line() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("Windows/System32/inetsrv/config");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("applicationHost.config"), "<configuration>\n<system.applicationHost>\n<sites><site id=\"1\">\n</configuration>").unwrap();
    let cfg = iis::discover(&Root::new(Some(d.path().to_path_buf())), CONFIG, &iis::default_env());
    assert!(cfg.warnings[0].message.contains("not valid XML"));
    assert!(cfg.warnings[0].origin.as_ref().unwrap().line >= 3);
    assert_eq!(cfg.sources.len(), 1, "HTTPERR is still reported");
}
