//! nginx: lex → parse (includes resolved, every directive keeps its file and line) → logs.
//!
//! Log rules, from ngx_http_log_module / ngx_log.c:
//! - `access_log` may appear in http, server, location (and `if`, `limit_except`); a level with
//!   its own `access_log` lines replaces everything inherited; `off` turns logging off there.
//!   A level that inherits nothing uses the compiled-in `--http-log-path` in `combined`.
//! - nginx opens every configured access-log file at start, used or not; paths with variables
//!   are patterns opened per request (reported as globs); `syslog:` goes to syslog.
//! - `error_log` at any level opens its file; without one at the main level the compiled-in
//!   `--error-log-path` applies (Debian's is `stderr`). `error_log off` writes a file named `off`.
//! - Relative log paths are taken from the prefix (`-p`, `--prefix`); relative `include` paths
//!   from the directory of the main config file.

pub(crate) mod lex;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{ConfigReadError, LogKind, Origin, ServerKind, Source, Target, Warning};
use crate::paths::{Root, has_glob};
use lex::Token;

/// One directive with its arguments, origin and block.
#[derive(Clone, Debug)]
pub struct Directive {
    /// The directive's name.
    pub name: String,
    /// Its arguments, unquoted.
    pub args: Vec<String>,
    /// Where it is.
    pub origin: Origin,
    /// Its block (`http { … }`), when it has one.
    pub block: Option<Vec<Directive>>,
}

/// Compiled-in settings (`nginx -V`), or what the command line overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `--prefix`: relative paths are under it.
    pub prefix: PathBuf,
    /// `--conf-path`: the main config file.
    pub conf_path: PathBuf,
    /// `--http-log-path`: the access log when no `access_log` is set.
    pub http_log_path: PathBuf,
    /// A path or `stderr`.
    pub error_log_path: String,
    /// Where the settings came from (`nginx -V`, `profile`, …).
    pub from: String,
}

impl Settings {
    /// nginx's own defaults for a source build.
    pub fn upstream_default() -> Settings {
        Settings {
            prefix: "/usr/local/nginx".into(),
            conf_path: "/usr/local/nginx/conf/nginx.conf".into(),
            http_log_path: "/usr/local/nginx/logs/access.log".into(),
            error_log_path: "/usr/local/nginx/logs/error.log".into(),
            from: "nginx defaults".into(),
        }
    }

    /// Parse the `configure arguments:` of `nginx -V`.
    pub fn from_v(output: &str) -> Settings {
        let mut s = Settings::upstream_default();
        s.from = "nginx -V".into();
        let mut conf = None;
        let mut http = None;
        let mut err = None;
        for word in output.split_whitespace() {
            if let Some(v) = word.strip_prefix("--prefix=") {
                s.prefix = v.into();
            } else if let Some(v) = word.strip_prefix("--conf-path=") {
                conf = Some(v.to_string());
            } else if let Some(v) = word.strip_prefix("--http-log-path=") {
                http = Some(v.to_string());
            } else if let Some(v) = word.strip_prefix("--error-log-path=") {
                err = Some(v.to_string());
            }
        }
        let under = |p: String| if Path::new(&p).is_absolute() { PathBuf::from(p) } else { s.prefix.join(p) };
        s.conf_path = under(conf.unwrap_or_else(|| "conf/nginx.conf".into()));
        s.http_log_path = under(http.unwrap_or_else(|| "logs/access.log".into()));
        s.error_log_path = match err {
            Some(e) if e == "stderr" => e,
            Some(e) => under(e).display().to_string(),
            None => s.prefix.join("logs/error.log").display().to_string(),
        };
        s
    }

    /// Ask the nginx binary (`nginx -V` prints to stderr).
    pub fn from_binary(bin: &Path) -> Option<Settings> {
        let out = std::process::Command::new(bin).arg("-V").output().ok()?;
        let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        if !text.contains("nginx version") {
            return None;
        }
        let mut s = Settings::from_v(&text);
        s.from = format!("{} -V", bin.display());
        Some(s)
    }
}

/// The result of reading one nginx configuration.
#[derive(Debug, Default)]
pub struct Config {
    /// The configuration's directives, includes resolved in place.
    pub directives: Vec<Directive>,
    /// What is worth telling (missing includes, syntax errors, …).
    pub warnings: Vec<Warning>,
    /// Every config file read (instance paths), in order.
    pub files: Vec<String>,
}

const MAX_INCLUDE_DEPTH: usize = 32;

/// Directives common enough that seeing one at the start of a line inside another directive's
/// arguments means a missing `;`.
const LIKELY_DIRECTIVES: &[&str] = &[
    "access_log",
    "error_log",
    "include",
    "log_format",
    "listen",
    "server_name",
    "root",
    "index",
    "location",
    "server",
    "proxy_pass",
    "fastcgi_pass",
    "uwsgi_pass",
    "return",
    "rewrite",
    "try_files",
    "keepalive_timeout",
    "upstream",
    "proxy_set_header",
    "add_header",
    "ssl_certificate",
    "ssl_certificate_key",
    "client_max_body_size",
    "alias",
];

struct Loader<'a> {
    root: &'a Root,
    conf_dir: PathBuf,
    stack: Vec<PathBuf>,
    out: Config,
    budget: super::Budget,
    /// Blocks open right now, across included files.
    nesting: usize,
    /// Cycles already reported (each once).
    cycles: std::collections::HashSet<PathBuf>,
}

/// How deeply blocks may nest (across includes). nginx itself has no limit but its stack; a
/// config nested deeper is hostile, and recursing into it would overflow ours.
const MAX_BLOCK_DEPTH: usize = 100;

impl Loader<'_> {
    fn warn(&mut self, origin: Option<Origin>, message: String) {
        self.out.warnings.push(Warning { origin, message });
    }

    fn load(&mut self, path: &Path, from: Option<&Origin>) -> Vec<Directive> {
        if self.stack.iter().any(|p| p == path) {
            if self.cycles.insert(path.to_path_buf()) {
                self.warn(from.cloned(), format!("include cycle: {} includes itself (through {})", path.display(), self.stack.len()));
            }
            return Vec::new();
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.warn(from.cloned(), format!("includes nested deeper than {MAX_INCLUDE_DEPTH}: {} not read", path.display()));
            return Vec::new();
        }
        let data = match self.budget.read(self.root, path, from) {
            Ok(d) => d,
            Err(e) => {
                if let ConfigReadError::Refused(e) = e {
                    self.warn(from.cloned(), e);
                }
                return Vec::new();
            }
        };
        if data.contains(&0) {
            self.warn(
                from.cloned().or(Some(Origin { file: path.display().to_string(), line: 1 })),
                format!("{} contains NUL bytes: not an nginx config, skipped", path.display()),
            );
            return Vec::new();
        }
        self.out.files.push(crate::paths::path_text(path));
        let file = crate::paths::path_text(path);
        let (toks, errs) = lex::lex(&data);
        for e in errs {
            self.warn(Some(Origin { file: file.clone(), line: e.line }), e.message);
        }
        self.stack.push(path.to_path_buf());
        let mut pos = 0;
        let d = self.block(&toks, &mut pos, &file, 0);
        self.stack.pop();
        d
    }

    fn block(&mut self, toks: &[Token], pos: &mut usize, file: &str, depth: usize) -> Vec<Directive> {
        let mut out = Vec::new();
        while *pos < toks.len() {
            let t = &toks[*pos];
            let origin = Origin { file: file.to_string(), line: t.line };
            if !t.quoted && (t.text == "}" || t.text == ";" || t.text == "{") {
                *pos += 1;
                if t.text == "}" {
                    if depth > 0 {
                        return out;
                    }
                    self.warn(Some(origin), "unexpected \"}\"".into());
                } else {
                    self.warn(Some(origin), format!("unexpected \"{}\"", t.text));
                }
                continue;
            }
            let name = t.text.clone();
            *pos += 1;
            let mut args = Vec::new();
            let mut terminated = None;
            while *pos < toks.len() {
                let a = &toks[*pos];
                if !a.quoted && (a.text == ";" || a.text == "{" || a.text == "}") {
                    terminated = Some(a.text.clone());
                    break;
                }
                // A well-known directive name starting a later line is the next statement: the
                // `;` before it is missing (nginx would refuse the config).
                if !a.quoted && a.line > origin.line && LIKELY_DIRECTIVES.contains(&a.text.as_str()) && !name.ends_with("_by_lua_block") {
                    self.warn(
                        Some(origin.clone()),
                        format!("directive \"{name}\" is not terminated by \";\" (\"{}\" on line {} starts the next one)", a.text, a.line),
                    );
                    terminated = Some(String::new());
                    break;
                }
                args.push(a.text.clone());
                *pos += 1;
            }
            match terminated.as_deref() {
                Some("") => out.push(Directive { name, args, origin, block: None }),
                Some(";") => {
                    *pos += 1;
                    if name == "include" {
                        out.extend(self.include(&args, &origin));
                    } else {
                        out.push(Directive { name, args, origin, block: None });
                    }
                }
                Some("{") => {
                    *pos += 1;
                    if self.nesting >= MAX_BLOCK_DEPTH {
                        // Skip the block without recursing into it.
                        self.warn(Some(origin.clone()), format!("blocks nested deeper than {MAX_BLOCK_DEPTH}: \"{name}\" and what it holds are not read"));
                        let mut open = 1usize;
                        while *pos < toks.len() && open > 0 {
                            let t = &toks[*pos];
                            if !t.quoted && t.text == "{" {
                                open += 1;
                            } else if !t.quoted && t.text == "}" {
                                open -= 1;
                            }
                            *pos += 1;
                        }
                        continue;
                    }
                    self.nesting += 1;
                    let inner = self.block(toks, pos, file, depth + 1);
                    self.nesting -= 1;
                    out.push(Directive { name, args, origin, block: Some(inner) });
                }
                _ => {
                    // '}' or end of file right after the arguments
                    self.warn(Some(origin), format!("directive \"{name}\" is not terminated by \";\""));
                }
            }
        }
        if depth > 0 {
            self.warn(Some(Origin { file: file.to_string(), line: toks.last().map_or(1, |t| t.line) }), "unexpected end of file, expecting \"}\"".into());
        }
        out
    }

    fn include(&mut self, args: &[String], origin: &Origin) -> Vec<Directive> {
        let Some(arg) = args.first() else {
            self.warn(Some(origin.clone()), "include without a file name".into());
            return Vec::new();
        };
        let p = if Path::new(arg).is_absolute() { PathBuf::from(arg) } else { self.conf_dir.join(arg) };
        let pstr = crate::paths::path_text(&p);
        let files = if has_glob(&pstr) {
            // A pattern that matches nothing is not an error in nginx.
            let mut unreadable = Vec::new();
            let m: Vec<PathBuf> = self.root.glob_noting(&pstr, &mut |w| unreadable.push(w)).into_iter().filter(|f| self.root.host(f).is_file()).collect();
            for w in unreadable {
                self.warn(Some(origin.clone()), w);
            }
            m
        } else {
            vec![p]
        };
        let mut out = Vec::new();
        for f in files {
            out.extend(self.load(&f, Some(origin)));
        }
        out
    }
}

/// Read `conf` (an instance path) and everything it includes.
pub fn load(root: &Root, conf: &Path) -> Config {
    let conf_dir = conf.parent().map(Path::to_path_buf).unwrap_or_else(|| "/".into());
    let mut l = Loader { root, conf_dir, stack: Vec::new(), out: Config::default(), budget: Default::default(), nesting: 0, cycles: Default::default() };
    let d = l.load(conf, None);
    l.out.directives = d;
    l.out
}

/// What access logging a context has.
#[derive(Clone, Debug)]
enum Access {
    Unset,
    Off,
    Logs,
}

/// A path with `$variables` becomes a glob.
fn path_target(prefix: &Path, p: &str) -> Target {
    let full = if Path::new(p).is_absolute() { PathBuf::from(p) } else { prefix.join(p) };
    let s = crate::paths::path_text(&full);
    if s.contains('$') {
        let mut out = String::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'$' {
                out.push('*');
                i += 1;
                if b.get(i) == Some(&b'{') {
                    while i < b.len() && b[i] != b'}' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                }
            } else {
                out.push(b[i] as char);
                i += 1;
            }
        }
        Target::Glob(out)
    } else {
        Target::File(s)
    }
}

struct Walker<'a> {
    settings: &'a Settings,
    formats: HashMap<String, String>,
    sources: Vec<Source>,
    warnings: Vec<Warning>,
    default_used: bool,
}

const CONTEXTS: &[&str] = &["server", "location", "if", "limit_except"];

impl Walker<'_> {
    /// Where an `access_log` (http or stream) writes: syslog, the server's standard streams, or a
    /// file (a pattern when the path has variables).
    fn access_target(&self, path: &str) -> Target {
        if let Some(rest) = path.strip_prefix("syslog:") {
            Target::Syslog(rest.to_string())
        } else if let Some(t) = super::std_stream(path) {
            t
        } else {
            path_target(&self.settings.prefix, path)
        }
    }

    fn access_source(&mut self, d: &Directive) -> Option<usize> {
        let path = d.args.first()?;
        let fmt_name = d.args.get(1).cloned().unwrap_or_else(|| "combined".into());
        let target = self.access_target(path);
        let format = if fmt_name == "combined" {
            Some(format!("nginx:{}", crate::format::nginx::COMBINED))
        } else {
            match self.formats.get(&fmt_name) {
                // (stored as `:body` or `(escape=json):body`)
                Some(f) => Some(format!("nginx{f}")),
                None => {
                    self.warnings.push(Warning { origin: Some(d.origin.clone()), message: format!("unknown log format \"{fmt_name}\"") });
                    None
                }
            }
        };
        if matches!(target, Target::Syslog(_)) {
            self.warnings.push(Warning { origin: Some(d.origin.clone()), message: format!("access log goes to syslog ({path}): reported, not tailed") });
        }
        if let Some(cond) = d.args.iter().skip(2).find(|a| a.starts_with("if=")) {
            self.warnings
                .push(Warning { origin: Some(d.origin.clone()), message: format!("conditional access log ({cond}): not every request is written to {path}") });
        }
        if d.args.iter().skip(2).any(|a| a == "gzip" || a.starts_with("gzip=")) {
            self.warnings.push(Warning {
                origin: Some(d.origin.clone()),
                message: format!("access log {path} is gzip-compressed by nginx: it can be read whole, not tailed"),
            });
        }
        self.sources.push(Source {
            server: ServerKind::Nginx,
            kind: LogKind::Access,
            target,
            format,
            format_name: Some(fmt_name),
            origin: Some(d.origin.clone()),
            note: None,
            files: Vec::new(),
        });
        Some(self.sources.len() - 1)
    }

    fn error_source(&mut self, d: &Directive) {
        let Some(path) = d.args.first() else { return };
        let target = if path == "stderr" {
            Target::Stderr
        } else if let Some(t) = super::std_stream(path) {
            t
        } else if let Some(rest) = path.strip_prefix("syslog:") {
            self.warnings.push(Warning { origin: Some(d.origin.clone()), message: format!("error log goes to syslog ({path}): reported, not tailed") });
            Target::Syslog(rest.to_string())
        } else if path.starts_with("memory:") {
            self.warnings.push(Warning { origin: Some(d.origin.clone()), message: "error log kept in memory (debugging): no file".into() });
            return;
        } else {
            if path == "off" {
                self.warnings.push(Warning {
                    origin: Some(d.origin.clone()),
                    message: "\"error_log off\" does not turn the error log off: nginx writes a file named \"off\"".into(),
                });
            }
            path_target(&self.settings.prefix, path)
        };
        self.sources.push(Source {
            server: ServerKind::Nginx,
            kind: LogKind::Error,
            target,
            format: Some("nginx-error".into()),
            format_name: None,
            origin: Some(d.origin.clone()),
            note: None,
            files: Vec::new(),
        });
    }

    /// A `stream {}` block (and its `server {}` blocks): its access and error logs.
    fn stream_context(&mut self, dirs: &[Directive], formats: &HashMap<String, String>) {
        for d in dirs {
            match (d.name.as_str(), &d.block) {
                ("access_log", _) if d.args.first().map(String::as_str) != Some("off") => {
                    let Some(path) = d.args.first() else { continue };
                    let name = d.args.get(1).cloned();
                    let format = name.as_ref().and_then(|n| formats.get(n)).map(|f| format!("nginx{f}"));
                    if let (Some(n), None) = (&name, &format) {
                        self.warnings.push(Warning { origin: Some(d.origin.clone()), message: format!("unknown stream log format \"{n}\"") });
                    }
                    let target = self.access_target(path);
                    self.sources.push(Source {
                        server: ServerKind::Nginx,
                        kind: LogKind::Access,
                        target,
                        format,
                        format_name: name,
                        origin: Some(d.origin.clone()),
                        note: Some("stream {} (TCP/UDP proxy): one line per session, not per HTTP request".into()),
                        files: Vec::new(),
                    });
                }
                ("error_log", _) => self.error_source(d),
                ("server", Some(b)) => self.stream_context(b, formats),
                _ => {}
            }
        }
    }

    /// Walk a context's directives with the access state it inherits.
    fn context(&mut self, dirs: &[Directive], inherited: Access, leaf: bool) {
        let own: Vec<&Directive> = dirs.iter().filter(|d| d.name == "access_log").collect();
        let state = if own.is_empty() {
            inherited
        } else if let Some(off) = own.iter().find(|d| d.args.first().map(String::as_str) == Some("off")) {
            self.warnings.push(Warning { origin: Some(off.origin.clone()), message: "access_log off: requests served here are not logged".into() });
            Access::Off
        } else {
            for d in &own {
                self.access_source(d);
            }
            Access::Logs
        };
        for d in dirs {
            if d.name == "error_log" {
                self.error_source(d);
            }
        }
        let mut children = false;
        for d in dirs {
            if let (true, Some(b)) = (CONTEXTS.contains(&d.name.as_str()), &d.block) {
                children = true;
                self.context(b, state.clone(), true);
            }
        }
        // A server or location serves requests itself (no child covers every URI).
        if (leaf || !children) && matches!(state, Access::Unset) {
            self.default_used = true;
        }
    }
}

/// Every log a loaded nginx configuration writes.
pub fn logs(cfg: &Config, settings: &Settings) -> (Vec<Source>, Vec<Warning>) {
    let mut w = Walker { settings, formats: HashMap::new(), sources: Vec::new(), warnings: Vec::new(), default_used: false };
    let mut main_error = false;
    for d in &cfg.directives {
        if d.name == "error_log" {
            main_error = true;
            w.error_source(d);
        }
    }
    if !main_error {
        let target = if settings.error_log_path == "stderr" { Target::Stderr } else { Target::File(settings.error_log_path.clone()) };
        w.sources.push(Source {
            server: ServerKind::Nginx,
            kind: LogKind::Error,
            target,
            format: Some("nginx-error".into()),
            format_name: None,
            origin: None,
            note: Some(format!("compiled-in default ({})", settings.from)),
            files: Vec::new(),
        });
    }
    // stream {} (the TCP/UDP proxy): its own log_format namespace, one line per session.
    for stream in cfg.directives.iter().filter(|d| d.name == "stream") {
        let Some(b) = &stream.block else { continue };
        let formats: HashMap<String, String> = b.iter().filter(|d| d.name == "log_format").filter_map(log_format).collect();
        w.stream_context(b, &formats);
    }
    for http in cfg.directives.iter().filter(|d| d.name == "http") {
        let Some(b) = &http.block else { continue };
        for (name, body) in b.iter().filter(|d| d.name == "log_format").filter_map(log_format) {
            w.formats.insert(name, body);
        }
        w.context(b, Access::Unset, false);
    }
    if w.default_used {
        w.sources.push(Source {
            server: ServerKind::Nginx,
            kind: LogKind::Access,
            target: Target::File(settings.http_log_path.display().to_string()),
            format: Some(format!("nginx:{}", crate::format::nginx::COMBINED)),
            format_name: Some("combined".into()),
            origin: None,
            note: Some(format!("compiled-in default ({}): no access_log applies here", settings.from)),
            files: Vec::new(),
        });
    }
    (w.sources, w.warnings)
}

/// A `log_format name [escape=…] 'parts'…` directive: the name, and the format as the tail of a
/// spec (`:body`, or `(escape=json):body` — `escape=` must reach the parser: it decides how values
/// are decoded).
fn log_format(d: &Directive) -> Option<(String, String)> {
    let mut args = d.args.iter();
    let name = args.next()?.clone();
    let mut escape = None;
    let body: String = args
        .filter(|a| match a.strip_prefix("escape=") {
            Some(e) => {
                escape = Some(e.to_string());
                false
            }
            None => true,
        })
        .cloned()
        .collect();
    let body = match escape.as_deref() {
        Some(e @ ("json" | "none")) => format!("(escape={e}):{body}"),
        _ => format!(":{body}"),
    };
    Some((name, body))
}

/// The `keepalive_timeout` in effect (milliseconds) and where it is set; nginx's default is 75 s.
pub fn keepalive_timeout(cfg: &Config) -> (u64, Option<Origin>) {
    // `keepalive_timeout` applies per location: http → server → location, each level inheriting
    // the one above unless it sets its own. The load balancer's connections can land on any
    // server and location, so the shortest timeout any request gets is the one that can close
    // under it. (A level set to 0 turns keep-alive off there: no idle race, not counted unless
    // every level is off.) 75 s when nothing sets it.
    fn own(block: &[Directive]) -> Option<(u64, Option<Origin>)> {
        block.iter().rev().find(|d| d.name == "keepalive_timeout").and_then(|d| d.args.first().and_then(|a| parse_time(a)).map(|s| (s, Some(d.origin.clone()))))
    }
    fn walk(block: &[Directive], inherited: &(u64, Option<Origin>), counts: bool, out: &mut Vec<(u64, Option<Origin>)>) {
        let here = own(block).unwrap_or_else(|| inherited.clone());
        if counts {
            out.push(here.clone());
        }
        for d in block.iter().filter(|d| d.name == "server" || d.name == "location") {
            if let Some(b) = &d.block {
                walk(b, &here, true, out);
            }
        }
    }
    let mut effective = Vec::new();
    for http in cfg.directives.iter().filter(|d| d.name == "http") {
        if let Some(b) = &http.block {
            // (the http level itself serves requests only when it has no server block)
            let has_server = b.iter().any(|d| d.name == "server");
            walk(b, &(75_000, None), !has_server, &mut effective);
        }
    }
    let shortest_on = effective.iter().filter(|(t, _)| *t > 0).min_by_key(|(t, _)| *t).cloned();
    shortest_on.or_else(|| effective.into_iter().next()).unwrap_or((75_000, None))
}

/// nginx time values (`ngx_parse_time`): a number with an optional unit, or several
/// (`1m30s`): `ms`, `s` (the default), `m`, `h`, `d`, `w`, `M` (30 days), `y` (365 days). In
/// milliseconds.
fn parse_time(v: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = v;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (per, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            match rest.chars().next() {
                None => (1000, 0),
                Some('s') => (1000, 1),
                Some('m') => (60_000, 1),
                Some('h') => (3_600_000, 1),
                Some('d') => (86_400_000, 1),
                Some('w') => (7 * 86_400_000, 1),
                Some('M') => (30 * 86_400_000, 1),
                Some('y') => (365 * 86_400_000, 1),
                _ => return None,
            }
        };
        total = total.checked_add(n.checked_mul(per)?)?;
        rest = &rest[len..];
    }
    Some(total)
}
