//! How each server escapes the values it logs, and the one decoder per escaping.
//!
//! The same request is written differently on each side of a load balancer: a user agent
//! `Mozilla "quoted"` is `Mozilla \"quoted\"` in Classic ELB and Apache logs, `Mozilla \x22quoted\x22`
//! in nginx's (`escape=default`), and a path with a raw `é` is `\xC3\xA9` in nginx's, `\xc3\xa9` in
//! Apache's, raw in the load balancer's. Correlation compares **decoded** values (the bytes the
//! client sent); reports keep the text as written. Decoding never loses a byte: an escape the
//! server would not have written (`\q`, `\x4` at the end) is kept as it is. nginx's two escapings
//! and Apache's decode with one set of rules (see [`Escaping::decode`]), so a log whose `escape=`
//! is not known still decodes right.
//!
//! | escaping | written by | rules (from the server's source) |
//! |---|---|---|
//! | [`Escaping::Raw`] | nginx `escape=none`; Classic ELB and ALB request lines | none |
//! | [`Escaping::Quotes`] | Classic ELB and ALB user agents | `"` → `\"` |
//! | [`Escaping::NginxDefault`] | nginx `escape=default` (`ngx_http_log_escape`) | `"`, `\`, bytes < 0x20 and ≥ 0x7f → `\xHH` |
//! | [`Escaping::NginxJson`] | nginx `escape=json` (`ngx_escape_json`) | `"` → `\"`, `\` → `\\`, `\n \r \t \b \f`, other bytes < 0x20 → `\u00XX`; ≥ 0x80 raw |
//! | [`Escaping::Apache`] | Apache httpd (`ap_escape_logitem`) | `"` → `\"`, `\` → `\\`, `\b \n \r \t \v`, other bytes < 0x20 and ≥ 0x7f → `\xhh` |

/// One server's way of escaping logged values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Escaping {
    /// Nothing escaped (nginx `escape=none`; ELB and ALB request lines).
    Raw,
    /// `"` written as `\"` (ELB and ALB user agents).
    Quotes,
    /// nginx's default: `"`, `\`, control and non-ASCII bytes as `\xHH`.
    NginxDefault,
    /// nginx `escape=json`: JSON string escapes.
    NginxJson,
    /// Apache httpd's `ap_escape_logitem`.
    Apache,
}

/// Backslash escapes undone: at each `\` that is not the last byte, `decode` is given the bytes
/// after it and says which byte they stand for and how many of them that took; where it says
/// `None` the `\` is kept as written. The one walk behind [`super::unescape`] (log values) and the
/// nginx config lexer's quoted strings, each with its own table.
pub(crate) fn unbackslash(b: &[u8], decode: impl Fn(&[u8]) -> Option<(u8, usize)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 1 < b.len()
            && let Some((v, n)) = decode(&b[i + 1..])
        {
            out.push(v);
            i += 1 + n;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn hex2(b: &[u8]) -> Option<u8> {
    Some(hex(*b.first()?)? << 4 | hex(*b.get(1)?)?)
}

impl Escaping {
    /// The bytes `b` stands for. Borrowed when there is nothing to decode (the common case: no
    /// backslash), else written into `buf`.
    #[inline]
    pub fn decode<'a>(self, b: &'a [u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
        if self == Escaping::Raw || memchr::memchr(b'\\', b).is_none() {
            return b;
        }
        buf.clear();
        self.decode_into(b, buf);
        buf
    }

    #[cold]
    fn decode_into(self, b: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c != b'\\' || i + 1 == b.len() {
                out.push(c);
                i += 1;
                continue;
            }
            let next = b[i + 1];
            // nginx (either escaping) and Apache decode alike: what one writes the others never
            // write unescaped (a backslash is always `\x5C` or `\\`), so one set of rules, read
            // left to right, is exact for each — and a log whose `escape=` is not known (detected,
            // not configured) decodes right either way.
            let (byte, len) = match (self, next) {
                (Escaping::Raw, _) => (None, 1),
                (Escaping::Quotes, b'"') => (Some(b'"'), 2),
                (Escaping::Quotes, _) => (None, 1),
                (_, b'x') => match b.get(i + 2..i + 4).and_then(hex2) {
                    Some(v) => (Some(v), 4),
                    None => (None, 1),
                },
                (_, b'"') => (Some(b'"'), 2),
                (_, b'\\') => (Some(b'\\'), 2),
                (_, b'n') => (Some(b'\n'), 2),
                (_, b'r') => (Some(b'\r'), 2),
                (_, b't') => (Some(b'\t'), 2),
                (_, b'b') => (Some(0x08), 2),
                (_, b'f') => (Some(0x0c), 2),
                (_, b'v') => (Some(0x0b), 2),
                (_, b'u') => match (b.get(i + 2..i + 4).and_then(hex2), b.get(i + 4..i + 6).and_then(hex2)) {
                    (Some(0), Some(v)) => (Some(v), 6),
                    _ => (None, 1),
                },
                _ => (None, 1),
            };
            match byte {
                Some(v) => out.push(v),
                // not an escape this server writes: the backslash is a byte of its own
                None => out.push(b'\\'),
            }
            i += len;
        }
    }

    /// Write `raw` as this server would log it (the inverse of [`Escaping::decode`] on what the
    /// server writes; for tests and the fuzzers).
    pub fn encode(self, raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(raw.len());
        for &c in raw {
            match self {
                Escaping::Raw => out.push(c),
                Escaping::Quotes => {
                    if c == b'"' {
                        out.push(b'\\');
                    }
                    out.push(c);
                }
                Escaping::NginxDefault => {
                    if c < 0x20 || c == b'"' || c == b'\\' || c >= 0x7f {
                        out.extend_from_slice(format!("\\x{c:02X}").as_bytes());
                    } else {
                        out.push(c);
                    }
                }
                Escaping::NginxJson => match c {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    0x08 => out.extend_from_slice(b"\\b"),
                    0x0c => out.extend_from_slice(b"\\f"),
                    c if c < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c).as_bytes()),
                    c => out.push(c),
                },
                Escaping::Apache => match c {
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    0x08 => out.extend_from_slice(b"\\b"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    0x0b => out.extend_from_slice(b"\\v"),
                    c if !(0x20..0x7f).contains(&c) => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
                    c => out.push(c),
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [Escaping; 5] = [Escaping::Raw, Escaping::Quotes, Escaping::NginxDefault, Escaping::NginxJson, Escaping::Apache];

    fn dec(e: Escaping, b: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        e.decode(b, &mut buf).to_vec()
    }

    #[test]
    fn what_each_server_writes() {
        // The issue's user agent, as each side writes it.
        let ua = br#"Mozilla/5.0 (X11) "quoted" agent"#;
        assert_eq!(dec(Escaping::Quotes, br#"Mozilla/5.0 (X11) \"quoted\" agent"#), ua);
        assert_eq!(dec(Escaping::Apache, br#"Mozilla/5.0 (X11) \"quoted\" agent"#), ua);
        assert_eq!(dec(Escaping::NginxDefault, br#"Mozilla/5.0 (X11) \x22quoted\x22 agent"#), ua);
        assert_eq!(dec(Escaping::NginxJson, br#"Mozilla/5.0 (X11) \"quoted\" agent"#), ua);
        // Non-ASCII and control bytes: nginx upper-case hex, Apache lower-case.
        assert_eq!(dec(Escaping::NginxDefault, br"/caf\xC3\xA9\x1B[31m"), "/café\x1b[31m".as_bytes());
        assert_eq!(dec(Escaping::Apache, br"/caf\xc3\xa9\x1b[31m"), "/café\x1b[31m".as_bytes());
        assert_eq!(dec(Escaping::NginxJson, br"a\u001bb\u0000"), b"a\x1bb\x00");
        // A backslash that is no escape of this server stays a byte: nothing is lost.
        assert_eq!(dec(Escaping::Raw, br#"/'"\'\");|]*{%0d%0a<%00>/about/"#), br#"/'"\'\");|]*{%0d%0a<%00>/about/"#);
        assert_eq!(dec(Escaping::Quotes, br"a\'b\\c"), br"a\'b\\c");
        assert_eq!(dec(Escaping::NginxDefault, br"\x4"), br"\x4");
        assert_eq!(dec(Escaping::NginxDefault, br"end\"), br"end\");
        assert_eq!(dec(Escaping::Apache, br"\q\xZZ"), br"\q\xZZ");
    }

    proptest! {
        /// A log whose `escape=` is not known decodes right: any of the backslash escapings,
        /// decoded with any other's rules.
        #[test]
        fn the_backslash_escapings_decode_alike(raw in proptest::collection::vec(any::<u8>(), 0..48)) {
            let esc = [Escaping::NginxDefault, Escaping::NginxJson, Escaping::Apache];
            for e in esc {
                for d in esc {
                    prop_assert_eq!(dec(d, &e.encode(&raw)), raw.clone(), "{:?} read as {:?}", e, d);
                }
            }
        }

        /// Encode with each server's rules, decode: the bytes the client sent, for any bytes.
        #[test]
        fn decode_inverts_each_servers_encoding(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            for e in ALL {
                prop_assert_eq!(dec(e, &e.encode(&raw)), raw.clone(), "{:?}", e);
            }
        }

        /// Values made mostly of the characters that matter (quotes, backslashes, `x`, hex digits).
        #[test]
        fn decode_inverts_on_tricky_bytes(raw in proptest::collection::vec(prop::sample::select(b"\\\"x0aAfu\x1b\xc3\xa9 %'".to_vec()), 0..32)) {
            for e in ALL {
                prop_assert_eq!(dec(e, &e.encode(&raw)), raw.clone(), "{:?}", e);
            }
        }
    }
}
