//! nginx configuration tokenizer, following `ngx_conf_read_token` (and crossplane for
//! `*_by_lua_block` bodies).
//!
//! - Tokens are separated by whitespace; `;`, `{` and `}` are tokens of their own.
//! - `#` starts a comment only at the start of a token (`a#b` is one token).
//! - Quotes (`"` or `'`) only open at the start of a token and end at the matching quote;
//!   `"left"-quote` is two tokens, `right-"quote"` one.
//! - A backslash escapes the next character; after the token is complete, `\"`, `\'`, `\\`
//!   lose their backslash and `\t`, `\r`, `\n` become control characters, as nginx does.
//! - `${` does not open a block (`${uri}`).
//! - The body of a `*_by_lua_block { … }` directive is Lua: it is captured raw as the directive's
//!   last argument (braces inside Lua strings and comments do not count).

/// One token with the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub line: usize,
    /// Written in quotes (so `;`, `{`, `}` in it are text, and `"{"` is not a block).
    pub quoted: bool,
}

/// A lexing problem (unterminated quote, …) with its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub line: usize,
    pub message: String,
}

/// A quoted string's escapes, as nginx's config parser undoes them: `\"`, `\'`, `\\`, `\t`, `\r`,
/// `\n` (any other `\` stays).
fn unescape(raw: &[u8]) -> String {
    let out = crate::format::escape::unbackslash(raw, |r| match r[0] {
        b'"' | b'\'' | b'\\' => Some((r[0], 1)),
        b't' => Some((b'\t', 1)),
        b'r' => Some((b'\r', 1)),
        b'n' => Some((b'\n', 1)),
        _ => None,
    });
    crate::paths::bytes_text(&out)
}

/// Tokenize a whole file.
pub fn lex(src: &[u8]) -> (Vec<Token>, Vec<LexError>) {
    let mut toks: Vec<Token> = Vec::new();
    let mut errs = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let n = src.len();
    // Whether the next token is in directive-name position (after `;`, `{`, `}` or at start).
    let mut at_statement_start = true;
    let mut lua_pending = false;
    while i < n {
        let c = src[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' => {
                while i < n && src[i] != b'\n' {
                    i += 1;
                }
            }
            b';' | b'}' => {
                toks.push(Token { text: (c as char).to_string(), line, quoted: false });
                at_statement_start = true;
                lua_pending = false;
                i += 1;
            }
            b'{' => {
                at_statement_start = true;
                i += 1;
                if !lua_pending {
                    toks.push(Token { text: "{".into(), line, quoted: false });
                } else {
                    // The Lua body becomes the directive's last argument: `x_by_lua_block BODY;`
                    lua_pending = false;
                    let start_line = line;
                    match lua_body(src, i, &mut line) {
                        Some((body, end)) => {
                            toks.push(Token { text: body, line: start_line, quoted: true });
                            toks.push(Token { text: ";".into(), line, quoted: false });
                            i = end + 1;
                        }
                        None => {
                            errs.push(LexError { line: start_line, message: "unterminated *_by_lua_block".into() });
                            return (toks, errs);
                        }
                    }
                }
            }
            b'"' | b'\'' => {
                let q = c;
                let start_line = line;
                let mut j = i + 1;
                while j < n && src[j] != q {
                    if src[j] == b'\\' && j + 1 < n {
                        if src[j + 1] == b'\n' {
                            line += 1;
                        }
                        j += 2;
                        continue;
                    }
                    if src[j] == b'\n' {
                        line += 1;
                    }
                    j += 1;
                }
                if j >= n {
                    errs.push(LexError { line: start_line, message: "unexpected end of file, expecting a closing quote".into() });
                    return (toks, errs);
                }
                let text = unescape(&src[i + 1..j]);
                if at_statement_start && text.ends_with("_by_lua_block") {
                    lua_pending = true;
                }
                toks.push(Token { text, line: start_line, quoted: true });
                at_statement_start = false;
                i = j + 1;
            }
            _ => {
                let start = i;
                let start_line = line;
                while i < n {
                    let d = src[i];
                    if d == b'\\' && i + 1 < n {
                        if src[i + 1] == b'\n' {
                            line += 1;
                        }
                        i += 2;
                        continue;
                    }
                    if matches!(d, b' ' | b'\t' | b'\r' | b'\n' | b';') {
                        break;
                    }
                    if d == b'{' {
                        // `${var}`: not a block
                        if i > start
                            && src[i - 1] == b'$'
                            && let Some(k) = src[i..].iter().position(|&x| x == b'}')
                        {
                            i += k + 1;
                            continue;
                        }
                        break;
                    }
                    if d == b'}' {
                        break;
                    }
                    if (d == b'"' || d == b'\'') && i == start {
                        break;
                    }
                    i += 1;
                }
                let text = unescape(&src[start..i]);
                if at_statement_start && text.ends_with("_by_lua_block") {
                    lua_pending = true;
                }
                at_statement_start = false;
                toks.push(Token { text, line: start_line, quoted: false });
            }
        }
    }
    (toks, errs)
}

/// Capture a Lua block body starting right after its `{`: returns the body and the index of
/// the closing `}`. Lua strings ('…', "…", [[…]]) and comments (`--`, `--[[ ]]`) are skipped.
fn lua_body(src: &[u8], start: usize, line: &mut usize) -> Option<(String, usize)> {
    let mut depth = 1;
    let mut i = start;
    let n = src.len();
    while i < n {
        match src[i] {
            b'\n' => *line += 1,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((crate::paths::bytes_text(&src[start..i]), i));
                }
            }
            b'-' if src.get(i + 1) == Some(&b'-') => {
                if src[i + 2..].starts_with(b"[[") {
                    let end = find(src, i + 4, b"]]")?;
                    *line += src[i..end].iter().filter(|&&c| c == b'\n').count();
                    i = end + 2;
                    continue;
                }
                while i < n && src[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'[' if src.get(i + 1) == Some(&b'[') => {
                let end = find(src, i + 2, b"]]")?;
                *line += src[i..end].iter().filter(|&&c| c == b'\n').count();
                i = end + 2;
                continue;
            }
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < n && src[i] != q {
                    if src[i] == b'\\' {
                        i += 1;
                    } else if src[i] == b'\n' {
                        *line += 1;
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn find(src: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    src.get(from..)?.windows(pat.len()).position(|w| w == pat).map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_escapes_are_nginx_s() {
        // ngx_conf_read_token: \" \' \\ \t \r \n are undone, any other backslash stays.
        assert_eq!(unescape(br#"a\"b\'c\\d\te\rf\ng\qh\x41"#), "a\"b'c\\d\te\rf\ng\\qh\\x41");
        assert_eq!(unescape(br"trailing\"), "trailing\\");
    }

    fn texts(src: &str) -> Vec<String> {
        lex(src.as_bytes()).0.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn basics() {
        assert_eq!(texts("a b;c{d;}"), ["a", "b", ";", "c", "{", "d", ";", "}"]);
        assert_eq!(texts("x a#b; # comment\ny;"), ["x", "a#b", ";", "y", ";"]);
        assert_eq!(texts(r#""left"-quote right-"quote";"#), ["left", "-quote", "right-\"quote\"", ";"]);
        assert_eq!(texts(r#"a "b\"c" 'd;e' \#x;"#), ["a", "b\"c", "d;e", "\\#x", ";"]);
        assert_eq!(texts("try_files /abc/${uri} =404;"), ["try_files", "/abc/${uri}", "=404", ";"]);
        assert_eq!(texts("a \"\";"), ["a", "", ";"]);
    }

    #[test]
    fn lua_blocks_are_raw() {
        let t = texts("content_by_lua_block { local s = \"}\" -- }\n a = {1} }\nserver_name content_by_lua_block;");
        assert_eq!(t[0], "content_by_lua_block");
        assert!(t[1].contains("a = {1}"));
        assert_eq!(&t[2..], [";", "server_name", "content_by_lua_block", ";"]);
    }

    #[test]
    fn lines_and_errors() {
        let (t, e) = lex(b"a\n\"multi\nline\"\nb;");
        assert_eq!(t.iter().map(|t| t.line).collect::<Vec<_>>(), [1, 2, 4, 4]);
        assert!(e.is_empty());
        let (_, e) = lex(b"a \"open");
        assert_eq!(e[0].line, 1);
    }
}
