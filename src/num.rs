//! Decimal numbers in log bytes: the one parser of each, shared by the log formats and the
//! timestamps (a leaf: it depends on nothing in the crate). Allocation-free; on the hot path.

/// A three-digit HTTP status (`009` → 9); anything else → `None`.
#[inline]
pub fn parse_status(b: &[u8]) -> Option<u16> {
    if b.len() != 3 {
        return None;
    }
    let (a, c, d) = (b[0].wrapping_sub(b'0'), b[1].wrapping_sub(b'0'), b[2].wrapping_sub(b'0'));
    if a > 9 || c > 9 || d > 9 {
        return None;
    }
    Some(a as u16 * 100 + c as u16 * 10 + d as u16)
}

/// A decimal `u64` (no sign, no spaces, at most 19 digits).
#[inline]
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + d as u64;
    }
    Some(v)
}
