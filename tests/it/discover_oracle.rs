//! Oracles: the real nginx and Apache httpd read the same config trees (paths remapped into a
//! temp dir) and open their log files; the files they actually create must be exactly the ones
//! discovery names.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use tailgate::discover::{LogKind, Target};
use tailgate::paths::Root;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs").join(rel)
}

/// Rewrite absolute paths in every file under `dir` so they point into `tmp`.
fn remap(dir: &Path, tmp: &Path, prefixes: &[&str]) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            remap(&p, tmp, prefixes);
        } else if let Ok(text) = std::fs::read_to_string(&p) {
            let mut t = text;
            for pre in prefixes {
                t = t.replace(pre, &format!("{}{pre}", tmp.display()));
            }
            std::fs::write(&p, t).unwrap();
        }
    }
}

/// Files under `tmp/<sub>` (recursively), as instance paths.
fn created(tmp: &Path, subs: &[&str]) -> BTreeSet<String> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() { walk(&p, out) } else { out.push(p) }
            }
        }
    }
    let mut v = Vec::new();
    for s in subs {
        walk(&tmp.join(s), &mut v);
    }
    v.into_iter().map(|p| format!("/{}", p.strip_prefix(tmp).unwrap().display())).collect()
}

fn files(sources: &[tailgate::discover::Source]) -> BTreeSet<String> {
    sources
        .iter()
        .filter(|s| matches!(s.kind, LogKind::Access | LogKind::Error))
        .filter_map(|s| match &s.target {
            Target::File(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn nginx_opens_exactly_the_discovered_files() {
    let nginx = support::need("nginx");
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    support::copy_dir(&fixture("nginx/constructed-pitfalls/etc/nginx"), &t.join("etc/nginx"));
    remap(&t.join("etc/nginx"), t, &["/var/log/", "/etc/nginx/", "/run/"]);
    for d in ["var/log/nginx", "usr/share/nginx/logs", "run"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    let out = Command::new(nginx)
        .args(["-t", "-p", &format!("{}/usr/share/nginx/", t.display()), "-c", &format!("{}/etc/nginx/nginx.conf", t.display())])
        .args(["-e", &format!("{}/startup.log", t.display())])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nginx -t failed: {err}");
    let opened = created(t, &["var/log", "usr/share/nginx"]);

    // Discovery on the untouched fixture, with Debian's compiled-in settings.
    let root = Root::new(Some(fixture("nginx/constructed-pitfalls")));
    let s = tailgate::discover::nginx::Settings::from_v(
        "--prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf --http-log-path=/var/log/nginx/access.log --error-log-path=stderr",
    );
    let cfg = tailgate::discover::nginx::load(&root, Path::new("/etc/nginx/nginx.conf"));
    let (sources, _) = tailgate::discover::nginx::logs(&cfg, &s);
    assert_eq!(files(&sources), opened, "nginx -t said: {err}");
    // and the decoy was never read, the variable pattern never opened
    assert!(!opened.iter().any(|f| f.contains("WRONG") || f.contains('$')));
}

#[test]
fn apache_opens_exactly_the_discovered_files() {
    let apache = support::need("apache2");
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    support::copy_dir(&fixture("apache/constructed-rhel/etc/httpd"), &t.join("etc/httpd"));
    // etc/httpd/logs is a symlink on RHEL; the fixture stores its target as text.
    let link = t.join("etc/httpd/logs");
    let target = std::fs::read_to_string(&link).unwrap();
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(target.trim(), &link).unwrap();
    for d in ["var/log/httpd", "var/log/app-httpd", "run"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    // Debian's build: mod_log_config/mod_logio are built in and modules live elsewhere, so the
    // RHEL LoadModule file is swapped; RHEL's user, rotatelogs path and port 80 are adapted.
    let m = "/usr/lib/apache2/modules";
    std::fs::write(
        t.join("etc/httpd/conf.modules.d/00-base.conf"),
        format!(
            "LoadModule mpm_event_module {m}/mod_mpm_event.so\nLoadModule authz_core_module {m}/mod_authz_core.so\n\
             LoadModule proxy_module {m}/mod_proxy.so\nLoadModule proxy_http_module {m}/mod_proxy_http.so\n"
        ),
    )
    .unwrap();
    let port = support::free_port();
    let conf = t.join("etc/httpd/conf/httpd.conf");
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace(
            "Listen 80",
            &format!(
                "Listen 127.0.0.1:{port}\nPidFile {}/run/httpd.pid\nDefaultRuntimeDir {}/run\nMutex file:{}/run default\nServerName localhost",
                t.display(),
                t.display(),
                t.display()
            ),
        )
        .replace("User apache", "User nobody")
        .replace("Group apache", "Group nogroup");
    std::fs::write(&conf, text).unwrap();
    let app = t.join("etc/httpd/conf.d/app.conf");
    let rotatelogs = ["/usr/bin/rotatelogs", "/usr/sbin/rotatelogs"].into_iter().find(|p| Path::new(p).exists()).expect("rotatelogs (apache2-utils)");
    std::fs::write(&app, std::fs::read_to_string(&app).unwrap().replace("/usr/sbin/rotatelogs", rotatelogs)).unwrap();
    remap(&t.join("etc/httpd"), t, &["/etc/httpd", "/var/log/"]);

    let mut child = Command::new(apache).args(["-f", &conf.display().to_string(), "-DFOREGROUND"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let t0 = std::time::Instant::now();
    while !support::listening(port) {
        if let Ok(Some(st)) = child.try_wait() {
            let mut e = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut e).unwrap();
            panic!("apache2 exited ({st}): {e}\n{}", std::fs::read_to_string(t.join("var/log/httpd/error_log")).unwrap_or_default());
        }
        assert!(t0.elapsed().as_secs() < 20, "apache2 did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let root = Root::new(Some(fixture("apache/constructed-rhel")));
    let cfg = tailgate::discover::apache::discover(&root, &tailgate::discover::apache::Settings::rhel(), Default::default());
    // Discovery names files through the ServerRoot-relative symlink (/etc/httpd/logs/x); resolve
    // them the way the kernel does on RHEL.
    let want: BTreeSet<String> = files(&cfg.sources).into_iter().map(|f| f.replace("/etc/httpd/logs/", "/var/log/httpd/")).collect();
    // The event MPM may bind its port before mod_log_config has opened every file: give the
    // start a moment to finish (the comparison below stays exact).
    let t1 = std::time::Instant::now();
    while created(t, &["var/log"]) != want && t1.elapsed().as_secs() < 5 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let opened = created(t, &["var/log"]);
    assert_eq!(want, opened);
}

/// `keepalive_timeout` set in a server block (nginx applies it per location, inheriting from
/// http): real nginx closes that server's idle connections at 2 s, measured by the probe, and
/// discovery of the same config says 2 s, naming that directive — not the http level's 65 s.
#[test]
fn nginx_keepalive_at_server_level_is_the_one_nginx_uses() {
    let port2 = support::free_port();
    let extra = format!("keepalive_timeout 65s;\n    server {{ listen 127.0.0.1:{port2}; keepalive_timeout 2s; location / {{ return 200 \"ok\"; }} }}");
    let d = support::server_dir();
    let backend = support::Backend::start();
    let _ng = support::nginx_with(d.path(), backend.port, None, &extra);
    let out = Command::new(env!("CARGO_BIN_EXE_tailgate"))
        .args(["--probe", &format!("http://127.0.0.1:{port2}/"), "--format", "json", "--idle", "5", "--lb-idle-timeout", "60"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let closed = v["keepalive"]["closed_after_secs"].as_f64().expect("nginx closed the idle connection");
    assert!((1.5..3.0).contains(&closed), "real nginx closed after {closed} s");
    // The same config under a root, as /etc/nginx/nginx.conf.
    let root = tempfile::tempdir().unwrap();
    let conf = std::fs::read_to_string(d.path().join("nginx.conf")).unwrap();
    std::fs::create_dir_all(root.path().join("etc/nginx")).unwrap();
    std::fs::write(root.path().join("etc/nginx/nginx.conf"), &conf).unwrap();
    let disc =
        tailgate::discover::discover(&tailgate::discover::Options { root: Root::new(Some(root.path().to_path_buf())), lb_idle_timeout: 60, profile_dir: None });
    let k = disc.keepalive.iter().find(|k| k.server == tailgate::discover::ServerKind::Nginx).expect("nginx keep-alive");
    assert_eq!(k.timeout_secs, Some(2), "{k:?}");
    let line = conf.lines().position(|l| l.contains("keepalive_timeout 2s")).unwrap() + 1;
    assert_eq!(k.origin.as_ref().map(|o| o.line), Some(line), "{k:?}");
    assert!(!k.ok);
}
