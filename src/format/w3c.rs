//! IIS W3C extended logs and the HTTP.sys HTTPERR log.
//!
//! Both are W3C extended format: `#Fields:` names the space-separated columns of the lines that
//! follow and may change mid-file (IIS writes a new header block on every restart, in any order
//! with `#Software`, `#Version`, `#Date`). Spaces inside values are written as `+`. Times are UTC.
//! A line of HTTPERR is a request HTTP.sys refused or dropped; `s-reason` says why.

use super::{AccessRecord, HttpErrRecord, ParseError, ParseResult, Record, dash, parse_status, parse_u64};
use crate::time::parse_w3c;

const MAX_FIELDS: usize = 48;

const E_NO_FIELDS: ParseError = ParseError::new("W3C data line before any #Fields header");
const E_COUNT: ParseError = ParseError::new("W3C line: number of values differs from the #Fields header");
const E_TIME: ParseError = ParseError::new("W3C line: bad date/time");
const E_STATUS: ParseError = ParseError::new("W3C line: bad sc-status");
const E_HEADER: ParseError = ParseError::new("W3C #Fields header with too many fields");

/// Column positions of the fields tailgate reads (`u8::MAX` = absent).
#[derive(Clone, Debug)]
struct Columns {
    n: usize,
    date: u8,
    time: u8,
    c_ip: u8,
    s_port: u8,
    method: u8,
    uri_stem: u8,
    uri_query: u8,
    uri: u8,
    version: u8,
    status: u8,
    substatus: u8,
    win32: u8,
    time_taken: u8,
    user_agent: u8,
    referer: u8,
    host: u8,
    xff: u8,
    bytes: u8,
    site_id: u8,
    reason: u8,
    queue: u8,
}

const NONE: u8 = u8::MAX;

impl Columns {
    fn from_header(names: &[u8]) -> Result<Columns, ParseError> {
        let mut c = Columns {
            n: 0,
            date: NONE,
            time: NONE,
            c_ip: NONE,
            s_port: NONE,
            method: NONE,
            uri_stem: NONE,
            uri_query: NONE,
            uri: NONE,
            version: NONE,
            status: NONE,
            substatus: NONE,
            win32: NONE,
            time_taken: NONE,
            user_agent: NONE,
            referer: NONE,
            host: NONE,
            xff: NONE,
            bytes: NONE,
            site_id: NONE,
            reason: NONE,
            queue: NONE,
        };
        for (i, name) in names.split(|&b| b == b' ').filter(|n| !n.is_empty()).enumerate() {
            if i >= MAX_FIELDS {
                return Err(E_HEADER);
            }
            let i8 = i as u8;
            let lower = name.to_ascii_lowercase();
            match lower.as_slice() {
                b"date" => c.date = i8,
                b"time" => c.time = i8,
                b"c-ip" => c.c_ip = i8,
                b"s-port" => c.s_port = i8,
                b"cs-method" => c.method = i8,
                b"cs-uri-stem" => c.uri_stem = i8,
                b"cs-uri-query" => c.uri_query = i8,
                b"cs-uri" => c.uri = i8,
                b"cs-version" => c.version = i8,
                b"sc-status" => c.status = i8,
                b"sc-substatus" => c.substatus = i8,
                b"sc-win32-status" => c.win32 = i8,
                b"time-taken" => c.time_taken = i8,
                b"cs(user-agent)" => c.user_agent = i8,
                b"cs(referer)" => c.referer = i8,
                b"cs-host" | b"cs(host)" => c.host = i8,
                b"cs(x-forwarded-for)" | b"x-forwarded-for" => c.xff = i8,
                b"sc-bytes" => c.bytes = i8,
                b"s-siteid" => c.site_id = i8,
                b"s-reason" => c.reason = i8,
                b"s-queuename" => c.queue = i8,
                _ => {}
            }
            c.n = i + 1;
        }
        Ok(c)
    }
}

/// W3C writes spaces inside values as `+`: undo that for display.
pub fn decode_plus(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace('+', " ")
}

/// The HTTPERR layout of older HTTP.sys versions, used when a file has no `#Fields` header.
const HTTPERR_DEFAULT: &[u8] = b"date time c-ip c-port s-ip s-port cs-version cs-method cs-uri sc-status s-siteid s-reason s-queuename";

/// A W3C parser: remembers the last `#Fields` header.
#[derive(Clone, Debug)]
pub struct W3cParser {
    cols: Option<Columns>,
    httperr: bool,
}

impl W3cParser {
    /// `httperr`: the file is an HTTPERR log (headerless lines get the old HTTP.sys layout).
    pub fn new(httperr: bool) -> Self {
        W3cParser { cols: None, httperr }
    }

    pub fn parse<'a>(&mut self, line: &'a [u8]) -> ParseResult<'a> {
        if line[0] == b'#' {
            if let Some(f) = line.strip_prefix(b"#Fields:") {
                let cols = Columns::from_header(f)?;
                if cols.reason != NONE {
                    self.httperr = true;
                }
                self.cols = Some(cols);
            }
            return Ok(Record::Meta);
        }
        if self.cols.is_none() && self.httperr {
            self.cols = Some(Columns::from_header(HTTPERR_DEFAULT)?);
        }
        let cols = self.cols.as_ref().ok_or(E_NO_FIELDS)?;
        let mut v: [&[u8]; MAX_FIELDS] = [b""; MAX_FIELDS];
        let mut n = 0;
        for part in line.split(|&b| b == b' ') {
            if n == MAX_FIELDS {
                return Err(E_COUNT);
            }
            v[n] = part;
            n += 1;
        }
        // Old HTTP.sys lines may omit the trailing s-queuename.
        let min = if self.httperr && cols.queue != NONE && cols.queue as usize + 1 == cols.n { cols.n - 1 } else { cols.n };
        if n < min || n > cols.n {
            return Err(E_COUNT);
        }
        let get = |i: u8| if i == NONE || i as usize >= n { None } else { dash(v[i as usize]) };
        let time = match (get(cols.date), get(cols.time)) {
            (Some(d), Some(t)) => Some(parse_w3c(d, t).ok_or(E_TIME)?),
            _ => None,
        };
        let status = match get(cols.status) {
            Some(s) => Some(parse_status(s).ok_or(E_STATUS)?),
            None => None,
        };
        if self.httperr {
            // HTTP.sys stamps every HTTPERR line: without a date and time it is not one (an
            // access-log line can split into the same number of fields).
            if time.is_none() {
                return Err(E_TIME);
            }
            return Ok(Record::HttpErr(HttpErrRecord {
                time,
                client_ip: get(cols.c_ip),
                server_port: get(cols.s_port).and_then(parse_u64).and_then(|p| u16::try_from(p).ok()),
                method: get(cols.method),
                uri: get(cols.uri).or(get(cols.uri_stem)),
                status,
                site_id: get(cols.site_id),
                reason: get(cols.reason).unwrap_or(b"-"),
                queue: get(cols.queue),
            }));
        }
        let mut rec = AccessRecord { time, status, w3c: true, ..Default::default() };
        rec.client = get(cols.c_ip);
        rec.request.method = get(cols.method).unwrap_or(b"");
        rec.request.target = get(cols.uri_stem).or(get(cols.uri)).unwrap_or(b"");
        rec.request.protocol = get(cols.version).unwrap_or(b"");
        rec.query = get(cols.uri_query);
        rec.user_agent = get(cols.user_agent);
        rec.referer = get(cols.referer);
        rec.host = get(cols.host);
        rec.x_forwarded_for = get(cols.xff);
        rec.bytes_sent = get(cols.bytes).and_then(parse_u64);
        rec.duration_us = get(cols.time_taken).and_then(parse_u64).map(|ms| ms as i64 * 1000);
        rec.substatus = get(cols.substatus).and_then(parse_u64).map(|v| v as u32);
        rec.win32_status = get(cols.win32).and_then(parse_u64).map(|v| v as u32);
        Ok(Record::Access(rec))
    }
}
