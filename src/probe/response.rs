//! Reading one HTTP/1.1 response from a [`Reader`] and judging it rule by rule, on the raw bytes.
//!
//! Streaming: the header section is bounded ([`MAX_HEADER`]); body bytes are counted and
//! consumed as they arrive, never kept, so a 10 GB body, an endless chunked body or one chunk of
//! size `FFFFFFFFFFFF` cost one read buffer. Each phase has its own deadline (`timeout`, cut by
//! the probe's overall deadline). Interim `1xx` responses are skipped as RFC 9110 §15.2 says, up
//! to [`MAX_INFORMATIONAL`], and the final response is the one judged. Only bytes that were
//! received are judged: a line cut by a timeout or a close is never called malformed.

use std::time::{Duration, Instant};

use super::rules::{self, Violation, is_tchar};
use super::wire::Reader;
use super::{Options, Report};

/// The longest header section read.
pub const MAX_HEADER: usize = 64 * 1024;
/// How many interim (1xx) responses are skipped before the probe gives up on a final one.
pub const MAX_INFORMATIONAL: usize = 16;
/// How much of the response heads the report keeps.
const KEPT_HEAD: usize = 16 * 1024;
/// The longest chunk-size line (with extensions).
const MAX_CHUNK_LINE: usize = 4096;

/// How the response ended, for the keep-alive measurement that may follow.
pub struct Outcome {
    /// A complete, correctly framed final response with no violation on the way.
    pub complete: bool,
    pub conn_close: bool,
}

/// The deadline of a phase that starts now.
pub fn phase_deadline(timeout: Duration, overall: Instant) -> Instant {
    (Instant::now() + timeout).min(overall)
}

/// Where the header section ends (index of the first body byte), searching for its final empty
/// line from `from` on (so that a header read in many small pieces is scanned once).
fn head_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = memchr::memchr(b'\n', &b[i.min(b.len())..]) {
        let nl = i + p;
        // "\n\n" or "\n\r\n"
        if b.get(nl + 1) == Some(&b'\n') {
            return Some(nl + 2);
        }
        if b.get(nl + 1) == Some(&b'\r') && b.get(nl + 2) == Some(&b'\n') {
            return Some(nl + 3);
        }
        i = nl + 1;
    }
    None
}

pub(crate) fn is_status_line(l: &[u8]) -> Option<u16> {
    // HTTP/d.d SP ddd [SP reason]
    if l.len() < 12 || !l.starts_with(b"HTTP/") || !l[5].is_ascii_digit() || l[6] != b'.' || !l[7].is_ascii_digit() || l[8] != b' ' {
        return None;
    }
    let code = &l[9..12];
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if l.len() > 12 && l[12] != b' ' {
        return None;
    }
    if l[12.min(l.len())..].iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Whether `partial` (the start of a first line that has not ended yet) can still become a
/// status line: judging it before it ends would judge bytes never received.
fn may_become_status_line(partial: &[u8]) -> bool {
    const SHAPE: &[u8] = b"HTTP/d.d ddd";
    partial.iter().zip(SHAPE).all(|(&c, &s)| if s == b'd' { c.is_ascii_digit() } else { c == s })
}

/// Check complete lines of a header section (status line first; every line ends with `\n`; the
/// final empty line excluded).
pub(crate) fn check_head(head: &[u8], v: &mut Vec<Violation>) -> (Option<u16>, Vec<(String, String)>) {
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut bare_lf = false;
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .map(|l| match l.strip_suffix(b"\r") {
            Some(x) => x,
            None => {
                bare_lf = true;
                l
            }
        })
        .collect();
    if bare_lf {
        v.push(Violation::new(rules::BARE_LF, "a line of the status line or headers ends with LF alone"));
    }
    let status = lines.first().and_then(|l| is_status_line(l));
    if status.is_none() {
        let first = lines.first().map(|l| String::from_utf8_lossy(&l[..l.len().min(80)]).into_owned()).unwrap_or_default();
        v.push(Violation::new(rules::STATUS_LINE, format!("the first line is not a status line: {first:?}")));
    }
    let mut headers = Vec::new();
    for l in lines.iter().skip(1) {
        if l.first().is_some_and(|&c| c == b' ' || c == b'\t') {
            v.push(Violation::new(rules::OBS_FOLD, format!("a header line starts with whitespace: {:?}", String::from_utf8_lossy(&l[..l.len().min(80)]))));
            continue;
        }
        let Some(colon) = memchr::memchr(b':', l) else {
            v.push(Violation::new(rules::HEADER_SYNTAX, format!("a header line has no colon: {:?}", String::from_utf8_lossy(&l[..l.len().min(80)]))));
            continue;
        };
        let name = &l[..colon];
        if name.last().is_some_and(|&c| c == b' ' || c == b'\t') {
            v.push(Violation::new(
                rules::SPACE_BEFORE_COLON,
                format!("whitespace before the colon in {:?}", String::from_utf8_lossy(&name[..name.len().min(80)])),
            ));
        }
        let trimmed = name.trim_ascii_end();
        if trimmed.is_empty() || !trimmed.iter().all(|&c| is_tchar(c)) {
            v.push(Violation::new(rules::HEADER_SYNTAX, format!("the header name {:?} is not a token", String::from_utf8_lossy(&name[..name.len().min(80)]))));
        }
        let value = &l[colon + 1..];
        if value.iter().any(|&c| (c < 0x20 && c != b'\t') || c == 0x7f) {
            v.push(Violation::new(
                rules::CTL_IN_VALUE,
                format!("the value of {:?} holds a NUL or control character", String::from_utf8_lossy(&trimmed[..trimmed.len().min(80)])),
            ));
        }
        headers.push((String::from_utf8_lossy(trimmed).into_owned(), String::from_utf8_lossy(value.trim_ascii()).into_owned()));
    }
    (status, headers)
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    h.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Keep the text of a response head for the report, up to [`KEPT_HEAD`] in all.
fn keep_head(rep: &mut Report, bytes: &[u8]) {
    let have = rep.response_head.as_ref().map_or(0, String::len);
    if have >= KEPT_HEAD {
        return;
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(KEPT_HEAD - have)]);
    rep.response_head.get_or_insert_with(String::new).push_str(&text);
}

/// Read the response to the request just sent and judge it into `rep`.
pub fn read(r: &mut Reader, opts: &Options, overall: Instant, rep: &mut Report) -> Outcome {
    let ended = Outcome { complete: false, conn_close: false };
    let timeout = opts.timeout;

    // The header section(s): interim 1xx responses, then the final one.
    r.phase(phase_deadline(timeout, overall));
    let mut informational = 0usize;
    let (status, headers) = loop {
        let mut scanned = 0;
        let end = loop {
            if let Some(e) = head_end(r.data(), scanned) {
                break Some(e);
            }
            scanned = r.len().saturating_sub(2);
            if r.len() > MAX_HEADER || !r.more() {
                break None;
            }
        };
        match end {
            Some(e) if e <= MAX_HEADER => {
                let head = &r.data()[..e];
                keep_head(rep, head);
                // Drop only the empty line that ends the section: every other line keeps its terminator.
                let text = head.strip_suffix(b"\r\n").or_else(|| head.strip_suffix(b"\n")).unwrap_or(head);
                let mut v = Vec::new();
                let (status, headers) = check_head(text, &mut v);
                match status {
                    Some(s @ 100..=199) => {
                        for mut x in v {
                            x.message = format!("in the interim {s} response: {}", x.message);
                            rep.violations.push(x);
                        }
                        r.consume(e);
                        if s == 101 {
                            rep.status = Some(s);
                            rep.violations
                                .push(Violation::new(rules::INFORMATIONAL, "101 Switching Protocols answers a request that asked for no protocol upgrade"));
                            return ended;
                        }
                        informational += 1;
                        if informational > MAX_INFORMATIONAL {
                            rep.status = Some(s);
                            rep.violations
                                .push(Violation::new(rules::INFORMATIONAL, format!("more than {MAX_INFORMATIONAL} interim (1xx) responses and no final one")));
                            return ended;
                        }
                        continue;
                    }
                    _ => {
                        rep.violations.extend(v);
                        r.consume(e);
                        break (status, headers);
                    }
                }
            }
            Some(e) => {
                rep.violations.push(Violation::new(rules::HEADER_TOO_LARGE, format!("the header section is {e} bytes")));
                return ended;
            }
            None if r.len() > MAX_HEADER => {
                keep_head(rep, &r.data()[..r.len().min(2048)]);
                rep.violations.push(Violation::new(rules::HEADER_TOO_LARGE, format!("no end of the header section within {MAX_HEADER} bytes: cut")));
                return ended;
            }
            None => {
                judge_cut_head(r, rep, timeout, informational);
                return ended;
            }
        }
    };
    rep.status = status;
    rep.headers = headers.clone();

    // The body phase starts with the final header section.
    r.phase(phase_deadline(timeout, overall));

    // Two CRLFs right after the status line, and header-looking lines after them. Only a first
    // body line that arrived whole is judged.
    if status.is_some() && headers.is_empty() {
        const LOOK: usize = 256;
        while r.len() < LOOK && memchr::memchr(b'\n', r.data()).is_none() && r.more() {}
        let after = &r.data()[..r.len().min(LOOK)];
        let first = match memchr::memchr(b'\n', after) {
            Some(nl) => Some(&after[..nl]),
            None if r.eof => Some(after),
            None => None,
        };
        if let Some(first) = first
            && let Some(colon) = memchr::memchr(b':', first)
            && colon > 0
            && first[..colon].iter().all(|&b| is_tchar(b))
        {
            rep.violations.push(Violation::new(
                rules::BLANK_LINE_AFTER_STATUS,
                format!(
                    "an empty line follows the status line, so {:?} arrives as body",
                    String::from_utf8_lossy(&first.trim_ascii()[..first.trim_ascii().len().min(80)])
                ),
            ));
        }
    }

    // Framing.
    let cls = header(&headers, "Content-Length");
    let tes = header(&headers, "Transfer-Encoding");
    let conn_close = header(&headers, "Connection").iter().any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
    let no_body = matches!(status, Some(s) if s == 204 || s == 304) || opts.method == "HEAD";
    let mut length: Option<u64> = None;
    let mut framing_bad = false;
    let values: Vec<&str> = cls.iter().flat_map(|v| v.split(',').map(str::trim)).collect();
    for v in &values {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            rep.violations.push(Violation::new(rules::CONTENT_LENGTH_INVALID, format!("Content-Length {v:?} is not a non-negative integer")));
            framing_bad = true;
        } else if v.parse::<u64>().map_or(true, |n| n > (1u64 << 62)) {
            rep.violations.push(Violation::new(rules::CONTENT_LENGTH_INVALID, format!("Content-Length {v} overflows")));
            framing_bad = true;
        }
    }
    if !framing_bad && !values.is_empty() {
        let first = values[0];
        if values.iter().any(|v| v.trim_start_matches('0') != first.trim_start_matches('0')) {
            rep.violations.push(Violation::new(rules::CONTENT_LENGTH_CONFLICT, format!("several different Content-Length values: {}", values.join(", "))));
            framing_bad = true;
        } else {
            length = first.parse().ok();
        }
    }
    let mut chunked = false;
    if !tes.is_empty() {
        let codings: Vec<String> = tes.iter().flat_map(|v| v.split(',')).map(|t| t.trim().to_ascii_lowercase()).filter(|t| !t.is_empty()).collect();
        if codings.last().map(String::as_str) != Some("chunked") {
            rep.violations.push(Violation::new(rules::TE_NOT_CHUNKED, format!("Transfer-Encoding: {} does not end in chunked", codings.join(", "))));
            framing_bad = true;
        } else {
            chunked = true;
        }
        if !cls.is_empty() {
            rep.violations.push(Violation::new(rules::LENGTH_AND_CHUNKED, "both Content-Length and Transfer-Encoding are present"));
            framing_bad = true;
        }
    }

    // The body.
    let complete = if status.is_none() || framing_bad {
        false
    } else if no_body {
        true
    } else if chunked {
        read_chunked(r, rep, timeout)
    } else if let Some(n) = length {
        read_length(r, rep, n, timeout, overall)
    } else {
        read_to_close(r, rep, conn_close, timeout);
        false
    };
    Outcome { complete, conn_close }
}

/// The connection ended or timed out inside a header section: judge the lines that arrived
/// whole, then say how it ended.
fn judge_cut_head(r: &Reader, rep: &mut Report, timeout: Duration, informational: usize) {
    let data = r.data();
    if data.is_empty() && informational == 0 {
        if r.timed_out {
            rep.violations.push(Violation::timeout("head", format!("no answer within {}", secs(timeout))));
        } else {
            let how = if r.reset { "reset" } else { "closed" };
            rep.violations.push(Violation::new(rules::NO_RESPONSE, format!("the connection was {how} without a response")));
        }
        return;
    }
    keep_head(rep, &data[..data.len().min(4096)]);
    let whole = memchr::memrchr(b'\n', data).map_or(0, |i| i + 1);
    let mut v = Vec::new();
    let mut status = None;
    if whole > 0 {
        let (s, h) = check_head(&data[..whole], &mut v);
        status = s;
        rep.headers = h;
    } else if !may_become_status_line(&data[..data.len().min(80)]) {
        v.push(Violation::new(
            rules::STATUS_LINE,
            format!("the response does not start with a status line: {:?}", String::from_utf8_lossy(&data[..data.len().min(80)])),
        ));
    }
    rep.status = status;
    let judged_bad = !v.is_empty();
    rep.violations.extend(v);
    if r.timed_out {
        rep.violations.push(Violation::timeout("head", format!("the header section did not end within {} ({} bytes received)", secs(timeout), data.len())));
    } else if status.is_some() || !judged_bad {
        rep.violations.push(Violation::new(rules::NO_RESPONSE, "the connection ended inside the header section"));
    }
}

/// A body of `n` bytes (Content-Length): counted, not kept. True when it is exactly `n` bytes.
fn read_length(r: &mut Reader, rep: &mut Report, n: u64, timeout: Duration, overall: Instant) -> bool {
    let mut got = 0u64;
    loop {
        let take = (r.len() as u64).min(n - got);
        r.consume(take as usize);
        got += take;
        if got == n || !r.more() {
            break;
        }
    }
    rep.body_bytes = got;
    if got < n {
        if r.timed_out {
            rep.violations.push(Violation::timeout("body", format!("{got} of {n} body bytes came within {}", secs(timeout))));
        } else {
            rep.violations.push(Violation::new(rules::BODY_SHORTER, format!("Content-Length is {n} but the connection ended after {got} body bytes")));
        }
        return false;
    }
    // Extra bytes right behind the declared body?
    if r.is_empty() && !r.eof {
        let saved = r.deadline;
        r.phase((Instant::now() + Duration::from_millis(200)).min(overall.max(Instant::now())));
        r.more();
        r.phase(saved);
    }
    if !r.is_empty() {
        rep.violations.push(Violation::new(rules::BODY_LONGER, format!("{} bytes follow the {n}-byte body Content-Length declared", r.len())));
        return false;
    }
    true
}

/// A chunked body, parsed as it streams. True when it ended with its last chunk and trailers.
fn read_chunked(r: &mut Reader, rep: &mut Report, timeout: Duration) -> bool {
    let mut total = 0u64;
    let mut chunks = 0u64;
    let result = chunked_body(r, &mut total, &mut chunks);
    rep.body_bytes = total;
    match result {
        Ok(()) => true,
        Err(_) if r.timed_out => {
            rep.violations
                .push(Violation::timeout("body", format!("the chunked body did not end within {}: {total} data bytes in {chunks} chunks came", secs(timeout))));
            false
        }
        Err(e) => {
            rep.violations.push(Violation::new(rules::CHUNKED_FRAMING, e.to_string()));
            false
        }
    }
}

/// The next line (without its `\n`) within `max` bytes, waiting for it; `Err` when the input
/// ends first (`what` says where).
fn next_line(r: &mut Reader, max: usize, what: &str) -> anyhow::Result<usize> {
    let mut scanned = 0;
    loop {
        if let Some(p) = memchr::memchr(b'\n', &r.data()[scanned..]) {
            return Ok(scanned + p);
        }
        scanned = r.len();
        if r.len() > max {
            return Err(anyhow::anyhow!("{what} longer than {max} bytes"));
        }
        if !r.more() {
            return Err(anyhow::anyhow!("the connection ended inside {what}"));
        }
    }
}

fn chunked_body(r: &mut Reader, total: &mut u64, chunks: &mut u64) -> anyhow::Result<()> {
    loop {
        let end = next_line(r, MAX_CHUNK_LINE, "a chunk-size line")?;
        let line = &r.data()[..end];
        let line = line.strip_suffix(b"\r").ok_or_else(|| anyhow::anyhow!("a chunk-size line ends with LF alone"))?;
        let size_part = line.split(|&b| b == b';').next().unwrap_or(b"").trim_ascii();
        if size_part.is_empty() || !size_part.iter().all(u8::is_ascii_hexdigit) {
            return Err(anyhow::anyhow!("the chunk size {:?} is not hexadecimal", String::from_utf8_lossy(&size_part[..size_part.len().min(40)])));
        }
        let digits = size_part.iter().position(|&b| b != b'0').map_or(&size_part[size_part.len() - 1..], |i| &size_part[i..]);
        if digits.len() > 15 {
            return Err(anyhow::anyhow!("the chunk size {} is too large", String::from_utf8_lossy(&size_part[..size_part.len().min(40)])));
        }
        let size = u64::from_str_radix(std::str::from_utf8(digits).expect("hex digits are ASCII"), 16).expect("at most 15 hex digits");
        r.consume(end + 1);
        if size == 0 {
            // Trailer fields until an empty line, no more than a header section.
            let mut trailer = 0usize;
            loop {
                let end = next_line(r, MAX_HEADER.saturating_sub(trailer), "the trailer section")?;
                let empty = matches!(&r.data()[..end], b"" | b"\r");
                trailer += end + 1;
                r.consume(end + 1);
                if empty {
                    return Ok(());
                }
            }
        }
        let mut left = size;
        while left > 0 {
            let take = (r.len() as u64).min(left);
            r.consume(take as usize);
            left -= take;
            *total += take;
            if left > 0 && !r.more() {
                return Err(anyhow::anyhow!("the connection ended inside a chunk of {size} bytes ({} came)", size - left));
            }
        }
        while r.len() < 2 {
            if !r.more() {
                return Err(anyhow::anyhow!("the connection ended before the CRLF after a chunk of {size} bytes"));
            }
        }
        if &r.data()[..2] != b"\r\n" {
            return Err(anyhow::anyhow!("a chunk's data is not followed by CRLF (its size is wrong)"));
        }
        r.consume(2);
        *chunks += 1;
    }
}

/// Neither length nor chunking: the body runs until the connection closes.
fn read_to_close(r: &mut Reader, rep: &mut Report, conn_close: bool, timeout: Duration) {
    let mut got = r.len() as u64;
    r.consume(r.len());
    while r.more() {
        got += r.len() as u64;
        r.consume(r.len());
    }
    rep.body_bytes = got;
    if !conn_close && !r.eof {
        rep.violations.push(Violation::new(rules::NO_FRAMING, "a kept-alive response without Content-Length or chunked encoding: its end cannot be known"));
    } else if !conn_close && got > 0 {
        rep.violations.push(Violation::new(
            rules::NO_FRAMING,
            "a response without Content-Length, chunked encoding or `Connection: close`, ended by closing the connection",
        ));
    } else if r.timed_out {
        rep.violations
            .push(Violation::timeout("body", format!("the body of a `Connection: close` response did not end within {} ({got} bytes came)", secs(timeout))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(is_status_line(b"HTTP/1.1 200 OK"), Some(200));
        assert_eq!(is_status_line(b"HTTP/1.1 200"), Some(200));
        assert_eq!(is_status_line(b"HTTP/1.1 20 OK"), None);
        assert_eq!(is_status_line(b"HELLO"), None);
        assert_eq!(is_status_line(b"HTTP/1.1 200OK"), None);
    }

    #[test]
    fn partial_first_lines() {
        for p in [&b""[..], b"H", b"HTT", b"HTTP/1", b"HTTP/1.1 2", b"HTTP/1.1 200", b"HTTP/1.1 200 O"] {
            assert!(may_become_status_line(p), "{p:?}");
        }
        for p in [&b"X"[..], b"HTTX", b"HTTP/a", b"HTTP/1.1x", b"HTTP/1.1 2x"] {
            assert!(!may_become_status_line(p), "{p:?}");
        }
    }

    #[test]
    fn head_end_from_any_point() {
        let b = b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody";
        for from in 0..=22 {
            assert_eq!(head_end(b, from), Some(25), "from {from}");
        }
        assert_eq!(head_end(b"HTTP/1.1 200 OK\n\nx", 0), Some(17));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n", 0), None);
    }
}
