//! Records → events: local 5xx responses, malformed backend output, upstream failures.
//!
//! [`classify`] is the hot-path half: it looks at a borrowed record and returns a small `Copy`
//! [`Class`] without allocating. [`Event::new`] is the cold half: it copies what a person (or the
//! correlator) needs out of the line, for the few lines that are events.
//!
//! Error-log messages are matched by prefix against the messages nginx and Apache write when a
//! backend misbehaves (`shared/data/errorlogs/messages.md`), so new wording appended by later
//! versions (`upstream sent invalid header: "…"` since nginx 1.21.1) still matches. Apache
//! messages are matched by their `AHnnnnn` code first, then by text (2.2 has no codes).

use serde::Serialize;

use crate::format::{ErrorRecord, HttpErrRecord, Record, Request, Server, text, unescape};
use crate::time::Timestamp;

/// Declares [`Problem`] with its stable names: the variants, [`Problem::ALL`] and
/// [`Problem::as_str`] come from one list.
macro_rules! problems {
    ($($(#[$doc:meta])* $name:ident = $text:literal,)*) => {
        /// What went wrong, in a small vocabulary shared by nginx, Apache, IIS and the probe.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Problem {
            $($(#[$doc])* $name,)*
        }

        impl Problem {
            /// Every problem, in declaration order (`p as usize` indexes it).
            pub const ALL: [Problem; [$($text),*].len()] = [$(Problem::$name),*];

            /// The stable name in events and reports (`invalid-header`, …).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Problem::$name => $text,)*
                }
            }
        }
    };
}

problems! {
    // The backend's response was not valid HTTP (the LB would answer 502).
    /// `invalid-header`: a header line that is not `name: value` (nginx "upstream sent invalid header").
    InvalidHeader = "invalid-header",
    /// `invalid-status-line`: no valid `HTTP/x.y nnn` status line.
    InvalidStatusLine = "invalid-status-line",
    /// `http09-response`: an answer with no status line at all (logged as status 009).
    Http09Response = "http09-response",
    /// `too-big-header`: the header section is over the proxy's buffer.
    TooBigHeader = "too-big-header",
    /// `duplicate-header`: a header that may appear once appears twice.
    DuplicateHeader = "duplicate-header",
    /// `length-and-chunked`: both `Content-Length` and `Transfer-Encoding: chunked`.
    LengthAndChunked = "length-and-chunked",
    /// `invalid-content-length`: a `Content-Length` that is not one number.
    InvalidContentLength = "invalid-content-length",
    /// `unknown-transfer-encoding`: a transfer coding other than `chunked`.
    UnknownTransferEncoding = "unknown-transfer-encoding",
    /// `bad-chunking`: the chunked framing is broken.
    BadChunking = "bad-chunking",
    /// `bad-trailer`: an invalid (or too big) trailer section.
    BadTrailer = "bad-trailer",
    /// `extra-data`: more body than the framing said.
    ExtraData = "extra-data",
    /// `fastcgi-protocol`: a broken FastCGI record.
    FastcgiProtocol = "fastcgi-protocol",
    // The connection to the backend failed.
    /// `premature-close`: the upstream closed the connection before (or while) answering.
    PrematureClose = "premature-close",
    /// `script-ended-early`: a CGI script ended before its headers.
    ScriptEndedEarly = "script-ended-early",
    /// `connection-reset`: the upstream reset the connection.
    ConnectionReset = "connection-reset",
    /// `timeout`: the upstream did not answer in time.
    Timeout = "timeout",
    /// `connect-failed`: the connection to the upstream could not be made (refused, unreachable).
    ConnectFailed = "connect-failed",
    /// `no-live-upstream`: every server of the upstream group is marked down.
    NoLiveUpstream = "no-live-upstream",
    /// `tls-error`: the TLS handshake with the upstream failed.
    TlsError = "tls-error",
    /// `request-send-failed`: the request could not be sent to the upstream.
    RequestSendFailed = "request-send-failed",
    /// `proxy-error`: Apache's proxy failed otherwise (AH01075, AH01102, …).
    ProxyError = "proxy-error",
    /// `app-stderr`: the application wrote to stderr (FastCGI).
    AppStderr = "app-stderr",
    // HTTP.sys (HTTPERR) reasons.
    /// `connection-dropped`: HTTP.sys dropped the connection (also a client reset or a cancelled request).
    ConnectionDropped = "connection-dropped",
    /// `connection-abandoned`: the application pool abandoned the request.
    ConnectionAbandoned = "connection-abandoned",
    /// `idle-timeout`: HTTP.sys closed an idle connection (`Timer_ConnectionIdle`).
    IdleTimeout = "idle-timeout",
    /// `service-unavailable`: HTTP.sys answered 503 (the application pool is down or its queue full).
    ServiceUnavailable = "service-unavailable",
    /// `client-error`: HTTP.sys refused a bad request (verb, URL, headers, length).
    ClientError = "client-error",
    /// `other`: any other HTTP.sys reason.
    Other = "other",
}

impl Problem {
    /// Whether the backend produced output a strict HTTP peer (the load balancer) rejects.
    pub fn is_malformed_output(self) -> bool {
        use Problem::*;
        matches!(
            self,
            InvalidHeader
                | InvalidStatusLine
                | Http09Response
                | TooBigHeader
                | DuplicateHeader
                | LengthAndChunked
                | InvalidContentLength
                | UnknownTransferEncoding
                | BadChunking
                | BadTrailer
                | ExtraData
                | FastcgiProtocol
        )
    }
}

/// The kind of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A local access log recorded a 5xx answer.
    Http5xx,
    /// The backend's output was not valid HTTP (nginx status 009, "upstream sent invalid header", …).
    MalformedOutput,
    /// The web server could not get a response from its upstream (reset, timeout, refused, …).
    UpstreamError,
    /// A load-balancer access log recorded a 5xx.
    Lb5xx,
    /// HTTP.sys refused or dropped a request (IIS HTTPERR).
    HttpErr,
}

impl EventKind {
    /// The stable name in events and reports (`http-5xx`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Http5xx => "http-5xx",
            EventKind::MalformedOutput => "malformed-output",
            EventKind::UpstreamError => "upstream-error",
            EventKind::Lb5xx => "lb-5xx",
            EventKind::HttpErr => "httperr",
        }
    }
}

/// Both serialize as their stable strings (`as_str`).
macro_rules! serialize_as_str {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
serialize_as_str!(Problem);
serialize_as_str!(EventKind);

/// The version of the JSON of events (here, and the agent's) and of `--correlate`'s findings:
/// bumped when a field changes meaning or goes away (new fields do not bump it).
pub const SCHEMA: u32 = 1;

/// The allocation-free verdict on one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    /// What kind of event the record is.
    pub kind: EventKind,
    /// What went wrong, when the record says.
    pub problem: Option<Problem>,
    /// The HTTP status, when the record has one.
    pub status: Option<u16>,
    /// For LB lines: whether the load balancer generated the answer itself.
    pub lb_generated: Option<bool>,
}

/// Decide whether a record is an event. `None` for ordinary lines.
#[inline]
pub fn classify(rec: &Record<'_>) -> Option<Class> {
    match rec {
        Record::Access(a) => match a.status {
            Some(9) => Some(Class { kind: EventKind::MalformedOutput, problem: Some(Problem::Http09Response), status: Some(9), lb_generated: None }),
            Some(s) if (500..600).contains(&s) => Some(Class { kind: EventKind::Http5xx, problem: None, status: Some(s), lb_generated: None }),
            _ => None,
        },
        Record::Lb(l) => match l.elb_status {
            Some(s) if (500..600).contains(&s) => Some(Class { kind: EventKind::Lb5xx, problem: None, status: Some(s), lb_generated: Some(l.lb_generated()) }),
            _ => None,
        },
        Record::Error(e) => {
            let p = error_problem(e)?;
            let kind = if p.is_malformed_output() { EventKind::MalformedOutput } else { EventKind::UpstreamError };
            Some(Class { kind, problem: Some(p), status: None, lb_generated: None })
        }
        Record::HttpErr(h) => Some(Class { kind: EventKind::HttpErr, problem: Some(httperr_problem(h.reason)), status: h.status, lb_generated: None }),
        Record::Meta => None,
    }
}

/// nginx message prefixes (the message proper, before ` while …` and `, client: …`).
const NGINX: &[(&[u8], Problem)] = &[
    (b"upstream prematurely closed", Problem::PrematureClose),
    (b"upstream sent too big header", Problem::TooBigHeader),
    (b"upstream sent duplicate header line", Problem::DuplicateHeader),
    (b"upstream sent \"Content-Length\" and \"Transfer-Encoding\"", Problem::LengthAndChunked),
    (b"upstream sent invalid \"Content-Length\"", Problem::InvalidContentLength),
    (b"upstream sent unknown \"Transfer-Encoding\"", Problem::UnknownTransferEncoding),
    (b"upstream sent more data than specified", Problem::ExtraData),
    (b"upstream sent data after", Problem::ExtraData),
    (b"upstream timed out", Problem::Timeout),
    (b"no live upstreams", Problem::NoLiveUpstream),
    (b"connect() failed", Problem::ConnectFailed),
    (b"connect() to ", Problem::ConnectFailed),
    (b"upstream prematurely sent response", Problem::TlsError),
    (b"upstream SSL certificate", Problem::TlsError),
    (b"SSL_do_handshake() failed", Problem::TlsError),
    (b"upstream sent no valid HTTP/1.0 header", Problem::InvalidStatusLine),
    (b"upstream sent invalid status", Problem::InvalidStatusLine),
    (b"upstream sent invalid header", Problem::InvalidHeader),
    (b"upstream split a header line in FastCGI records", Problem::InvalidHeader),
    (b"invalid header after joining FastCGI records", Problem::InvalidHeader),
    (b"upstream sent invalid chunked response", Problem::BadChunking),
    (b"upstream sent invalid trailer", Problem::BadTrailer),
    (b"upstream sent too big trailers", Problem::BadTrailer),
    (b"upstream sent unexpected FastCGI", Problem::FastcgiProtocol),
    (b"upstream sent unsupported FastCGI", Problem::FastcgiProtocol),
    (b"upstream sent invalid FastCGI", Problem::FastcgiProtocol),
    (b"FastCGI sent in stderr", Problem::AppStderr),
];

/// Apache `AHnnnnn` codes with a fixed meaning.
const APACHE_CODES: &[(&[u8], Problem)] = &[
    // "bad HTTP/1.1 header returned by /path (GET)": logged when the response's header section
    // does not parse (seen with a real Apache 2.4.71 and a header line holding a control
    // character); Apache answers 502.
    (b"AH01106", Problem::InvalidHeader),
    (b"AH01110", Problem::PrematureClose),
    (b"AH01114", Problem::ConnectFailed),
    (b"AH00957", Problem::ConnectFailed),
    (b"AH00959", Problem::ConnectFailed),
    (b"AH01084", Problem::RequestSendFailed),
    (b"AH01097", Problem::RequestSendFailed),
    (b"AH01095", Problem::RequestSendFailed),
    (b"AH01068", Problem::FastcgiProtocol),
    (b"AH01069", Problem::FastcgiProtocol),
    (b"AH02537", Problem::FastcgiProtocol),
    (b"AH01070", Problem::InvalidHeader),
    (b"AH01071", Problem::AppStderr),
    (b"AH01215", Problem::AppStderr),
    (b"AH01220", Problem::Timeout),
    (b"AH02429", Problem::InvalidHeader),
    (b"AH02430", Problem::InvalidHeader),
];

/// Apache messages without a fixed code (2.2, util_script.c), matched anywhere in the message.
const APACHE_TEXT: &[(&[u8], Problem)] = &[
    (b"End of script output before headers", Problem::ScriptEndedEarly),
    (b"Premature end of script headers", Problem::ScriptEndedEarly),
    (b"malformed header from script", Problem::InvalidHeader),
    (b"Invalid status line from script", Problem::InvalidStatusLine),
    (b"Corrupt status line returned by remote server", Problem::InvalidStatusLine),
    (b"Malformed connection header", Problem::InvalidHeader),
    (b"error reading status line from remote server", Problem::PrematureClose),
    (b"Timeout on 100-Continue", Problem::Timeout),
    (b"Error reading from remote server", Problem::ProxyError),
    (b"Too many (", Problem::InvalidHeader),
    (b"failed to make connection to backend", Problem::ConnectFailed),
    (b"Failed to read FastCGI header", Problem::PrematureClose),
    (b"Error dispatching request to", Problem::ProxyError),
];

fn errno_problem(errno: Option<&[u8]>) -> Option<Problem> {
    let e = errno?;
    let has = |p: &[u8]| memchr::memmem::find(e, p).is_some();
    if has(b"104") || has(b"reset by peer") {
        Some(Problem::ConnectionReset)
    } else if has(b"70007") || has(b"110") || has(b"timed out") || has(b"timeout") {
        Some(Problem::Timeout)
    } else if has(b"111") || has(b"refused") {
        Some(Problem::ConnectFailed)
    } else {
        None
    }
}

/// The problem an error-log line reports, if it is one of the backend-failure messages.
pub fn error_problem(e: &ErrorRecord<'_>) -> Option<Problem> {
    match e.server {
        Server::Nginx => {
            let m = e.message;
            for (p, prob) in NGINX {
                if m.starts_with(p) {
                    return Some(*prob);
                }
            }
            // recv()/readv()/writev() failed (104: Connection reset by peer) …
            if let Some(paren) = memchr::memmem::find(m, b"() failed") {
                let call = &m[..paren];
                if let Some(p) = errno_problem(e.errno) {
                    return Some(p);
                }
                return Some(if matches!(call, b"writev" | b"send" | b"sendfile" | b"write") { Problem::RequestSendFailed } else { Problem::PrematureClose });
            }
            None
        }
        Server::Apache => {
            if let Some(code) = e.code {
                match code {
                    // error reading status line / FastCGI header: why depends on the errno
                    b"AH01102" | b"AH01067" => return Some(errno_problem(e.errno).unwrap_or(Problem::PrematureClose)),
                    b"AH01075" => return Some(errno_problem(e.errno).unwrap_or(Problem::ProxyError)),
                    b"AH00898" => {
                        for (p, prob) in APACHE_TEXT {
                            if memchr::memmem::find(e.message, p).is_some() {
                                return Some(*prob);
                            }
                        }
                        return Some(Problem::ProxyError);
                    }
                    _ => {}
                }
                for (c, prob) in APACHE_CODES {
                    if code == *c {
                        return Some(*prob);
                    }
                }
            }
            for (p, prob) in APACHE_TEXT {
                if memchr::memmem::find(e.message, p).is_some() {
                    if *prob == Problem::PrematureClose {
                        return Some(errno_problem(e.errno).unwrap_or(Problem::PrematureClose));
                    }
                    return Some(*prob);
                }
            }
            None
        }
    }
}

/// HTTP.sys `s-reason` → problem (the reasons Microsoft documents for HTTPERR).
pub fn httperr_problem(reason: &[u8]) -> Problem {
    match reason {
        r if r.starts_with(b"Connection_Dropped") || r == b"Client_Reset" || r == b"Request_Cancelled" => Problem::ConnectionDropped,
        r if r.starts_with(b"Connection_Abandoned") => Problem::ConnectionAbandoned,
        b"Timer_ConnectionIdle" => Problem::IdleTimeout,
        r if r.starts_with(b"Timer_") => Problem::Timeout,
        b"QueueFull" | b"AppOffline" | b"AppPoolTimer" | b"AppShutdown" | b"Disabled" | b"DisabledByPolicy" | b"ConnLimit" | b"ServiceUnavailable" => {
            Problem::ServiceUnavailable
        }
        b"BadRequest"
        | b"Hostname"
        | b"Header"
        | b"URL"
        | b"URL_Length"
        | b"Verb"
        | b"Version_N/S"
        | b"FieldLength"
        | b"RequestLength"
        | b"Forbidden"
        | b"Invalid_CR/LF"
        | b"Number"
        | b"LengthRequired"
        | b"PreconditionFailed"
        | b"RangeNotSatisfiable"
        | b"EntityTooLarge"
        | b"URL_Length_Exceeded" => Problem::ClientError,
        _ => Problem::Other,
    }
}

/// An event, owned: what the sinks and the correlator keep.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// [`SCHEMA`]: the version of this JSON.
    pub schema: u32,
    /// What kind of event.
    pub kind: EventKind,
    /// What went wrong, when the line says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    /// The log's name.
    pub file: String,
    /// The line number (1-based).
    pub line: u64,
    /// When, in UTC with the offset the log wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// The HTTP status (the load balancer's, for LB lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For a load-balancer line: the status the backend sent (`status` is the one the load
    /// balancer sent the client; none when the LB answered itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_status: Option<u16>,
    /// For a load-balancer line: its name as the line gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lb: Option<String>,
    /// For LB 5xx: `lb` (the load balancer answered itself) or `backend`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    /// The request line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The client address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The backend (`ip:port`) a load balancer sent the request to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The upstream a web server proxied to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// The user agent (decoded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The error log's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn req(r: &Request<'_>) -> Option<String> {
    if r.raw.is_empty() {
        if r.method.is_empty() && r.target.is_empty() {
            return None;
        }
        let mut s = unescape(r.method);
        s.push(' ');
        s.push_str(&unescape(r.target));
        if !r.protocol.is_empty() {
            s.push(' ');
            s.push_str(&unescape(r.protocol));
        }
        return Some(s);
    }
    Some(unescape(r.raw))
}

/// An error line's message as events and findings show it (Apache: errno and `AHnnnnn` first;
/// nginx: with its `while …` action).
pub(crate) fn error_message(e: &ErrorRecord<'_>) -> String {
    let mut s = String::new();
    if e.server == Server::Apache {
        if let Some(errno) = e.errno {
            s.push_str(&text(errno));
            s.push_str(": ");
        }
        if let Some(code) = e.code {
            s.push_str(&text(code));
            s.push_str(": ");
        }
    }
    s.push_str(&text(e.message));
    if let Some(a) = e.action {
        s.push_str(" while ");
        s.push_str(&text(a));
    }
    s
}

fn httperr_request(h: &HttpErrRecord<'_>) -> Option<String> {
    match (h.method, h.uri) {
        (None, None) => None,
        (m, u) => Some(format!("{} {}", text(m.unwrap_or(b"-")), text(u.unwrap_or(b"-")))),
    }
}

impl Event {
    /// Copy an event out of its record.
    pub fn new(rec: &Record<'_>, class: Class, file: &str, line: u64) -> Event {
        let mut ev = Event {
            schema: SCHEMA,
            kind: class.kind,
            problem: class.problem,
            file: file.to_string(),
            line,
            timestamp: rec.time(),
            status: class.status,
            backend_status: None,
            lb: None,
            source: None,
            request: None,
            client: None,
            backend: None,
            upstream: None,
            user_agent: None,
            message: None,
        };
        match rec {
            Record::Access(a) => {
                ev.request = req(&a.request);
                if let (Some(r), Some(q)) = (ev.request.as_mut(), a.query) {
                    // IIS logs the query apart: put it back into the target.
                    let at = r.find(' ').map(|m| r[m + 1..].find(' ').map_or(r.len(), |e| m + 1 + e)).unwrap_or(r.len());
                    r.insert_str(at, &format!("?{}", text(q)));
                }
                ev.client = a.client.map(text);
                ev.upstream = a.upstream_addr.map(text);
                ev.user_agent = a.user_agent.map(|u| if a.w3c { crate::format::w3c::decode_plus(u) } else { unescape(u) });
            }
            Record::Lb(l) => {
                ev.request = req(&l.request);
                ev.client = Some(text(l.client_ip));
                // As the LB wrote it (`[fd00::1]:80`), as `--correlate` names it too.
                ev.backend = l.backend_ip.map(|_| text(l.backend_raw));
                ev.source = class.lb_generated.map(|g| if g { "lb" } else { "backend" });
                ev.user_agent = Some(text(l.user_agent));
                ev.lb = Some(text(l.elb));
                ev.backend_status = l.backend_status();
            }
            Record::Error(e) => {
                ev.request = e.request.as_ref().and_then(req);
                ev.client = e.client.map(text);
                ev.upstream = e.upstream.map(text);
                ev.message = Some(error_message(e));
            }
            Record::HttpErr(h) => {
                ev.request = httperr_request(h);
                ev.client = h.client_ip.map(text);
                ev.message = Some(text(h.reason));
            }
            Record::Meta => {}
        }
        ev
    }
}

#[cfg(test)]
mod problem_table {
    use super::Problem;

    #[test]
    fn all_is_indexed_by_the_discriminant() {
        for (i, p) in Problem::ALL.iter().enumerate() {
            assert_eq!(*p as usize, i, "{p:?}");
        }
        assert_eq!(Problem::ALL.last(), Some(&Problem::Other));
    }
}
