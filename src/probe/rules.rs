//! The response rules, each with a stable id, the RFC section it comes from and a one-line fix.

use serde::Serialize;

/// One rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// The rule's name in reports (`bare-lf`, …).
    pub id: &'static str,
    /// The RFC section it rests on.
    pub rfc: &'static str,
    /// What to change on the backend.
    pub fix: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal, $rfc:literal, $fix:literal;)*) => {
        $(#[doc = concat!("`", $id, "` (", $rfc, ").")]
        pub const $name: Rule = Rule { id: $id, rfc: $rfc, fix: $fix };)*
        /// Every rule, in report order.
        pub const ALL: &[Rule] = &[$($name),*];
    };
}

rules! {
    CONNECT = "connect", "RFC 9112 §9.1", "make the server listen on this address and port (check the web server and the security group)";
    NO_RESPONSE = "no-response", "RFC 9112 §9.6", "the server closed or reset the connection without answering: look for a crashed worker or an application that exits";
    TIMEOUT = "timeout", "RFC 9112 §9.5", "the server did not answer in time: find the slow handler, or raise the server's and the load balancer's timeouts together";
    STATUS_LINE = "status-line", "RFC 9112 §4", "start the response with a status line such as `HTTP/1.1 200 OK` (a raw socket or a CGI script printing its output is the usual culprit)";
    BLANK_LINE_AFTER_STATUS = "blank-line-after-status", "RFC 9112 §2.1", "do not send an empty line between the status line and the headers (two CRLFs in a row end the header section)";
    HEADER_SYNTAX = "header-syntax", "RFC 9112 §5.1, RFC 9110 §5.1", "every header line must be `name: value` with a token name (letters, digits, !#$%&'*+-.^_`|~)";
    SPACE_BEFORE_COLON = "space-before-colon", "RFC 9112 §5.1", "remove the whitespace between the header name and the colon";
    OBS_FOLD = "obs-fold", "RFC 9112 §5.2", "do not continue a header value on the next line (line folding is obsolete): put it on one line";
    BARE_LF = "bare-lf", "RFC 9112 §2.2", "end every line of the status line and headers with CRLF, not a bare LF";
    CTL_IN_VALUE = "ctl-in-value", "RFC 9110 §5.5", "remove NUL and control characters from header values (percent-encode them if they are data)";
    HEADER_TOO_LARGE = "header-too-large", "RFC 9110 §15.6.2 (proxy limits)", "keep the header section under 64 KiB (large cookies or debug headers): load balancers refuse more";
    CONTENT_LENGTH_INVALID = "content-length-invalid", "RFC 9110 §8.6", "send Content-Length as a plain non-negative decimal number";
    CONTENT_LENGTH_CONFLICT = "content-length-conflict", "RFC 9112 §6.3", "send one Content-Length (several different values make the message length unknowable)";
    LENGTH_AND_CHUNKED = "length-and-chunked", "RFC 9112 §6.1", "send either Content-Length or Transfer-Encoding: chunked, never both";
    TE_NOT_CHUNKED = "transfer-encoding-not-chunked", "RFC 9112 §6.1", "make chunked the last transfer coding, or drop Transfer-Encoding and send Content-Length";
    NO_FRAMING = "no-framing", "RFC 9112 §6.3", "a kept-alive response with a body needs Content-Length or chunked encoding (or `Connection: close`)";
    CHUNKED_FRAMING = "chunked-framing", "RFC 9112 §7.1", "write chunks as `<hex size>CRLF<data>CRLF` and end with `0CRLF CRLF`";
    BODY_SHORTER = "body-shorter", "RFC 9112 §8", "send as many body bytes as Content-Length says (the connection ended early)";
    BODY_LONGER = "body-longer", "RFC 9112 §6.3", "send no more body bytes than Content-Length says";
    INFORMATIONAL = "informational", "RFC 9110 §15.2", "send at most a few interim 1xx responses, then the final response; never 101 unless the request asked to upgrade";
    UNSOLICITED = "unsolicited-data", "RFC 9112 §9.3", "send nothing on a kept-alive connection until the next request: the load balancer reads stray bytes as the next response (a 502)";
    KEEPALIVE_SHORTER = "keepalive-shorter-than-lb-idle", "AWS ELB: connection idle timeout", "keep idle connections open longer than the load balancer's idle timeout (nginx keepalive_timeout, Apache KeepAliveTimeout)";
}

/// A rule that failed, with what was seen.
#[derive(Clone, Debug, Serialize)]
pub struct Violation {
    /// The rule's id.
    pub rule: &'static str,
    /// The RFC section.
    pub rfc: &'static str,
    /// What was seen.
    pub message: String,
    /// What to change on the backend.
    pub fix: &'static str,
    /// For timeouts, the phase that ran out of time: `connect`, `tls`, `request`, `head`, `body`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<&'static str>,
}

impl Violation {
    /// A violation of `r`, with what was seen.
    pub fn new(r: Rule, message: impl Into<String>) -> Violation {
        Violation { rule: r.id, rfc: r.rfc, message: message.into(), fix: r.fix, phase: None }
    }

    /// A [`TIMEOUT`] in `phase`; the phase also leads the message.
    pub fn timeout(phase: &'static str, message: impl Into<String>) -> Violation {
        Violation { phase: Some(phase), ..Violation::new(TIMEOUT, format!("{phase}: {}", message.into())) }
    }
}

/// `tchar` (RFC 9110 §5.6.2).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
