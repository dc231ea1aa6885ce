//! lighttpd: `var.*` variables, `+` concatenation, `include` (globs), `server.modules`,
//! `accesslog.filename`, `server.errorlog`; conditional blocks are walked. `include_shell` runs a
//! program in lighttpd: tailgate never runs it, and says so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{ConfigReadError, LogKind, Origin, ServerKind, Source, Target, Warning};
use crate::paths::{Root, has_glob};

/// lighttpd's default `accesslog.format`.
pub const DEFAULT_FORMAT: &str = r#"%h %V %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Str(String),
    Word(String),
    Op(String),
    Num(i64),
}

fn lex(src: &str) -> Vec<(Tok, usize)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            _ if c.is_ascii_whitespace() => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    // (lighttpd's tokenizer unescapes `\"` only: `"^b\."` is the regex `^b\.`)
                    if b[i] == b'\\' && b.get(i + 1) == Some(&b'"') {
                        s.push(b'"');
                        i += 2;
                        continue;
                    }
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    s.push(b[i]);
                    i += 1;
                }
                i += 1;
                out.push((Tok::Str(String::from_utf8_lossy(&s).into_owned()), line));
            }
            b'0'..=b'9' => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                out.push((Tok::Num(src[start..i].parse().unwrap_or(0)), line));
            }
            b'(' | b')' | b'{' | b'}' | b',' => {
                out.push((Tok::Op((c as char).to_string()), line));
                i += 1;
            }
            b'=' | b'+' | b':' | b'!' | b'>' | b'<' | b'~' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'=' | b'+' | b':' | b'!' | b'>' | b'<' | b'~') {
                    i += 1;
                }
                out.push((Tok::Op(src[start..i].to_string()), line));
            }
            _ => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'.' | b'_' | b'-' | b'$' | b'[' | b']')) {
                    if b[i] == b'[' {
                        // $HTTP["host"]: keep the bracketed key in the word
                        while i < b.len() && b[i] != b']' {
                            i += 1;
                        }
                    }
                    i += 1;
                }
                if i == start {
                    i += 1; // unknown byte
                    continue;
                }
                out.push((Tok::Word(src[start..i].to_string()), line));
            }
        }
    }
    out
}

/// The result of reading a lighttpd configuration.
#[derive(Debug, Default)]
pub struct Config {
    /// The logs found, with their origins.
    pub sources: Vec<Source>,
    /// What is worth telling about the configuration.
    pub warnings: Vec<Warning>,
    /// Every config file read (instance paths), in order.
    pub files: Vec<String>,
}

#[derive(Default)]
struct State {
    vars: HashMap<String, String>,
    modules: Vec<String>,
    /// Every `accesslog.filename`, with the conditional blocks it is in (`$HTTP["host"] == …`):
    /// lighttpd writes each request to the one its conditions select.
    accesslog: Vec<(String, Origin, Vec<String>)>,
    access_syslog: bool,
    errorlog: Option<(String, Origin)>,
    format: Option<String>,
    syslog_errors: bool,
}

struct Reader<'a> {
    root: &'a Root,
    stack: Vec<PathBuf>,
    st: State,
    out: Config,
    budget: super::Budget,
    /// Cycles already reported (each once).
    cycles: std::collections::HashSet<PathBuf>,
    /// The conditional blocks being read, as written.
    conds: Vec<String>,
}

impl Reader<'_> {
    fn warn(&mut self, origin: Origin, message: String) {
        self.out.warnings.push(Warning { origin: Some(origin), message });
    }

    fn read(&mut self, path: &Path, from: Option<Origin>) {
        if self.stack.iter().any(|p| p == path) || self.stack.len() > 32 {
            if let Some(o) = from
                && self.cycles.insert(path.to_path_buf())
            {
                self.warn(o, format!("include cycle or nesting too deep at {}", path.display()));
            }
            return;
        }
        let data = match self.budget.read(self.root, path, from.as_ref()) {
            Ok(d) => d,
            Err(e) => {
                if let ConfigReadError::Refused(e) = e {
                    self.out.warnings.push(Warning { origin: from, message: e });
                }
                return;
            }
        };
        self.out.files.push(crate::paths::path_text(path));
        self.stack.push(path.to_path_buf());
        let file = crate::paths::path_text(path);
        let toks = lex(&crate::paths::bytes_text(&data));
        let mut i = 0;
        while i < toks.len() {
            let (t, line) = &toks[i];
            let origin = Origin { file: file.clone(), line: *line };
            i += 1;
            match t {
                Tok::Word(w) if w == "include" || w == "include_shell" => {
                    let (val, next) = self.expr(&toks, i);
                    i = next;
                    if w == "include_shell" {
                        self.warn(
                            origin,
                            format!("include_shell {} runs a program: not run by tailgate, whatever it would add is not seen", val.unwrap_or_default()),
                        );
                        continue;
                    }
                    let Some(p) = val else { continue };
                    // relative to the directory of the main config file (lighttpd's basedir)
                    let base = self.stack[0].parent().unwrap_or(Path::new("/")).to_path_buf();
                    let full = if Path::new(&p).is_absolute() { PathBuf::from(&p) } else { base.join(&p) };
                    let s = crate::paths::path_text(&full);
                    let files = if has_glob(&s) {
                        let mut unreadable = Vec::new();
                        let m = self.root.glob_noting(&s, &mut |w| unreadable.push(w));
                        for w in unreadable {
                            self.warn(origin.clone(), w);
                        }
                        m
                    } else {
                        vec![full]
                    };
                    for f in files {
                        self.read(&f, Some(origin.clone()));
                    }
                }
                Tok::Word(w) if w.starts_with('$') || w == "else" => {
                    // a conditional: its statements are read like any other, and the logs set
                    // in it are noted with it
                    let mut cond = w.clone();
                    while i < toks.len() && toks[i].0 != Tok::Op("{".into()) {
                        match &toks[i].0 {
                            Tok::Str(s) => cond.push_str(&format!("\"{s}\"")),
                            Tok::Word(x) => cond.push_str(&format!(" {x}")),
                            Tok::Op(o) if o == "[" || o == "]" => cond.push_str(o),
                            Tok::Op(o) => cond.push_str(&format!(" {o} ")),
                            Tok::Num(n) => cond.push_str(&n.to_string()),
                        }
                        i += 1;
                    }
                    i += 1;
                    self.conds.push(cond.replace("  ", " ").trim().to_string());
                }
                Tok::Op(o) if o == "}" => {
                    self.conds.pop();
                }
                Tok::Word(name) => {
                    let Some((Tok::Op(op), _)) = toks.get(i) else { continue };
                    let op = op.clone();
                    i += 1;
                    if name == "server.modules" {
                        let (mods, next) = array_strings(&toks, i);
                        i = next;
                        if op == "=" {
                            self.st.modules = mods;
                        } else {
                            self.st.modules.extend(mods);
                        }
                        continue;
                    }
                    let (val, next) = self.expr(&toks, i);
                    i = next;
                    let Some(v) = val else { continue };
                    let key = name.strip_prefix("var.").unwrap_or(name);
                    if name.starts_with("var.") {
                        let nv = if op == "+=" { self.st.vars.get(key).cloned().unwrap_or_default() + &v } else { v.clone() };
                        self.st.vars.insert(key.to_string(), nv);
                    }
                    match name.as_str() {
                        "accesslog.filename" => {
                            // (a later assignment under the same conditions replaces the earlier)
                            let conds = self.conds.clone();
                            self.st.accesslog.retain(|(_, _, c)| *c != conds);
                            self.st.accesslog.push((v, origin, conds));
                        }
                        "accesslog.use-syslog" if self.conds.is_empty() => self.st.access_syslog = v == "enable",
                        "server.errorlog" => self.st.errorlog = Some((v, origin)),
                        "accesslog.format" => self.st.format = Some(v),
                        "server.errorlog-use-syslog" => self.st.syslog_errors = v == "enable",
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        self.stack.pop();
    }

    /// `term (+ term)*` where a term is a string, a number or a variable; arrays are skipped.
    fn expr(&self, toks: &[(Tok, usize)], mut i: usize) -> (Option<String>, usize) {
        let mut out: Option<String> = None;
        while let Some((t, _)) = toks.get(i) {
            let piece = match t {
                Tok::Str(s) => Some(s.clone()),
                Tok::Num(n) => Some(n.to_string()),
                Tok::Word(w) => {
                    let k = w.strip_prefix("var.").unwrap_or(w);
                    match k.strip_prefix("env.") {
                        Some(e) => Some(std::env::var(e).unwrap_or_default()),
                        None => self.st.vars.get(k).cloned(),
                    }
                }
                Tok::Op(o) if o == "(" => {
                    let (_, next) = array_strings(toks, i);
                    return (None, next);
                }
                _ => break,
            };
            i += 1;
            out = Some(out.unwrap_or_default() + &piece.unwrap_or_default());
            if toks.get(i).map(|t| &t.0) == Some(&Tok::Op("+".into())) {
                i += 1;
                continue;
            }
            break;
        }
        (out, i)
    }
}

/// The strings of a `( "a", "b" => "c" )` array, and the index after it.
fn array_strings(toks: &[(Tok, usize)], mut i: usize) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    if toks.get(i).map(|t| &t.0) != Some(&Tok::Op("(".into())) {
        if let Some((Tok::Str(s), _)) = toks.get(i) {
            return (vec![s.clone()], i + 1);
        }
        return (out, i);
    }
    let mut depth = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Tok::Op(o) if o == "(" => depth += 1,
            Tok::Op(o) if o == ")" => {
                depth -= 1;
                if depth == 0 {
                    return (out, i + 1);
                }
            }
            Tok::Str(s) if depth == 1 => out.push(s.clone()),
            _ => {}
        }
        i += 1;
    }
    (out, i)
}

fn target(v: &str) -> Target {
    match v.strip_prefix('|') {
        Some(cmd) => Target::Pipe(cmd.to_string()),
        None => Target::File(v.to_string()),
    }
}

/// Read `conf` (instance path, e.g. /etc/lighttpd/lighttpd.conf) and list its logs.
pub fn discover(root: &Root, conf: &Path) -> Config {
    let mut r = Reader {
        root,
        stack: Vec::new(),
        st: State::default(),
        out: Config::default(),
        budget: Default::default(),
        cycles: Default::default(),
        conds: Vec::new(),
    };
    r.read(conf, None);
    let st = std::mem::take(&mut r.st);
    let mut sources = Vec::new();
    match (&st.errorlog, st.syslog_errors) {
        (_, true) => sources.push(Source {
            server: ServerKind::Lighttpd,
            kind: LogKind::Error,
            target: Target::Syslog("server.errorlog-use-syslog".into()),
            format: None,
            format_name: None,
            origin: None,
            note: Some("server.errorlog-use-syslog".into()),
            files: Vec::new(),
        }),
        (Some((p, o)), false) => sources.push(Source {
            server: ServerKind::Lighttpd,
            kind: LogKind::Error,
            target: target(p),
            format: None,
            format_name: None,
            origin: Some(o.clone()),
            note: None,
            files: Vec::new(),
        }),
        (None, false) => sources.push(Source {
            server: ServerKind::Lighttpd,
            kind: LogKind::Error,
            target: Target::Stderr,
            format: None,
            format_name: None,
            origin: None,
            note: Some("lighttpd default: no server.errorlog".into()),
            files: Vec::new(),
        }),
    }
    if st.modules.iter().any(|m| m == "mod_accesslog") {
        let fmt = st.format.clone().unwrap_or_else(|| DEFAULT_FORMAT.to_string());
        let access = |target: Target, origin: Option<Origin>, note: Option<String>| Source {
            server: ServerKind::Lighttpd,
            kind: LogKind::Access,
            target,
            format: Some(format!("apache:{fmt}")),
            format_name: None,
            origin,
            note,
            files: Vec::new(),
        };
        if st.access_syslog {
            sources.push(access(Target::Syslog("accesslog.use-syslog".into()), None, Some("accesslog.use-syslog = \"enable\"".into())));
        } else if st.accesslog.is_empty() {
            // (lighttpd 1.4 writes no access log then — not to stderr)
            r.out
                .warnings
                .push(Warning { origin: None, message: "mod_accesslog is loaded but no accesslog.filename is set: lighttpd writes no access log".into() });
        }
        for (p, o, conds) in st.accesslog.iter().filter(|_| !st.access_syslog) {
            let note = (!conds.is_empty()).then(|| format!("only requests matching {}", conds.join(" and ")));
            sources.push(access(target(p), Some(o.clone()), note));
        }
    } else if let Some((p, o, _)) = st.accesslog.first() {
        let (p, o) = (p.clone(), o.clone());
        r.warn(o, format!("accesslog.filename = {p} but mod_accesslog is not in server.modules: no access log is written"));
    }
    r.out.sources = sources;
    r.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenation_and_arrays() {
        let t = lex(r#"var.a = "/x" + "/y" # c
server.modules += ( "mod_a", "mod_b" )"#);
        assert_eq!(t[0].0, Tok::Word("var.a".into()));
        assert_eq!(t[3].0, Tok::Op("+".into()));
        let (m, _) = array_strings(&t, 7);
        assert_eq!(m, ["mod_a", "mod_b"]);
    }
}
