//! Access-log templates: what Apache's `LogFormat` and nginx's `log_format` compile to.
//!
//! A template is a sequence of literals and fields. Matching walks the line once: a literal must
//! match exactly; a field runs up to the next literal (inside quotes, a `"` escaped with an odd
//! number of backslashes does not end it), or has a fixed shape (timestamps). No backtracking, no
//! regex, no allocation.

use super::{AccessRecord, ParseError, Request, dash};
use crate::num::{parse_status, parse_u64};
use crate::time::{Timestamp, parse_clf, parse_epoch, parse_iso8601, parse_secs_micros};

/// How a timestamp field is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeKind {
    /// `10/Oct/2000:13:55:36 -0700` (nginx `$time_local`).
    Clf,
    /// `[10/Oct/2000:13:55:36 -0700]` (Apache `%t`).
    ClfBracketed,
    /// `2000-10-10T13:55:36-07:00` (nginx `$time_iso8601`, Apache ISO strftime formats).
    Iso8601,
    /// Seconds since the epoch, optional fraction (`$msec`, `%{sec}t`).
    Epoch,
    /// Milliseconds since the epoch (`%{msec}t`).
    EpochMillis,
    /// Microseconds since the epoch (`%{usec}t`).
    EpochMicros,
    /// A `strftime` pattern (Apache `%{format}t`): the index into [`Template::patterns`].
    Strftime(u8),
    /// The fraction of the second as 3 digits (`%{msec_frac}t`) or 6 (`%{usec_frac}t`), for a
    /// time split over several fields.
    Frac(u8),
}

/// What a field means. Fields tailgate does not use are `Other` (still matched, never read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    RemoteAddr,
    Time(TimeKind),
    Request,
    Method,
    /// Path and query as sent (`$request_uri`).
    Uri,
    /// Path only (`%U`, `$uri`).
    Path,
    /// Query string: `%q` includes the `?`, nginx `$args` does not.
    Query,
    Protocol,
    Status,
    /// Final status when a format logs both (`%>s` beats `%s`).
    FinalStatus,
    BytesSent,
    Referer,
    UserAgent,
    XForwardedFor,
    Host,
    DurationUs,
    DurationMs,
    /// Seconds, with or without a fraction (`$request_time`, `%T`).
    DurationSecs,
    UpstreamStatus,
    UpstreamAddr,
    UpstreamTime,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Lit(Box<[u8]>),
    Field(Field),
}

/// A compiled access-log format.
#[derive(Clone, Debug)]
pub struct Template {
    /// The format's name (`combined`, or the nickname from the config).
    pub name: String,
    /// The format string as given.
    pub source: String,
    pub pieces: Vec<Piece>,
    /// Per piece: whether it lies inside a `"…"` pair of the format (precomputed for matching).
    quoted: Vec<bool>,
    /// Parts of the format tailgate could not interpret (matched, but ignored).
    pub warnings: Vec<String>,
    /// The `strftime` patterns of [`TimeKind::Strftime`] fields.
    pub patterns: Vec<super::strftime::Pattern>,
    /// The time logged is when the request ended (Apache `%{end:…}t`), not when it began.
    pub time_at_end: bool,
    /// How the server escapes the values it writes with this format.
    pub escaping: super::escape::Escaping,
}

const E_LIT: ParseError = ParseError::new("line does not match the access-log format");
const E_SHORT: ParseError = ParseError::new("line ends before the access-log format does");
const E_TRAILING: ParseError = ParseError::new("unexpected text after the last field of the access-log format");
const E_TIME: ParseError = ParseError::new("bad timestamp in access-log line");
const E_STATUS: ParseError = ParseError::new("bad status in access-log line");
const E_ADDR: ParseError = ParseError::new("client address in access-log line is not one token");
const E_NUM: ParseError = ParseError::new("bad number in access-log line");

impl Template {
    pub fn new(name: &str, source: &str, pieces: Vec<Piece>, warnings: Vec<String>) -> Template {
        // Merge adjacent literals so matching sees one literal between fields.
        let mut merged: Vec<Piece> = Vec::with_capacity(pieces.len());
        for p in pieces {
            match (merged.last_mut(), p) {
                (Some(Piece::Lit(a)), Piece::Lit(b)) => {
                    let mut v = a.to_vec();
                    v.extend_from_slice(&b);
                    *a = v.into_boxed_slice();
                }
                (_, Piece::Lit(b)) if b.is_empty() => {}
                (_, p) => merged.push(p),
            }
        }
        let mut quoted = Vec::with_capacity(merged.len());
        let mut inside = false;
        for p in &merged {
            quoted.push(inside);
            if let Piece::Lit(l) = p
                && l.iter().filter(|&&c| c == b'"').count() % 2 == 1
            {
                inside = !inside;
            }
        }
        Template {
            name: name.to_string(),
            source: source.to_string(),
            pieces: merged,
            quoted,
            warnings,
            patterns: Vec::new(),
            time_at_end: false,
            escaping: super::escape::Escaping::Raw,
        }
    }

    /// Whether the template has a field with this meaning.
    pub fn has(&self, f: Field) -> bool {
        self.pieces.contains(&Piece::Field(f))
    }

    /// A [`TimeKind::Strftime`] or [`TimeKind::Frac`] field at the start of `at`: its length.
    #[cold]
    #[inline(never)]
    fn time_piece(&self, k: TimeKind, at: &[u8], parts: &mut Option<super::strftime::Parts>) -> Result<usize, ParseError> {
        let m = match k {
            TimeKind::Strftime(j) => self.patterns[j as usize].match_at(at),
            TimeKind::Frac(d) => super::strftime::fraction(at, d as usize),
            _ => None,
        };
        let (got, len) = m.ok_or(E_TIME)?;
        parts.get_or_insert_default().merge(&got);
        Ok(len)
    }

    /// Match one line.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<AccessRecord<'a>, ParseError> {
        let mut rec = AccessRecord::default();
        let mut p = 0usize;
        let mut path_start: Option<usize> = None;
        let mut have_final = false;
        let mut parts: Option<super::strftime::Parts> = None;
        let n = self.pieces.len();
        for i in 0..n {
            match &self.pieces[i] {
                // A time in a shape of its own (Apache `%{format}t`): the pattern says where it
                // ends; the parts of one line make one time.
                Piece::Field(Field::Time(k @ (TimeKind::Strftime(_) | TimeKind::Frac(_)))) => {
                    p += self.time_piece(*k, &line[p..], &mut parts)?;
                }
                Piece::Lit(l) => {
                    if !starts_with(&line[p..], l) {
                        return Err(if line.len() - p < l.len() { E_SHORT } else { E_LIT });
                    }
                    p += l.len();
                }
                Piece::Field(f) => {
                    let end = field_end(line, p, *f, self.pieces.get(i + 1), self.quoted[i])?;
                    let v = &line[p..end];
                    assign(&mut rec, *f, v, p, line, &mut path_start, &mut have_final)?;
                    p = end;
                }
            }
        }
        if p != line.len() {
            return Err(E_TRAILING);
        }
        if let Some(parts) = parts
            && rec.time.is_none()
        {
            rec.time = Some(parts.timestamp().ok_or(E_TIME)?);
        }
        Ok(rec)
    }
}

#[inline]
fn field_end(line: &[u8], p: usize, f: Field, next: Option<&Piece>, in_quotes: bool) -> Result<usize, ParseError> {
    match f {
        Field::Time(TimeKind::Clf) => {
            return if line.len() >= p + 26 { Ok(p + 26) } else { Err(E_SHORT) };
        }
        Field::Time(TimeKind::ClfBracketed) => {
            return match memchr::memchr(b']', &line[p..]) {
                Some(i) => Ok(p + i + 1),
                None => Err(E_SHORT),
            };
        }
        _ => {}
    }
    match next {
        // A client address is one token (an address, a host name): a list such as `10.0.0.2,
        // 10.0.0.1` is an X-Forwarded-For field, and `www.example.com:443 203.0.113.7` two fields.
        // After one, a literal that starts with a space starts at the first space.
        Some(Piece::Lit(l)) if matches!(f, Field::RemoteAddr) && l[0] == b' ' => match super::cursor::find_byte(&line[p..], b' ') {
            Some(i) if starts_with(&line[p + i..], l) => Ok(p + i),
            Some(_) => Err(E_ADDR),
            None => Err(E_SHORT),
        },
        None if matches!(f, Field::RemoteAddr) && line[p..].contains(&b' ') => Err(E_ADDR),
        None => Ok(line.len()),
        // (an unquoted X-Forwarded-For holds a list, `10.0.0.2, 10.0.0.1`: a space after a comma
        // is inside it)
        Some(Piece::Lit(l)) => {
            let i = find_literal(line, p, l, in_quotes, matches!(f, Field::XForwardedFor) && !in_quotes).ok_or(E_SHORT)?;
            if matches!(f, Field::RemoteAddr) && line[p..i].contains(&b' ') {
                return Err(E_ADDR);
            }
            Ok(i)
        }
        Some(Piece::Field(next)) => {
            // Two fields with nothing between: only `%U%q`-style pairs are meaningful.
            let rest = &line[p..];
            let stop = if matches!(next, Field::Query) && matches!(f, Field::Path) {
                rest.iter().position(|&c| c == b'?' || c == b' ')
            } else {
                rest.iter().position(|&c| c == b' ')
            };
            Ok(p + stop.unwrap_or(rest.len()))
        }
    }
}

/// `hay.starts_with(lit)` without a call to memcmp (literals are a few bytes).
#[inline(always)]
fn starts_with(hay: &[u8], lit: &[u8]) -> bool {
    if hay.len() < lit.len() {
        return false;
    }
    let mut i = 0;
    while i < lit.len() {
        if hay[i] != lit[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Find `lit` in `line[from..]`. Inside quotes, a match whose first byte is a `"` preceded by an
/// odd number of backslashes is an escaped quote, not the end of the field. In a `list` field, a
/// match right after a `,` is inside the list.
#[inline]
fn find_literal(line: &[u8], from: usize, lit: &[u8], in_quotes: bool, list: bool) -> Option<usize> {
    let first = lit[0];
    let mut at = from;
    loop {
        // Quoted fields (request, user agent) are long: memchr's vector search wins there; the
        // short unquoted ones (status, bytes) are faster with a word-at-a-time scan.
        let i = at + if in_quotes { memchr::memchr(first, &line[at..])? } else { super::cursor::find_byte(&line[at..], first)? };
        if starts_with(&line[i..], lit) && !(list && i > from && line[i - 1] == b',') {
            if !(in_quotes && first == b'"') {
                return Some(i);
            }
            let bs = line[from..i].iter().rev().take_while(|&&c| c == b'\\').count();
            if bs % 2 == 0 {
                return Some(i);
            }
        }
        at = i + 1;
    }
}

#[inline]
fn time(kind: TimeKind, v: &[u8]) -> Option<Timestamp> {
    match kind {
        TimeKind::Clf => parse_clf(v),
        TimeKind::ClfBracketed => {
            if v.len() >= 2 && v[0] == b'[' && v[v.len() - 1] == b']' {
                parse_clf(&v[1..v.len() - 1])
            } else {
                None
            }
        }
        TimeKind::Iso8601 => parse_iso8601(v),
        TimeKind::Epoch => parse_epoch(v),
        TimeKind::EpochMillis => {
            let ms = parse_u64(v)? as i64;
            Some(Timestamp::from_micros(ms * 1000, Some(0), crate::time::Precision::Milli))
        }
        TimeKind::EpochMicros => {
            let us = parse_u64(v)? as i64;
            Some(Timestamp::from_micros(us, Some(0), crate::time::Precision::Micro))
        }
        TimeKind::Strftime(_) | TimeKind::Frac(_) => None, // (matched in `parse`)
    }
}

#[inline]
fn assign<'a>(
    rec: &mut AccessRecord<'a>,
    f: Field,
    v: &'a [u8],
    start: usize,
    line: &'a [u8],
    path_start: &mut Option<usize>,
    have_final: &mut bool,
) -> Result<(), ParseError> {
    match f {
        // One token (see `field_end`).
        Field::RemoteAddr => rec.client = dash(v),
        Field::Time(kind) => {
            if v != b"-" {
                rec.time = Some(time(kind, v).ok_or(E_TIME)?);
            }
        }
        Field::Request => rec.request = Request::split(v),
        Field::Method => rec.request.method = v,
        Field::Uri => rec.request.target = v,
        Field::Path => {
            rec.request.target = v;
            *path_start = Some(start);
        }
        Field::Query => {
            // `%U%q` / `$uri?$args`: make the target span path and query when they are adjacent.
            if let Some(ps) = *path_start {
                let end = start + v.len();
                let gap = &line[ps + rec.request.target.len()..start];
                if !v.is_empty() && v != b"-" && (gap.is_empty() || gap == b"?") {
                    rec.request.target = &line[ps..end];
                }
            }
        }
        Field::Protocol => rec.request.protocol = v,
        Field::Status | Field::FinalStatus => {
            if matches!(f, Field::Status) && *have_final {
                return Ok(());
            }
            rec.status = if v == b"-" { None } else { Some(parse_status(v).ok_or(E_STATUS)?) };
            if matches!(f, Field::FinalStatus) {
                *have_final = true;
            }
        }
        Field::BytesSent => rec.bytes_sent = if v == b"-" { Some(0) } else { Some(parse_u64(v).ok_or(E_NUM)?) },
        Field::Referer => rec.referer = dash(v),
        Field::UserAgent => rec.user_agent = dash(v),
        Field::XForwardedFor => rec.x_forwarded_for = dash(v),
        Field::Host => rec.host = dash(v),
        Field::DurationUs => rec.duration_us = if v == b"-" { None } else { Some(parse_u64(v).ok_or(E_NUM)? as i64) },
        Field::DurationMs => rec.duration_us = if v == b"-" { None } else { Some(parse_u64(v).ok_or(E_NUM)? as i64 * 1000) },
        Field::DurationSecs => rec.duration_us = if v == b"-" { None } else { Some(parse_secs_micros(v).ok_or(E_NUM)?) },
        Field::UpstreamStatus => rec.upstream_status = dash(v),
        Field::UpstreamAddr => rec.upstream_addr = dash(v),
        Field::UpstreamTime => rec.upstream_time = dash(v),
        Field::Other => {}
    }
    Ok(())
}
