//! Broken configurations give warnings with file:line, never a panic, and the rest is still
//! discovered.

use std::path::Path;

use tailgate::discover::{LogKind, Target, Warning, apache, nginx};
use tailgate::paths::Root;

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// Some warning contains `needle` and starts with `at` (`file:line`).
fn assert_warned(warnings: &[Warning], needle: &str, at: &str) {
    let w: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert!(w.iter().any(|x| x.contains(needle) && x.starts_with(at)), "no {needle:?} at {at}: {w:#?}");
}

fn access_files(sources: &[tailgate::discover::Source]) -> Vec<String> {
    let mut v: Vec<String> =
        sources.iter().filter(|s| s.kind == LogKind::Access).filter_map(|s| if let Target::File(f) = &s.target { Some(f.clone()) } else { None }).collect();
    v.sort();
    v
}

#[test]
fn nginx_survives_broken_includes() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(
        r,
        "etc/nginx/nginx.conf",
        b"events {}\nhttp {\n    access_log /var/log/nginx/good.log;\n    include conf.d/*.conf;\n    include cycle-a.conf;\n    include unreadable.conf;\n    include big.conf;\n    include junk.conf;\n    server { listen 80; access_log /var/log/nginx/after.log; }\n}\n",
    );
    write(r, "etc/nginx/conf.d/missing-semicolon.conf", b"server {\n    listen 81\n    access_log /var/log/nginx/ms.log;\n}\n");
    write(r, "etc/nginx/conf.d/ok.conf", b"server { listen 82; access_log /var/log/nginx/ok.log; }\n");
    write(r, "etc/nginx/cycle-a.conf", b"include cycle-b.conf;\n");
    write(r, "etc/nginx/cycle-b.conf", b"include cycle-a.conf;\n");
    // unreadable: as root every file is readable, so a directory stands in
    std::fs::create_dir_all(r.join("etc/nginx/unreadable.conf")).unwrap();
    let big = vec![b'#'; 50 << 20];
    write(r, "etc/nginx/big.conf", &big);
    write(r, "etc/nginx/junk.conf", b"\x00\x01\x02\xff binary junk }}}{{{ ;;;");

    let root = Root::new(Some(r.to_path_buf()));
    let cfg = nginx::load(&root, Path::new("/etc/nginx/nginx.conf"));
    let s = nginx::Settings::from_v("--prefix=/usr/share/nginx --http-log-path=/var/log/nginx/access.log --error-log-path=stderr");
    let (sources, _) = nginx::logs(&cfg, &s);
    let has = |needle: &str, at: &str| assert_warned(&cfg.warnings, needle, at);
    has("not terminated", "/etc/nginx/conf.d/missing-semicolon.conf:2");
    has("include cycle", "/etc/nginx/cycle-b.conf:1");
    has("is a directory", "/etc/nginx/nginx.conf:6");
    has("over the", "/etc/nginx/nginx.conf:7");
    has("NUL bytes", "/etc/nginx/nginx.conf:8");
    // everything around the damage is still found
    let found = access_files(&sources);
    for f in ["/var/log/nginx/good.log", "/var/log/nginx/ok.log", "/var/log/nginx/after.log"] {
        assert!(found.contains(&f.to_string()), "{f} missing from {found:?}");
    }
}

#[test]
fn apache_survives_broken_includes() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(
        r,
        "etc/apache2/apache2.conf",
        b"ErrorLog /var/log/apache2/error.log\nInclude conf/*.conf\nInclude missing/*.conf\nInclude loop.conf\nInclude junk.conf\n<VirtualHost *:80>\nCustomLog /var/log/apache2/vhost.log \"%h %t \\\"%r\\\" %>s %b\"\n</VirtualHost>\n<IfModule foo_module>\nCustomLog /var/log/apache2/never.log common\n",
    );
    write(r, "etc/apache2/conf/a.conf", b"CustomLog /var/log/apache2/a.log \"%h %t\"\n");
    write(r, "etc/apache2/loop.conf", b"Include loop.conf\n");
    write(r, "etc/apache2/junk.conf", b"\x00\x00\x00");
    let root = Root::new(Some(r.to_path_buf()));
    let cfg = apache::discover(&root, &apache::Settings::debian(), Default::default());
    let has = |needle: &str, at: &str| assert_warned(&cfg.warnings, needle, at);
    has("matches no file", "/etc/apache2/apache2.conf:3");
    has("include cycle", "/etc/apache2/loop.conf:1");
    has("NUL bytes", "/etc/apache2/apache2.conf:5");
    has("is not closed", "/etc/apache2/apache2.conf");
    assert_eq!(access_files(&cfg.sources), ["/var/log/apache2/a.log", "/var/log/apache2/vhost.log"]);
}
