//! A forward-only tokenizer over one line: space-separated tokens and `"`-quoted tokens.

/// The first space in `b`.
#[inline]
pub fn find_space(b: &[u8]) -> Option<usize> {
    find_byte(b, b' ')
}

/// The first `needle` in `b`: eight bytes at a time (fields are short, so this beats memchr's
/// set-up cost), then byte by byte for the tail.
#[inline]
pub fn find_byte(b: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let sp: u64 = LO * needle as u64;
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().unwrap()) ^ sp;
        let z = w.wrapping_sub(LO) & !w & HI;
        if z != 0 {
            return Some(i + (z.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while i < b.len() {
        if b[i] == needle {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Reads tokens from the front of a line. Allocation-free.
pub struct Cursor<'a> {
    pub rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(line: &'a [u8]) -> Self {
        Cursor { rest: line }
    }

    /// The next token up to a single space (or the end). `None` when nothing is left.
    #[inline]
    pub fn token(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        match find_space(self.rest) {
            Some(i) => {
                let t = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                Some(t)
            }
            None => {
                let t = self.rest;
                self.rest = &self.rest[self.rest.len()..];
                Some(t)
            }
        }
    }

    /// A `"`-quoted token: the content up to the first `"` that is followed by a space or the end
    /// of the line (servers that do not escape quotes still end the field that way). An unquoted
    /// token is returned as [`Cursor::token`] would.
    #[inline]
    pub fn quoted(&mut self) -> Option<&'a [u8]> {
        self.quoted_with(false)
    }

    /// As [`Cursor::quoted`], where a `"` after an odd number of backslashes is part of the value.
    pub fn quoted_escaped(&mut self) -> Option<&'a [u8]> {
        self.quoted_with(true)
    }

    #[inline]
    fn quoted_with(&mut self, escapes: bool) -> Option<&'a [u8]> {
        if self.rest.first() != Some(&b'"') {
            return self.token();
        }
        let body = &self.rest[1..];
        let mut from = 0;
        while let Some(i) = memchr::memchr(b'"', &body[from..]) {
            let q = from + i;
            let escaped = escapes && body[..q].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1;
            match body.get(q + 1) {
                _ if escaped => from = q + 1,
                None => {
                    self.rest = &body[body.len()..];
                    return Some(&body[..q]);
                }
                Some(b' ') => {
                    self.rest = &body[q + 2..];
                    return Some(&body[..q]);
                }
                _ => from = q + 1,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_finder_agrees_with_a_plain_search() {
        let cases: &[&[u8]] = &[b"", b" ", b"abc", b"abcdefgh ", b"abcdefghijklmno p", b"\x80\xa0 x", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff "];
        for c in cases {
            assert_eq!(find_space(c), c.iter().position(|&b| b == b' '), "{c:?}");
        }
        for n in 0..40 {
            let mut v = vec![b'x'; n];
            v.push(b' ');
            v.extend_from_slice(b"  tail");
            assert_eq!(find_space(&v), Some(n));
        }
    }

    #[test]
    fn tokens() {
        let mut c = Cursor::new(br#"a "b c" "d"e" f "#);
        assert_eq!(c.token(), Some(&b"a"[..]));
        assert_eq!(c.quoted(), Some(&b"b c"[..]));
        assert_eq!(c.quoted(), Some(&br#"d"e"#[..]));
        assert_eq!(c.token(), Some(&b"f"[..]));
        assert_eq!(c.token(), None);
        let mut c = Cursor::new(br#""unterminated"#);
        assert_eq!(c.quoted(), None);
    }
}
