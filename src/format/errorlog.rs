//! nginx and Apache httpd error logs.
//!
//! nginx: `YYYY/MM/DD HH:MM:SS [level] PID#TID: *CONN message[ while action], client: …,
//! server: …, request: "…", upstream: "…", host: "…"[, referrer: "…"]`.
//!
//! Apache 2.4 (default `ErrorLogFormat`): `[Www Mmm DD HH:MM:SS.uuuuuu YYYY] [module:level]
//! [pid N(:tid T)] [(errno)Text: ][client IP:PORT] [AHnnnnn: ]message[, referer: URL]`.
//! Apache 2.2: `[Www Mmm DD HH:MM:SS YYYY] [level] [client IP] message`.
//!
//! Both write local time without an offset.

use super::{ErrorRecord, ParseError, ParseResult, Record, Request, Server};
use crate::num::parse_u64;
use crate::time::{parse_apache_error, parse_nginx_error};

const E_NGINX: ParseError = ParseError::new("not an nginx error-log line");
const E_NGINX_TIME: ParseError = ParseError::new("nginx error-log line: bad timestamp");
const E_APACHE: ParseError = ParseError::new("not an Apache error-log line");
const E_APACHE_TIME: ParseError = ParseError::new("Apache error-log line: bad timestamp");

pub fn parse_nginx(line: &[u8]) -> ParseResult<'_> {
    if line.len() < 22 || line[19] != b' ' || line[20] != b'[' {
        return Err(E_NGINX);
    }
    let time = parse_nginx_error(&line[..19]).ok_or(E_NGINX_TIME)?;
    let close = memchr::memchr(b']', &line[21..]).ok_or(E_NGINX)? + 21;
    let level = &line[21..close];
    let mut rest = line.get(close + 2..).unwrap_or(b"");
    // PID#TID:
    let mut pid = None;
    if let Some(hash) = memchr::memchr(b'#', rest)
        && hash < 12
    {
        pid = parse_u64(&rest[..hash]).map(|p| p as u32);
        if let Some(colon) = memchr::memchr(b':', rest) {
            rest = rest.get(colon + 2..).unwrap_or(b"");
        }
    }
    let mut connection = None;
    if rest.first() == Some(&b'*') {
        let sp = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        connection = parse_u64(&rest[1..sp]);
        rest = rest.get(sp + 1..).unwrap_or(b"");
    }
    let mut rec = ErrorRecord::new(Server::Nginx, time, level);
    rec.pid = pid;
    rec.connection = connection;
    // The context starts at ", client: " (ngx_http_log_error_handler).
    let (msg, ctx) = match memchr::memmem::find(rest, b", client: ") {
        Some(i) => (&rest[..i], Some(&rest[i + 2..])),
        None => (rest, None),
    };
    let (msg, action) = match memchr::memmem::find(msg, b" while ") {
        Some(i) => (&msg[..i], Some(&msg[i + 7..])),
        None => (msg, None),
    };
    rec.message = msg;
    rec.action = action;
    // errno: "connect() failed (111: Connection refused)"
    if let Some(open) = memchr::memmem::find(msg, b" (") {
        let inner = &msg[open + 2..];
        if inner.first().is_some_and(u8::is_ascii_digit)
            && let Some(close) = memchr::memchr(b')', inner)
        {
            rec.errno = Some(&inner[..close]);
        }
    }
    if let Some(mut ctx) = ctx {
        while !ctx.is_empty() {
            let Some(colon) = memchr::memmem::find(ctx, b": ") else { break };
            let key = &ctx[..colon];
            let v = &ctx[colon + 2..];
            let (value, next) = if v.first() == Some(&b'"') {
                // quoted: ends at `"` followed by `, ` or the end
                let body = &v[1..];
                let mut from = 0;
                let mut found = None;
                while let Some(q) = memchr::memchr(b'"', &body[from..]) {
                    let q = from + q;
                    if q + 1 == body.len() || body[q + 1..].starts_with(b", ") {
                        found = Some(q);
                        break;
                    }
                    from = q + 1;
                }
                match found {
                    Some(q) => (&body[..q], body.get(q + 3..).unwrap_or(b"")),
                    None => (body, &b""[..]),
                }
            } else {
                match memchr::memmem::find(v, b", ") {
                    Some(i) => (&v[..i], &v[i + 2..]),
                    None => (v, &b""[..]),
                }
            };
            match key {
                b"client" => rec.client = Some(value),
                b"server" => rec.server_name = Some(value),
                b"request" => rec.request = Some(Request::split(value)),
                b"upstream" => rec.upstream = Some(value),
                b"host" => rec.host = Some(value),
                b"referrer" => rec.referer = Some(value),
                _ => {}
            }
            ctx = next;
        }
    }
    Ok(Record::Error(rec))
}

/// The content of the next `[...]` group at the start of `b` and what follows it (one space
/// skipped).
fn bracket(b: &[u8]) -> Option<(&[u8], &[u8])> {
    if b.first() != Some(&b'[') {
        return None;
    }
    let close = memchr::memchr(b']', b)?;
    let rest = &b[close + 1..];
    Some((&b[1..close], rest.strip_prefix(b" ").unwrap_or(rest)))
}

/// Take a leading `(errno)Text: ` (it ends at `: [client`, `: AH` or the first `: `).
fn errno<'a>(rest: &'a [u8], out: &mut Option<&'a [u8]>) -> &'a [u8] {
    if out.is_some() || rest.first() != Some(&b'(') || !rest.get(1).is_some_and(|c| c.is_ascii_digit() || *c == b'-') {
        return rest;
    }
    let end = memchr::memmem::find(rest, b": [client ").or_else(|| memchr::memmem::find(rest, b": AH")).or_else(|| memchr::memmem::find(rest, b": "));
    match end {
        Some(e) => {
            *out = Some(&rest[..e]);
            &rest[e + 2..]
        }
        None => rest,
    }
}

pub fn parse_apache(line: &[u8]) -> ParseResult<'_> {
    let (ts, mut rest) = bracket(line).ok_or(E_APACHE)?;
    let time = parse_apache_error(ts).ok_or(E_APACHE_TIME)?;
    let (lvl, r) = bracket(rest).ok_or(E_APACHE)?;
    rest = r;
    let (module, level) = match memchr::memchr(b':', lvl) {
        Some(i) => (Some(&lvl[..i]), &lvl[i + 1..]),
        None => (None, lvl),
    };
    let mut rec = ErrorRecord::new(Server::Apache, time, level);
    rec.module = module;
    if rest.starts_with(b"[pid ") {
        let (p, r) = bracket(rest).ok_or(E_APACHE)?;
        let p = &p[4..];
        let end = p.iter().position(|c| !c.is_ascii_digit()).unwrap_or(p.len());
        rec.pid = parse_u64(&p[..end]).map(|v| v as u32);
        rest = r;
    }
    // (errno)Text: comes before [client …] in 2.4 and after it in 2.2.
    rest = errno(rest, &mut rec.errno);
    if rest.starts_with(b"[client ") || rest.starts_with(b"[remote ") {
        let (c, r) = bracket(rest).ok_or(E_APACHE)?;
        rec.client = Some(&c[7..]);
        rest = errno(r, &mut rec.errno);
    }
    if rest.len() > 8 && rest.starts_with(b"AH") && rest[2..7].iter().all(u8::is_ascii_digit) && rest[7] == b':' {
        rec.code = Some(&rest[..7]);
        rest = rest.get(9..).unwrap_or(b"");
    }
    if let Some(i) = memchr::memmem::rfind(rest, b", referer: ") {
        rec.referer = Some(&rest[i + 11..]);
        rest = &rest[..i];
    }
    rec.message = rest;
    // mod_proxy names the request path in the message: "… returned by /path[ (METHOD)]".
    if let Some(i) = memchr::memmem::rfind(rest, b" returned by /") {
        let after = &rest[i + 13..];
        let end = memchr::memchr(b' ', after).unwrap_or(after.len());
        let path = &after[..end];
        let method = after[end..]
            .strip_prefix(b" (")
            .and_then(|m| m.strip_suffix(b")"))
            .filter(|m| !m.is_empty() && m.iter().all(u8::is_ascii_uppercase))
            .unwrap_or(b"");
        rec.request = Some(Request { raw: b"", method, target: path, protocol: b"" });
    }
    Ok(Record::Error(rec))
}
