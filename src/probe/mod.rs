//! `tailgate --probe URL`: send a hand-built request over a raw TCP connection and judge the
//! bytes that come back as strictly as a load balancer does. No HTTP client library reads the
//! response: every rule in [`rules`] is checked here, on the raw bytes.
//!
//! Every connect and read has a timeout, and the header section is cut at 64 KiB, so a server
//! that never stops sending headers cannot hang the probe. After a clean, kept-alive response
//! the connection is left idle to measure when the server closes it: closing before the load
//! balancer's idle timeout causes intermittent 502s.

pub mod rules;
mod tls;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::Serialize;

use rules::{Violation, is_tchar};

/// The longest header section read.
pub const MAX_HEADER: usize = 64 * 1024;

/// What to probe.
#[derive(Clone, Debug)]
pub struct Options {
    pub url: String,
    pub method: String,
    /// Extra request headers (`Name: value`).
    pub headers: Vec<String>,
    /// Connect and read timeout.
    pub timeout: Duration,
    /// How long to keep the connection idle after a good response (0: skip).
    pub idle: Duration,
    pub lb_idle_timeout: Duration,
    /// For https: verify the server's certificate (off by default, like `curl -k`).
    pub verify: bool,
}

/// A parsed `http://host:port/path` URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Url {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let (scheme, rest) = match s.split_once("://") {
            Some((sc, r)) => (sc.to_ascii_lowercase(), r),
            None => ("http".to_string(), s),
        };
        if scheme != "http" && scheme != "https" {
            return Err(format!("{s}: only http:// and https:// URLs can be probed"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (host, port) = if let Some(r) = authority.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or_else(|| format!("{s}: missing ']'"))?;
            (h.to_string(), after.strip_prefix(':').map(|p| p.parse::<u16>()).transpose().map_err(|_| format!("{s}: bad port"))?)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.parse::<u16>().map_err(|_| format!("{s}: bad port"))?)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(format!("{s}: no host"));
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
    pub waited_secs: f64,
    pub lb_idle_timeout_secs: f64,
}

/// Everything the probe saw and concluded.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub url: Url,
    pub request: String,
    /// The response's status line and headers as received (lossy text).
    pub response_head: Option<String>,
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub body_bytes: u64,
    pub elapsed_ms: f64,
    pub violations: Vec<Violation>,
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

    pub fn compliant(&self) -> bool {
        self.error.is_none() && self.violations.is_empty()
    }
}

/// A byte stream: plain TCP or TLS over it.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

struct Conn {
    /// The TCP socket, for timeouts.
    tcp: TcpStream,
    s: Box<dyn Stream>,
    buf: Vec<u8>,
    eof: bool,
    reset: bool,
    timed_out: bool,
    deadline: Instant,
}

impl Conn {
    /// Read more bytes into `buf`; false on EOF, reset or timeout (flags say which).
    fn more(&mut self) -> bool {
        if self.eof {
            return false;
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.timed_out = true;
            return false;
        }
        let _ = self.tcp.set_read_timeout(Some(left));
        let mut tmp = [0u8; 16 * 1024];
        match self.s.read(&mut tmp) {
            Ok(0) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                self.timed_out = true;
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
            Err(_) => {
                self.reset = true;
                self.eof = true;
                false
            }
        }
    }
}

/// Where the header section ends: (index of the first body byte, whether a bare LF was used).
fn head_end(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'\n', &b[i..]) {
        let nl = i + p;
        // "\n\n" or "\n\r\n"
        if b.get(nl + 1) == Some(&b'\n') {
            return Some(nl + 2);
        }
        if b.get(nl + 1) == Some(&b'\r') && b.get(nl + 2) == Some(&b'\n') {
            return Some(nl + 3);
        }
        i = nl + 1;
    }
    None
}

fn is_status_line(l: &[u8]) -> Option<u16> {
    // HTTP/d.d SP ddd [SP reason]
    if l.len() < 12 || !l.starts_with(b"HTTP/") || !l[5].is_ascii_digit() || l[6] != b'.' || !l[7].is_ascii_digit() || l[8] != b' ' {
        return None;
    }
    let code = &l[9..12];
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if l.len() > 12 && l[12] != b' ' {
        return None;
    }
    if l[12.min(l.len())..].iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Check a complete header section (status line included, final empty line excluded).
fn check_head(head: &[u8], v: &mut Vec<Violation>) -> (Option<u16>, Vec<(String, String)>) {
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut bare_lf = false;
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .map(|l| match l.strip_suffix(b"\r") {
            Some(x) => x,
            None => {
                bare_lf = true;
                l
            }
        })
        .collect();
    if bare_lf {
        v.push(Violation::new(rules::BARE_LF, "a line of the status line or headers ends with LF alone"));
    }
    let status = lines.first().and_then(|l| is_status_line(l));
    if status.is_none() {
        let first = lines.first().map(|l| String::from_utf8_lossy(&l[..l.len().min(80)]).into_owned()).unwrap_or_default();
        v.push(Violation::new(rules::STATUS_LINE, format!("the first line is not a status line: {first:?}")));
    }
    let mut headers = Vec::new();
    for l in lines.iter().skip(1) {
        if l.first().is_some_and(|&c| c == b' ' || c == b'\t') {
            v.push(Violation::new(rules::OBS_FOLD, format!("a header line starts with whitespace: {:?}", String::from_utf8_lossy(l))));
            continue;
        }
        let Some(colon) = memchr::memchr(b':', l) else {
            v.push(Violation::new(rules::HEADER_SYNTAX, format!("a header line has no colon: {:?}", String::from_utf8_lossy(&l[..l.len().min(80)]))));
            continue;
        };
        let name = &l[..colon];
        if name.last().is_some_and(|&c| c == b' ' || c == b'\t') {
            v.push(Violation::new(rules::SPACE_BEFORE_COLON, format!("whitespace before the colon in {:?}", String::from_utf8_lossy(name))));
        }
        let trimmed = name.trim_ascii_end();
        if trimmed.is_empty() || !trimmed.iter().all(|&c| is_tchar(c)) {
            v.push(Violation::new(rules::HEADER_SYNTAX, format!("the header name {:?} is not a token", String::from_utf8_lossy(name))));
        }
        let value = &l[colon + 1..];
        if value.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
            v.push(Violation::new(rules::CTL_IN_VALUE, format!("the value of {:?} holds a NUL or control character", String::from_utf8_lossy(trimmed))));
        }
        headers.push((String::from_utf8_lossy(trimmed).into_owned(), String::from_utf8_lossy(value.trim_ascii()).into_owned()));
    }
    (status, headers)
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    h.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

/// Read a chunked body; returns the data size or the framing problem.
fn read_chunked(c: &mut Conn, start: usize) -> Result<u64, String> {
    let mut pos = start;
    let mut total = 0u64;
    loop {
        // chunk-size line
        let line_end = loop {
            if let Some(p) = memchr::memchr(b'\n', &c.buf[pos..]) {
                break pos + p;
            }
            if c.buf.len() - pos > 4096 {
                return Err("a chunk-size line longer than 4 KiB".into());
            }
            if !c.more() {
                return Err("the connection ended inside the chunked body".into());
            }
        };
        let line = &c.buf[pos..line_end];
        let line = line.strip_suffix(b"\r").ok_or("a chunk-size line ends with LF alone")?;
        let size_part = line.split(|&b| b == b';').next().unwrap_or(b"").trim_ascii();
        if size_part.is_empty() || size_part.len() > 15 || !size_part.iter().all(u8::is_ascii_hexdigit) {
            return Err(format!("the chunk size {:?} is not hexadecimal", String::from_utf8_lossy(size_part)));
        }
        let size = u64::from_str_radix(std::str::from_utf8(size_part).unwrap(), 16).unwrap();
        pos = line_end + 1;
        if size == 0 {
            // trailers until an empty line
            loop {
                let end = loop {
                    if let Some(p) = memchr::memchr(b'\n', &c.buf[pos..]) {
                        break pos + p;
                    }
                    if !c.more() {
                        return Err("the connection ended before the end of the chunked body".into());
                    }
                };
                let l = &c.buf[pos..end];
                pos = end + 1;
                if l == b"\r" || l.is_empty() {
                    return Ok(total);
                }
            }
        }
        while (c.buf.len() - pos) < size as usize + 2 {
            if !c.more() {
                return Err(format!("the connection ended inside a chunk of {size} bytes"));
            }
        }
        if &c.buf[pos + size as usize..pos + size as usize + 2] != b"\r\n" {
            return Err("a chunk's data is not followed by CRLF (its size is wrong)".into());
        }
        pos += size as usize + 2;
        total += size;
    }
}

/// Probe once.
pub fn probe(opts: &Options) -> Report {
    let url = match Url::parse(&opts.url) {
        Ok(u) => u,
        Err(e) => {
            let mut r = Report::new(Url { scheme: String::new(), host: String::new(), port: 0, path: String::new() }, String::new());
            r.error = Some(e);
            return r;
        }
    };
    let mut request = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tailgate/{} (probe)\r\nAccept: */*\r\nConnection: keep-alive\r\n",
        opts.method,
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION")
    );
    for h in &opts.headers {
        request.push_str(h.trim());
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let mut rep = Report::new(url.clone(), request.clone());
    let t0 = Instant::now();
    let addrs: Vec<_> = match (url.host.as_str(), url.port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            rep.error = Some(format!("cannot resolve {}: {e}", url.host));
            return rep;
        }
    };
    let mut stream = None;
    let mut last_err = String::new();
    for a in &addrs {
        match TcpStream::connect_timeout(a, opts.timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = format!("{a}: {e}"),
        }
    }
    let Some(s) = stream else {
        rep.error = Some(format!("cannot connect: {last_err}"));
        rep.violations.push(Violation::new(rules::CONNECT, format!("cannot connect: {last_err}")));
        return rep;
    };
    let _ = s.set_nodelay(true);
    let _ = s.set_write_timeout(Some(opts.timeout));
    let _ = s.set_read_timeout(Some(opts.timeout));
    let tcp = match s.try_clone() {
        Ok(t) => t,
        Err(e) => {
            rep.error = Some(format!("socket: {e}"));
            return rep;
        }
    };
    let stream: Box<dyn Stream> = if url.scheme == "https" {
        match tls::connect(&url.host, s, opts.verify) {
            Ok(t) => Box::new(t),
            Err(e) => {
                rep.error = Some(format!("TLS: {e}"));
                return rep;
            }
        }
    } else {
        Box::new(s)
    };
    let mut c = Conn { tcp, s: stream, buf: Vec::new(), eof: false, reset: false, timed_out: false, deadline: Instant::now() + opts.timeout };
    if let Err(e) = c.s.write_all(request.as_bytes()) {
        rep.violations.push(Violation::new(rules::NO_RESPONSE, format!("the request could not be sent: {e}")));
        return rep;
    }

    // The header section.
    let body_start = loop {
        if let Some(e) = head_end(&c.buf) {
            if e > MAX_HEADER {
                rep.violations.push(Violation::new(rules::HEADER_TOO_LARGE, format!("the header section is {e} bytes")));
                rep.elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
                return rep;
            }
            break e;
        }
        if c.buf.len() > MAX_HEADER {
            rep.violations.push(Violation::new(rules::HEADER_TOO_LARGE, format!("no end of the header section within {MAX_HEADER} bytes: cut")));
            rep.response_head = Some(String::from_utf8_lossy(&c.buf[..c.buf.len().min(2048)]).into_owned());
            rep.elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
            return rep;
        }
        if !c.more() {
            rep.elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;
            if c.buf.is_empty() {
                if c.timed_out {
                    rep.violations.push(Violation::new(rules::TIMEOUT, format!("no answer within {:.1}s", opts.timeout.as_secs_f64())));
                } else {
                    let how = if c.reset { "reset" } else { "closed" };
                    rep.violations.push(Violation::new(rules::NO_RESPONSE, format!("the connection was {how} without a response")));
                }
                return rep;
            }
            // Something came, but no complete header section: judge what there is.
            let mut v = Vec::new();
            let (status, headers) = check_head(&c.buf, &mut v);
            rep.status = status;
            rep.headers = headers;
            rep.response_head = Some(String::from_utf8_lossy(&c.buf[..c.buf.len().min(4096)]).into_owned());
            rep.violations.extend(v);
            if status.is_some() || rep.violations.is_empty() {
                let what = if c.timed_out { TIMEOUT_MSG } else { "the connection ended inside the header section" };
                rep.violations.push(Violation::new(if c.timed_out { rules::TIMEOUT } else { rules::NO_RESPONSE }, what));
            }
            return rep;
        }
    };
    let head = c.buf[..body_start].to_vec();
    rep.response_head = Some(String::from_utf8_lossy(&head).into_owned());
    // Drop only the empty line that ends the section: every other line keeps its terminator.
    let head_text = head.strip_suffix(b"\r\n").or_else(|| head.strip_suffix(b"\n")).unwrap_or(&head);
    let (status, headers) = check_head(head_text, &mut rep.violations);
    rep.status = status;
    rep.headers = headers.clone();

    // Two CRLFs right after the status line, and header-looking lines after them.
    if status.is_some() && headers.is_empty() {
        while c.buf.len() - body_start < 256 && c.more() {}
        let after = &c.buf[body_start..];
        let first = after.split(|&b| b == b'\n').next().unwrap_or(b"");
        if let Some(colon) = memchr::memchr(b':', first)
            && colon > 0 && first[..colon].iter().all(|&b| is_tchar(b)) {
                rep.violations.push(Violation::new(
                    rules::BLANK_LINE_AFTER_STATUS,
                    format!("an empty line follows the status line, so {:?} arrives as body", String::from_utf8_lossy(first.trim_ascii())),
                ));
            }
    }

    // Framing.
    let cls = header(&headers, "Content-Length");
    let tes = header(&headers, "Transfer-Encoding");
    let conn_close = header(&headers, "Connection").iter().any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
    let no_body = matches!(status, Some(s) if (100..200).contains(&s) || s == 204 || s == 304) || opts.method == "HEAD";
    let mut length: Option<u64> = None;
    let mut cl_ok = true;
    let mut values: Vec<&str> = Vec::new();
    for v in &cls {
        values.extend(v.split(',').map(str::trim));
    }
    for v in &values {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            rep.violations.push(Violation::new(rules::CONTENT_LENGTH_INVALID, format!("Content-Length {v:?} is not a non-negative integer")));
            cl_ok = false;
        } else if v.parse::<u64>().map_or(true, |n| n > (1u64 << 62)) {
            rep.violations.push(Violation::new(rules::CONTENT_LENGTH_INVALID, format!("Content-Length {v} overflows")));
            cl_ok = false;
        }
    }
    if cl_ok && !values.is_empty() {
        let first = values[0];
        if values.iter().any(|v| v.trim_start_matches('0') != first.trim_start_matches('0')) {
            rep.violations.push(Violation::new(rules::CONTENT_LENGTH_CONFLICT, format!("several different Content-Length values: {}", values.join(", "))));
        } else {
            length = first.parse().ok();
        }
    }
    let mut chunked = false;
    if !tes.is_empty() {
        let codings: Vec<String> = tes.iter().flat_map(|v| v.split(',')).map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect();
        if codings.last().map(String::as_str) != Some("chunked") {
            rep.violations.push(Violation::new(rules::TE_NOT_CHUNKED, format!("Transfer-Encoding: {} does not end in chunked", codings.join(", "))));
        } else {
            chunked = true;
        }
        if !cls.is_empty() {
            rep.violations.push(Violation::new(rules::LENGTH_AND_CHUNKED, "both Content-Length and Transfer-Encoding are present"));
        }
    }
    let framing_bad = rep.violations.iter().any(|v| matches!(v.rule, "content-length-invalid" | "content-length-conflict" | "transfer-encoding-not-chunked" | "length-and-chunked"));
    // The body.
    let mut complete = false;
    if status.is_none() {
        // nothing sensible to read
    } else if no_body {
        complete = true;
    } else if chunked && !framing_bad {
        match read_chunked(&mut c, body_start) {
            Ok(n) => {
                rep.body_bytes = n;
                complete = true;
            }
            Err(e) => rep.violations.push(Violation::new(rules::CHUNKED_FRAMING, e)),
        }
    } else if let (Some(n), false) = (length, framing_bad) {
        let want = body_start + n as usize;
        while c.buf.len() < want && c.more() {}
        if c.buf.len() < want {
            let got = c.buf.len() - body_start;
            if c.timed_out {
                rep.violations.push(Violation::new(rules::TIMEOUT, format!("{got} of {n} body bytes came before the timeout")));
            } else {
                rep.violations.push(Violation::new(rules::BODY_SHORTER, format!("Content-Length is {n} but the connection ended after {got} body bytes")));
            }
            rep.body_bytes = got as u64;
        } else {
            rep.body_bytes = n;
            // Extra bytes right behind the declared body?
            if c.buf.len() == want {
                let saved = c.deadline;
                c.deadline = Instant::now() + Duration::from_millis(200);
                c.more();
                c.timed_out = false;
                c.deadline = saved;
            }
            if c.buf.len() > want {
                rep.violations.push(Violation::new(rules::BODY_LONGER, format!("{} bytes follow the {n}-byte body Content-Length declared", c.buf.len() - want)));
            } else {
                complete = true;
            }
        }
    } else if !framing_bad {
        // Neither length nor chunking: the body runs until the connection closes.
        while c.more() {}
        rep.body_bytes = (c.buf.len() - body_start) as u64;
        if !conn_close && !c.eof {
            rep.violations.push(Violation::new(rules::NO_FRAMING, "a kept-alive response without Content-Length or chunked encoding: its end cannot be known"));
        } else if !conn_close && rep.body_bytes > 0 {
            rep.violations.push(Violation::new(rules::NO_FRAMING, "a response without Content-Length, chunked encoding or `Connection: close`, ended by closing the connection"));
        }
    }
    rep.elapsed_ms = t0.elapsed().as_secs_f64() * 1e3;

    // Keep-alive: how long does the server keep the idle connection?
    if complete && rep.violations.is_empty() && !conn_close && !c.eof && !opts.idle.is_zero() {
        let t = Instant::now();
        c.deadline = t + opts.idle;
        c.timed_out = false;
        let start_len = c.buf.len();
        while c.more() {}
        let closed = c.eof && c.buf.len() == start_len;
        let after = t.elapsed().as_secs_f64();
        let ka = KeepAlive {
            closed_after_secs: if closed { Some(after) } else { None },
            waited_secs: opts.idle.as_secs_f64(),
            lb_idle_timeout_secs: opts.lb_idle_timeout.as_secs_f64(),
        };
        if let Some(a) = ka.closed_after_secs
            && a < opts.lb_idle_timeout.as_secs_f64() {
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
    rep
}

const TIMEOUT_MSG: &str = "the header section did not end before the timeout";

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

    #[test]
    fn status_lines() {
        assert_eq!(is_status_line(b"HTTP/1.1 200 OK"), Some(200));
        assert_eq!(is_status_line(b"HTTP/1.1 200"), Some(200));
        assert_eq!(is_status_line(b"HTTP/1.1 20 OK"), None);
        assert_eq!(is_status_line(b"HELLO"), None);
        assert_eq!(is_status_line(b"HTTP/1.1 200OK"), None);
    }
}
