//! Classic ELB access log.
//!
//! `timestamp elb client:port backend:port request_processing_time backend_processing_time
//! response_processing_time elb_status_code backend_status_code received_bytes sent_bytes
//! "request" "user_agent" ssl_cipher ssl_protocol` — the last three are missing in the older
//! 12-field format. The ELB does not escape the request: stray `"` and `\` appear in it, so the
//! request ends at the first `" "` (the opening quote of the user agent) and the tail is read
//! from the right.

use super::cursor::Cursor;
use super::{LbKind, LbRecord, ParseError, ParseResult, Record, Request, parse_status, parse_u64, split_host_port};
use crate::time::{parse_iso8601, parse_secs_micros};

const E_FIELDS: ParseError = ParseError::new("classic ELB line: too few fields");
const E_TIME: ParseError = ParseError::new("classic ELB line: bad timestamp");
const E_CLIENT: ParseError = ParseError::new("classic ELB line: bad client:port");
const E_STATUS: ParseError = ParseError::new("classic ELB line: bad status code");
const E_BYTES: ParseError = ParseError::new("classic ELB line: bad byte count");
const E_TIMING: ParseError = ParseError::new("classic ELB line: bad processing time");
const E_REQUEST: ParseError = ParseError::new("classic ELB line: request is not quoted");
const E_TAIL: ParseError = ParseError::new("classic ELB line: bad user agent / ssl fields");

/// A processing time: seconds with a fraction, or `-1`.
#[inline]
pub(super) fn timing(b: &[u8]) -> Result<Option<i64>, ParseError> {
    if b == b"-1" {
        return Ok(None);
    }
    parse_secs_micros(b).map(Some).ok_or(E_TIMING)
}

/// Status: three digits, or `-`.
#[inline]
pub(super) fn status_or_dash(b: &[u8]) -> Result<Option<u16>, ParseError> {
    if b == b"-" {
        return Ok(None);
    }
    parse_status(b).map(Some).ok_or(E_STATUS)
}

/// The first `" "` in `b` (a memmem finder is built per call; this is cheaper for one needle
/// that is usually near).
#[inline]
fn find_quote_space_quote(b: &[u8]) -> Option<usize> {
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

#[inline]
pub fn parse(line: &[u8]) -> ParseResult<'_> {
    let mut c = Cursor::new(line);
    let mut next = || c.token().ok_or(E_FIELDS);
    let time = parse_iso8601(next()?).ok_or(E_TIME)?;
    let elb = next()?;
    let (client_ip, client_port) = split_host_port(next()?).ok_or(E_CLIENT)?;
    let backend = split_host_port(next()?);
    let request_processing_us = timing(next()?)?;
    let backend_processing_us = timing(next()?)?;
    let response_processing_us = timing(next()?)?;
    let elb_status = status_or_dash(next()?)?;
    let backend_status_raw = next()?;
    if backend_status_raw != b"-" && parse_u64(backend_status_raw).is_none() {
        return Err(E_STATUS);
    }
    let received_bytes = parse_u64(next()?).ok_or(E_BYTES)?;
    let sent_bytes = parse_u64(next()?).ok_or(E_BYTES)?;
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
    let (backend_ip, backend_port) = match backend {
        Some((ip, port)) => (Some(ip), port),
        None => (None, None),
    };
    Ok(Record::Lb(LbRecord {
        kind: LbKind::Classic,
        conn_type: b"",
        time,
        elb,
        client_ip,
        client_port,
        backend_ip,
        backend_port,
        request_processing_us,
        backend_processing_us,
        response_processing_us,
        elb_status,
        backend_status_raw,
        received_bytes,
        sent_bytes,
        request: Request::split(request),
        user_agent,
        ssl_cipher,
        ssl_protocol,
        alb_tail: b"",
    }))
}
