//! `tailgate --probe URL`: send a hand-built request over a raw TCP connection and judge the
//! bytes that come back as strictly as a load balancer does. No HTTP client library reads the
//! response: every rule in [`rules`] is checked here, on the raw bytes.
//!
//! Bounded by design, whatever the server does:
//! - **time**: `timeout` is a deadline for each phase (connect, TLS handshake, sending the
//!   request, the header section, the body), and `deadline` for the whole exchange; the idle
//!   keep-alive measurement that may follow has its own length (`idle`). A timeout is reported
//!   as `[timeout]` with the phase that ran out.
//! - **memory**: the header section is cut at 64 KiB and the body is judged as it streams
//!   (`response`), never kept; a handful of buffers of one read each.
//! - **input**: the method, headers and URL are checked before anything is sent (no CR, LF, NUL
//!   or other control character can add a header or change the request line).
//!
//! After a clean, kept-alive response the connection is left idle to measure when the server
//! closes it: closing before the load balancer's idle timeout causes intermittent 502s.

pub(crate) mod response;
pub mod rules;
mod tls;
pub(crate) mod wire;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::Serialize;

use rules::{Violation, is_tchar};
use wire::{Reader, Transport};

pub use response::MAX_HEADER;

/// What to probe.
#[derive(Clone, Debug)]
pub struct Options {
    /// `http://host[:port]/path` or `https://…`.
    pub url: String,
    /// The request method (`GET`, `HEAD`, …).
    pub method: String,
    /// Extra request headers (`Name: value`).
    pub headers: Vec<String>,
    /// The deadline of each phase: connect, TLS handshake, request, header section, body.
    pub timeout: Duration,
    /// The deadline of the whole exchange (the idle measurement after it has its own).
    pub deadline: Duration,
    /// How long to keep the connection idle after a good response (0: skip).
    pub idle: Duration,
    /// The load balancer's idle timeout: the server's keep-alive must outlast it.
    pub lb_idle_timeout: Duration,
    /// For https: verify the server's certificate (off by default, like `curl -k`).
    pub verify: bool,
}

/// A parsed `http://host:port/path` URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Url {
    /// `http` or `https`.
    pub scheme: String,
    /// A name, an IPv4 address or a bracketed IPv6 address's inside.
    pub host: String,
    /// The port (default 80 or 443).
    pub port: u16,
    /// The origin-form target, `/` at least.
    pub path: String,
}

impl Url {
    /// Parse `http://host[:port][/path]` (or `https://`); anything else is an error saying what.
    pub fn parse(s: &str) -> anyhow::Result<Url> {
        let (scheme, rest) = match s.split_once("://") {
            Some((sc, r)) => (sc.to_ascii_lowercase(), r),
            None => ("http".to_string(), s),
        };
        if scheme != "http" && scheme != "https" {
            return Err(anyhow::anyhow!("{s}: only http:// and https:// URLs can be probed"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (host, port) = if let Some(r) = authority.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or_else(|| anyhow::anyhow!("{s}: missing ']'"))?;
            (h.to_string(), after.strip_prefix(':').map(|p| p.parse::<u16>()).transpose().map_err(|_| anyhow::anyhow!("{s}: bad port"))?)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.parse::<u16>().map_err(|_| anyhow::anyhow!("{s}: bad port"))?)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(anyhow::anyhow!("{s}: no host"));
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        Ok(Url { scheme, host, port: port.unwrap_or(default_port), path })
    }

    fn host_header(&self) -> String {
        let h = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default { h } else { format!("{h}:{}", self.port) }
    }
}

/// How the idle connection ended.
#[derive(Clone, Debug, Serialize)]
pub struct KeepAlive {
    /// Seconds after the response until the server closed the idle connection; `None` when it
    /// was still open at the end of the wait.
    pub closed_after_secs: Option<f64>,
    /// How long the connection was watched.
    pub waited_secs: f64,
    /// The load balancer's idle timeout it was compared with.
    pub lb_idle_timeout_secs: f64,
}

/// Everything the probe saw and concluded.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// What was probed.
    pub url: Url,
    /// The request as sent.
    pub request: String,
    /// The response's status line and headers as received (lossy text).
    pub response_head: Option<String>,
    /// The response's status code, when a status line was read.
    pub status: Option<u16>,
    /// The response's header fields, in order (lossy text).
    pub headers: Vec<(String, String)>,
    /// Body bytes read (by its framing).
    pub body_bytes: u64,
    /// From connect to the end of the response, milliseconds.
    pub elapsed_ms: f64,
    /// Every rule the response broke.
    pub violations: Vec<Violation>,
    /// How the idle connection ended (`--idle`), when measured.
    pub keepalive: Option<KeepAlive>,
    /// Set when the probe could not be carried out at all (connect failure).
    pub error: Option<String>,
}

impl Report {
    fn new(url: Url, request: String) -> Report {
        Report {
            url,
            request,
            response_head: None,
            status: None,
            headers: Vec::new(),
            body_bytes: 0,
            elapsed_ms: 0.0,
            violations: Vec::new(),
            keepalive: None,
            error: None,
        }
    }

    /// No error and no violation: the load balancer would take this response.
    pub fn compliant(&self) -> bool {
        self.error.is_none() && self.violations.is_empty()
    }
}

/// Resolve `host` within `wait`.
fn resolve(host: &str, port: u16, wait: Duration) -> anyhow::Result<Vec<SocketAddr>> {
    // The resolver has no timeout of its own: ask it on a thread and stop waiting at the deadline.
    let (tx, rx) = std::sync::mpsc::channel();
    let h = host.to_string();
    std::thread::Builder::new()
        .name("tailgate-resolve".into())
        .spawn(move || {
            let _ = tx.send((h.as_str(), port).to_socket_addrs().map(|a| a.collect::<Vec<_>>()));
        })
        .map_err(|e| anyhow::anyhow!("cannot resolve {host}: {e}"))?;
    match rx.recv_timeout(wait) {
        Ok(Ok(a)) if !a.is_empty() => Ok(a),
        Ok(Ok(_)) => Err(anyhow::anyhow!("cannot resolve {host}: no address")),
        Ok(Err(e)) => Err(anyhow::anyhow!("cannot resolve {host}: {e}")),
        Err(_) => Err(anyhow::anyhow!("cannot resolve {host} within {:.1}s", wait.as_secs_f64())),
    }
}

/// Check what goes into the request before anything is sent: the method must be a token
/// (RFC 9110 §9.1, §5.6.2), and no CR, LF, NUL or other control character may reach the request
/// line (from the URL) or a header, where it would add a header or change the request.
/// `headers_from` names where the headers came from in messages (`--header`, a config key).
pub fn validate_request(url: &str, method: &str, headers: &[String], headers_from: &str) -> anyhow::Result<()> {
    let show = |s: &str| crate::text::escape(s).into_owned();
    if method.is_empty() || method.len() > 64 || !method.bytes().all(is_tchar) {
        return Err(anyhow::anyhow!(
            "--method {}: a method is a token of letters, digits and !#$%&'*+-.^_`|~ (RFC 9110 §9.1), such as GET or HEAD",
            show(method)
        ));
    }
    if let Some(b) = url.bytes().find(|&b| b <= b' ' || b == 0x7f) {
        return Err(anyhow::anyhow!(
            "the URL {} holds {}: percent-encode it (a space is %20), or it would change the request line",
            show(url),
            if b == b' ' { "a space".to_string() } else { format!("the control character 0x{b:02X}") }
        ));
    }
    for h in headers {
        if let Some(b) = h.bytes().find(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(anyhow::anyhow!(
                "{headers_from} {}: holds the control character 0x{b:02X} (CR, LF and NUL would add headers or end the request)",
                show(h)
            ));
        }
        let Some((name, _)) = h.split_once(':') else {
            return Err(anyhow::anyhow!("{headers_from} {}: write it as `Name: value`", show(h)));
        };
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(anyhow::anyhow!("{headers_from} {}: the name {} is not a token (RFC 9110 §5.1)", show(h), show(name)));
        }
    }
    Ok(())
}

/// The request the probe sends.
pub fn request(url: &Url, method: &str, headers: &[String]) -> String {
    let mut request = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tailgate/{} (probe)\r\nAccept: */*\r\nConnection: keep-alive\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION")
    );
    for h in headers {
        request.push_str(h.trim());
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request
}

/// Probe once.
pub fn probe(opts: &Options) -> Report {
    let url = match Url::parse(&opts.url) {
        Ok(u) => u,
        Err(e) => {
            let mut r = Report::new(Url { scheme: String::new(), host: String::new(), port: 0, path: String::new() }, String::new());
            r.error = Some(e.to_string());
            return r;
        }
    };
    let t0 = Instant::now();
    let overall = t0 + opts.deadline;
    let req = request(&url, &opts.method, &opts.headers);
    let mut rep = Report::new(url.clone(), req.clone());
    if let Err(e) = validate_request(&opts.url, &opts.method, &opts.headers, "--header") {
        rep.error = Some(e.to_string());
        return rep;
    }
    let addrs = match resolve(&url.host, url.port, opts.timeout.min(opts.deadline)) {
        Ok(a) => a,
        Err(e) => {
            rep.error = Some(e.to_string());
            return rep;
        }
    };
    let mut stream = None;
    let mut last_err = String::new();
    let mut timed_out = false;
    for a in &addrs {
        let Some(l) = wire::left(response::phase_deadline(opts.timeout, overall)) else {
            timed_out = true;
            break;
        };
        match TcpStream::connect_timeout(a, l) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => {
                timed_out = wire::is_timeout(&e);
                last_err = format!("{a}: {e}");
            }
        }
    }
    let Some(s) = stream else {
        rep.elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
        if timed_out {
            // Nothing answered the SYN in time: a firewall or an overloaded listener.
            rep.violations.push(Violation::timeout("connect", format!("no connection within {:.1}s ({last_err})", opts.timeout.as_secs_f64())));
            rep.error = Some(format!("cannot connect: timed out ({last_err})"));
        } else {
            rep.violations.push(Violation::new(rules::CONNECT, format!("cannot connect: {last_err}")));
            rep.error = Some(format!("cannot connect: {last_err}"));
        }
        return rep;
    };
    let _ = s.set_nodelay(true);
    let mut transport: Box<dyn Transport> = if url.scheme == "https" {
        match tls::Tls::connect(&url.host, s, opts.verify, response::phase_deadline(opts.timeout, overall)) {
            Ok(t) => Box::new(t),
            Err(tls::HandshakeError::Timeout(n)) => {
                rep.violations
                    .push(Violation::timeout("tls", format!("the TLS handshake did not finish within {:.1}s ({n} bytes came)", opts.timeout.as_secs_f64())));
                rep.elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
                return rep;
            }
            Err(tls::HandshakeError::Failed(e)) => {
                rep.error = Some(format!("TLS: {e}"));
                return rep;
            }
        }
    } else {
        Box::new(wire::Plain(s))
    };
    exchange(&mut *transport, opts, &req, t0, overall, &mut rep);
    rep
}

/// Judge a server's whole output given as bytes (cut into reads of the given sizes, cycled),
/// exactly as [`probe`] judges them from a socket. For tests and fuzzing: no network.
pub fn judge_bytes(data: &[u8], splits: &[usize], then_timeout: bool) -> Report {
    let url = Url { scheme: "http".into(), host: "127.0.0.1".into(), port: 80, path: "/".into() };
    let opts = Options {
        url: "http://127.0.0.1/".into(),
        method: "GET".into(),
        headers: Vec::new(),
        timeout: Duration::from_secs(1),
        deadline: Duration::from_secs(3),
        idle: Duration::ZERO,
        lb_idle_timeout: Duration::from_secs(60),
        verify: false,
    };
    let req = request(&url, &opts.method, &opts.headers);
    let mut rep = Report::new(url, req.clone());
    let mut m = wire::Memory::new(data.to_vec(), splits.to_vec());
    m.then_timeout = then_timeout;
    let t0 = Instant::now();
    exchange(&mut m, &opts, &req, t0, t0 + opts.deadline, &mut rep);
    rep.elapsed_ms = 0.0;
    rep
}

/// Send the request, read and judge the response, then (maybe) measure the idle connection.
fn exchange(t: &mut dyn Transport, opts: &Options, req: &str, t0: Instant, overall: Instant, rep: &mut Report) {
    let mut r = Reader::new(t, response::phase_deadline(opts.timeout, overall));
    if let Err(e) = r.write_all(req.as_bytes()) {
        rep.elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
        if wire::is_timeout(&e) {
            rep.violations.push(Violation::timeout("request", format!("the request could not be sent within {:.1}s", opts.timeout.as_secs_f64())));
        } else {
            rep.violations.push(Violation::new(rules::NO_RESPONSE, format!("the request could not be sent: {e}")));
        }
        return;
    }
    let out = response::read(&mut r, opts, overall, rep);
    rep.elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;

    // Keep-alive: how long does the server keep the idle connection?
    if out.complete && rep.violations.is_empty() && !out.conn_close && !r.eof && !opts.idle.is_zero() {
        let t = Instant::now();
        r.phase(t + opts.idle);
        // One read: it ends with the close, the end of the wait, or bytes nobody asked for.
        let data = r.more();
        let after = t.elapsed().as_secs_f64();
        if data {
            rep.violations.push(Violation::new(
                rules::UNSOLICITED,
                format!("{} bytes came on the idle connection {after:.1}s after the response, before any new request", r.len()),
            ));
        }
        let ka = KeepAlive {
            closed_after_secs: if r.eof { Some(after) } else { None },
            waited_secs: opts.idle.as_secs_f64(),
            lb_idle_timeout_secs: opts.lb_idle_timeout.as_secs_f64(),
        };
        if let Some(a) = ka.closed_after_secs
            && a < opts.lb_idle_timeout.as_secs_f64()
        {
            rep.violations.push(Violation::new(
                rules::KEEPALIVE_SHORTER,
                format!(
                    "the server closed the idle connection after {a:.1}s, before the load balancer's {}s idle timeout: requests sent on it as it closes get a 502",
                    opts.lb_idle_timeout.as_secs()
                ),
            ));
        }
        rep.keepalive = Some(ka);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(Url::parse("http://127.0.0.1:8080/x?y").unwrap(), Url { scheme: "http".into(), host: "127.0.0.1".into(), port: 8080, path: "/x?y".into() });
        assert_eq!(Url::parse("localhost").unwrap().port, 80);
        assert_eq!(Url::parse("http://[::1]:81").unwrap().host, "::1");
        assert_eq!(Url::parse("https://x").unwrap().port, 443);
        assert!(Url::parse("ftp://x").is_err());
        assert!(Url::parse("http://x:99999/").is_err());
    }
}
