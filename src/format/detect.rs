//! Which format a file is, from its first lines.
//!
//! Every candidate parser is tried on the first non-empty lines; the one that parses the most
//! wins (ties go to the longer format — more fields —, then to the order of [`CANDIDATES`]). A file whose lines
//! no candidate parses is reported as unknown with a hint to pass `--log-format`.

use super::{Format, Record, apache, nginx};
use std::sync::Arc;

/// How many lines detection looks at.
pub const SAMPLE_LINES: usize = 50;
/// How many bytes of a log's start every mode samples for detection.
pub const SAMPLE_BYTES: usize = 64 * 1024;

/// What a log is to be read as.
#[derive(Clone, Debug)]
pub enum Resolved {
    /// Read as this format.
    Known(Format),
    /// Nothing but blank lines in the sample: nothing to parse either way.
    Empty,
    /// No known format parses the sample: the caller reports it (pass `--log-format`).
    Unknown,
}

/// The one decision, for every mode, of how to read a log from its sample: the forced format
/// (`--log-format`, or discovery's) when there is one — except that a forced access-log format
/// does not turn an error log into bad access lines — else what the sample looks like.
pub fn resolve(sample: &[u8], forced: Option<&Format>) -> Resolved {
    let blank = sample.iter().all(|b| b.is_ascii_whitespace());
    match forced {
        Some(f) => match detect(sample) {
            Some(e @ (Format::NginxError | Format::ApacheError)) if !matches!(f, Format::NginxError | Format::ApacheError) => Resolved::Known(e),
            _ => Resolved::Known(f.clone()),
        },
        None if blank => Resolved::Empty,
        None => detect(sample).map_or(Resolved::Unknown, Resolved::Known),
    }
}

fn candidates() -> Vec<Format> {
    vec![
        Format::Alb,
        Format::Elb,
        Format::W3c,
        Format::HttpErr,
        Format::NginxError,
        Format::ApacheError,
        Format::Nginx(Arc::new(nginx::main_format())),
        Format::Nginx(Arc::new(nginx::combined())),
        Format::Nginx(Arc::new(nginx::forwarded())),
        Format::Apache(Arc::new(apache::preset("vhost_combined").unwrap())),
        Format::Apache(Arc::new(apache::preset("common").unwrap())),
    ]
}

/// The order of preference on ties.
pub const CANDIDATES: &[&str] = &[
    "alb",
    "elb",
    "w3c",
    "httperr",
    "nginx-error",
    "apache-error",
    "nginx:main",
    "nginx:combined",
    "nginx:forwarded",
    "apache:vhost_combined",
    "apache:common",
];

/// Guess the format of `sample` (the first bytes of a file). `None` when nothing fits at all.
pub fn detect(sample: &[u8]) -> Option<Format> {
    // (a byte-order mark is not part of the first line: Windows tools write one)
    let sample = crate::read::strip_bom(sample);
    let lines: Vec<&[u8]> = sample.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).filter(|l| !l.is_empty()).take(SAMPLE_LINES).collect();
    if lines.is_empty() {
        return None;
    }
    // A W3C header settles it.
    for l in &lines {
        if l.starts_with(b"#Fields:") {
            let httperr = memchr::memmem::find(l, b"s-reason").is_some();
            return Some(if httperr { Format::HttpErr } else { Format::W3c });
        }
        if l.starts_with(b"#Software: Microsoft HTTP API") {
            return Some(Format::HttpErr);
        }
    }
    // The most lines parsed wins; on a tie, the longer format (more fields: `vhost_combined`'s
    // `%v:%p %h` over a list-valued X-Forwarded-For that swallows both), then the order above.
    let mut best: Option<((usize, usize), Format)> = None;
    for f in candidates() {
        if matches!(f, Format::W3c) {
            continue; // only with a header (above); headerless HTTPERR has a fixed old layout
        }
        let mut p = f.parser();
        let ok = lines.iter().filter(|l| matches!(p.parse(l), Ok(r) if !matches!(r, Record::Meta))).count();
        let fields = match &f {
            Format::Nginx(t) | Format::Apache(t) => t.pieces.iter().filter(|p| matches!(p, super::template::Piece::Field(_))).count(),
            _ => 0,
        };
        if ok > 0 && best.as_ref().is_none_or(|(b, _)| (ok, fields) > *b) {
            best = Some(((ok, fields), f));
        }
    }
    // Access logs in combined format also parse as common (plus trailing text → error), so the
    // combined check above wins; Apache's combined is nginx's combined byte for byte.
    best.map(|(_, f)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects() {
        let elb = b"2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/7.38.0\" - -\n";
        assert_eq!(detect(elb).unwrap().name(), "elb");
        let ng = b"2024/11/03 06:09:29 [error] 184#184: *94 upstream prematurely closed connection while reading response header from upstream, client: 1.2.3.4, server: x, request: \"GET / HTTP/1.1\", upstream: \"http://10.244.3.84:5601/\", host: \"x\"\n";
        assert_eq!(detect(ng).unwrap().name(), "nginx-error");
        let comb = b"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl\"\n";
        assert_eq!(detect(comb).unwrap().name(), "nginx:combined");
        // One combined line whose fields happen to number and look like headerless HTTPERR's
        // (a 3-digit byte count where HTTPERR's status is).
        let comb502 = b"127.0.0.1 - - [25/Nov/2026:10:00:00 +0000] \"GET /x HTTP/1.1\" 502 157 \"-\" \"curl/7.88.1\"\n";
        assert_eq!(detect(comb502).unwrap().name(), "nginx:combined");
        let main = b"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 502 5 \"-\" \"curl\" \"203.0.113.7, 10.0.0.2\"\n";
        assert_eq!(detect(main).unwrap().name(), "nginx:main", "nginx.org's default format, not 'unknown'");
        assert_eq!(detect(&[&b"\xEF\xBB\xBF"[..], comb].concat()).unwrap().name(), "nginx:combined", "a BOM first");
        let common = b"1.2.3.4 - - [01/Jan/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 5\n";
        assert_eq!(detect(common).unwrap().name(), "apache:common");
        assert!(detect(b"\x00\x01\x02 binary\n").is_none());
        assert!(detect(b"").is_none());
    }
}
