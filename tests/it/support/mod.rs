//! Test support: a misbehaving test backend, and real nginx / Apache httpd started on 127.0.0.1
//! with their own temporary prefix. Ports are picked free at run time.

pub mod cdp;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How the test backend answers, by request path.
pub const BEHAVIOURS: &[(&str, &str)] = &[
    ("/ok", "a valid 200"),
    ("/invalid-header", "a header line with a control character and no colon"),
    ("/bad-status", "no valid status line"),
    ("/early-close", "closes the connection without answering"),
    ("/reset", "resets the connection (RST) without answering"),
    ("/slow", "answers after 3 s (proxies time out after 1 s)"),
    ("/very-slow", "answers after 3 s; nginx waits 10 s for it, so the load balancer in front gives up first"),
    ("/app-500", "its own 500"),
    ("/app-502", "its own 502"),
];

/// A backend that misbehaves per request path (see [`BEHAVIOURS`]).
pub struct Backend {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

fn read_head(s: &mut TcpStream) -> Option<String> {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut b).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn serve(mut s: TcpStream) {
    let Some(head) = read_head(&mut s) else { return };
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = path.split('?').next().unwrap_or("/");
    let reply: &[u8] = match path {
        "/invalid-header" => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nBad\x01Header no colon\r\nConnection: close\r\n\r\nok",
        "/bad-status" => b"HELLO I AM NOT HTTP\r\n\r\nsome body\n",
        "/early-close" => {
            let _ = s.shutdown(Shutdown::Both);
            return;
        }
        "/reset" => {
            let sock = socket2::Socket::from(s);
            let _ = sock.set_linger(Some(Duration::from_secs(0)));
            drop(sock); // close with SO_LINGER 0 → RST
            return;
        }
        "/slow" | "/very-slow" => {
            thread::sleep(Duration::from_secs(3));
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow"
        }
        "/app-500" => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom",
        "/app-502" => b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbad!",
        _ => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    };
    let _ = s.write_all(reply);
    let _ = s.flush();
    let _ = s.shutdown(Shutdown::Write);
    // drain so the close is orderly
    let mut sink = [0u8; 512];
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    while let Ok(n) = s.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

impl Backend {
    pub fn start() -> Backend {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        thread::spawn(move || serve(s));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Backend { port, stop }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Send one request with `Connection: close` and return the raw response bytes (possibly empty).
pub fn get(port: u16, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: test.local\r\nUser-Agent: tailgate-test/1.0\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Whether something listens on 127.0.0.1:`port`. A connect to a free port in the ephemeral
/// range can succeed by connecting to itself (the kernel picks the same port as the source:
/// TCP simultaneous open), which would say "listening" before the server is: not counted.
pub fn listening(port: u16) -> bool {
    match TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s.local_addr().ok() != s.peer_addr().ok(),
        Err(_) => false,
    }
}

fn wait_port(port: u16, child: &mut Child, what: &str, log: &Path) {
    let t0 = Instant::now();
    while !listening(port) {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited with {st} before listening; its log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{what} did not listen on {port} within 20 s");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Fail with a clear message when a server binary is missing (the README's test command installs them).
pub fn need(bin: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(bin);
        if p.exists() {
            return p;
        }
    }
    panic!("{bin} is not installed: run the README's test command (it installs nginx, apache2, haproxy and logrotate)");
}

/// A running server that is stopped (and waited for) on drop.
pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
    stopped: bool,
    /// The signal that stops it cleanly (HAProxy: SIGUSR1, a soft stop that flushes its log).
    stop_signal: &'static str,
}

impl Server {
    pub fn access_log(&self) -> PathBuf {
        self.dir.join("access.log")
    }
    pub fn error_log(&self) -> PathBuf {
        self.dir.join("error.log")
    }
    /// Stop the server and wait for it, so its logs are complete.
    pub fn stop(&mut self) {
        if std::mem::replace(&mut self.stopped, true) {
            return;
        }
        let _ = Command::new("kill").arg(format!("-{}", self.stop_signal)).arg(self.child.id().to_string()).status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Real nginx on 127.0.0.1 proxying to `backend_port`, logs in `dir`. `log_format` is the
/// access-log format line (nickname `t`), or `None` for nginx's predefined `combined`.
pub fn nginx(dir: &Path, backend_port: u16, log_format: Option<&str>) -> Server {
    nginx_with(dir, backend_port, log_format, "")
}

/// [`nginx`] with extra directives in the http block.
pub fn nginx_with(dir: &Path, backend_port: u16, log_format: Option<&str>, extra_http: &str) -> Server {
    nginx_full(dir, backend_port, log_format, "default", extra_http)
}

/// [`nginx`] whose access-log format `log_format` is written with `escape=` `escape`.
pub fn nginx_escaped(dir: &Path, backend_port: u16, escape: &str, log_format: &str) -> Server {
    nginx_full(dir, backend_port, Some(log_format), escape, "")
}

fn nginx_full(dir: &Path, backend_port: u16, log_format: Option<&str>, escape: &str, extra_http: &str) -> Server {
    let bin = need("nginx");
    let port = free_port();
    let d = dir.display();
    for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(dir.join("tmp").join(t)).unwrap();
    }
    let (fmt_def, fmt_use) = match log_format {
        Some(f) => (format!("log_format t escape={escape} '{f}';"), "t"),
        None => (String::new(), "combined"),
    };
    let conf = format!(
        r#"daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 128; }}
http {{
    {fmt_def}
    {extra_http}
    access_log {d}/access.log {fmt_use};
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{backend_port};
            proxy_read_timeout 1s;
            proxy_connect_timeout 1s;
            proxy_next_upstream off;
        }}
        location /very-slow {{
            proxy_pass http://127.0.0.1:{backend_port};
            proxy_read_timeout 10s;
        }}
    }}
}}
"#
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut child = Command::new(bin)
        .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf"), "-e", &format!("{d}/error.log")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port, &mut child, "nginx", &dir.join("error.log"));
    Server { port, dir: dir.to_path_buf(), child, stopped: false, stop_signal: "TERM" }
}

/// Real Apache httpd (Debian's apache2 binary, event MPM, mod_proxy_http) on 127.0.0.1 proxying
/// to `backend_port`, logs in `dir` (`combined` access log, `error.log`).
pub fn apache(dir: &Path, backend_port: u16) -> Server {
    apache_with(dir, backend_port, "", &[])
}

/// As [`apache`], with `extra` appended to the config (more `LoadModule`, `LogFormat`,
/// `CustomLog` lines) and `env` in its environment (`TZ`).
pub fn apache_with(dir: &Path, backend_port: u16, extra: &str, env: &[(&str, &str)]) -> Server {
    let bin = need("apache2");
    let port = free_port();
    let d = dir.display();
    let m = "/usr/lib/apache2/modules";
    let conf = format!(
        r#"ServerRoot "{d}"
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {d}/httpd.pid
DefaultRuntimeDir {d}
Mutex file:{d} default
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule proxy_module {m}/mod_proxy.so
LoadModule proxy_http_module {m}/mod_proxy_http.so
User nobody
Group nogroup
ErrorLog {d}/error.log
LogLevel warn
LogFormat "%h %l %u %t \"%r\" %>s %O \"%{{Referer}}i\" \"%{{User-Agent}}i\"" combined
CustomLog {d}/access.log combined
StartServers 1
ServerLimit 1
ThreadsPerChild 25
MaxRequestWorkers 25
MinSpareThreads 1
MaxSpareThreads 25
ProxyPass / http://127.0.0.1:{backend_port}/ timeout=1
ProxyTimeout 1
{extra}
"#
    );
    std::fs::write(dir.join("httpd.conf"), conf).unwrap();
    let mut child = Command::new(bin)
        .args(["-f", &format!("{d}/httpd.conf"), "-DFOREGROUND"])
        .env("APACHE_RUN_DIR", dir)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_port(port, &mut child, "apache2", &dir.join("error.log"));
    Server { port, dir: dir.to_path_buf(), child, stopped: false, stop_signal: "TERM" }
}

/// A temp dir that world can enter (server workers drop privileges).
pub fn server_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("tailgate-test").tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    d
}

/// Real HAProxy on 127.0.0.1 as the load-balancer stand-in in front of `upstream_port`; its log
/// (one line per request, raw, on stdout) goes to `dir/haproxy.log`. It gives up on the server
/// after 2 s (`timeout server`), like an ELB idle timeout.
pub fn haproxy(dir: &Path, upstream_port: u16) -> Server {
    haproxy_with(dir, upstream_port, "")
}

/// [`haproxy`] with more lines in its `defaults` section.
pub fn haproxy_with(dir: &Path, upstream_port: u16, extra_defaults: &str) -> Server {
    let bin = need("haproxy");
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        r#"global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 10s
    timeout server 2s
    option http-server-close
    {extra_defaults}
    log-format "%Ts.%ms %ci:%cp %si:%sp %TR %Tc %Tr %Ta %ST %U %B %ts %{{+Q}}r %{{+Q}}hr"
frontend fe
    bind 127.0.0.1:{port}
    http-request capture req.hdr(User-Agent) len 200
    default_backend be
backend be
    server web 127.0.0.1:{upstream_port}
"#
    );
    std::fs::write(dir.join("haproxy.cfg"), conf).unwrap();
    let log = std::fs::File::create(dir.join("haproxy.log")).unwrap();
    let err = std::fs::File::create(dir.join("haproxy.stderr")).unwrap();
    let mut child = Command::new(bin).args(["-db", "-f", &format!("{d}/haproxy.cfg")]).stdout(log).stderr(err).spawn().unwrap();
    wait_port(port, &mut child, "haproxy", &dir.join("haproxy.stderr"));
    Server { port, dir: dir.to_path_buf(), child, stopped: false, stop_signal: "USR1" }
}

/// Convert one line of the HAProxy log above into a Classic ELB access-log line. HAProxy's
/// termination state says who answered: a 5xx with a state starting with `S`, `s`, `P` or `I`
/// is HAProxy's own (backend status `-`, times `-1`), like an LB-generated ELB line.
pub fn haproxy_to_elb(line: &str) -> Option<String> {
    let (head, rest) = line.split_once(" \"")?;
    let f: Vec<&str> = head.split_whitespace().collect();
    if f.len() < 11 {
        return None;
    }
    let (ts, client, server, tr, tc, tres, _ta, status, recv, sent, state) = (f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10]);
    let (request, rest) = rest.split_once("\" ")?;
    let ua = rest.trim().trim_start_matches("\"{").trim_end_matches("}\"");
    let (secs, ms) = ts.split_once('.')?;
    let secs: i64 = secs.parse().ok()?;
    let ms: i64 = ms.parse().ok()?;
    let iso = tailgate::time::format_utc(secs * 1_000_000 + ms * 1000, tailgate::time::Precision::Micro);
    let lb_generated = status.starts_with('5') && matches!(state.as_bytes()[0], b'S' | b's' | b'P' | b'I');
    let secs_of = |ms: &str| ms.parse::<i64>().ok().filter(|v| *v >= 0).map(|v| format!("{:.6}", v as f64 / 1000.0));
    let (backend, times, bstatus) = if lb_generated {
        (server.to_string(), "-1 -1 -1".to_string(), "-".to_string())
    } else {
        let rq = secs_of(tr).unwrap_or_else(|| "0.000000".into());
        let bp = match (tc.parse::<i64>(), tres.parse::<i64>()) {
            (Ok(c), Ok(r)) if c >= 0 && r >= 0 => format!("{:.6}", (c + r) as f64 / 1000.0),
            _ => "0.000000".into(),
        };
        (server.to_string(), format!("{rq} {bp} 0.000001"), status.to_string())
    };
    let mut parts = request.splitn(3, ' ');
    let (method, path, proto) = (parts.next()?, parts.next()?, parts.next().unwrap_or("HTTP/1.1"));
    Some(format!("{iso} test-lb {client} {backend} {times} {status} {bstatus} {recv} {sent} \"{method} http://test.local:80{path} {proto}\" \"{ua}\" - -"))
}

/// Copy a directory tree (fixtures into a temp root).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Discovered targets of one kind as sorted strings (`glob:`, `syslog:`, `pipe:` prefixes).
pub fn targets(sources: &[tailgate::discover::Source], kind: tailgate::discover::LogKind) -> Vec<String> {
    use tailgate::discover::Target;
    let mut v: Vec<String> = sources
        .iter()
        .filter(|s| s.kind == kind)
        .map(|s| match &s.target {
            Target::File(p) => p.clone(),
            Target::Glob(g) => format!("glob:{g}"),
            Target::Syslog(s) => format!("syslog:{s}"),
            Target::Pipe(p) => format!("pipe:{p}"),
            Target::Stderr => "stderr".into(),
            Target::Stdout => "stdout".into(),
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The agent (no mode flag) as a real process, its NDJSON events parsed from stdout.
pub mod agent {
    use std::io::BufRead;
    use std::io::BufReader;
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use serde_json::Value;

    pub struct Agent {
        pub child: Child,
        pub rx: mpsc::Receiver<Value>,
    }

    pub fn start(cfg: &Path) -> Agent {
        start_with(cfg, &[])
    }

    pub fn start_with(cfg: &Path, extra: &[&str]) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tailgate"))
            .args(["--config", cfg.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&l) {
                    let _ = tx.send(v);
                }
            }
        });
        Agent { child, rx }
    }

    /// A test that ends (or fails) with its agent running must not leave the process behind.
    impl Drop for Agent {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Agent {
        /// Events until `n` have come or `secs` pass.
        pub fn take(&self, n: usize, secs: u64) -> Vec<Value> {
            let mut v = Vec::new();
            let end = Instant::now() + Duration::from_secs(secs);
            while v.len() < n {
                let left = end.saturating_duration_since(Instant::now());
                match self.rx.recv_timeout(left) {
                    Ok(e) => v.push(e),
                    Err(_) => break,
                }
            }
            v
        }
        pub fn signal(&mut self, sig: &str) -> Option<i32> {
            let _ = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status();
            self.child.wait().ok().and_then(|s| s.code())
        }
    }
}

/// Instantiate `tests/fixtures/discover/<name>` in `dir`: every file copied with `@KEY@`
/// replaced by its value (`@DIR@` → `dir`, plus `vars`).
pub fn discover_tree(name: &str, dir: &Path, vars: &[(&str, String)]) {
    fn walk(from: &Path, to: &Path, subst: &dyn Fn(String) -> String) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let t = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &t, subst);
            } else {
                std::fs::write(&t, subst(std::fs::read_to_string(e.path()).unwrap())).unwrap();
            }
        }
    }
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/discover").join(name);
    let d = dir.display().to_string();
    walk(&from, dir, &|mut s: String| {
        s = s.replace("@DIR@", &d);
        for (k, v) in vars {
            s = s.replace(&format!("@{k}@"), v);
        }
        s
    });
}

/// A copied server tree for `--root`: an nginx.conf whose `http` block has the access log and
/// `directive` (line 4), and one access-log line that matches nothing.
pub fn nginx_tree_with(root: &Path, directive: &str) {
    std::fs::create_dir_all(root.join("etc/nginx")).unwrap();
    std::fs::create_dir_all(root.join("var/log/nginx")).unwrap();
    std::fs::write(
        root.join("etc/nginx/nginx.conf"),
        format!("events {{}}\nhttp {{\n    access_log /var/log/nginx/access.log;\n    {directive}\n    server {{ listen 80; }}\n}}\n"),
    )
    .unwrap();
    std::fs::write(root.join("var/log/nginx/access.log"), "10.0.0.9 - - [25/Nov/2026:07:00:00 +0000] \"GET /other HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n")
        .unwrap();
}

/// A child whose own peak RSS is measured fairly from inside this one, large, test process.
///
/// `ru_maxrss` also counts the address space a process was spawned from: at exec the kernel
/// records the old space's peak as the process's (`setmax_mm_hiwater_rss` in `exec_mmap`), so a
/// child spawned straight from this process — every test in one process, hundreds of MB once the
/// big ones have run — would carry that. The child is therefore spawned by a small Python parent
/// (`python3 -S`, about 8 MB: the floor of what is measured), which reaps it with `wait4`, writes
/// its peak (KiB) to a file and exits with its status (128 + the signal when it was killed).
/// Standard streams pass straight through.
pub struct Measured {
    /// The command to configure (arguments, streams) and spawn.
    pub cmd: Command,
    peak: tempfile::NamedTempFile,
}

const MEASURED_PARENT: &str = r#"
import os, signal, sys
pid = os.fork()
if pid == 0:
    try:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(ru.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"#;

impl Measured {
    /// `bin`, to be given its arguments with `cmd.args(…)`.
    pub fn new(bin: &str) -> Measured {
        let peak = tempfile::NamedTempFile::new().unwrap();
        let mut cmd = Command::new("python3");
        cmd.args(["-S", "-c", MEASURED_PARENT]).arg(peak.path()).arg(bin);
        Measured { cmd, peak }
    }

    /// The child's peak RSS in KiB, once it has been waited for.
    pub fn peak_kb(&self) -> i64 {
        let s = std::fs::read_to_string(self.peak.path()).unwrap();
        s.trim().parse().unwrap_or_else(|_| panic!("no peak RSS written ({s:?}): did the child run?"))
    }
}
