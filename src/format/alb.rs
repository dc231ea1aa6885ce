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
use super::elb::{status_or_dash, timing};
use super::{AlbFields, LbKind, LbRecord, ParseError, ParseResult, Record, Request, parse_u64, split_host_port};
use crate::time::parse_iso8601;

const E_FIELDS: ParseError = ParseError::new("ALB line: too few fields");
const E_TYPE: ParseError = ParseError::new("ALB line: unknown connection type");
const E_TIME: ParseError = ParseError::new("ALB line: bad timestamp");
const E_CLIENT: ParseError = ParseError::new("ALB line: bad client:port");
const E_BYTES: ParseError = ParseError::new("ALB line: bad byte count");
const E_STATUS: ParseError = ParseError::new("ALB line: bad target status code");

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

#[inline]
pub fn parse(line: &[u8]) -> ParseResult<'_> {
    let mut c = Cursor::new(line);
    let conn_type = c.token().ok_or(E_FIELDS)?;
    if !is_conn_type(conn_type) {
        return Err(E_TYPE);
    }
    let time = parse_iso8601(c.token().ok_or(E_FIELDS)?).ok_or(E_TIME)?;
    let elb = c.token().ok_or(E_FIELDS)?;
    let (client_ip, client_port) = split_host_port(c.token().ok_or(E_FIELDS)?).ok_or(E_CLIENT)?;
    let (backend_ip, backend_port) = match split_host_port(c.token().ok_or(E_FIELDS)?) {
        Some((ip, port)) => (Some(ip), port),
        None => (None, None),
    };
    let request_processing_us = timing(c.token().ok_or(E_FIELDS)?)?;
    let backend_processing_us = timing(c.token().ok_or(E_FIELDS)?)?;
    let response_processing_us = timing(c.token().ok_or(E_FIELDS)?)?;
    let elb_status = status_or_dash(c.token().ok_or(E_FIELDS)?)?;
    let backend_status_raw = c.token().ok_or(E_FIELDS)?;
    if backend_status_raw != b"-" && parse_u64(backend_status_raw).is_none() {
        return Err(E_STATUS);
    }
    let received_bytes = parse_u64(c.token().ok_or(E_FIELDS)?).ok_or(E_BYTES)?;
    let sent_bytes = parse_u64(c.token().ok_or(E_FIELDS)?).ok_or(E_BYTES)?;
    let request = c.quoted().ok_or(E_FIELDS)?;
    let user_agent = c.quoted().ok_or(E_FIELDS)?;
    let ssl_cipher = c.token().ok_or(E_FIELDS)?;
    let ssl_protocol = c.token().ok_or(E_FIELDS)?;

    let alb_tail = c.rest;

    Ok(Record::Lb(LbRecord {
        kind: LbKind::Alb,
        conn_type,
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
        alb_tail,
    }))
}
