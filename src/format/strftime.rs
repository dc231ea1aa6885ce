//! Times written with a `strftime(3)` pattern: Apache's `%{format}t` (mod_log_config formats the
//! request time with `apr_strftime`, which is the C library's `strftime`), and its
//! `%{msec_frac}t` / `%{usec_frac}t` / `%{sec}t`… pieces.
//!
//! A pattern compiles to a list of [`Item`]s; matching a line walks them once and also finds where
//! the time ends (a pattern such as `%Y-%m-%d %H:%M:%S` contains spaces, so the field's end cannot
//! be the next literal of the log format). One log format may split a time over several fields
//! (`[%{%d/%b/%Y:%H:%M:%S}t.%{msec_frac}t %{%z}t]`): each fills some [`Parts`], and the parts of a
//! line make one timestamp. Without `%z` the time is the server's local time, of unknown offset
//! (as in error logs: see [`crate::time::Timestamp::offset`]).

use crate::time::{Precision, Timestamp};

/// One element of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Lit(Box<[u8]>),
    /// A number of 1..=`max` digits (`%e`: a space may pad it).
    Num(Unit, u8),
    /// `%b`/`%h` (`Jan`) or `%B` (`January`).
    MonthName,
    /// `%a`/`%A`: matched (letters), not used.
    Weekday,
    /// `%p`: `AM`/`PM`.
    AmPm,
    /// `%z`: `+0100` (also `+01:00`, and `Z`).
    Offset,
    /// `%Z`: a zone abbreviation (letters): matched, not used.
    ZoneName,
    /// `%s`: seconds since the epoch.
    Epoch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Year,
    Year2,
    Month,
    Day,
    DayOfYear,
    Hour,
    Hour12,
    Minute,
    Second,
}

/// What the time fields of one line said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parts {
    pub year: Option<i32>,
    pub month: Option<u32>,
    pub day: Option<u32>,
    pub yday: Option<u32>,
    pub hour: Option<u32>,
    pub pm: Option<bool>,
    pub minute: Option<u32>,
    pub second: Option<u32>,
    /// Microseconds and how finely they were written.
    pub frac: Option<(i64, Precision)>,
    pub offset: Option<i32>,
    pub epoch_us: Option<(i64, Precision)>,
}

impl Parts {
    pub fn is_empty(&self) -> bool {
        *self == Parts::default()
    }

    /// The instant, when the parts name one: an epoch, or a date and a time of day.
    pub fn timestamp(&self) -> Option<Timestamp> {
        if let Some((us, prec)) = self.epoch_us {
            return Some(Timestamp::from_micros(us, Some(0), prec));
        }
        let y = self.year?;
        let (m, d) = match (self.month, self.day, self.yday) {
            (Some(m), Some(d), _) => (m, d),
            (_, _, Some(yd)) if (1..=366).contains(&yd) => {
                let days = crate::time::days_from_civil(y as i64, 1, 1) + yd as i64 - 1;
                let (_, m, d) = crate::time::civil_from_days(days);
                (m, d)
            }
            _ => return None,
        };
        let mut h = self.hour.unwrap_or(0);
        if let Some(pm) = self.pm {
            if !(1..=12).contains(&h) {
                return None;
            }
            h = h % 12 + if pm { 12 } else { 0 };
        }
        let (mi, s) = (self.minute.unwrap_or(0), self.second.unwrap_or(0));
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let days = crate::time::days_from_civil(y as i64, m, d);
        let (fy, fm, fd) = crate::time::civil_from_days(days);
        if (fy, fm, fd) != (y as i64, m, d) {
            return None; // 31 February
        }
        let secs = days * 86_400 + (h * 3600 + mi * 60 + s.min(59)) as i64 - self.offset.unwrap_or(0) as i64;
        let (frac, prec) = self.frac.unwrap_or((0, Precision::Second));
        Some(Timestamp::from_micros(secs * 1_000_000 + frac, self.offset, prec))
    }

    /// Add what another field of the same line said.
    pub fn merge(&mut self, o: &Parts) {
        macro_rules! take {
            ($($f:ident),*) => { $( if o.$f.is_some() { self.$f = o.$f; } )* };
        }
        take!(year, month, day, yday, hour, pm, minute, second, frac, offset, epoch_us);
    }
}

/// A compiled `strftime` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub items: Vec<Item>,
}

impl Pattern {
    /// Compile `pat`; a conversion that cannot be read back (`%c`, `%x`, `%U`…, or unknown) is an
    /// error naming it.
    pub fn compile(pat: &str) -> anyhow::Result<Pattern> {
        let b = pat.as_bytes();
        let mut items = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        let push = |items: &mut Vec<Item>, lit: &mut Vec<u8>, it: Vec<Item>| {
            if !lit.is_empty() {
                items.push(Item::Lit(std::mem::take(lit).into_boxed_slice()));
            }
            items.extend(it);
        };
        while i < b.len() {
            if b[i] != b'%' {
                lit.push(b[i]);
                i += 1;
                continue;
            }
            // (glibc's flags and E/O modifiers: `%-d`, `%Ey`)
            i += 1;
            while i < b.len() && matches!(b[i], b'-' | b'_' | b'0' | b'^' | b'#' | b'E' | b'O') {
                i += 1;
            }
            let Some(&c) = b.get(i) else {
                return Err(anyhow::anyhow!("time format '{pat}': '%' at its end"));
            };
            i += 1;
            let num = |u, w| vec![Item::Num(u, w)];
            let lits = |s: &str| vec![Item::Lit(s.as_bytes().into())];
            let it = match c {
                b'%' => {
                    lit.push(b'%');
                    continue;
                }
                b'Y' => num(Unit::Year, 4),
                b'y' => num(Unit::Year2, 2),
                b'm' => num(Unit::Month, 2),
                b'd' | b'e' => num(Unit::Day, 2),
                b'j' => num(Unit::DayOfYear, 3),
                b'H' | b'k' => num(Unit::Hour, 2),
                b'I' | b'l' => num(Unit::Hour12, 2),
                b'M' => num(Unit::Minute, 2),
                b'S' => num(Unit::Second, 2),
                b'b' | b'h' | b'B' => vec![Item::MonthName],
                b'a' | b'A' => vec![Item::Weekday],
                b'p' | b'P' => vec![Item::AmPm],
                b'z' => vec![Item::Offset],
                b'Z' => vec![Item::ZoneName],
                b's' => vec![Item::Epoch],
                b'n' => lits("\n"),
                b't' => lits("\t"),
                b'T' => [num(Unit::Hour, 2), lits(":"), num(Unit::Minute, 2), lits(":"), num(Unit::Second, 2)].concat(),
                b'R' => [num(Unit::Hour, 2), lits(":"), num(Unit::Minute, 2)].concat(),
                b'F' => [num(Unit::Year, 4), lits("-"), num(Unit::Month, 2), lits("-"), num(Unit::Day, 2)].concat(),
                b'D' => [num(Unit::Month, 2), lits("/"), num(Unit::Day, 2), lits("/"), num(Unit::Year2, 2)].concat(),
                other => {
                    return Err(anyhow::anyhow!(
                        "time format '{pat}': %{} cannot be read back into a time (use %Y %m %d %H %M %S %z, %b, %F, %T, %s…)",
                        other as char
                    ));
                }
            };
            push(&mut items, &mut lit, it);
        }
        if !lit.is_empty() {
            items.push(Item::Lit(lit.into_boxed_slice()));
        }
        Ok(Pattern { items })
    }

    /// Match the start of `s`: what it says and how many bytes the time takes.
    pub fn match_at(&self, s: &[u8]) -> Option<(Parts, usize)> {
        let mut p = Parts::default();
        let mut at = 0usize;
        for it in &self.items {
            let rest = &s[at..];
            match it {
                Item::Lit(l) => {
                    if !rest.starts_with(l) {
                        return None;
                    }
                    at += l.len();
                }
                Item::Num(u, w) => {
                    // (`%e` and glibc's `%_d` pad with a space)
                    let pad = rest.iter().take(*w as usize - 1).take_while(|&&c| c == b' ').count();
                    let digits = rest[pad..].iter().take(*w as usize - pad).take_while(|c| c.is_ascii_digit()).count();
                    if digits == 0 {
                        return None;
                    }
                    let v: u32 = std::str::from_utf8(&rest[pad..pad + digits]).ok()?.parse().ok()?;
                    match u {
                        Unit::Year => p.year = Some(v as i32),
                        Unit::Year2 => p.year = Some(if v < 69 { 2000 + v as i32 } else { 1900 + v as i32 }),
                        Unit::Month => p.month = Some(v),
                        Unit::Day => p.day = Some(v),
                        Unit::DayOfYear => p.yday = Some(v),
                        Unit::Hour | Unit::Hour12 => p.hour = Some(v),
                        Unit::Minute => p.minute = Some(v),
                        Unit::Second => p.second = Some(v),
                    }
                    at += pad + digits;
                }
                Item::MonthName => {
                    let m = crate::time::month_name(rest)?;
                    p.month = Some(m.0);
                    at += m.1;
                }
                Item::Weekday | Item::ZoneName => {
                    let n = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
                    if n == 0 {
                        return None;
                    }
                    at += n;
                }
                Item::AmPm => {
                    let two = rest.get(..2)?.to_ascii_uppercase();
                    p.pm = Some(match &two[..] {
                        b"AM" => false,
                        b"PM" => true,
                        _ => return None,
                    });
                    at += 2;
                }
                Item::Offset => {
                    if rest.first() == Some(&b'Z') {
                        p.offset = Some(0);
                        at += 1;
                        continue;
                    }
                    let sign = match rest.first()? {
                        b'+' => 1,
                        b'-' => -1,
                        _ => return None,
                    };
                    let d = |r: &[u8]| -> Option<i32> { if r.iter().all(u8::is_ascii_digit) { std::str::from_utf8(r).ok()?.parse().ok() } else { None } };
                    let (h, m, n) =
                        if rest.get(3) == Some(&b':') { (d(rest.get(1..3)?)?, d(rest.get(4..6)?)?, 6) } else { (d(rest.get(1..3)?)?, d(rest.get(3..5)?)?, 5) };
                    if h > 23 || m > 59 {
                        return None;
                    }
                    p.offset = Some(sign * (h * 3600 + m * 60));
                    at += n;
                }
                Item::Epoch => {
                    let n = rest.iter().take(12).take_while(|c| c.is_ascii_digit()).count();
                    if n == 0 {
                        return None;
                    }
                    let v: i64 = std::str::from_utf8(&rest[..n]).ok()?.parse().ok()?;
                    p.epoch_us = Some((v * 1_000_000, Precision::Second));
                    at += n;
                }
            }
        }
        Some((p, at))
    }
}

/// `%{msec_frac}t` (3 digits) and `%{usec_frac}t` (6 digits): the fraction of the second.
pub fn fraction(s: &[u8], digits: usize) -> Option<(Parts, usize)> {
    let d = s.get(..digits)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: i64 = std::str::from_utf8(d).ok()?.parse().ok()?;
    let (us, prec) = if digits == 3 { (v * 1000, Precision::Milli) } else { (v, Precision::Micro) };
    Some((Parts { frac: Some((us, prec)), ..Parts::default() }, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(pat: &str, s: &str) -> Option<(String, usize)> {
        let (p, n) = Pattern::compile(pat).unwrap().match_at(s.as_bytes())?;
        Some((p.timestamp()?.to_rfc3339(), n))
    }

    #[test]
    fn patterns_read_back() {
        assert_eq!(ts("%Y-%m-%d %H:%M:%S", "2026-11-28 10:00:01 GET"), Some(("2026-11-28T10:00:01".into(), 19)));
        assert_eq!(ts("%d/%b/%Y:%H:%M:%S %z", "10/Oct/2000:13:55:36 -0700]"), Some(("2000-10-10T20:55:36Z".into(), 26)));
        assert_eq!(ts("%FT%T%z", "2026-01-01T10:00:00+01:00 x"), Some(("2026-01-01T09:00:00Z".into(), 25)));
        assert_eq!(ts("%a, %d %B %Y %I:%M:%S %p %Z", "Sat, 28 November 2026 01:02:03 PM UTC"), Some(("2026-11-28T13:02:03".into(), 37)));
        assert_eq!(ts("%s", "1764324001 x"), Some(("2025-11-28T10:00:01Z".into(), 10)));
        assert_eq!(ts("%e/%m/%y", " 1/02/26"), Some(("2026-02-01T00:00:00".into(), 8)));
        assert_eq!(ts("%Y-%m-%d", "2026-02-31"), None, "no 31 February");
        assert_eq!(ts("%Y-%m-%d", "2026-x2-01"), None);
        assert!(Pattern::compile("%c").is_err());
        assert!(Pattern::compile("%Y %").is_err());
    }

    #[test]
    fn split_times_make_one() {
        let mut p = Pattern::compile("%d/%b/%Y:%H:%M:%S").unwrap().match_at(b"10/Oct/2000:13:55:36").unwrap().0;
        p.merge(&fraction(b"123", 3).unwrap().0);
        p.merge(&Pattern::compile("%z").unwrap().match_at(b"-0700").unwrap().0);
        assert_eq!(p.timestamp().unwrap().to_rfc3339(), "2000-10-10T20:55:36.123Z");
    }
}
