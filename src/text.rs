//! How text that came from outside — a log line, a config file, a file name, a server's
//! response — is shown in text output. One function decides it, [`escape`]: log lines are
//! attacker-controlled, and raw control bytes would reach the operator's terminal (`ESC [2J`
//! clears it, OSC 52 writes the clipboard, OSC 0 sets the title).
//!
//! Shown escaped, whether or not stdout is a terminal:
//! - C0 controls and DEL as `\xNN` (ESC is `\x1B`, NUL `\x00`), newline and CR included, so a
//!   field cannot forge an output line; a tab stays a tab;
//! - C1 controls (U+0080–U+009F: a lone U+009B is a CSI on some terminals) and the bidirectional
//!   overrides and isolates (U+202A–U+202E, U+2066–U+2069, which reorder what is shown) as `\u{…}`;
//! - invalid UTF-8 (in [`escape_bytes`]) as `\xNN`, and so the bytes of a non-UTF-8 file name
//!   that discovery carries as U+F780–U+F7FF ([`crate::paths::bytes_text`]).
//!
//! JSON and NDJSON output need none of this: serde_json escapes every control character.
//!
//! [`SafeWriter`] is the backstop under every text report: it applies the same rule to the bytes
//! written, letting through only the newlines and tabs of the layout and, when colour is on, the
//! SGR sequences (`ESC [ … m`) of [`crate::report::Style`].

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Whether `c` must be shown escaped.
fn hostile(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0a'..='\x1f' | '\x7f'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{f780}'..='\u{f7ff}')
}

fn push_escaped(out: &mut String, c: char) {
    if (0xF780..=0xF7FF).contains(&(c as u32)) {
        let _ = write!(out, "\\x{:02X}", c as u32 - 0xF700);
    } else if (c as u32) < 0x80 {
        let _ = write!(out, "\\x{:02X}", c as u32);
    } else {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
}

/// `s` with every control character shown as an escape (see the module documentation).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hostile) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hostile(c) { push_escaped(&mut out, c) } else { out.push(c) }
    }
    Cow::Owned(out)
}

/// Bytes that may not be UTF-8: valid runs as [`escape`] shows them, each invalid byte as `\xNN`.
pub fn escape_bytes(b: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(b) {
        return escape(s);
    }
    let mut out = String::with_capacity(b.len() + 8);
    for chunk in b.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for x in chunk.invalid() {
            let _ = write!(out, "\\x{x:02X}");
        }
    }
    Cow::Owned(out)
}

/// A writer that shows every control byte escaped except `\n` and `\t` and, with `sgr`, the
/// colour sequences `ESC [ digits;… m`.
pub struct SafeWriter<W: Write> {
    inner: W,
    sgr: bool,
}

impl<W: Write> SafeWriter<W> {
    /// Wrap `inner`; `sgr`: let colour sequences through (writing to a terminal).
    pub fn new(inner: W, sgr: bool) -> SafeWriter<W> {
        SafeWriter { inner, sgr }
    }

    /// The inner writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Length of the SGR sequence at the start of `b` (`ESC [ [0-9;]* m`), if there is one.
fn sgr_len(b: &[u8]) -> Option<usize> {
    if b.len() < 3 || b[0] != 0x1b || b[1] != b'[' {
        return None;
    }
    let n = b[2..].iter().take_while(|c| c.is_ascii_digit() || **c == b';').count();
    (b.get(2 + n) == Some(&b'm')).then_some(n + 3)
}

impl<W: Write> Write for SafeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let b = text.as_bytes();
        let mut clean = 0;
        let mut i = 0;
        let mut out = Vec::new();
        while i < b.len() {
            if self.sgr
                && let Some(n) = sgr_len(&b[i..])
            {
                i += n;
                continue;
            }
            let c = b[i];
            let bad_c0 = (c < 0x20 && c != b'\n' && c != b'\t') || c == 0x7f;
            // C1 controls and bidi controls are multi-byte in UTF-8: decode the char here.
            let multi = c >= 0xc2 && {
                let ch = text[i..].chars().next().expect("i is a char boundary");
                hostile(ch)
            };
            if bad_c0 || multi {
                out.extend_from_slice(&b[clean..i]);
                let ch = text[i..].chars().next().expect("i is a char boundary");
                let mut s = String::new();
                push_escaped(&mut s, ch);
                out.extend_from_slice(s.as_bytes());
                i += ch.len_utf8();
                clean = i;
            } else {
                i += 1;
            }
        }
        if clean == 0 {
            self.inner.write_all(b)?;
        } else {
            out.extend_from_slice(&b[clean..]);
            self.inner.write_all(&out)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_escaped() {
        assert_eq!(escape("GET /a b"), Cow::Borrowed("GET /a b"));
        assert_eq!(escape("a\x1b[2Jb"), "a\\x1B[2Jb");
        assert_eq!(escape("\x1b]52;c;ZXZpbA==\x07"), "\\x1B]52;c;ZXZpbA==\\x07");
        assert_eq!(escape("nul\0 del\x7f cr\r lf\n tab\t"), "nul\\x00 del\\x7F cr\\x0D lf\\x0A tab\t");
        assert_eq!(escape("c1 \u{9b}31m bidi \u{202e}txt.exe"), "c1 \\u{9b}31m bidi \\u{202e}txt.exe");
        assert_eq!(escape("ünïcode ✓"), "ünïcode ✓");
        assert_eq!(escape_bytes(b"ok \xff\xfe \x1b"), "ok \\xFF\\xFE \\x1B");
    }

    #[test]
    fn the_writer_keeps_layout_and_our_colours_only() {
        let mut w = SafeWriter::new(Vec::new(), true);
        write!(w, "\x1b[31mred\x1b[0m\tx\n\x1b]0;title\x07 \x1b[2J \u{9b}").unwrap();
        assert_eq!(String::from_utf8(w.into_inner()).unwrap(), "\x1b[31mred\x1b[0m\tx\n\\x1B]0;title\\x07 \\x1B[2J \\u{9b}");
        let mut w = SafeWriter::new(Vec::new(), false);
        write!(w, "\x1b[31mred\x1b[0m").unwrap();
        assert_eq!(String::from_utf8(w.into_inner()).unwrap(), "\\x1B[31mred\\x1B[0m");
        let mut w = SafeWriter::new(Vec::new(), false);
        w.write_all(b"bad \xff utf8\n").unwrap();
        assert_eq!(String::from_utf8(w.into_inner()).unwrap(), "bad \u{fffd} utf8\n");
    }
}
