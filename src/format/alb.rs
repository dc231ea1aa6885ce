//! Application Load Balancer access log.
//!
//! `type time elb client:port target:port request_processing_time target_processing_time
//! response_processing_time elb_status_code target_status_code received_bytes sent_bytes
//! "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name"
//! "chosen_cert_arn" matched_rule_priority request_creation_time "actions_executed"
//! "redirect_url" "error_reason" "target:port_list" "target_status_code_list" "classification"
//! "classification_reason" conn_trace_id "transformed_host" "transformed_uri"
//! "request_transform_status"` — and whatever AWS appends next, kept raw in
//! [`AlbFields::extra`](super::AlbFields). Fields missing from older logs are empty. Quoting of
//! the target lists varies between eras: both forms are read.

use super::cursor::Cursor;
use super::elb::{Errors, Tail, head};
use super::{AlbFields, LbKind, ParseError, ParseResult, Record};
use crate::time::parse_iso8601;

const ALB: Errors = Errors {
    fields: ParseError::new("ALB line: too few fields"),
    time: ParseError::new("ALB line: bad timestamp"),
    client: ParseError::new("ALB line: bad client:port"),
    timing: ParseError::new("ALB line: bad processing time"),
    status: ParseError::new("ALB line: bad status code"),
    bytes: ParseError::new("ALB line: bad byte count"),
};
const E_TYPE: ParseError = ParseError::new("ALB line: unknown connection type");

/// Connection types ALB writes as the first field.
pub fn is_conn_type(t: &[u8]) -> bool {
    matches!(t, b"http" | b"https" | b"h2" | b"ws" | b"wss" | b"grpcs")
}

/// Split the fields after `ssl_protocol` (see the module doc). Missing fields are empty.
pub fn tail_fields(tail: &[u8]) -> AlbFields<'_> {
    let mut c = Cursor::new(tail);
    let mut alb = AlbFields::default();
    let mut f = || c.quoted().unwrap_or(b"");
    alb.target_group_arn = f();
    alb.trace_id = f();
    alb.domain_name = f();
    alb.chosen_cert_arn = f();
    alb.matched_rule_priority = f();
    let rct = f();
    alb.actions_executed = f();
    alb.redirect_url = f();
    alb.error_reason = f();
    alb.target_port_list = f();
    alb.target_status_code_list = f();
    alb.classification = f();
    alb.classification_reason = f();
    alb.request_creation_time = parse_iso8601(rct);
    // conn_trace_id (2024) is `TID_…` or `-`; anything else here is an unknown trailing field.
    if c.rest.starts_with(b"TID_") || c.rest == b"-" || c.rest.starts_with(b"- ") {
        alb.conn_trace_id = c.token().unwrap_or(b"");
        let mut f = || c.quoted().unwrap_or(b"");
        alb.transformed_host = f();
        alb.transformed_uri = f();
        alb.request_transform_status = f();
    }
    alb.extra = c.rest;
    alb
}

/// Parse one ALB line; `days` remembers the day of the previous line (most lines share it).
#[inline]
pub fn parse_with<'a>(line: &'a [u8], days: &mut crate::time::DayCache) -> ParseResult<'a> {
    let mut c = Cursor::new(line);
    let conn_type = c.token().ok_or(ALB.fields)?;
    if !is_conn_type(conn_type) {
        return Err(E_TYPE);
    }
    let head = head(&mut c, &ALB, days)?;
    // The request is written as it came (a stray `"` may be in it): it ends at the first `" "`,
    // the opening quote of the user agent, as in Classic logs. The user agent's own quotes are
    // escaped (`\"`).
    let rest = c.rest.strip_prefix(b"\"").ok_or(ALB.fields)?;
    let q = super::elb::find_quote_space_quote(rest).ok_or(ALB.fields)?;
    let request = &rest[..q];
    c.rest = &rest[q + 2..];
    let user_agent = c.quoted_escaped().ok_or(ALB.fields)?;
    let ssl_cipher = c.token().ok_or(ALB.fields)?;
    let ssl_protocol = c.token().ok_or(ALB.fields)?;
    let alb_tail = c.rest;
    Ok(Record::Lb(head.record(LbKind::Alb, conn_type, Tail { request, user_agent, ssl_cipher, ssl_protocol, alb_tail })))
}
