//! Timestamps as UTC instants that remember how they were written.
//!
//! Every log format stamps time differently: ELB/ALB write UTC with microseconds, IIS writes UTC with
//! seconds, Apache `%t` and nginx `$time_local` write local time with an offset and one-second
//! resolution, and error logs write local time with no offset at all. A [`Timestamp`] keeps the
//! instant (microseconds since the Unix epoch, UTC), the offset the line was written in (when the
//! line says it) and the precision, so the correlator can widen its windows honestly.
//!
//! The parsers here are hand-written over `&[u8]` and allocation-free: they sit on the hot path.

use serde::Serialize;

/// How finely a timestamp was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Whole seconds (`[25/Nov/2026:08:00:01 +0000]`).
    Second,
    /// Milliseconds (nginx `$msec`, `%{msec}t`).
    Milli,
    /// Microseconds (ELB/ALB, `%{usec}t`).
    Micro,
}

impl Precision {
    /// The width of the uncertainty interval, in microseconds.
    pub fn micros(self) -> i64 {
        match self {
            Precision::Second => 1_000_000,
            Precision::Milli => 1_000,
            Precision::Micro => 1,
        }
    }
}

/// A point in time, UTC, plus how it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp {
    /// Microseconds since 1970-01-01T00:00:00Z.
    pub micros: i64,
    /// The UTC offset (seconds east) the source wrote, or `None` when the line carries no offset
    /// (nginx/Apache error logs: local time of the writing host). In that case `micros` is the
    /// wall-clock reading taken as if it were UTC.
    pub offset: Option<i32>,
    /// How precisely the log wrote it: an instant anywhere in that unit is as good as another.
    pub precision: Precision,
}

impl Timestamp {
    /// An instant (µs since the epoch, UTC), the offset it was written with (seconds east) and its precision.
    pub fn from_micros(micros: i64, offset: Option<i32>, precision: Precision) -> Self {
        Timestamp { micros, offset, precision }
    }

    /// Unix seconds (floor).
    pub fn unix_secs(&self) -> i64 {
        self.micros.div_euclid(1_000_000)
    }

    /// Start of the minute this instant falls in, as unix seconds.
    pub fn minute(&self) -> i64 {
        self.unix_secs().div_euclid(60) * 60
    }

    /// RFC 3339 in UTC with the stored precision (`Z` suffix), or in local wall-clock form without
    /// a suffix when the source had no offset.
    pub fn to_rfc3339(&self) -> String {
        let mut s = format_utc(self.micros, self.precision);
        if self.offset.is_none() {
            s.pop(); // drop the 'Z': this is a wall-clock reading of unknown zone
        }
        s
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Format unix microseconds as `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`.
pub fn format_utc(micros: i64, precision: Precision) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, (sod / 60) % 60, sod % 60);
    match precision {
        Precision::Second => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        Precision::Milli => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z", frac / 1000),
        Precision::Micro => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}Z"),
    }
}

#[inline]
fn digits(b: &[u8]) -> Option<u32> {
    if b.len() > 9 {
        return None;
    }
    crate::num::parse_u64(b).map(|v| v as u32)
}

fn check_ymdhms(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> bool {
    (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && s <= 60 && (1970..10000).contains(&y)
}

fn instant(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    days_from_civil(y as i64, mo, d) * 86_400 + (h * 3600 + mi * 60 + s) as i64
}

/// Parse a fraction like `945958` (any length 1..=9) to microseconds and a precision.
fn fraction(b: &[u8]) -> Option<(i64, Precision)> {
    const POW10: [i64; 10] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
    let v = digits(b)? as i64;
    let len = b.len();
    let micros = if len <= 6 { v * POW10[6 - len] } else { v / POW10[len - 6] };
    let p = if len <= 3 { Precision::Milli } else { Precision::Micro };
    Some((micros, p))
}

/// An optional `.digits` at the start of `rest`: (micros, precision, what follows).
#[inline]
fn optional_fraction(rest: &[u8]) -> Option<(i64, Precision, &[u8])> {
    if rest.first() != Some(&b'.') {
        return Some((0, Precision::Second, rest));
    }
    let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    let (frac, prec) = fraction(&rest[1..1 + n])?;
    Some((frac, prec, &rest[1 + n..]))
}

/// Parse `+HHMM`, `-HHMM`, `+HH:MM`, `Z` into seconds east of UTC.
fn offset(b: &[u8]) -> Option<i32> {
    if b == b"Z" || b == b"z" {
        return Some(0);
    }
    if b.len() < 5 {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hh, mm) = if b.len() == 5 {
        (digits(&b[1..3])?, digits(&b[3..5])?)
    } else if b.len() == 6 && b[3] == b':' {
        (digits(&b[1..3])?, digits(&b[4..6])?)
    } else {
        return None;
    };
    if hh > 23 || mm > 59 {
        return None;
    }
    Some(sign * (hh * 3600 + mm * 60) as i32)
}

/// ISO 8601 / RFC 3339: `2015-05-13T23:39:43.945958Z`, `2026-01-01T10:00:00+02:00`.
/// Also accepts a space instead of `T`.
pub fn parse_iso8601(b: &[u8]) -> Option<Timestamp> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, s) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if !check_ymdhms(y, mo, d, h, mi, s) {
        return None;
    }
    let (frac, prec, rest) = optional_fraction(&b[19..])?;
    let off = if rest.is_empty() { None } else { Some(offset(rest)?) };
    let secs = instant(y, mo, d, h, mi, s) - off.unwrap_or(0) as i64;
    Some(Timestamp::from_micros(secs * 1_000_000 + frac, off, prec))
}

/// Remembers the last calendar day parsed: log lines come in time order, so the day's number
/// (a handful of divisions) is computed once per day instead of once per line.
#[derive(Clone, Debug, Default)]
pub struct DayCache {
    key: [u8; 10],
    days: i64,
}

impl DayCache {
    /// [`parse_iso8601`] with the day cached.
    #[inline]
    pub fn iso8601(&mut self, b: &[u8]) -> Option<Timestamp> {
        if b.len() < 19 || b[..10] != self.key {
            let t = parse_iso8601(b)?;
            // remember this day (UTC day of the wall-clock date written)
            if let (Some(y), Some(m), Some(d)) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10])) {
                self.key.copy_from_slice(&b[..10]);
                self.days = days_from_civil(y as i64, m, d);
            }
            return Some(t);
        }
        if b[10] != b'T' && b[10] != b' ' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (h, mi, s) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let (frac, prec, rest) = optional_fraction(&b[19..])?;
        let off = if rest.is_empty() { None } else { Some(offset(rest)?) };
        let secs = self.days * 86_400 + (h * 3600 + mi * 60 + s) as i64 - off.unwrap_or(0) as i64;
        Some(Timestamp::from_micros(secs * 1_000_000 + frac, off, prec))
    }
}

/// Month from its English three-letter abbreviation.
fn month(b: &[u8]) -> Option<u32> {
    Some(match b {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

/// An English month name at the start of `b`, abbreviated (`Oct`) or full (`October`): the month
/// and how many bytes it takes.
pub fn month_name(b: &[u8]) -> Option<(u32, usize)> {
    const FULL: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    let m = month(b.get(..3)?)?;
    let full = FULL[m as usize - 1].as_bytes();
    Some((m, if b.starts_with(full) { full.len() } else { 3 }))
}

/// Common Log Format time, as Apache `%t` (without the brackets) and nginx `$time_local`:
/// `10/Oct/2000:13:55:36 -0700`. Apache's `%{msec_frac}t`-style extensions are handled by the
/// Apache compiler, not here.
pub fn parse_clf(b: &[u8]) -> Option<Timestamp> {
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[14] != b':' || b[17] != b':' || b[20] != b' ' {
        return None;
    }
    let d = digits(&b[0..2])?;
    let mo = month(&b[3..6])?;
    let y = digits(&b[7..11])?;
    let (h, mi, s) = (digits(&b[12..14])?, digits(&b[15..17])?, digits(&b[18..20])?);
    if !check_ymdhms(y, mo, d, h, mi, s) {
        return None;
    }
    let off = offset(&b[21..26])?;
    let secs = instant(y, mo, d, h, mi, s) - off as i64;
    Some(Timestamp::from_micros(secs * 1_000_000, Some(off), Precision::Second))
}

/// nginx error log time: `2024/11/03 06:09:29` (local time, no offset).
pub fn parse_nginx_error(b: &[u8]) -> Option<Timestamp> {
    if b.len() != 19 || b[4] != b'/' || b[7] != b'/' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, s) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if !check_ymdhms(y, mo, d, h, mi, s) {
        return None;
    }
    Some(Timestamp::from_micros(instant(y, mo, d, h, mi, s) * 1_000_000, None, Precision::Second))
}

/// Apache error log time: `Wed Jun 17 13:08:52.089713 2020` (2.4) or `Fri Jun 14 21:50:41 2013`
/// (2.2); local time, no offset. The day of month may be space-padded (`Mon Jan  6 ...`).
pub fn parse_apache_error(b: &[u8]) -> Option<Timestamp> {
    // Www Mmm DD HH:MM:SS[.uuuuuu] YYYY
    if b.len() < 24 || b[3] != b' ' || b[7] != b' ' {
        return None;
    }
    let mo = month(&b[4..7])?;
    let dd = &b[8..10];
    let d = if dd[0] == b' ' { digits(&dd[1..2])? } else { digits(dd)? };
    if b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, s) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    let (frac, prec, rest) = optional_fraction(&b[19..])?;
    if rest.len() != 5 || rest[0] != b' ' {
        return None;
    }
    let y = digits(&rest[1..5])?;
    if !check_ymdhms(y, mo, d, h, mi, s) {
        return None;
    }
    Some(Timestamp::from_micros(instant(y, mo, d, h, mi, s) * 1_000_000 + frac, None, prec))
}

/// W3C extended (IIS): separate `date` (`2016-01-10`) and `time` (`00:07:26`, optionally with a
/// fraction) fields, always UTC.
pub fn parse_w3c(date: &[u8], time: &[u8]) -> Option<Timestamp> {
    if date.len() != 10 || time.len() < 8 || date[4] != b'-' || date[7] != b'-' || time[2] != b':' || time[5] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(&date[0..4])?, digits(&date[5..7])?, digits(&date[8..10])?);
    let (h, mi, s) = (digits(&time[0..2])?, digits(&time[3..5])?, digits(&time[6..8])?);
    if !check_ymdhms(y, mo, d, h, mi, s) {
        return None;
    }
    let (mut frac, mut prec) = (0, Precision::Second);
    if time.len() > 8 {
        if time[8] != b'.' {
            return None;
        }
        (frac, prec) = fraction(&time[9..])?;
    }
    Some(Timestamp::from_micros(instant(y, mo, d, h, mi, s) * 1_000_000 + frac, Some(0), prec))
}

/// nginx `$msec`: `1589212345.123` (seconds with millisecond resolution, UTC).
pub fn parse_epoch(b: &[u8]) -> Option<Timestamp> {
    let dot = memchr::memchr(b'.', b);
    let (int, frac) = match dot {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    if int.is_empty() || int.len() > 12 || !int.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs: i64 = std::str::from_utf8(int).ok()?.parse().ok()?;
    let (f, p) = match frac {
        Some(f) => fraction(f)?,
        None => (0, Precision::Second),
    };
    Some(Timestamp::from_micros(secs * 1_000_000 + f, Some(0), p))
}

/// Parse a duration in seconds with a fraction (`0.000073`, `-1`, `1.5`) into microseconds.
/// `-1` (the ELB's "no value") and `-` give `None`. One pass, no allocation (hot path).
#[inline]
pub fn parse_secs_micros(b: &[u8]) -> Option<i64> {
    let mut int: i64 = 0;
    let mut i = 0;
    while i < b.len() && b[i] != b'.' {
        let d = b[i].wrapping_sub(b'0');
        if d > 9 || i >= 12 {
            return None;
        }
        int = int * 10 + d as i64;
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let mut frac: i64 = 0;
    let mut scale: i64 = 1_000_000;
    if i < b.len() {
        i += 1; // '.'
        if i == b.len() {
            return None;
        }
        while i < b.len() {
            let d = b[i].wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            if scale > 1 {
                scale /= 10;
                frac += d as i64 * scale;
            }
            i += 1;
        }
    }
    Some(int * 1_000_000 + frac)
}

/// Parse a human duration for `--since`: `90s`, `15m`, `2h`, `3d`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<std::time::Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| anyhow::anyhow!("'{s}' is not a duration: use e.g. 90s, 15m, 2h or 3d"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(anyhow::anyhow!("'{s}' has an unknown unit '{unit}': use s, m, h or d")),
    };
    let secs = n.checked_mul(mult).map(|v| v as f64).unwrap_or(f64::INFINITY);
    crate::limits::SINCE.check("a duration", secs).map_err(|e| anyhow::anyhow!("'{s}': {e}"))?;
    Ok(std::time::Duration::from_secs(secs as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_with_micros() {
        let t = parse_iso8601(b"2015-05-13T23:39:43.945958Z").unwrap();
        assert_eq!(t.micros, 1_431_560_383_945_958);
        assert_eq!(t.precision, Precision::Micro);
        assert_eq!(t.offset, Some(0));
        assert_eq!(t.to_rfc3339(), "2015-05-13T23:39:43.945958Z");
    }

    #[test]
    fn iso_with_offset() {
        let t = parse_iso8601(b"2026-01-01T10:00:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-01T08:00:00Z");
        assert_eq!(t.offset, Some(7200));
        assert!(parse_iso8601(b"2026-13-01T10:00:00Z").is_none());
        assert!(parse_iso8601(b"2026-01-01T10:00:00+2").is_none());
    }

    #[test]
    fn clf() {
        let t = parse_clf(b"10/Oct/2000:13:55:36 -0700").unwrap();
        assert_eq!(t.to_rfc3339(), "2000-10-10T20:55:36Z");
        assert_eq!(t.offset, Some(-7 * 3600));
        assert!(parse_clf(b"10/Foo/2000:13:55:36 -0700").is_none());
    }

    #[test]
    fn error_log_times() {
        let t = parse_nginx_error(b"2024/11/03 06:09:29").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-11-03T06:09:29");
        let t = parse_apache_error(b"Wed Jun 17 13:08:52.089713 2020").unwrap();
        assert_eq!(t.to_rfc3339(), "2020-06-17T13:08:52.089713");
        let t = parse_apache_error(b"Fri Jun 14 21:50:41 2013").unwrap();
        assert_eq!(t.to_rfc3339(), "2013-06-14T21:50:41");
        let t = parse_apache_error(b"Mon Jan  6 01:02:03 2025").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-01-06T01:02:03");
    }

    #[test]
    fn w3c_and_epoch() {
        assert_eq!(parse_w3c(b"2016-01-10", b"00:07:26").unwrap().to_rfc3339(), "2016-01-10T00:07:26Z");
        let t = parse_epoch(b"1589212345.123").unwrap();
        assert_eq!(t.to_rfc3339(), "2020-05-11T15:52:25.123Z");
    }

    #[test]
    fn day_cache_agrees() {
        let mut c = DayCache::default();
        for s in ["2015-05-13T23:39:43.945958Z", "2015-05-13T23:59:59Z", "2015-05-14T00:00:00.5+02:00", "2015-05-14T00:00:01Z", "2015-05-14X00:00:01Z"] {
            assert_eq!(c.iso8601(s.as_bytes()), parse_iso8601(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn civil_roundtrip() {
        for z in [-1_000_000i64, -1, 0, 1, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn secs() {
        assert_eq!(parse_secs_micros(b"0.000073"), Some(73));
        assert_eq!(parse_secs_micros(b"1.5"), Some(1_500_000));
        assert_eq!(parse_secs_micros(b"-1"), None);
        assert_eq!(parse_secs_micros(b"12"), Some(12_000_000));
        assert_eq!(parse_duration("15m").unwrap().as_secs(), 900);
        assert!(parse_duration("15y").is_err());
    }
}

/// `UTC+05:30`.
pub fn format_offset(secs: i32) -> String {
    format!("UTC{}{:02}:{:02}", if secs < 0 { '-' } else { '+' }, secs.abs() / 3600, secs.abs() % 3600 / 60)
}

/// The time zone of times written without an offset (nginx and Apache error logs).
#[derive(Clone, Debug)]
pub enum Zone {
    /// A fixed offset, seconds east of UTC (the offset the same server's access log writes).
    Fixed(i32),
    /// A zone's rules, daylight saving included (the host's `/etc/localtime`).
    Rules(std::sync::Arc<tz::TimeZone>),
}

impl Zone {
    /// Rules from a TZif file's bytes (`/etc/localtime`).
    pub fn from_tzif(bytes: &[u8]) -> Option<Zone> {
        tz::TimeZone::from_tz_data(bytes).ok().map(|z| Zone::Rules(std::sync::Arc::new(z)))
    }

    /// The zone to read times written without an offset in (error logs): the offset an access log
    /// of the same server writes (`access`: it and why), else the host's zone, else none — with
    /// how to say where it came from.
    pub fn for_local_times(access: Option<(i32, String)>, host: Option<&(Zone, String)>) -> Option<(Zone, String)> {
        match (access, host) {
            (Some((o, why)), _) => Some((Zone::Fixed(o), format!("{}, {why}", format_offset(o)))),
            (None, Some((z, from))) => Some((z.clone(), format!("the host's time zone ({from})"))),
            (None, None) => None,
        }
    }

    /// The zone of the host (or tree) `root` stands for: its `/etc/localtime`, and that path.
    pub fn host(root: &crate::paths::Root) -> Option<(Zone, String)> {
        let p = std::path::Path::new("/etc/localtime");
        let zone = Zone::from_tzif(&root.read(p, 1 << 20).ok()?)?;
        Some((zone, root.host(p).display().to_string()))
    }

    fn offset_at(&self, unix: i64) -> i32 {
        match self {
            Zone::Fixed(o) => *o,
            Zone::Rules(z) => z.find_local_time_type(unix).map_or(0, |t| t.ut_offset()),
        }
    }

    /// The instant of a wall-clock reading in this zone (a [`Timestamp`] with no offset), with
    /// the offset it had then. In the hour a clock is set back, the earlier instant is taken.
    pub fn resolve(&self, t: Timestamp) -> Timestamp {
        if t.offset.is_some() {
            return t;
        }
        let wall = t.micros.div_euclid(1_000_000);
        // The offsets in force a day before and a day after; the reading is in one of them (the
        // one whose instant has that offset). Both: the hour set back, the earlier instant (the
        // larger offset). Neither: the hour skipped, read with the offset before it.
        let (before, after) = (self.offset_at(wall - 86_400), self.offset_at(wall + 86_400));
        let fits = |o: i32| self.offset_at(wall - o as i64) == o;
        let off = match (fits(before), fits(after)) {
            (true, true) => before.max(after),
            (true, false) => before,
            (false, true) => after,
            (false, false) => before,
        };
        Timestamp::from_micros(t.micros - off as i64 * 1_000_000, Some(off), t.precision)
    }
}

#[cfg(test)]
mod zone_tests {
    use super::*;

    #[test]
    fn wall_clock_readings_resolve_in_their_zone() {
        let wall = |s: &str| parse_nginx_error(s.as_bytes()).unwrap();
        let fixed = Zone::Fixed(3600);
        assert_eq!(fixed.resolve(wall("2026/11/28 10:00:00")).to_rfc3339(), "2026-11-28T09:00:00Z");
        // Europe/Paris from the host's zoneinfo (tzdata): CET in winter, CEST in summer.
        let Ok(bytes) = std::fs::read("/usr/share/zoneinfo/Europe/Paris") else { return };
        let paris = Zone::from_tzif(&bytes).unwrap();
        assert_eq!(paris.resolve(wall("2026/01/15 12:00:00")).to_rfc3339(), "2026-01-15T11:00:00Z");
        assert_eq!(paris.resolve(wall("2026/07/15 12:00:00")).to_rfc3339(), "2026-07-15T10:00:00Z");
        // Just after the spring change (02:00 → 03:00 on 29 March 2026) and inside the autumn
        // hour that happens twice (25 October 2026, 02:00-03:00 CEST then CET).
        assert_eq!(paris.resolve(wall("2026/03/29 03:30:00")).to_rfc3339(), "2026-03-29T01:30:00Z");
        assert_eq!(paris.resolve(wall("2026/10/25 02:30:00")).to_rfc3339(), "2026-10-25T00:30:00Z");
        assert!(Zone::from_tzif(b"not a tzif file").is_none());
    }
}
