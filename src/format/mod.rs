//! Log formats: one zero-copy parser per format, all producing borrowed [`Record`]s.
//!
//! A parser takes one line (without its line terminator) as `&[u8]` and returns a record whose
//! fields borrow from that line. Nothing is allocated per line; values stay escaped as the server
//! wrote them (see [`unescape`] for the cold path that shows them to a person).
//!
//! | module | format |
//! |---|---|
//! | `elb` | Classic ELB access log (15 and 12 fields) |
//! | `alb` | Application Load Balancer access log (every documented field, unknown trailing fields kept) |
//! | [`apache`] | Apache access logs compiled from a `LogFormat` string |
//! | [`nginx`] | nginx access logs compiled from a `log_format` string |
//! | `template` | the literal/field matcher both of those compile to |
//! | `strftime` | times written with a `strftime` pattern (Apache `%{format}t`) |
//! | `w3c` | IIS W3C extended logs and the HTTP.sys HTTPERR log |
//! | `errorlog` | nginx and Apache (2.2, 2.4) error logs |
//! | [`escape`] | how each server escapes logged values; one decoder per escaping |
//! | [`detect`](mod@detect) | which of these a file is, from its first lines |

pub(crate) mod alb;
pub mod apache;
pub(crate) mod cursor;
pub mod detect;
pub(crate) mod elb;
pub(crate) mod errorlog;
pub mod escape;
pub mod nginx;
pub(crate) mod strftime;
pub(crate) mod template;
pub(crate) mod w3c;

use std::fmt;
use std::sync::Arc;

use crate::num::{parse_status, parse_u64};
use crate::time::Timestamp;

/// Which server wrote an error log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Server {
    /// nginx.
    Nginx,
    /// Apache httpd.
    Apache,
}

/// A request line split into its three parts. Parts may contain spaces (the target, when a
/// client sent raw spaces); `-` parts are kept as written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request<'a> {
    /// The whole request line, as logged.
    pub raw: &'a [u8],
    /// `GET`, …
    pub method: &'a [u8],
    /// The request target (`/path?query`, or an absolute URL).
    pub target: &'a [u8],
    /// `HTTP/1.1`, …, or `-` / empty.
    pub protocol: &'a [u8],
}

impl<'a> Request<'a> {
    /// Split `GET /a b HTTP/1.1`: the method ends at the first space, the protocol starts after the
    /// last space when it looks like one (`HTTP/…` or `-`), the target is what lies between.
    pub fn split(raw: &'a [u8]) -> Request<'a> {
        let Some(sp) = memchr::memchr(b' ', raw) else {
            return Request { raw, method: raw, target: b"", protocol: b"" };
        };
        let method = &raw[..sp];
        let rest = &raw[sp + 1..];
        match memchr::memrchr(b' ', rest) {
            Some(lp) if rest[lp + 1..].starts_with(b"HTTP/") || &rest[lp + 1..] == b"-" || lp + 1 == rest.len() => {
                Request { raw, method, target: &rest[..lp], protocol: &rest[lp + 1..] }
            }
            _ => Request { raw, method, target: rest, protocol: b"" },
        }
    }

    /// The path (and query) of the target: an absolute URI (`http://host:80/p?q`, as ELB writes
    /// it) loses its scheme and authority.
    pub fn path(&self) -> &'a [u8] {
        strip_authority(self.target)
    }
}

/// `http://host:port/p?q` → `/p?q`; a target that is already origin-form is returned as it is.
pub fn strip_authority(t: &[u8]) -> &[u8] {
    let after_scheme = if t.starts_with(b"http://") {
        &t[7..]
    } else if t.starts_with(b"https://") {
        &t[8..]
    } else {
        return t;
    };
    match memchr::memchr(b'/', after_scheme) {
        Some(i) => &after_scheme[i..],
        None => b"/",
    }
}

/// One web-server access-log line (Apache, nginx, IIS W3C).
#[derive(Clone, Copy, Debug, Default)]
pub struct AccessRecord<'a> {
    /// When (`$time_local`, `%t`, W3C `date time`, …).
    pub time: Option<Timestamp>,
    /// The client address (`$remote_addr`, `%h`/`%a`, `c-ip`).
    pub client: Option<&'a [u8]>,
    /// The request line (or W3C's method and URI stem).
    pub request: Request<'a>,
    /// The status as logged (`009` is nginx's HTTP/0.9 pass-through and stays 9).
    pub status: Option<u16>,
    /// Bytes sent (`$body_bytes_sent`, `%b`/`%O`, `sc-bytes`).
    pub bytes_sent: Option<u64>,
    /// `Referer` (`$http_referer`, `%{Referer}i`, `cs(Referer)`).
    pub referer: Option<&'a [u8]>,
    /// `User-Agent`, as the server wrote it (escaped).
    pub user_agent: Option<&'a [u8]>,
    /// How long the request took, µs (`$request_time`, `%D`/`%T`, `time-taken`).
    pub duration_us: Option<i64>,
    /// `$upstream_status`, raw (`502, 200` after a retry).
    pub upstream_status: Option<&'a [u8]>,
    /// `$upstream_addr`, raw.
    pub upstream_addr: Option<&'a [u8]>,
    /// `$upstream_response_time`, raw.
    pub upstream_time: Option<&'a [u8]>,
    /// `X-Forwarded-For`, raw (the load balancer appends the client).
    pub x_forwarded_for: Option<&'a [u8]>,
    /// The `Host` header or virtual host (`$host`, `%v`, `cs-host`).
    pub host: Option<&'a [u8]>,
    /// A query string logged apart from the target (IIS `cs-uri-query`, without the `?`).
    pub query: Option<&'a [u8]>,
    /// Written by IIS (W3C): spaces inside values are `+`.
    pub w3c: bool,
    /// IIS `sc-substatus`.
    pub substatus: Option<u32>,
    /// IIS `sc-win32-status`.
    pub win32_status: Option<u32>,
}

/// Which load balancer wrote a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LbKind {
    /// A Classic Load Balancer.
    Classic,
    /// An Application Load Balancer.
    Alb,
}

/// One Classic ELB or ALB access-log line. For ALB, "backend" means the target.
#[derive(Clone, Copy, Debug)]
pub struct LbRecord<'a> {
    /// Classic or ALB.
    pub kind: LbKind,
    /// ALB connection type (`http`, `https`, `h2`, `ws`, `wss`, `grpcs`); empty for Classic.
    pub conn_type: &'a [u8],
    /// The line's time (Classic: the request's arrival; ALB: the response's end).
    pub time: Timestamp,
    /// The load balancer's name (ALB: `app/<name>/<id>`).
    pub elb: &'a [u8],
    /// The client's address.
    pub client_ip: &'a [u8],
    /// The client's port.
    pub client_port: Option<u16>,
    /// The backend token as written (`10.0.0.1:80`, `-`).
    pub backend_raw: &'a [u8],
    /// `None` when the LB wrote `-` (no backend chosen or reached).
    pub backend_ip: Option<&'a [u8]>,
    /// The backend's port.
    pub backend_port: Option<u16>,
    /// Microseconds; `None` for `-1`.
    pub request_processing_us: Option<i64>,
    /// Microseconds; `None` for `-1`.
    pub backend_processing_us: Option<i64>,
    /// Microseconds; `None` for `-1`.
    pub response_processing_us: Option<i64>,
    /// `None` for `-` (TCP/SSL listeners).
    pub elb_status: Option<u16>,
    /// As written: `-` and `0` both mean the backend sent no (valid) response.
    pub backend_status_raw: &'a [u8],
    /// Bytes received from the client.
    pub received_bytes: u64,
    /// Bytes sent to the client.
    pub sent_bytes: u64,
    /// The request line (`-` parts for TCP/SSL listeners).
    pub request: Request<'a>,
    /// The user agent, as written (`"` escaped as `\"`).
    pub user_agent: &'a [u8],
    /// The TLS cipher, or `-`.
    pub ssl_cipher: &'a [u8],
    /// The TLS protocol, or `-`.
    pub ssl_protocol: &'a [u8],
    /// ALB: everything after `ssl_protocol`, raw; [`LbRecord::alb`] splits it into fields.
    /// Kept raw so the hot path (every line) does not pay for fields only failures need.
    pub alb_tail: &'a [u8],
}

/// The ALB fields after `ssl_protocol`, in log order. Absent fields (older logs) are empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlbFields<'a> {
    /// `target_group_arn`.
    pub target_group_arn: &'a [u8],
    /// `trace_id` (`X-Amzn-Trace-Id`).
    pub trace_id: &'a [u8],
    /// `domain_name` (SNI).
    pub domain_name: &'a [u8],
    /// `chosen_cert_arn`.
    pub chosen_cert_arn: &'a [u8],
    /// `matched_rule_priority`.
    pub matched_rule_priority: &'a [u8],
    /// `request_creation_time`: when the request reached the ALB.
    pub request_creation_time: Option<Timestamp>,
    /// `actions_executed`.
    pub actions_executed: &'a [u8],
    /// `redirect_url`.
    pub redirect_url: &'a [u8],
    /// `error_reason` (`TargetConnectionError`, `TargetResponseError`, …).
    pub error_reason: &'a [u8],
    /// `target:port_list`.
    pub target_port_list: &'a [u8],
    /// `target_status_code_list`.
    pub target_status_code_list: &'a [u8],
    /// `classification` (desync mitigation).
    pub classification: &'a [u8],
    /// `classification_reason`.
    pub classification_reason: &'a [u8],
    /// `conn_trace_id`.
    pub conn_trace_id: &'a [u8],
    /// `transformed_host`.
    pub transformed_host: &'a [u8],
    /// `transformed_uri`.
    pub transformed_uri: &'a [u8],
    /// `request_transform_status`.
    pub request_transform_status: &'a [u8],
    /// Fields after the last documented one, raw and unparsed (AWS adds fields over time).
    pub extra: &'a [u8],
}

impl<'a> LbRecord<'a> {
    /// The ALB fields after `ssl_protocol` (all empty for Classic ELB lines).
    pub fn alb(&self) -> AlbFields<'a> {
        if self.kind == LbKind::Alb { alb::tail_fields(self.alb_tail) } else { AlbFields::default() }
    }

    /// The backend's status, or `None` when the backend sent none (`-` or `0`).
    pub fn backend_status(&self) -> Option<u16> {
        match parse_status(self.backend_status_raw) {
            Some(0) | None => None,
            s => s,
        }
    }

    /// An LB-generated response: the LB answered itself (backend status `-` or `0`) on an HTTP
    /// listener (TCP/SSL lines have no status at all).
    pub fn lb_generated(&self) -> bool {
        self.elb_status.is_some() && self.backend_status().is_none()
    }
}

/// One error-log line (nginx or Apache).
#[derive(Clone, Copy, Debug)]
pub struct ErrorRecord<'a> {
    /// Which server wrote it.
    pub server: Server,
    /// When (wall clock, no offset: see [`crate::time::Zone`]).
    pub time: Timestamp,
    /// `error`, `warn`, `crit`, …
    pub level: &'a [u8],
    /// Apache 2.4's `[module:level]` module.
    pub module: Option<&'a [u8]>,
    /// The process id.
    pub pid: Option<u32>,
    /// nginx's `*N` connection number.
    pub connection: Option<u64>,
    /// The client address (`client:`, `[client …]`).
    pub client: Option<&'a [u8]>,
    /// Apache `(104)Connection reset by peer` (as written) / nginx `111: Connection refused`.
    pub errno: Option<&'a [u8]>,
    /// Apache `AHnnnnn`.
    pub code: Option<&'a [u8]>,
    /// The message proper: for nginx up to `, client:`, without the `while …` action.
    pub message: &'a [u8],
    /// nginx `while <action>`.
    pub action: Option<&'a [u8]>,
    /// nginx `server:`.
    pub server_name: Option<&'a [u8]>,
    /// nginx `request:` / the request Apache names.
    pub request: Option<Request<'a>>,
    /// nginx `upstream:`.
    pub upstream: Option<&'a [u8]>,
    /// nginx `host:`.
    pub host: Option<&'a [u8]>,
    /// nginx `referrer:` / Apache `, referer:`.
    pub referer: Option<&'a [u8]>,
}

impl<'a> ErrorRecord<'a> {
    /// A record with only the fields every error-log line has.
    pub fn new(server: Server, time: Timestamp, level: &'a [u8]) -> Self {
        ErrorRecord {
            server,
            time,
            level,
            module: None,
            pid: None,
            connection: None,
            client: None,
            errno: None,
            code: None,
            message: b"",
            action: None,
            server_name: None,
            request: None,
            upstream: None,
            host: None,
            referer: None,
        }
    }
}

/// One HTTP.sys HTTPERR line (IIS hosts): a request the kernel driver refused or dropped.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpErrRecord<'a> {
    /// When (`date time`, UTC).
    pub time: Option<Timestamp>,
    /// `c-ip`.
    pub client_ip: Option<&'a [u8]>,
    /// `s-port`.
    pub server_port: Option<u16>,
    /// `cs-method`.
    pub method: Option<&'a [u8]>,
    /// `cs-uri`.
    pub uri: Option<&'a [u8]>,
    /// `sc-status`.
    pub status: Option<u16>,
    /// `s-siteid`.
    pub site_id: Option<&'a [u8]>,
    /// `s-reason` (`Timer_ConnectionIdle`, `Connection_Dropped`, …).
    pub reason: &'a [u8],
    /// `s-queuename` (the application pool).
    pub queue: Option<&'a [u8]>,
}

/// A parsed line.
#[derive(Clone, Copy, Debug)]
pub enum Record<'a> {
    /// A web server's access line.
    Access(AccessRecord<'a>),
    /// A load balancer's access line.
    Lb(LbRecord<'a>),
    /// An error-log line.
    Error(ErrorRecord<'a>),
    /// An HTTP.sys error line.
    HttpErr(HttpErrRecord<'a>),
    /// A line that carries no record and is not an error: W3C `#` directives, blank lines.
    Meta,
}

impl Record<'_> {
    /// The record's time, when it has one.
    pub fn time(&self) -> Option<Timestamp> {
        match self {
            Record::Access(a) => a.time,
            Record::Lb(l) => Some(l.time),
            Record::Error(e) => Some(e.time),
            Record::HttpErr(h) => h.time,
            Record::Meta => None,
        }
    }
}

/// Why a line was rejected. Static text: building it allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Why, in a few words (`expected a quoted request`, …).
    pub reason: &'static str,
}

impl ParseError {
    /// A rejection for `reason`.
    pub const fn new(reason: &'static str) -> Self {
        ParseError { reason }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

/// A parsed line or why it was rejected.
pub type ParseResult<'a> = Result<Record<'a>, ParseError>;

/// A log format, ready to parse (access formats carry their compiled template).
#[derive(Clone, Debug)]
pub enum Format {
    /// Classic ELB access logs.
    Elb,
    /// ALB access logs.
    Alb,
    /// An Apache `LogFormat`, compiled.
    Apache(Arc<template::Template>),
    /// An nginx `log_format`, compiled.
    Nginx(Arc<template::Template>),
    /// IIS W3C extended logs.
    W3c,
    /// HTTP.sys HTTPERR logs.
    HttpErr,
    /// nginx error logs.
    NginxError,
    /// Apache error logs (2.2 and 2.4).
    ApacheError,
}

impl Format {
    /// A stable short name, as accepted by `--log-format` and shown in reports.
    pub fn name(&self) -> String {
        match self {
            Format::Elb => "elb".into(),
            Format::Alb => "alb".into(),
            Format::Apache(t) => format!("apache:{}", t.name),
            Format::Nginx(t) => format!("nginx:{}", t.name),
            Format::W3c => "w3c".into(),
            Format::HttpErr => "httperr".into(),
            Format::NginxError => "nginx-error".into(),
            Format::ApacheError => "apache-error".into(),
        }
    }

    /// Parse a format spec: `elb`, `alb`, `w3c`, `httperr`, `nginx-error`, `apache-error`,
    /// `nginx` / `nginx-combined`, `nginx-main`, `nginx-forwarded`, `apache-common` / `apache-combined` / `apache-vhost_combined`,
    /// `apache:<LogFormat string>`, `nginx:<log_format string>`, `nginx(escape=json):<log_format
    /// string>` (also `escape=none`, `escape=default`).
    pub fn from_spec(spec: &str) -> anyhow::Result<Format> {
        Format::from_spec_named(spec, "custom")
    }

    /// As [`Format::from_spec`], naming a compiled `apache:`/`nginx:` format (its nickname in the
    /// server's config).
    pub fn from_spec_named(spec: &str, name: &str) -> anyhow::Result<Format> {
        if let Some(f) = spec.strip_prefix("apache:") {
            return Ok(Format::Apache(Arc::new(apache::compile(name, f)?)));
        }
        if let Some(f) = spec.strip_prefix("nginx:") {
            return Ok(Format::Nginx(Arc::new(nginx::compile(name, f, nginx::Escape::Default)?)));
        }
        // `nginx(escape=json):<log_format>`: the escaping of `log_format … escape=`.
        if let Some(rest) = spec.strip_prefix("nginx(escape=")
            && let Some((mode, f)) = rest.split_once("):")
        {
            let e = nginx::Escape::parse(mode).ok_or_else(|| anyhow::anyhow!("'{spec}': escape= is default, json or none"))?;
            return Ok(Format::Nginx(Arc::new(nginx::compile(name, f, e)?)));
        }
        Ok(match spec {
            "elb" | "classic" | "classic-elb" => Format::Elb,
            "alb" => Format::Alb,
            "w3c" | "iis" => Format::W3c,
            "httperr" => Format::HttpErr,
            "nginx-error" => Format::NginxError,
            "apache-error" => Format::ApacheError,
            "nginx" | "nginx-combined" => Format::Nginx(Arc::new(nginx::combined())),
            "nginx-main" => Format::Nginx(Arc::new(nginx::main_format())),
            "nginx-forwarded" => Format::Nginx(Arc::new(nginx::forwarded())),
            "apache-common" | "common" => Format::Apache(Arc::new(apache::preset("common").unwrap())),
            "apache-combined" | "combined" => Format::Apache(Arc::new(apache::preset("combined").unwrap())),
            "apache-vhost_combined" | "vhost_combined" => Format::Apache(Arc::new(apache::preset("vhost_combined").unwrap())),
            other => {
                return Err(anyhow::anyhow!(
                    "unknown log format '{other}': use one of elb, alb, w3c, httperr, nginx-error, apache-error, \
                     nginx-combined, nginx-main, nginx-forwarded, apache-common, apache-combined, apache-vhost_combined, \
                     'apache:<LogFormat string>' or 'nginx:<log_format string>'"
                ));
            }
        })
    }

    /// A parser for this format (with the state its lines need: the day cache, W3C's `#Fields`).
    pub fn parser(&self) -> Parser {
        match self {
            Format::Elb => Parser::Elb(Default::default()),
            Format::Alb => Parser::Alb(Default::default()),
            Format::Apache(t) | Format::Nginx(t) => Parser::Template(t.clone()),
            Format::W3c => Parser::W3c(w3c::W3cParser::new(false)),
            Format::HttpErr => Parser::W3c(w3c::W3cParser::new(true)),
            Format::NginxError => Parser::NginxError,
            Format::ApacheError => Parser::ApacheError,
        }
    }

    /// Whether lines can be parsed independently of each other (so a file can be split into
    /// chunks parsed in parallel). W3C is stateful: its `#Fields` header rules what follows.
    pub fn stateless(&self) -> bool {
        !matches!(self, Format::W3c | Format::HttpErr)
    }
}

/// A parser with whatever state its format needs.
#[derive(Clone, Debug)]
pub enum Parser {
    /// Classic ELB, with the day of the previous line.
    Elb(crate::time::DayCache),
    /// ALB, with the day of the previous line.
    Alb(crate::time::DayCache),
    /// An nginx or Apache access format.
    Template(Arc<template::Template>),
    /// W3C or HTTPERR, with the `#Fields` seen.
    W3c(w3c::W3cParser),
    /// nginx error logs.
    NginxError,
    /// Apache error logs.
    ApacheError,
}

impl Parser {
    /// Parse one line (without `\n`; a trailing `\r` is tolerated).
    #[inline]
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> ParseResult<'a> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(Record::Meta);
        }
        match self {
            Parser::Elb(days) => elb::parse_with(line, days),
            Parser::Alb(days) => alb::parse_with(line, days),
            Parser::Template(t) => t.parse(line).map(Record::Access),
            Parser::W3c(p) => p.parse(line),
            Parser::NginxError => errorlog::parse_nginx(line),
            Parser::ApacheError => errorlog::parse_apache(line),
        }
    }
}

/// `-` means "no value" in every format here.
#[inline]
pub fn dash(b: &[u8]) -> Option<&[u8]> {
    if b == b"-" { None } else { Some(b) }
}

/// Split `ip:port` at the **last** colon (ELB writes IPv6 without brackets), stripping
/// brackets when present. `-` gives `None`.
pub fn split_host_port(b: &[u8]) -> Option<(&[u8], Option<u16>)> {
    if b == b"-" || b.is_empty() {
        return None;
    }
    if b[0] == b'[' {
        let close = memchr::memchr(b']', b)?;
        let host = &b[1..close];
        let port = b.get(close + 2..).and_then(parse_u64).and_then(|p| u16::try_from(p).ok());
        return Some((host, port));
    }
    // A port has at most 5 digits: the separating colon is within the last 6 bytes.
    let tail_from = b.len().saturating_sub(6);
    match b[tail_from..].iter().rposition(|&c| c == b':').map(|i| tail_from + i) {
        Some(i) => match parse_u64(&b[i + 1..]).and_then(|p| u16::try_from(p).ok()) {
            Some(port) => Some((&b[..i], Some(port))),
            None => Some((b, None)),
        },
        None => Some((b, None)),
    }
}

/// Undo the escaping servers apply inside quoted log fields: `\"`, `\\`, `\xHH`, `\n`, `\t`,
/// JSON `\uHHHH` (ASCII range). Cold path: used to show values to a person.
pub fn unescape(b: &[u8]) -> String {
    let out = escape::unbackslash(b, |r| match r[0] {
        b'"' | b'\\' | b'/' => Some((r[0], 1)),
        b'n' => Some((b'\n', 1)),
        b't' => Some((b'\t', 1)),
        b'x' => r.get(1..3).and_then(escape::hex2).map(|v| (v, 3)),
        b'u' => match (r.get(1..3).and_then(escape::hex2), r.get(3..5).and_then(escape::hex2)) {
            (Some(0), Some(l)) => Some((l, 5)),
            _ => None,
        },
        _ => None,
    });
    String::from_utf8_lossy(&out).into_owned()
}

/// Lossy text of a byte field, for reports.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_split() {
        let r = Request::split(b"GET http://a:80/x y HTTP/1.1");
        assert_eq!(r.method, b"GET");
        assert_eq!(r.target, b"http://a:80/x y");
        assert_eq!(r.protocol, b"HTTP/1.1");
        assert_eq!(r.path(), b"/x y");
        let r = Request::split(b"- - - ");
        assert_eq!((r.method, r.target, r.protocol), (&b"-"[..], &b"- -"[..], &b""[..]));
        let r = Request::split(b"- http://h:80- -");
        assert_eq!((r.method, r.target, r.protocol), (&b"-"[..], &b"http://h:80-"[..], &b"-"[..]));
        assert_eq!(Request::split(b"GARBAGE").method, b"GARBAGE");
    }

    #[test]
    fn host_port() {
        assert_eq!(split_host_port(b"10.0.0.1:80"), Some((&b"10.0.0.1"[..], Some(80))));
        assert_eq!(split_host_port(b"2601:240:4002:5883:b5f3:aaaa:bbbb:64ec:53016"), Some((&b"2601:240:4002:5883:b5f3:aaaa:bbbb:64ec"[..], Some(53016))));
        assert_eq!(split_host_port(b"[2001:db8::1]:80"), Some((&b"2001:db8::1"[..], Some(80))));
        assert_eq!(split_host_port(b"-"), None);
    }

    #[test]
    fn unescapes() {
        assert_eq!(unescape(br#"a\"b\\c\x41\u0042"#), "a\"b\\cAB");
        assert_eq!(unescape(br"trailing\"), "trailing\\");
        assert_eq!(unescape(br"\xZZ"), "\\xZZ");
    }

    #[test]
    fn status() {
        assert_eq!(parse_status(b"009"), Some(9));
        assert_eq!(parse_status(b"502"), Some(502));
        assert_eq!(parse_status(b"50"), None);
        assert_eq!(parse_status(b"5x2"), None);
    }
}
