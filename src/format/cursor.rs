//! A forward-only tokenizer over one line: space-separated tokens and `"`-quoted tokens.

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
        match memchr::memchr(b' ', self.rest) {
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
        if self.rest.first() != Some(&b'"') {
            return self.token();
        }
        let body = &self.rest[1..];
        let mut from = 0;
        while let Some(i) = memchr::memchr(b'"', &body[from..]) {
            let q = from + i;
            match body.get(q + 1) {
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

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
