//! nginx access logs, compiled from the `log_format` string (ngx_http_log_module).
//!
//! Variables are `$name` or `${name}`; everything else is literal. With `escape=default` nginx
//! writes `"`, `\`, control and non-ASCII bytes as `\xHH`; with `escape=json`, `\"` and `\\`; with
//! `escape=none`, raw bytes (a `"` in a value can then end a quoted field early — such lines are
//! reported as bad, never mis-assigned).

use super::template::{Field, Piece, Template, TimeKind};

/// nginx's predefined `combined` log_format.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// `main`, the format nginx.org's own nginx.conf and the official Docker image define and use:
/// `combined` plus the X-Forwarded-For header.
pub const MAIN: &str =
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#;

/// `combined` with the X-Forwarded-For header in place of the client address: what sites behind
/// a load balancer often log (`log_format main '$http_x_forwarded_for - $remote_user …'`), so
/// the first field may be a list (`10.0.0.2, 10.0.0.1, 127.0.0.1`).
pub const FORWARDED: &str = r#"$http_x_forwarded_for - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// `log_format … escape=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// `escape=default`: `\xHH`.
    Default,
    /// `escape=json`.
    Json,
    /// `escape=none`: raw bytes.
    None,
}

/// nginx's predefined `combined`.
pub fn combined() -> Template {
    compile("combined", COMBINED, Escape::Default).expect("built-in format compiles")
}

/// See [`FORWARDED`].
pub fn forwarded() -> Template {
    compile("forwarded", FORWARDED, Escape::Default).expect("built-in format compiles")
}

/// nginx.org's `main` (see [`MAIN`]).
pub fn main_format() -> Template {
    compile("main", MAIN, Escape::Default).expect("built-in format compiles")
}

fn variable(name: &str) -> Field {
    match name {
        "remote_addr" | "binary_remote_addr" => Field::RemoteAddr,
        "time_local" => Field::Time(TimeKind::Clf),
        "time_iso8601" => Field::Time(TimeKind::Iso8601),
        "msec" => Field::Time(TimeKind::Epoch),
        "request" => Field::Request,
        "request_method" => Field::Method,
        "request_uri" => Field::Uri,
        "uri" | "document_uri" => Field::Path,
        "args" | "query_string" => Field::Query,
        "server_protocol" => Field::Protocol,
        "status" => Field::FinalStatus,
        "body_bytes_sent" => Field::BytesSent,
        "request_time" => Field::DurationSecs,
        "http_referer" => Field::Referer,
        "http_user_agent" => Field::UserAgent,
        "http_x_forwarded_for" => Field::XForwardedFor,
        "host" | "http_host" | "server_name" => Field::Host,
        "upstream_status" => Field::UpstreamStatus,
        "upstream_addr" => Field::UpstreamAddr,
        "upstream_response_time" => Field::UpstreamTime,
        _ => Field::Other,
    }
}

/// Compile a `log_format` string (the concatenation of its quoted parts).
pub fn compile(name: &str, fmt: &str, escape: Escape) -> anyhow::Result<Template> {
    let b = fmt.as_bytes();
    let mut pieces = Vec::new();
    let mut lit = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            lit.push(b[i]);
            i += 1;
            continue;
        }
        i += 1;
        let name = if b.get(i) == Some(&b'{') {
            let close = fmt[i..].find('}').ok_or_else(|| anyhow::anyhow!("log_format '{fmt}': unclosed '${{' at byte {i}"))?;
            let n = &fmt[i + 1..i + close];
            i += close + 1;
            n
        } else {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            &fmt[start..i]
        };
        if name.is_empty() {
            return Err(anyhow::anyhow!("log_format '{fmt}': '$' without a variable name at byte {}", i - 1));
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(&mut lit).into_boxed_slice()));
        }
        pieces.push(Piece::Field(variable(name)));
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit.into_boxed_slice()));
    }
    let mut t = Template::new(name, fmt, pieces, Vec::new());
    t.escaping = match escape {
        Escape::Default => super::escape::Escaping::NginxDefault,
        Escape::Json => super::escape::Escaping::NginxJson,
        Escape::None => super::escape::Escaping::Raw,
    };
    Ok(t)
}

impl Escape {
    /// The value of `log_format`'s `escape=` parameter.
    pub fn parse(v: &str) -> Option<Escape> {
        Some(match v {
            "default" => Escape::Default,
            "json" => Escape::Json,
            "none" => Escape::None,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_line() {
        let t = combined();
        let r = t.parse(br#"10.0.1.5 - - [25/Nov/2026:08:00:01 +0000] "GET /api/x?y=1 HTTP/1.1" 009 0 "-" "curl/8.1 \x22q\x22""#).unwrap();
        assert_eq!(r.status, Some(9));
        assert_eq!(r.request.target, b"/api/x?y=1");
        assert_eq!(r.user_agent, Some(&br#"curl/8.1 \x22q\x22"#[..]));
    }

    #[test]
    fn upstream_format() {
        let t = compile(
            "elb",
            r#"$remote_addr [$time_iso8601] "$request" $status $request_time $upstream_status $upstream_addr ${upstream_response_time} "$http_x_forwarded_for""#,
            Escape::Default,
        )
        .unwrap();
        let r = t.parse(br#"10.0.0.9 [2026-11-25T08:00:01+00:00] "GET / HTTP/1.1" 502 0.003 502 127.0.0.1:9000 0.002 "203.0.113.7""#).unwrap();
        assert_eq!(r.duration_us, Some(3000));
        assert_eq!(r.upstream_status, Some(&b"502"[..]));
        assert_eq!(r.upstream_addr, Some(&b"127.0.0.1:9000"[..]));
        assert_eq!(r.x_forwarded_for, Some(&b"203.0.113.7"[..]));
    }

    #[test]
    fn json_escape() {
        let t = compile("j", r#"{"t":"$msec","r":"$request","s":$status}"#, Escape::Json).unwrap();
        let r = t.parse(br#"{"t":"1764057601.123","r":"GET /a\"b HTTP/1.1","s":500}"#).unwrap();
        assert_eq!(r.status, Some(500));
        assert_eq!(r.request.target, br#"/a\"b"#);
        assert_eq!(r.time.unwrap().to_rfc3339(), "2025-11-25T08:00:01.123Z");
    }
}
