//! IIS W3C extended logs and the HTTP.sys HTTPERR log.
//!
//! Both are W3C extended format: `#Fields:` names the space-separated columns of the lines that
//! follow and may change mid-file (IIS writes a new header block on every restart, in any order
//! with `#Software`, `#Version`, `#Date`). IIS writes spaces inside values as `+`; other writers
//! quote string values (`"Mozilla/5.0 (X11; Linux)"`, a `"` inside doubled, as the W3C draft
//! says) or separate the columns with tabs. A log with a `time` column and no `date` takes the
//! date from its `#Date:` directive. Times are UTC.
//! A line of HTTPERR is a request HTTP.sys refused or dropped; `s-reason` says why.

use super::{AccessRecord, HttpErrRecord, ParseError, ParseResult, Record, dash};
use crate::num::{parse_status, parse_u64};
use crate::time::parse_w3c;

const MAX_FIELDS: usize = 48;

const E_NO_FIELDS: ParseError = ParseError::new("W3C data line before any #Fields header");
const E_COUNT: ParseError = ParseError::new("W3C line: number of values differs from the #Fields header");
const E_TIME: ParseError = ParseError::new("W3C line: bad date/time");
const E_STATUS: ParseError = ParseError::new("W3C line: bad sc-status");
const E_QUOTE: ParseError = ParseError::new("W3C line: a quoted value is not closed, or text follows its closing quote");
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
        for (i, name) in names.split(|&b| b == b' ' || b == b'\t').filter(|n| !n.is_empty()).enumerate() {
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

/// The date of a `#Date:` directive as `YYYY-MM-DD`: IIS writes `2002-05-24 20:18:01`, the W3C
/// draft `12-Jan-1996 00:00:00`.
fn header_date(d: &[u8]) -> Option<[u8; 10]> {
    if let Some(iso) = d.get(..10).and_then(|d| <[u8; 10]>::try_from(d).ok())
        && iso[4] == b'-'
        && iso[7] == b'-'
    {
        return Some(iso);
    }
    // DD-Mon-YYYY
    let mut parts = d.split(|&b| b == b' ').next()?.splitn(3, |&b| b == b'-');
    let (day, mon, year) = (parts.next()?, parts.next()?, parts.next()?);
    let (m, _) = crate::time::month_name(mon)?;
    if day.is_empty() || day.len() > 2 || year.len() != 4 || !day.iter().chain(year).all(u8::is_ascii_digit) {
        return None;
    }
    let s = format!("{}-{m:02}-{:0>2}", String::from_utf8_lossy(year), String::from_utf8_lossy(day));
    <[u8; 10]>::try_from(s.as_bytes()).ok()
}

/// Split a data line into `v`: at tabs when the line has any, else at spaces outside `"…"`
/// (quotes are not part of the value). The number of values.
fn split<'a>(line: &'a [u8], v: &mut [&'a [u8]; MAX_FIELDS]) -> Result<usize, ParseError> {
    let mut n = 0;
    let mut push = |part: &'a [u8]| {
        if n == MAX_FIELDS {
            return Err(E_COUNT);
        }
        v[n] = part;
        n += 1;
        Ok(())
    };
    if memchr::memchr(b'\t', line).is_some() {
        // (a tab after the last value, as some writers leave, ends it: it starts no value)
        let line = line.strip_suffix(b"\t").unwrap_or(line);
        for part in line.split(|&b| b == b'\t') {
            push(part)?;
        }
        return Ok(n);
    }
    let mut i = 0;
    loop {
        if line.get(i) == Some(&b'"') {
            // `"…"`, a `"` inside written `""`
            let mut j = i + 1;
            loop {
                match memchr::memchr(b'"', &line[j..]) {
                    Some(k) if line.get(j + k + 1) == Some(&b'"') => j += k + 2,
                    Some(k) => {
                        j += k;
                        break;
                    }
                    None => return Err(E_QUOTE),
                }
            }
            push(&line[i + 1..j])?;
            i = j + 1;
            match line.get(i) {
                None => return Ok(n),
                Some(b' ') => i += 1,
                Some(_) => return Err(E_QUOTE),
            }
        } else {
            let end = memchr::memchr(b' ', &line[i..]).map_or(line.len(), |k| i + k);
            push(&line[i..end])?;
            if end == line.len() {
                return Ok(n);
            }
            i = end + 1;
        }
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
    /// The date of the last `#Date:` directive (`YYYY-MM-DD`), for lines with a time and no date.
    date: Option<[u8; 10]>,
}

impl W3cParser {
    /// `httperr`: the file is an HTTPERR log (headerless lines get the old HTTP.sys layout).
    pub fn new(httperr: bool) -> Self {
        W3cParser { cols: None, httperr, date: None }
    }

    pub fn parse<'a>(&mut self, line: &'a [u8]) -> ParseResult<'a> {
        if line[0] == b'#' {
            if let Some(f) = line.strip_prefix(b"#Fields:") {
                let cols = Columns::from_header(f)?;
                if cols.reason != NONE {
                    self.httperr = true;
                }
                self.cols = Some(cols);
            } else if let Some(d) = line.strip_prefix(b"#Date:") {
                self.date = header_date(d.trim_ascii_start());
            }
            return Ok(Record::Meta);
        }
        if self.cols.is_none() && self.httperr {
            self.cols = Some(Columns::from_header(HTTPERR_DEFAULT)?);
        }
        let cols = self.cols.as_ref().ok_or(E_NO_FIELDS)?;
        let mut v: [&[u8]; MAX_FIELDS] = [b""; MAX_FIELDS];
        let n = split(line, &mut v)?;
        // Old HTTP.sys lines may omit the trailing s-queuename.
        let min = if self.httperr && cols.queue != NONE && cols.queue as usize + 1 == cols.n { cols.n - 1 } else { cols.n };
        if n < min || n > cols.n {
            return Err(E_COUNT);
        }
        let get = |i: u8| if i == NONE || i as usize >= n { None } else { dash(v[i as usize]) };
        let time = match (get(cols.date), get(cols.time), &self.date) {
            (Some(d), Some(t), _) => Some(parse_w3c(d, t).ok_or(E_TIME)?),
            (None, Some(t), Some(d)) if cols.date == NONE => Some(parse_w3c(d, t).ok_or(E_TIME)?),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn access<'a>(p: &mut W3cParser, line: &'a [u8]) -> AccessRecord<'a> {
        match p.parse(line) {
            Ok(Record::Access(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    /// The W3C draft: a string value may be quoted, a `"` inside it written twice.
    #[test]
    fn quoted_values_keep_their_spaces() {
        let mut p = W3cParser::new(false);
        p.parse(b"#Fields: date time c-ip cs-method cs-uri-stem sc-status cs(User-Agent) cs(Referer)").unwrap();
        let a = access(&mut p, br#"2026-11-28 10:00:00 10.0.0.1 GET /a 503 "Mozilla/5.0 (X11; Linux) ""quoted""" -"#);
        assert_eq!(a.status, Some(503));
        assert_eq!(a.user_agent, Some(&br#"Mozilla/5.0 (X11; Linux) ""quoted"""#[..]));
        assert_eq!(a.referer, None);
        let a = access(&mut p, br#"2026-11-28 10:00:01 10.0.0.1 GET /b 200 "" "http://x/""#);
        assert_eq!(a.user_agent, Some(&b""[..]));
        assert_eq!(a.referer, Some(&b"http://x/"[..]));
        // An unclosed quote, or text glued to the closing quote, is a bad line, not a shifted one.
        assert!(p.parse(br#"2026-11-28 10:00:02 10.0.0.1 GET /c 200 "Mozilla -"#).is_err());
        assert!(p.parse(br#"2026-11-28 10:00:02 10.0.0.1 GET /c 200 "Mozilla"x -"#).is_err());
    }

    #[test]
    fn date_directives() {
        assert_eq!(&header_date(b"2002-05-24 20:18:01").unwrap(), b"2002-05-24");
        assert_eq!(&header_date(b"12-Jan-1996 00:00:00").unwrap(), b"1996-01-12");
        assert_eq!(&header_date(b"2-Feb-1996 00:00:00").unwrap(), b"1996-02-02");
        assert!(header_date(b"yesterday").is_none());
        let mut p = W3cParser::new(false);
        p.parse(b"#Fields: time cs-method cs-uri sc-status").unwrap();
        assert_eq!(access(&mut p, b"00:34:23 GET /foo 200").time, None, "no #Date yet: no time, not a made-up one");
        p.parse(b"#Date: 2002-05-24 20:18:01").unwrap();
        assert_eq!(access(&mut p, b"20:18:01 GET /foo 200").time.unwrap().to_rfc3339(), "2002-05-24T20:18:01Z");
    }
}
