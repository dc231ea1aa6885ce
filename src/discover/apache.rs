//! Apache httpd: read the configuration the way httpd does, then list its logs.
//!
//! - Lines, with `\` continuation and `#` comments; arguments split like `ap_getword_conf`
//!   (quotes group, `\"` inside quotes); `${VAR}` from `Define` and the environment (Debian's
//!   `envvars`, which `apache2ctl` sources; the bare binary does not).
//! - `Include` (an unmatched wildcard is an error in 2.4) and `IncludeOptional` (silent), globs
//!   and directories, relative to `ServerRoot`.
//! - `<IfModule>` against the modules loaded so far plus the built-in ones, `<IfDefine>` against
//!   `Define`; other sections are walked.
//! - `ErrorLog`, `CustomLog` (nickname or inline format, `env=`/`expr=` conditions), `TransferLog`
//!   (the last nickname-less `LogFormat`, else CLF), per `<VirtualHost>`; piped logs: rotatelogs or
//!   cronolog give their target pattern, anything else (logger) no file.
//! - `KeepAlive` / `KeepAliveTimeout` for the keep-alive check.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{ConfigReadError, LogKind, Origin, ServerKind, Source, Target, Warning};
use crate::paths::{Root, has_glob};

/// Compiled-in settings (`apache2 -V` / `httpd -V`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `HTTPD_ROOT`: relative paths in the config are under it.
    pub server_root: PathBuf,
    /// `SERVER_CONFIG_FILE`, the main config file.
    pub config_file: PathBuf,
    /// `DEFAULT_ERRORLOG`, relative to the server root unless absolute.
    pub default_errorlog: String,
    /// Modules compiled in (`-l`), as short names (`log_config`).
    pub builtin: Vec<String>,
    /// Where the settings came from (`apache2 -V`, a running server's `-d`/`-f`, the profile).
    pub from: String,
}

impl Settings {
    /// Debian's packaged httpd.
    pub fn debian() -> Settings {
        Settings {
            server_root: "/etc/apache2".into(),
            config_file: "/etc/apache2/apache2.conf".into(),
            default_errorlog: "logs/error_log".into(),
            builtin: ["core", "so", "watchdog", "http", "log_config", "logio", "version", "unixd"].map(String::from).to_vec(),
            from: "profile (Debian)".into(),
        }
    }

    /// RHEL's packaged httpd.
    pub fn rhel() -> Settings {
        Settings {
            server_root: "/etc/httpd".into(),
            config_file: "/etc/httpd/conf/httpd.conf".into(),
            default_errorlog: "logs/error_log".into(),
            builtin: ["core", "so", "http"].map(String::from).to_vec(),
            from: "profile (RHEL)".into(),
        }
    }

    /// Parse `-V` output (`-D HTTPD_ROOT="/etc/apache2"` …).
    pub fn from_v(v: &str, builtin_list: &str, from: &str) -> Settings {
        let mut s = Settings::debian();
        s.from = from.to_string();
        let get = |key: &str| {
            v.lines().find_map(|l| {
                l.trim().strip_prefix("-D ").and_then(|l| l.strip_prefix(key)).and_then(|r| r.strip_prefix("=\"")).map(|r| r.trim_end_matches('"').to_string())
            })
        };
        if let Some(r) = get("HTTPD_ROOT") {
            s.server_root = r.into();
        }
        if let Some(c) = get("SERVER_CONFIG_FILE") {
            s.config_file = if Path::new(&c).is_absolute() { c.into() } else { s.server_root.join(c) };
        }
        if let Some(e) = get("DEFAULT_ERRORLOG") {
            s.default_errorlog = e;
        }
        let b: Vec<String> = builtin_list
            .lines()
            .filter_map(|l| l.trim().strip_prefix("mod_").and_then(|m| m.strip_suffix(".c")).map(String::from))
            .chain(
                builtin_list
                    .lines()
                    .filter(|l| l.trim() == "core.c" || l.trim() == "http_core.c")
                    .map(|l| l.trim().trim_end_matches(".c").trim_end_matches("_core").to_string()),
            )
            .collect();
        if !b.is_empty() {
            s.builtin = b;
        }
        s
    }

    /// Ask a binary: `-V` and `-l`.
    pub fn from_binary(bin: &Path) -> Option<Settings> {
        let run = |arg: &str| std::process::Command::new(bin).arg(arg).output().ok().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let v = run("-V")?;
        if !v.contains("HTTPD_ROOT") {
            return None;
        }
        Some(Settings::from_v(&v, &run("-l").unwrap_or_default(), &format!("{} -V", bin.display())))
    }
}

/// One configuration line, variables resolved and arguments split.
#[derive(Clone, Debug)]
struct Line {
    name: String,
    args: Vec<String>,
    origin: Origin,
}

/// The result of reading an Apache configuration.
#[derive(Debug, Default)]
pub struct Config {
    /// The logs found, with their origins.
    pub sources: Vec<Source>,
    /// What is worth telling about the configuration.
    pub warnings: Vec<Warning>,
    /// Every config file read (instance paths), in order.
    pub files: Vec<String>,
    /// `KeepAlive` on (default) and `KeepAliveTimeout` (default 5 s; milliseconds) at the
    /// main-server level.
    pub keepalive: bool,
    /// The timeout in milliseconds.
    pub keepalive_timeout_ms: u64,
    /// The `KeepAliveTimeout` (or `KeepAlive Off`) directive that set it.
    pub keepalive_origin: Option<Origin>,
}

/// Split arguments like `ap_getword_conf`.
fn split_args(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'"' || b[i] == b'\'' {
            let q = b[i];
            i += 1;
            let mut w = Vec::new();
            while i < b.len() && b[i] != q {
                if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == q || b[i + 1] == b'\\') {
                    w.push(b[i + 1]);
                    i += 2;
                    continue;
                }
                w.push(b[i]);
                i += 1;
            }
            i += 1;
            out.push(String::from_utf8_lossy(&w).into_owned());
        } else {
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            out.push(String::from_utf8_lossy(&b[start..i]).into_owned());
        }
    }
    out
}

/// Module name in any of its spellings (`log_config_module`, `mod_log_config.c`) → `log_config`.
fn module_name(m: &str) -> String {
    let m = m.trim_start_matches('!');
    let m = m.strip_prefix("mod_").unwrap_or(m);
    let m = m.strip_suffix(".c").unwrap_or(m);
    m.strip_suffix("_module").unwrap_or(m).to_string()
}

/// Parse Debian's `envvars` (`export NAME=value`, `$SUFFIX` empty for the default instance).
pub fn envvars(text: &str) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("SUFFIX".into(), String::new());
    for line in text.lines() {
        let l = line.trim();
        let l = l.strip_prefix("export ").unwrap_or(l);
        let Some((k, v)) = l.split_once('=') else { continue };
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || k == "SUFFIX" {
            continue;
        }
        let v = v.trim_matches('"');
        let mut out = String::new();
        let mut rest = v;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let r = &rest[i + 1..];
            let (name, after) = if let Some(r2) = r.strip_prefix('{') {
                let e = r2.find('}').unwrap_or(r2.len());
                (&r2[..e], r2.get(e + 1..).unwrap_or(""))
            } else {
                let e = r.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(r.len());
                (&r[..e], &r[e..])
            };
            out.push_str(vars.get(name).map(String::as_str).unwrap_or(""));
            rest = after;
        }
        out.push_str(rest);
        vars.insert(k.to_string(), out);
    }
    vars
}

/// Logical config lines, each with where it starts.
type Lines = Vec<(String, Origin)>;

/// A `<Macro>`: its parameters and lines.
type Macro = (Vec<String>, Lines);

struct Reader<'a> {
    root: &'a Root,
    server_root: PathBuf,
    vars: HashMap<String, String>,
    defines: HashSet<String>,
    modules: HashSet<String>,
    stack: Vec<PathBuf>,
    out: Config,
    /// The collected directives, in order, with `<VirtualHost>` markers.
    lines: Vec<Line>,
    budget: super::Budget,
    /// Cycles already reported (each once).
    cycles: HashSet<PathBuf>,
    /// mod_macro's `<Macro name $a $b>` bodies, by lower-case name.
    macros: HashMap<String, Macro>,
    /// Macros being expanded (a macro that uses itself is an error for httpd).
    expanding: Vec<String>,
}

impl Reader<'_> {
    fn warn(&mut self, origin: Option<Origin>, message: String) {
        self.out.warnings.push(Warning { origin, message });
    }

    fn substitute(&mut self, s: &str, origin: &Origin) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let r = &rest[i + 2..];
            match r.find('}') {
                Some(e) => {
                    let name = &r[..e];
                    match self.vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            self.warn(Some(origin.clone()), format!("config variable ${{{name}}} is not defined"));
                            out.push_str(&rest[i..i + 2 + e + 1]);
                        }
                    }
                    rest = &r[e + 1..];
                }
                None => {
                    out.push_str(&rest[i..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn full(&self, p: &str) -> PathBuf {
        if Path::new(p).is_absolute() { PathBuf::from(p) } else { self.server_root.join(p) }
    }

    fn read_file(&mut self, path: &Path, from: Option<&Origin>) {
        if self.stack.iter().any(|p| p == path) {
            if self.cycles.insert(path.to_path_buf()) {
                self.warn(from.cloned(), format!("include cycle: {} includes itself", path.display()));
            }
            return;
        }
        if self.stack.len() > 32 {
            self.warn(from.cloned(), format!("includes nested deeper than 32: {} not read", path.display()));
            return;
        }
        let data = match self.budget.read(self.root, path, from) {
            Ok(d) => d,
            Err(e) => {
                if let ConfigReadError::Refused(e) = e {
                    self.warn(from.cloned(), e);
                }
                return;
            }
        };
        if data.contains(&0) {
            self.warn(from.cloned(), format!("{} contains NUL bytes: not an Apache config, skipped", path.display()));
            return;
        }
        self.out.files.push(crate::paths::path_text(path));
        self.stack.push(path.to_path_buf());
        let text = crate::paths::bytes_text(&data);
        let file = crate::paths::path_text(path);
        // Logical lines (a trailing `\` continues a line), with where each starts.
        let mut lines: Lines = Vec::new();
        let mut logical = String::new();
        let mut start_line = 0;
        for (n, raw) in text.lines().enumerate() {
            if logical.is_empty() {
                start_line = n + 1;
            }
            if let Some(cont) = raw.strip_suffix('\\') {
                logical.push_str(cont);
                logical.push(' ');
                continue;
            }
            logical.push_str(raw);
            lines.push((std::mem::take(&mut logical), Origin { file: file.clone(), line: start_line }));
        }
        self.process(lines, Origin { file: file.clone(), line: text.lines().count() });
        self.stack.pop();
    }

    /// Directives, in order: sections, includes, macros, and the rest collected into `lines`.
    fn process(&mut self, lines: Lines, end: Origin) {
        // (skip depth of inactive <IfModule>/<IfDefine> sections, section name stack)
        let mut skip = 0usize;
        let mut sections: Vec<(String, bool)> = Vec::new();
        let mut macro_body: Option<(String, Vec<String>, Lines, Origin)> = None;
        for (line, origin) in lines {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            // mod_macro: a body is kept as written, expanded where it is used.
            if let Some((name, params, body, _)) = macro_body.as_mut() {
                if t.to_ascii_lowercase().starts_with("</macro") {
                    let (name, params, body) = (std::mem::take(name), std::mem::take(params), std::mem::take(body));
                    if skip == 0 {
                        self.macros.insert(name.to_ascii_lowercase(), (params, body));
                    }
                    macro_body = None;
                } else {
                    body.push((t.to_string(), origin));
                }
                continue;
            }
            if t.len() > 6 && t[..6].eq_ignore_ascii_case("<macro") && t.as_bytes()[6].is_ascii_whitespace() {
                let inner = t[6..].trim().trim_end_matches('>');
                let mut args = split_args(inner).into_iter();
                let name = args.next().unwrap_or_default();
                macro_body = Some((name, args.collect(), Vec::new(), origin));
                continue;
            }
            if let Some(close) = t.strip_prefix("</") {
                let name = close.trim_end_matches('>').trim().to_ascii_lowercase();
                match sections.pop() {
                    Some((open, active)) => {
                        if open != name {
                            self.warn(Some(origin.clone()), format!("</{name}> closes <{open}>"));
                        }
                        if !active {
                            skip -= 1;
                        }
                        if skip == 0 && open == "virtualhost" {
                            self.lines.push(Line { name: "</virtualhost>".into(), args: vec![], origin });
                        }
                    }
                    None => self.warn(Some(origin), format!("</{name}> without an opening section")),
                }
                continue;
            }
            if let Some(open) = t.strip_prefix('<') {
                let inner = open.trim_end().trim_end_matches('>');
                let (name, rest) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
                let lname = name.to_ascii_lowercase();
                let rest = self.substitute(rest.trim(), &origin);
                let active = skip == 0
                    && match lname.as_str() {
                        "ifmodule" => {
                            let neg = rest.starts_with('!');
                            let m = module_name(rest.trim_matches('"'));
                            self.modules.contains(&m) != neg
                        }
                        "ifdefine" => {
                            let neg = rest.starts_with('!');
                            self.defines.contains(rest.trim_start_matches('!')) != neg
                        }
                        _ => true,
                    };
                if !active {
                    skip += 1;
                }
                if skip == 0 && lname == "virtualhost" {
                    self.lines.push(Line { name: "<virtualhost>".into(), args: split_args(&rest), origin });
                }
                sections.push((lname, active));
                continue;
            }
            if skip > 0 {
                continue;
            }
            let t = self.substitute(t, &origin);
            let (name, rest) = t.split_once(char::is_whitespace).unwrap_or((&t, ""));
            let lname = name.to_ascii_lowercase();
            let args = split_args(rest);
            match lname.as_str() {
                "serverroot" => {
                    if let Some(r) = args.first() {
                        self.server_root = PathBuf::from(r);
                    }
                }
                "define" => {
                    if let Some(k) = args.first() {
                        self.defines.insert(k.clone());
                        self.vars.insert(k.clone(), args.get(1).cloned().unwrap_or_default());
                    }
                }
                "undefine" => {
                    if let Some(k) = args.first() {
                        self.defines.remove(k);
                        self.vars.remove(k);
                    }
                }
                "loadmodule" => {
                    if let Some(m) = args.first() {
                        self.modules.insert(module_name(m));
                    }
                }
                "include" | "includeoptional" => {
                    let optional = lname == "includeoptional";
                    for a in &args {
                        self.include(a, optional, &origin);
                    }
                }
                "use" => self.use_macro(&args, &origin),
                "undefmacro" => {
                    if let Some(n) = args.first() {
                        self.macros.remove(&n.to_ascii_lowercase());
                    }
                }
                _ => self.lines.push(Line { name: lname, args, origin }),
            }
        }
        if let Some((name, _, _, o)) = macro_body {
            self.warn(Some(o), format!("<Macro {name}> is not closed"));
        }
        for (open, _) in sections {
            self.warn(Some(end.clone()), format!("<{open}> is not closed"));
        }
    }

    /// `Use name args…`: the macro's lines with each parameter replaced by its argument (the
    /// longest parameter name first, as mod_macro does), read where the `Use` is.
    fn use_macro(&mut self, args: &[String], origin: &Origin) {
        let Some(name) = args.first() else { return };
        let key = name.to_ascii_lowercase();
        let Some((params, body)) = self.macros.get(&key).cloned() else {
            self.warn(Some(origin.clone()), format!("Use {name}: no such macro (httpd refuses to start)"));
            return;
        };
        if self.expanding.contains(&key) {
            self.warn(Some(origin.clone()), format!("Use {name}: the macro uses itself (httpd refuses to start)"));
            return;
        }
        let values = &args[1..];
        if values.len() != params.len() {
            self.warn(Some(origin.clone()), format!("Use {name}: {} argument(s) for {} parameter(s) (httpd refuses to start)", values.len(), params.len()));
            return;
        }
        let mut order: Vec<usize> = (0..params.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(params[i].len()));
        let lines: Lines = body
            .into_iter()
            .map(|(l, o)| {
                let mut l = l;
                for &i in &order {
                    l = l.replace(&params[i], &values[i]);
                }
                (l, o)
            })
            .collect();
        self.expanding.push(key);
        self.process(lines, origin.clone());
        self.expanding.pop();
    }

    /// The files under directory `dir` (instance path) as httpd includes them.
    fn dir_files(&mut self, dir: &Path, depth: usize, seen: &mut HashSet<(u64, u64)>, out: &mut Vec<PathBuf>, origin: &Origin) {
        let host = self.root.host(dir);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if let Ok(m) = std::fs::metadata(&host)
                && !seen.insert((m.dev(), m.ino()))
            {
                self.warn(Some(origin.clone()), format!("Include {}: a directory loop (a link back up the tree): read once", dir.display()));
                return;
            }
        }
        if depth > 128 {
            self.warn(Some(origin.clone()), format!("Include {}: directories nested deeper than 128 (httpd's limit): not read", dir.display()));
            return;
        }
        let Ok(rd) = std::fs::read_dir(&host) else {
            self.warn(Some(origin.clone()), format!("Include {}: the directory cannot be read", dir.display()));
            return;
        };
        let mut names: Vec<std::ffi::OsString> = rd.filter_map(Result::ok).map(|e| e.file_name()).collect();
        names.sort();
        for n in names {
            let p = dir.join(&n);
            let h = self.root.host(&p);
            if h.is_dir() {
                self.dir_files(&p, depth + 1, seen, out, origin);
            } else if h.is_file() {
                out.push(p);
            }
        }
    }

    fn include(&mut self, arg: &str, optional: bool, origin: &Origin) {
        let p = self.full(arg);
        let pstr = crate::paths::path_text(&p);
        let host = self.root.host(&p);
        let files: Vec<PathBuf> = if has_glob(&pstr) {
            let mut unreadable = Vec::new();
            let m: Vec<PathBuf> = self.root.glob_noting(&pstr, &mut |w| unreadable.push(w)).into_iter().filter(|f| self.root.host(f).is_file()).collect();
            for w in unreadable {
                self.warn(Some(origin.clone()), w);
            }
            if m.is_empty() && !optional {
                self.warn(Some(origin.clone()), format!("Include {arg}: the wildcard matches no file (an error for httpd 2.4; use IncludeOptional)"));
            }
            m
        } else if host.is_dir() {
            // httpd reads a directory's entries in name order, and its subdirectories the same
            // way, recursively (`process_resource_config_nofnmatch`, at most 128 deep).
            let mut v = Vec::new();
            let mut seen = HashSet::new();
            self.dir_files(&p, 0, &mut seen, &mut v, origin);
            v
        } else if !host.exists() {
            if !optional {
                self.warn(Some(origin.clone()), format!("Include {arg}: no such file"));
            }
            Vec::new()
        } else {
            vec![p]
        };
        for f in files {
            self.read_file(&f, Some(origin));
        }
    }
}

const CLF: &str = r#"%h %l %u %t "%r" %>s %b"#;

/// A time as httpd's `ap_timeout_parameter_parse` reads it (default unit seconds; `ms`, `s`,
/// `mi`, `h`), in milliseconds.
pub fn timeout_ms(a: &str) -> Option<u64> {
    let digits = a.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = a[..digits].parse().ok()?;
    let per = match a[digits..].to_ascii_lowercase().as_str() {
        "" | "s" => 1000,
        "ms" => 1,
        "mi" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(per)
}

/// The file a piped log writes, when the program is rotatelogs or cronolog.
fn piped_target(cmd: &str) -> Option<String> {
    let args = split_args(cmd);
    let prog = args.first()?;
    let base = Path::new(prog).file_name()?.to_str()?;
    if base != "rotatelogs" && base != "cronolog" {
        return None;
    }
    // Options that take a value (rotatelogs: -L link -p prog -n count; cronolog: -H/-S/-l/-P/-z).
    let with_value: &[&str] = if base == "rotatelogs" { &["-L", "-p", "-n"] } else { &["-H", "-S", "-l", "-P", "-z"] };
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a.starts_with('-') {
            if with_value.contains(&a.as_str()) {
                it.next();
            }
            continue;
        }
        return Some(a.clone());
    }
    None
}

/// strftime-style `%Y%m%d` parts become `*`.
fn strftime_glob(p: &str) -> String {
    let mut out = String::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' && chars.peek().is_some() {
            chars.next();
            if !out.ends_with('*') {
                out.push('*');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Read the configuration and list its logs.
pub fn discover(root: &Root, settings: &Settings, env: HashMap<String, String>) -> Config {
    let mut r = Reader {
        root,
        server_root: settings.server_root.clone(),
        vars: env,
        defines: HashSet::new(),
        modules: settings.builtin.iter().cloned().collect(),
        stack: Vec::new(),
        budget: Default::default(),
        cycles: HashSet::new(),
        macros: HashMap::new(),
        expanding: Vec::new(),
        out: Config { keepalive: true, keepalive_timeout_ms: 5000, ..Default::default() },
        lines: Vec::new(),
    };
    r.read_file(&settings.config_file.clone(), None);

    // Walk the directives: main server, then each <VirtualHost>.
    let mut formats: HashMap<String, String> = HashMap::new();
    let mut default_format = CLF.to_string();
    let mut sources: Vec<Source> = Vec::new();
    let mut main_error = false;
    let mut in_vhost: Option<Origin> = None;
    let mut vhost_has_custom = false;
    let mut vhosts_without_custom = 0usize;
    let lines = std::mem::take(&mut r.lines);
    let server_root = r.server_root.clone();
    let full = |p: &str| if Path::new(p).is_absolute() { PathBuf::from(p) } else { server_root.join(p) };
    let mut warnings = Vec::new();
    let mut main_custom = 0usize;
    // LogFormat is per server: the main server's nicknames (wherever they are in the config:
    // httpd resolves them when it opens the logs, after reading everything) and each virtual
    // host's own, which override the main server's there and nowhere else.
    let mut vhost_formats: Vec<(HashMap<String, String>, Option<String>)> = Vec::new();
    {
        let mut cur: Option<usize> = None;
        for l in &lines {
            match (l.name.as_str(), l.args.as_slice()) {
                ("<virtualhost>", _) => {
                    vhost_formats.push((HashMap::new(), None));
                    cur = Some(vhost_formats.len() - 1);
                }
                ("</virtualhost>", _) => cur = None,
                ("logformat", [f]) => match cur {
                    Some(v) => vhost_formats[v].1 = Some(f.clone()),
                    None => default_format = f.clone(),
                },
                ("logformat", [f, nick, ..]) => {
                    match cur {
                        Some(v) => vhost_formats[v].0.insert(nick.clone(), f.clone()),
                        None => formats.insert(nick.clone(), f.clone()),
                    };
                }
                _ => {}
            }
        }
    }
    let mut vhost_no = 0usize;
    let mut global_log = false;
    for l in &lines {
        let (vformats, vdefault) = match in_vhost {
            Some(_) => (Some(&vhost_formats[vhost_no - 1].0), vhost_formats[vhost_no - 1].1.as_ref()),
            None => (None, None),
        };
        let nickname = |n: &str| vformats.and_then(|v| v.get(n)).or_else(|| formats.get(n)).cloned();
        let default_format = vdefault.cloned().unwrap_or_else(|| default_format.clone());
        match l.name.as_str() {
            "<virtualhost>" => {
                in_vhost = Some(l.origin.clone());
                vhost_has_custom = false;
                vhost_no += 1;
            }
            "</virtualhost>" => {
                if !vhost_has_custom {
                    vhosts_without_custom += 1;
                }
                in_vhost = None;
            }
            "keepalive" if in_vhost.is_none() => {
                r.out.keepalive = !l.args.first().is_some_and(|a| a.eq_ignore_ascii_case("off"));
            }
            "keepalivetimeout" if in_vhost.is_none() => match l.args.first().map(|a| timeout_ms(a)) {
                Some(Some(ms)) => {
                    r.out.keepalive_timeout_ms = ms;
                    r.out.keepalive_origin = Some(l.origin.clone());
                }
                Some(None) => warnings.push(Warning {
                    origin: Some(l.origin.clone()),
                    message: format!("KeepAliveTimeout {}: not a time httpd reads (a number, optionally ms, s, mi or h)", l.args[0]),
                }),
                None => {}
            },
            "errorlog" => {
                if in_vhost.is_none() {
                    main_error = true;
                }
                if let Some(a) = l.args.first() {
                    sources.push(log_source(LogKind::Error, a, Some("apache-error".into()), None, &l.origin, &full, &mut warnings));
                }
            }
            "customlog" | "transferlog" | "globallog" => {
                if l.name == "globallog" {
                    // (httpd 2.4.19: the main server's log that every virtual host writes too)
                    global_log = true;
                    main_custom += 1;
                } else if in_vhost.is_some() {
                    vhost_has_custom = true;
                } else {
                    main_custom += 1;
                }
                let Some(a) = l.args.first() else { continue };
                let (fmt, name) = if l.name == "transferlog" {
                    (default_format.clone(), None)
                } else {
                    match l.args.get(1) {
                        Some(f) if nickname(f).is_some() => (nickname(f).unwrap_or_default(), Some(f.clone())),
                        Some(f) if f.contains('%') => (f.clone(), None),
                        Some(f) => {
                            warnings.push(Warning {
                                origin: Some(l.origin.clone()),
                                message: format!("LogFormat nickname \"{f}\" is not defined: httpd logs it literally"),
                            });
                            (f.clone(), Some(f.clone()))
                        }
                        None => (default_format.clone(), None),
                    }
                };
                if let Some(cond) = l.args.get(2) {
                    warnings
                        .push(Warning { origin: Some(l.origin.clone()), message: format!("conditional log ({cond}): not every request is written to {a}") });
                }
                let spec = format!("apache:{fmt}");
                sources.push(log_source(LogKind::Access, a, Some(spec), name, &l.origin, &full, &mut warnings));
            }
            _ => {}
        }
    }
    if !main_error {
        let a = settings.default_errorlog.clone();
        let mut s = log_source(LogKind::Error, &a, Some("apache-error".into()), None, &Origin { file: String::new(), line: 0 }, &full, &mut warnings);
        s.origin = None;
        s.note = Some(format!("compiled-in default ({})", settings.from));
        sources.push(s);
    }
    if main_custom == 0 && vhosts_without_custom > 0 && !global_log {
        warnings.push(Warning {
            origin: None,
            message: format!("{vhosts_without_custom} virtual host(s) have no CustomLog and the main server has none: their requests are not logged"),
        });
    }
    r.out.warnings.extend(warnings);
    r.out.sources = sources;
    r.out
}

fn log_source(
    kind: LogKind,
    arg: &str,
    format: Option<String>,
    format_name: Option<String>,
    origin: &Origin,
    full: &dyn Fn(&str) -> PathBuf,
    warnings: &mut Vec<Warning>,
) -> Source {
    let target = if let Some(cmd) = arg.strip_prefix('|') {
        let cmd = cmd.trim_start_matches(['|', '$']);
        match piped_target(cmd) {
            Some(t) => {
                let p = crate::paths::path_text(&full(&t));
                if p.contains('%') { Target::Glob(strftime_glob(&p)) } else { Target::Glob(format!("{p}*")) }
            }
            None => {
                warnings.push(Warning { origin: Some(origin.clone()), message: format!("log piped to a program ({cmd}): no file to read") });
                Target::Pipe(cmd.to_string())
            }
        }
    } else if let Some(t) = super::std_stream(arg) {
        t
    } else if kind == LogKind::Error && (arg == "syslog" || arg.starts_with("syslog:")) {
        warnings.push(Warning { origin: Some(origin.clone()), message: format!("error log goes to syslog ({arg}): reported, not tailed") });
        Target::Syslog(arg.trim_start_matches("syslog").trim_start_matches(':').to_string())
    } else {
        Target::File(crate::paths::path_text(&full(arg)))
    };
    Source { server: ServerKind::Apache, kind, target, format, format_name, origin: Some(origin.clone()), note: None, files: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args() {
        assert_eq!(split_args(r#"a "b c" 'd' "e\"f""#), ["a", "b c", "d", "e\"f"]);
        assert_eq!(split_args(r#""%h \"%r\"" combined"#), ["%h \"%r\"", "combined"]);
    }

    #[test]
    fn pipes() {
        assert_eq!(piped_target("/usr/sbin/rotatelogs -l /var/log/httpd/app_rot.%Y%m%d 86400").as_deref(), Some("/var/log/httpd/app_rot.%Y%m%d"));
        assert_eq!(piped_target("/usr/bin/logger -t httpd"), None);
        assert_eq!(piped_target("/usr/sbin/cronolog /var/log/%Y/%m/access.log").as_deref(), Some("/var/log/%Y/%m/access.log"));
        assert_eq!(strftime_glob("/var/log/httpd/app_rot.%Y%m%d"), "/var/log/httpd/app_rot.*");
    }

    #[test]
    fn env() {
        let v = envvars("unset HOME\nif [ x ]; then\n SUFFIX=\"-x\"\nfi\nexport APACHE_LOG_DIR=/var/log/apache2$SUFFIX\nexport A=${APACHE_LOG_DIR}/x\n");
        assert_eq!(v["APACHE_LOG_DIR"], "/var/log/apache2");
        assert_eq!(v["A"], "/var/log/apache2/x");
    }

    #[test]
    fn modules() {
        assert_eq!(module_name("log_config_module"), "log_config");
        assert_eq!(module_name("mod_log_config.c"), "log_config");
        assert_eq!(module_name("!mod_ssl.c"), "ssl");
    }
}
