//! `--discover --root DIR` on hostile trees: nothing outside DIR is ever opened, and nothing
//! hangs or blows up. Each escape tree points at a directory outside the root holding a config
//! with a marker log path; the marker must never show up, and `strace` (an outside judge)
//! must show no open of anything in that directory. The hostile trees must finish in < 2 s
//! with a clear warning.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tailgate");

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn symlink(target: &str, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// Run a mode and return (stdout, stderr, exit status, wall time), killing it after 10 s.
fn run(args: &[&str]) -> (String, String, Option<i32>, Duration) {
    use std::io::Read;
    let t0 = Instant::now();
    let mut child = Command::new(BIN).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // (drained while it runs: a full pipe would stall it)
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    while child.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = t0.elapsed();
    let _ = child.kill();
    let status = child.wait().unwrap();
    (out.join().unwrap(), err.join().unwrap(), status.code(), took)
}

/// Paths under `dir` that the process opened or stat'ed, per strace (when it is installed).
fn touched_under(args: &[&str], dir: &Path) -> Option<Vec<String>> {
    let strace = ["/usr/bin/strace", "/bin/strace"].into_iter().find(|p| Path::new(p).exists())?;
    let log = tempfile::NamedTempFile::new().unwrap();
    let st = Command::new(strace)
        .args(["-f", "-qq", "-e", "trace=open,openat,openat2,stat,lstat,newfstatat,statx,readlink,readlinkat,execve", "-o"])
        .arg(log.path())
        .arg(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.code().is_some());
    let text = std::fs::read_to_string(log.path()).unwrap();
    // (a path re-rooted under the root merely contains the outside directory's name)
    // The path a call names is its first quoted argument (a readlink's result, the second, is not
    // opened).
    let d = dir.display().to_string();
    Some(text.lines().filter(|l| l.split('"').nth(1).is_some_and(|p| p.starts_with(&d))).map(str::to_string).collect())
}

struct Trees {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

/// A root whose nginx, Apache and lighttpd configs try every way out, and a directory outside
/// it with configs that name a marker log.
fn escape_trees() -> Trees {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    let o = outside.display().to_string();
    for f in ["x.conf", "y.conf", "z.conf", "g1.conf"] {
        write(&outside.join(f), "access_log /var/log/OUTSIDE-MARKER.log;\n");
    }
    write(&outside.join("a.conf"), "CustomLog /var/log/OUTSIDE-MARKER.log combined\n");
    write(&outside.join("l.conf"), "accesslog.filename = \"/var/log/OUTSIDE-MARKER.log\"\n");
    write(&outside.join("os-release"), "ID=outsider\nPRETTY_NAME=\"OUTSIDE-MARKER\"\n");
    write(&outside.join("site.log"), "10.0.0.1 - - [25/Nov/2026:08:00:00 +0000] \"GET /OUTSIDE-MARKER HTTP/1.1\" 502 5 \"-\" \"-\"\n");
    let up = "../".repeat(20);
    write(&root.join("etc/os-release"), "ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
    write(
        &root.join("etc/nginx/nginx.conf"),
        &format!(
            "events {{}}\nhttp {{\n  include {up}{o}/x.conf;\n  include /../../..{o}/y.conf;\n  include {up}{o}/g*.conf;\n  include conf.d/*.conf;\n  access_log /var/log/nginx/inside.log;\n  server {{ access_log /../../../..{o}/$host.log; }}\n}}\n"
        ),
    );
    // Debian's sites-enabled/default is an absolute symlink: it is followed inside the root.
    symlink(&format!("{o}/z.conf"), &root.join("etc/nginx/conf.d/site.conf"));
    symlink("/etc/nginx/real.conf", &root.join("etc/nginx/conf.d/debian-style.conf"));
    write(&root.join("etc/nginx/real.conf"), "access_log /var/log/nginx/through-absolute-link.log;\n");
    write(
        &root.join("etc/apache2/apache2.conf"),
        &format!("Include {up}{o}/a.conf\nIncludeOptional /../..{o}/a.conf\nCustomLog /var/log/apache2/inside.log combined\n"),
    );
    write(&root.join("etc/lighttpd/lighttpd.conf"), &format!("include \"{up}{o}/l.conf\"\naccesslog.filename = \"/var/log/lighttpd/inside.log\"\n"));
    Trees { _tmp: tmp, root, outside }
}

#[test]
fn nothing_outside_the_root_is_read() {
    let t = escape_trees();
    let r = t.root.to_str().unwrap();
    let (out, err, code, _) = run(&["--discover", "--root", r, "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains("OUTSIDE-MARKER"), "something outside the root was read:\n{out}");
    // ... while what is inside, through an absolute symlink re-rooted, is found.
    for inside in ["/var/log/nginx/inside.log", "/var/log/nginx/through-absolute-link.log", "/var/log/apache2/inside.log", "/var/log/lighttpd/inside.log"] {
        assert!(out.contains(inside), "{inside} is discovered:\n{out}");
    }
    if let Some(touched) = touched_under(&["--discover", "--root", r, "--format", "json"], &t.outside) {
        assert!(touched.is_empty(), "opened outside the root (strace):\n{}", touched.join("\n"));
    } else {
        eprintln!("note: strace is not installed; checked by the marker only");
    }
    // --scan --root parses only logs inside the root.
    let (out, _, _, _) = run(&["--scan", "--root", r, "--format", "json"]);
    assert!(!out.contains("OUTSIDE-MARKER"), "--scan read a log outside the root:\n{out}");
    if let Some(touched) = touched_under(&["--scan", "--root", r, "--format", "json"], &t.outside) {
        assert!(touched.is_empty(), "--scan opened outside the root (strace):\n{}", touched.join("\n"));
    }
}

#[test]
fn an_absolute_os_release_link_is_read_inside_the_root() {
    let t = escape_trees();
    std::fs::remove_file(t.root.join("etc/os-release")).unwrap();
    symlink(&format!("{}/os-release", t.outside.display()), &t.root.join("etc/os-release"));
    let (out, err, code, _) = run(&["--discover", "--root", t.root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!out.contains("outsider") && !out.contains("OUTSIDE-MARKER"), "the host's (outside) os-release was read:\n{out}");
}

/// N files that each `include conf.d/*.conf`: N! inclusions without a budget (20 s and 470 MB at
/// N = 8, never done at 10). Stopped fast, said once.
#[test]
fn includes_that_multiply_stop_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(&root.join("etc/os-release"), "ID=debian\n");
    write(&root.join("etc/nginx/nginx.conf"), "events {}\nhttp {\n  include conf.d/*.conf;\n  access_log /var/log/nginx/after.log;\n}\n");
    for i in 0..10 {
        write(&root.join(format!("etc/nginx/conf.d/f{i}.conf")), "include conf.d/*.conf;\nlog_format x '$remote_addr';\n");
    }
    write(&root.join("etc/apache2/apache2.conf"), "Include conf.d/*.conf\n");
    for i in 0..10 {
        write(&root.join(format!("etc/apache2/conf.d/f{i}.conf")), "Include conf.d/*.conf\n");
    }
    let (out, err, code, took) = run(&["--discover", "--root", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(out.contains("repeat or multiply"), "a clear warning:\n{out}");
    assert!(out.contains("/var/log/nginx/after.log"), "the rest of the report is there:\n{out}");
    let cycles = out.matches("include cycle").count();
    assert!(cycles <= 30, "each cycle said once, not once per path ({cycles})");
}

/// FIFOs, devices and sockets are never opened as configs, os-release or envvars (a FIFO
/// would block for ever, `/dev/zero` never ends); the size cap counts bytes read.
#[test]
fn special_files_are_never_opened_as_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let fifo = |p: &Path| {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    };
    fifo(&root.join("etc/os-release"));
    fifo(&root.join("etc/apache2/envvars"));
    fifo(&root.join("etc/nginx/fifo.conf"));
    write(&root.join("etc/nginx/nginx.conf"), "events {}\nhttp {\n  include fifo.conf;\n  include zero.conf;\n  access_log /var/log/nginx/after.log;\n}\n");
    // SAFETY: geteuid has no preconditions.
    let is_root = unsafe { libc::geteuid() } == 0;
    if is_root {
        // a real character device inside the root (as a copied /dev would have)
        std::fs::create_dir_all(root.join("dev")).unwrap();
        let c = std::ffi::CString::new(root.join("dev/zero").to_str().unwrap()).unwrap();
        // SAFETY: a valid path; makedev(1, 5) is /dev/zero.
        assert_eq!(unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 5)) }, 0);
    }
    symlink("/dev/zero", &root.join("etc/nginx/zero.conf"));
    write(&root.join("etc/apache2/apache2.conf"), "CustomLog /var/log/apache2/a.log combined\n");
    let (out, err, code, took) = run(&["--discover", "--root", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(out.contains("not a regular file"), "said so:\n{out}");
    assert!(out.contains("/var/log/nginx/after.log") && out.contains("/var/log/apache2/a.log"), "the rest is read:\n{out}");
    if !is_root {
        eprintln!("note: not root: the character-device case ran as a dangling link only");
    }
}

/// 20 000 nested `location` blocks overflowed the stack and lost the whole report.
#[test]
fn deep_nesting_is_bounded_without_recursion() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let n = 20_000;
    let mut c = String::from("events {}\nhttp {\n  access_log /var/log/nginx/before.log;\n  server {\n");
    c.push_str(&"location / {\n".repeat(n));
    c.push_str(&"}\n".repeat(n));
    c.push_str("  }\n  access_log /var/log/nginx/after.log;\n}\n");
    write(&root.join("etc/nginx/nginx.conf"), &c);
    let (out, err, code, took) = run(&["--discover", "--root", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(0), "no crash: {err}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(out.contains("nested deeper than"), "a clear warning:\n{}", &out[..out.len().min(2000)]);
    assert!(out.contains("/var/log/nginx/before.log") && out.contains("/var/log/nginx/after.log"), "the rest of the report");
}

/// No readable os-release (a chroot, a container image, a copied tree): every profile's places
/// are tried, and the report says so. Only Debian's were tried before, and an RHEL-style httpd
/// tree gave nothing.
#[test]
fn an_unidentified_os_tries_every_profile() {
    let tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/configs/apache/constructed-rhel");
    assert!(!tree.join("etc/os-release").exists());
    let (out, err, code, _) = run(&["--discover", "--root", tree.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("/etc/httpd/conf/httpd.conf") && out.contains("/var/log/app-httpd/app_access.log"), "the RHEL layout is found:\n{out}");
    assert!(out.contains("the OS is not identified") && out.contains("apache in rhel's places"), "and said so:\n{out}");
}

/// A self-looping `nginx.conf` symlink (and a dangling one for Apache) gives a warning, not
/// silence, and nothing hangs.
#[test]
fn a_config_symlink_that_leads_nowhere_is_said() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(&root.join("etc/os-release"), "ID=debian\n");
    symlink("nginx.conf", &root.join("etc/nginx/nginx.conf"));
    symlink("/etc/apache2/missing.conf", &root.join("etc/apache2/apache2.conf"));
    let (out, err, code, took) = run(&["--discover", "--root", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(took < Duration::from_secs(2));
    assert!(out.contains("/etc/nginx/nginx.conf is a symlink that leads nowhere"), "{out}");
    assert!(out.contains("/etc/apache2/apache2.conf is a symlink that leads nowhere"), "{out}");
}

/// File names that are not UTF-8 (a Latin-1 `é` in a config's name, and in the log path that
/// config names) are kept byte-exact: the config is read, the log is found and scanned, and the
/// reports show the byte as `\xE9`.
#[test]
fn non_utf8_names_stay_byte_exact() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(&root.join("etc/os-release"), "ID=debian\n");
    write(&root.join("etc/nginx/nginx.conf"), "events {}\nhttp {\n    include /etc/nginx/conf.d/*.conf;\n}\n");
    let name = |s: &[u8]| PathBuf::from(std::ffi::OsStr::from_bytes(s));
    let conf = root.join("etc/nginx/conf.d").join(name(b"caf\xe9.conf"));
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(&conf, b"server { listen 80; access_log /var/log/nginx/caf\xe9.log; }\n").unwrap();
    let log = root.join("var/log/nginx").join(name(b"caf\xe9.log"));
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    std::fs::write(&log, "1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 502 5 \"-\" \"curl\"\n").unwrap();
    let (out, err, code, took) = run(&["--discover", "--root", root.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(took < Duration::from_secs(2));
    assert!(out.contains("/var/log/nginx/caf\\xE9.log") && out.contains("/etc/nginx/conf.d/caf\\xE9.conf:1"), "{out}");
    let (out, err, code, _) = run(&["--scan", "--root", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let logs = v["logs"].as_array().unwrap();
    let ours = logs.iter().find(|l| l["path"].as_str().unwrap().contains("caf")).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(ours["status_5xx"]["502"], 1, "the file itself was read: {ours}");
}

/// An include pattern into a directory that cannot be listed says so (its files are not read),
/// instead of silently finding nothing. Run as an unprivileged user (root lists anything).
#[test]
fn a_glob_into_an_unreadable_directory_is_said() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::Builder::new().prefix("tailgate-ur").tempdir().unwrap();
    let root = tmp.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    write(&root.join("etc/os-release"), "ID=debian\n");
    write(&root.join("etc/nginx/nginx.conf"), "events {}\nhttp {\n    include /etc/nginx/secret/*.conf;\n}\n");
    write(&root.join("etc/nginx/secret/a.conf"), "server { access_log /var/log/x.log; }\n");
    for d in ["etc", "etc/nginx"] {
        std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(root.join("etc/os-release"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(root.join("etc/nginx/nginx.conf"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(root.join("etc/nginx/secret"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let mut c = Command::new(BIN);
    c.args(["--discover", "--root", root.to_str().unwrap()]);
    if unsafe { libc::geteuid() } == 0 {
        c.uid(65534).gid(65534);
    }
    let t0 = Instant::now();
    let out = c.output().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2));
    std::fs::set_permissions(root.join("etc/nginx/secret"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("/etc/nginx/nginx.conf:3: /etc/nginx/secret: cannot list the directory"), "{text}");
}
