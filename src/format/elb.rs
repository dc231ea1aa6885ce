//! Classic ELB access log.
//!
//! `timestamp elb client:port backend:port request_processing_time backend_processing_time
//! response_processing_time elb_status_code backend_status_code received_bytes sent_bytes
//! "request" "user_agent" ssl_cipher ssl_protocol` — the last three are missing in the older
//! 12-field format. The ELB does not escape the request: stray `"` and `\` appear in it, so the
//! request ends at the first `" "` (the opening quote of the user agent) and the tail is read
//! from the right.

use super::cursor::Cursor;
use super::{LbKind, LbRecord, ParseError, ParseResult, Record, Request, split_host_port};
use crate::num::{parse_status, parse_u64};
use crate::time::{DayCache, parse_secs_micros};

/// The error texts of one LB format (static: rejecting a line allocates nothing).
pub(super) struct Errors {
    pub fields: ParseError,
    pub time: ParseError,
    pub client: ParseError,
    pub timing: ParseError,
    pub status: ParseError,
    pub bytes: ParseError,
}

const CLASSIC: Errors = Errors {
    fields: ParseError::new("classic ELB line: too few fields"),
    time: ParseError::new("classic ELB line: bad timestamp"),
    client: ParseError::new("classic ELB line: bad client:port"),
    timing: ParseError::new("classic ELB line: bad processing time"),
    status: ParseError::new("classic ELB line: bad status code"),
    bytes: ParseError::new("classic ELB line: bad byte count"),
};
const E_REQUEST: ParseError = ParseError::new("classic ELB line: request is not quoted");
const E_TAIL: ParseError = ParseError::new("classic ELB line: bad user agent / ssl fields");

/// What Classic ELB and ALB lines share, from the timestamp to `sent_bytes`.
pub(super) struct Head<'a> {
    time: crate::time::Timestamp,
    elb: &'a [u8],
    client_ip: &'a [u8],
    client_port: Option<u16>,
    backend_raw: &'a [u8],
    backend: Option<(&'a [u8], Option<u16>)>,
    timings: [Option<i64>; 3],
    elb_status: Option<u16>,
    backend_status_raw: &'a [u8],
    received_bytes: u64,
    sent_bytes: u64,
}

/// Read the shared fields: `time elb client:port backend:port t1 t2 t3 elb_status
/// backend_status received sent`.
#[inline]
pub(super) fn head<'a>(c: &mut Cursor<'a>, e: &Errors, days: &mut DayCache) -> Result<Head<'a>, ParseError> {
    let mut next = || c.token().ok_or(e.fields);
    let time = days.iso8601(next()?).ok_or(e.time)?;
    let elb = next()?;
    let (client_ip, client_port) = split_host_port(next()?).ok_or(e.client)?;
    let backend_raw = next()?;
    let backend = split_host_port(backend_raw);
    let mut timings = [None; 3];
    for t in timings.iter_mut() {
        let b = next()?;
        *t = if b == b"-1" { None } else { Some(parse_secs_micros(b).ok_or(e.timing)?) };
    }
    let s = next()?;
    let elb_status = if s == b"-" { None } else { Some(parse_status(s).ok_or(e.status)?) };
    let backend_status_raw = next()?;
    if backend_status_raw != b"-" && parse_u64(backend_status_raw).is_none() {
        return Err(e.status);
    }
    let received_bytes = parse_u64(next()?).ok_or(e.bytes)?;
    let sent_bytes = parse_u64(next()?).ok_or(e.bytes)?;
    Ok(Head { time, elb, client_ip, client_port, backend_raw, backend, timings, elb_status, backend_status_raw, received_bytes, sent_bytes })
}

/// The fields after the shared head.
pub(super) struct Tail<'a> {
    pub request: &'a [u8],
    pub user_agent: &'a [u8],
    pub ssl_cipher: &'a [u8],
    pub ssl_protocol: &'a [u8],
    pub alb_tail: &'a [u8],
}

impl<'a> Head<'a> {
    #[inline]
    pub(super) fn record(self, kind: LbKind, conn_type: &'a [u8], t: Tail<'a>) -> LbRecord<'a> {
        let (backend_ip, backend_port) = match self.backend {
            Some((ip, port)) => (Some(ip), port),
            None => (None, None),
        };
        LbRecord {
            kind,
            conn_type,
            time: self.time,
            elb: self.elb,
            client_ip: self.client_ip,
            client_port: self.client_port,
            backend_raw: self.backend_raw,
            backend_ip,
            backend_port,
            request_processing_us: self.timings[0],
            backend_processing_us: self.timings[1],
            response_processing_us: self.timings[2],
            elb_status: self.elb_status,
            backend_status_raw: self.backend_status_raw,
            received_bytes: self.received_bytes,
            sent_bytes: self.sent_bytes,
            request: Request::split(t.request),
            user_agent: t.user_agent,
            ssl_cipher: t.ssl_cipher,
            ssl_protocol: t.ssl_protocol,
            alb_tail: t.alb_tail,
        }
    }
}

/// The first `" "` in `b` (a memmem finder is built per call; this is cheaper for one needle
/// that is usually near).
#[inline]
pub(super) fn find_quote_space_quote(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'"', &b[from..]) {
        let q = from + i;
        if b.get(q + 1) == Some(&b' ') && b.get(q + 2) == Some(&b'"') {
            return Some(q);
        }
        from = q + 1;
    }
    None
}

/// Parse one Classic ELB line; `days` remembers the day of the previous line (most lines share it).
#[inline]
pub fn parse_with<'a>(line: &'a [u8], days: &mut DayCache) -> ParseResult<'a> {
    let mut c = Cursor::new(line);
    let head = head(&mut c, &CLASSIC, days)?;
    let rest = c.rest;
    if rest.first() != Some(&b'"') {
        return Err(E_REQUEST);
    }
    let body = &rest[1..];
    let (request, tail) = match find_quote_space_quote(body) {
        Some(i) => (&body[..i], Some(&body[i + 2..])),
        None => {
            // 12-field format: the request is the last field.
            if body.last() != Some(&b'"') {
                return Err(E_REQUEST);
            }
            (&body[..body.len() - 1], None)
        }
    };
    let (user_agent, ssl_cipher, ssl_protocol): (&[u8], &[u8], &[u8]) = match tail {
        None => (b"", b"", b""),
        Some(t) => {
            // t = "UA" cipher protocol
            let p = memchr::memrchr(b' ', t).ok_or(E_TAIL)?;
            let c2 = memchr::memrchr(b' ', &t[..p]).ok_or(E_TAIL)?;
            let ua = &t[..c2];
            if ua.len() < 2 || ua[0] != b'"' || ua[ua.len() - 1] != b'"' {
                return Err(E_TAIL);
            }
            (&ua[1..ua.len() - 1], &t[c2 + 1..p], &t[p + 1..])
        }
    };
    Ok(Record::Lb(head.record(LbKind::Classic, b"", Tail { request, user_agent, ssl_cipher, ssl_protocol, alb_tail: b"" })))
}
