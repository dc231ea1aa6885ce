//! Apache httpd access logs, compiled from the `LogFormat` string (mod_log_config).
//!
//! Directives: `%[!][status,…][<|>][{arg}]X`. Everything tailgate needs is typed
//! (`Field`); the rest is matched and ignored. Apache escapes `"`, `\` and control characters
//! in header and request fields (`\"`, `\\`, `\xhh`), which the template matcher respects.

use super::strftime::Pattern;
use super::template::{Field, Piece, Template, TimeKind};

/// The `common` LogFormat.
pub const COMMON: &str = r#"%h %l %u %t "%r" %>s %b"#;
/// Debian's `combined` (apache2.conf) logs `%O`; upstream's uses `%b`. Both are a byte count.
pub const COMBINED: &str = r#"%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#;
/// Debian's `vhost_combined` LogFormat.
pub const VHOST_COMBINED: &str = r#"%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#;

/// The built-in presets (as Debian's apache2.conf defines them).
pub fn preset(name: &str) -> Option<Template> {
    let src = match name {
        "common" => COMMON,
        "combined" => COMBINED,
        "vhost_combined" => VHOST_COMBINED,
        _ => return None,
    };
    Some(compile(name, src).expect("built-in format compiles"))
}

fn header(name: &str) -> Field {
    match name.to_ascii_lowercase().as_str() {
        "referer" | "referrer" => Field::Referer,
        "user-agent" => Field::UserAgent,
        "x-forwarded-for" => Field::XForwardedFor,
        "host" => Field::Host,
        _ => Field::Other,
    }
}

/// `%{format}t`: the fast fixed shapes, or a `strftime` pattern (added to `patterns`).
/// `begin:`/`end:` say whether the time is the request's start (the default) or its end.
fn time_format(fmt: &str, arg: &str, patterns: &mut Vec<Pattern>, at_end: &mut bool) -> anyhow::Result<Field> {
    let a = match (arg.strip_prefix("begin:"), arg.strip_prefix("end:")) {
        (Some(a), _) => a,
        (_, Some(a)) => {
            *at_end = true;
            a
        }
        _ => arg,
    };
    Ok(Field::Time(match a {
        "" => TimeKind::ClfBracketed,
        "sec" => TimeKind::Epoch,
        "msec" => TimeKind::EpochMillis,
        "usec" => TimeKind::EpochMicros,
        "msec_frac" => TimeKind::Frac(3),
        "usec_frac" => TimeKind::Frac(6),
        "%d/%b/%Y:%H:%M:%S %z" => TimeKind::Clf,
        "[%d/%b/%Y:%H:%M:%S %z]" => TimeKind::ClfBracketed,
        pat => {
            let p = Pattern::compile(pat).map_err(|e| anyhow::anyhow!("LogFormat '{fmt}': {e}"))?;
            if patterns.len() >= u8::MAX as usize {
                return Err(anyhow::anyhow!("LogFormat '{fmt}': too many time fields"));
            }
            patterns.push(p);
            TimeKind::Strftime((patterns.len() - 1) as u8)
        }
    }))
}

/// Compile a `LogFormat` string (as it appears in the config, with `\"` already or not yet
/// unescaped: both work).
pub fn compile(name: &str, fmt: &str) -> anyhow::Result<Template> {
    let b = fmt.as_bytes();
    let mut pieces = Vec::new();
    let mut lit = Vec::new();
    let warnings = Vec::new();
    let mut patterns = Vec::new();
    let mut at_end = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                lit.push(match b[i + 1] {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    c => c,
                });
                i += 2;
            }
            b'%' => {
                i += 1;
                if b.get(i) == Some(&b'%') {
                    lit.push(b'%');
                    i += 1;
                    continue;
                }
                // conditions: [!]200,304
                if b.get(i) == Some(&b'!') {
                    i += 1;
                }
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b',') {
                    i += 1;
                }
                let mut final_ = false;
                while i < b.len() && (b[i] == b'<' || b[i] == b'>') {
                    final_ = b[i] == b'>';
                    i += 1;
                }
                let mut arg = "";
                if b.get(i) == Some(&b'{') {
                    let close = fmt[i..].find('}').ok_or_else(|| anyhow::anyhow!("LogFormat '{fmt}': unclosed '{{' at byte {i}"))?;
                    arg = &fmt[i + 1..i + close];
                    i += close + 1;
                }
                // %{VAR}^ti / %{VAR}^to
                if b.get(i) == Some(&b'^') {
                    i += 3;
                    if i > b.len() {
                        return Err(anyhow::anyhow!("LogFormat '{fmt}': truncated %^ directive"));
                    }
                    push(&mut pieces, &mut lit, Field::Other);
                    continue;
                }
                let Some(&c) = b.get(i) else {
                    return Err(anyhow::anyhow!("LogFormat '{fmt}': '%' at the end of the format"));
                };
                i += 1;
                // mod_log_config's directive table (Apache 2.4), plus mod_logio (%I %O %S) and
                // mod_ssl (%{VAR}x, %{VAR}c). As in Apache, an argument a directive does not use
                // is ignored, and a letter that is no directive is an error.
                let f = match c {
                    // (`%{c}a`/`%{c}h`: the peer of the connection, e.g. the load balancer when
                    // mod_remoteip rewrote %a to the client)
                    b'h' | b'a' if arg.is_empty() => Field::RemoteAddr,
                    b'h' | b'a' if arg == "c" => Field::Other,
                    b'b' | b'B' => Field::BytesSent,
                    b'D' => Field::DurationUs,
                    b'T' => match arg {
                        "ms" => Field::DurationMs,
                        "us" => Field::DurationUs,
                        // (Apache reads any other unit as seconds)
                        _ => Field::DurationSecs,
                    },
                    b'H' => Field::Protocol,
                    b'i' => header(arg),
                    b'm' => Field::Method,
                    b'q' => Field::Query,
                    b'r' => Field::Request,
                    b's' => {
                        if final_ {
                            Field::FinalStatus
                        } else {
                            Field::Status
                        }
                    }
                    b't' => time_format(fmt, arg, &mut patterns, &mut at_end)?,
                    b'U' => Field::Path,
                    b'v' | b'V' => Field::Host,
                    b'O' => Field::BytesSent,
                    b'A' | b'C' | b'c' | b'e' | b'f' | b'k' | b'l' | b'L' | b'n' | b'o' | b'p' | b'P' | b'R' | b'u' | b'X' | b'x' | b'I' | b'S' => Field::Other,
                    other => {
                        return Err(anyhow::anyhow!("LogFormat '{fmt}': unknown directive '%{}'", other as char));
                    }
                };
                push(&mut pieces, &mut lit, f);
            }
            c => {
                lit.push(c);
                i += 1;
            }
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit.into_boxed_slice()));
    }
    // %b and %O both present: the first wins, the other is ignored.
    let mut seen_bytes = false;
    for p in pieces.iter_mut() {
        if *p == Piece::Field(Field::BytesSent) {
            if seen_bytes {
                *p = Piece::Field(Field::Other);
            }
            seen_bytes = true;
        }
    }
    let mut t = Template::new(name, fmt, pieces, warnings);
    t.patterns = patterns;
    t.time_at_end = at_end;
    t.escaping = super::escape::Escaping::Apache;
    Ok(t)
}

fn push(pieces: &mut Vec<Piece>, lit: &mut Vec<u8>, f: Field) {
    if !lit.is_empty() {
        pieces.push(Piece::Lit(std::mem::take(lit).into_boxed_slice()));
    }
    pieces.push(Piece::Field(f));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_line() {
        let t = preset("combined").unwrap();
        let line = br#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;
        let r = t.parse(line).unwrap();
        assert_eq!(r.client, Some(&b"127.0.0.1"[..]));
        assert_eq!(r.time.unwrap().to_rfc3339(), "2000-10-10T20:55:36Z");
        assert_eq!(r.request.method, b"GET");
        assert_eq!(r.request.target, b"/apache_pb.gif?x=1");
        assert_eq!(r.status, Some(200));
        assert_eq!(r.bytes_sent, Some(2326));
        assert_eq!(r.referer, Some(&b"http://www.example.com/start.html"[..]));
        assert_eq!(r.user_agent, Some(&b"Mozilla/4.08 [en] (Win98; I ;Nav)"[..]));
    }

    #[test]
    fn escaped_quotes_and_dash_bytes() {
        let t = preset("common").unwrap();
        let r = t.parse(br#"::1 - - [01/Jan/2026:00:00:00 +0000] "GET /a\"b HTTP/1.1" 502 -"#).unwrap();
        assert_eq!(r.request.target, br#"/a\"b"#);
        assert_eq!(r.status, Some(502));
        assert_eq!(r.bytes_sent, Some(0));
    }

    #[test]
    fn vhost_and_custom() {
        let t = preset("vhost_combined").unwrap();
        let r = t.parse(br#"www.example.com:80 10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 503 12 "-" "curl/8""#).unwrap();
        assert_eq!(r.host, Some(&b"www.example.com"[..]));
        assert_eq!(r.referer, None);
        let t = compile("t", r#"%a %{%Y-%m-%dT%H:%M:%S%z}t %m %U%q %H %>s %D \"%{X-Forwarded-For}i\""#).unwrap();
        let r = t.parse(br#"10.0.0.2 2026-01-01T10:00:00+0100 POST /p?q=1 HTTP/1.1 500 1234 "1.2.3.4, 10.0.0.9""#).unwrap();
        assert_eq!(r.time.unwrap().to_rfc3339(), "2026-01-01T09:00:00Z");
        assert_eq!(r.request.target, b"/p?q=1");
        assert_eq!(r.duration_us, Some(1234));
        assert_eq!(r.x_forwarded_for, Some(&b"1.2.3.4, 10.0.0.9"[..]));
        assert_eq!(r.status, Some(500));
    }

    #[test]
    fn rejects() {
        let t = preset("combined").unwrap();
        assert!(t.parse(b"garbage").is_err());
        assert!(t.parse(br#"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 2x0 5 "-" "-""#).is_err());
        assert!(compile("x", "%Z").is_err());
        assert!(compile("x", "%{foo").is_err());
    }
}
