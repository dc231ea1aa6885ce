//! Discovery: every web-server log on the host, found from the servers' own configuration, each
//! with the config file and line it came from.
//!
//! One module per server ([`nginx`], [`apache`], [`lighttpd`], [`iis`]) reads its configuration
//! (includes, variables, inheritance) into [`Source`]s. Paths are instance paths; with `--root`
//! every file is read from under that directory instead (a copied server tree, or tests), and
//! reported without the prefix.

pub mod apache;
pub mod iis;
pub mod lighttpd;
pub mod nginx;

use std::path::{Path, PathBuf};

use crate::paths::{Root, path_text};

use serde::Serialize;

/// Which server writes a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    Nginx,
    Apache,
    Lighttpd,
    Iis,
}

/// What a log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    Access,
    Error,
    Httperr,
}

/// Where a log goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum Target {
    /// A file (instance path).
    File(String),
    /// A file name pattern (a path with variables, or rotation patterns): `*` for the variable part.
    Glob(String),
    /// A syslog destination: reported, not tailed.
    Syslog(String),
    /// Piped to a program (`|/usr/bin/logger`): no file.
    Pipe(String),
    /// The server's standard error.
    Stderr,
    /// The server's standard output (`/dev/stdout`, `/proc/self/fd/1`: containers).
    Stdout,
}

/// The server's standard streams named as files (`/dev/stdout`, `/proc/self/fd/1`, and the
/// stderr twins): what container images log to. Not files to follow.
pub fn std_stream(p: &str) -> Option<Target> {
    match p {
        "/dev/stdout" | "/proc/self/fd/1" | "/dev/fd/1" => Some(Target::Stdout),
        "/dev/stderr" | "/proc/self/fd/2" | "/dev/fd/2" => Some(Target::Stderr),
        _ => None,
    }
}

/// A config location: `file:line`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One discovered log.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    pub server: ServerKind,
    pub kind: LogKind,
    pub target: Target,
    /// A `--log-format` spec for the file (`nginx:<format>`, `apache:<format>`, `w3c`, …).
    pub format: Option<String>,
    /// The format's name in the config (`combined`, `elb`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_name: Option<String>,
    /// Where this came from; `None` for compiled-in defaults and profile fallbacks.
    pub origin: Option<Origin>,
    /// How the origin was decided when there is no directive (`compiled-in default`, `profile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Files that exist now for this source (the file itself, or the glob's matches).
    pub files: Vec<String>,
}

impl Source {
    /// The parser of this log's format, when discovery knows it (else the reader detects it). A
    /// spec the parser refuses is left to detection too: discovery said what it found.
    pub fn log_format(&self) -> Option<crate::format::Format> {
        let spec = self.format.as_deref()?;
        crate::format::Format::from_spec_named(spec, self.format_name.as_deref().unwrap_or("custom")).ok()
    }

    /// Where one of [`Source::files`] (or its target) is read from on this machine (IIS names
    /// drive paths).
    pub fn host_file(&self, root: &Root, f: &str) -> PathBuf {
        match self.server {
            ServerKind::Iis => iis::host_path(root, f),
            _ => root.host(Path::new(f)),
        }
    }
}

/// Something worth telling about a config (missing include, parse error, syslog-only, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub origin: Option<Origin>,
    pub message: String,
}

/// `file:line: message`, or the message alone when no directive caused it.
impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.origin {
            Some(o) => write!(f, "{o}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Fill `files` for every source: the file if it exists, or the glob's matches.
/// IIS sources (Windows paths) are filled by [`iis::discover`] itself.
pub fn fill_files(sources: &mut [Source], root: &Root) {
    for s in sources.iter_mut().filter(|s| s.server != ServerKind::Iis) {
        s.files = match &s.target {
            Target::File(p) => {
                let ip = root.resolve(Path::new(p));
                if root.host(&ip).is_file() { vec![path_text(&ip)] } else { Vec::new() }
            }
            Target::Glob(g) => root.glob(g).into_iter().filter(|p| root.host(p).is_file()).map(|p| path_text(&p)).collect(),
            _ => Vec::new(),
        };
    }
}

/// Read a config file with a size cap, so a 50 MB file of junk cannot stall discovery.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

pub fn read_config(root: &Root, p: &Path) -> Result<Vec<u8>, String> {
    root.read(p, MAX_CONFIG_BYTES)
}

/// How many config files one server's configuration may read (counting every inclusion).
pub const MAX_CONFIG_READS: usize = 2000;
/// How many bytes of configuration, all inclusions together.
pub const MAX_CONFIG_TOTAL: u64 = 64 << 20;

/// What reading one server's configuration may cost, whatever its includes do: N files that
/// each `include conf.d/*.conf` would otherwise read N! files (the stack check stops only a file
/// including itself). nginx and Apache refuse such a configuration; discovery stops reading,
/// says so once with the file and line, and reports what it read.
#[derive(Default)]
pub struct Budget {
    reads: usize,
    bytes: u64,
    spent: bool,
}

impl Budget {
    /// [`read_config`] within the budget. `Err(None)`: the budget was spent earlier (already
    /// said).
    pub fn read(&mut self, root: &Root, p: &Path, from: Option<&Origin>) -> Result<Vec<u8>, Option<String>> {
        if self.spent {
            return Err(None);
        }
        if self.reads >= MAX_CONFIG_READS || self.bytes > MAX_CONFIG_TOTAL {
            self.spent = true;
            let at = from.map(|o| format!(" (included from {o})")).unwrap_or_default();
            return Err(Some(format!(
                "the configuration's includes read {} files ({} bytes) — they repeat or multiply (an include cycle through a pattern?): stopped before {}{at}; the servers refuse such a configuration",
                self.reads,
                self.bytes,
                p.display()
            )));
        }
        let d = read_config(root, p).map_err(Some)?;
        self.reads += 1;
        self.bytes += d.len() as u64;
        Ok(d)
    }
}

/// Options for a discovery run.
#[derive(Clone, Debug)]
pub struct Options {
    pub root: Root,
    /// The load balancer's idle timeout (seconds) for the keep-alive check.
    pub lb_idle_timeout: u64,
    /// Where local profile overrides live.
    pub profile_dir: PathBuf,
}

/// A server's keep-alive timeout compared with the load balancer's idle timeout.
#[derive(Clone, Debug, Serialize)]
pub struct KeepAlive {
    pub server: ServerKind,
    /// The directive that sets it (`keepalive_timeout`, `KeepAliveTimeout`, `connectionTimeout`).
    #[serde(skip)]
    pub directive: &'static str,
    /// `None` when keep-alive is off. Whole seconds (rounded down): see `timeout_ms`.
    pub timeout_secs: Option<u64>,
    /// The timeout as set (`500ms` is 500).
    pub timeout_ms: Option<u64>,
    pub origin: Option<Origin>,
    pub lb_idle_timeout: u64,
    pub ok: bool,
    /// What to do, when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

impl KeepAlive {
    fn new(server: ServerKind, timeout_ms: Option<u64>, origin: Option<Origin>, lb: u64, directive: &'static str, fix: &str) -> KeepAlive {
        let (ok, finding) = match timeout_ms {
            Some(t) if t <= lb * 1000 => (
                false,
                Some(format!(
                    "{directive} {}{} is not longer than the load balancer's idle timeout ({lb}s): the backend can close an idle \
                     connection just as the load balancer sends a request on it, which the load balancer answers with 502. \
                     Fix: {fix}",
                    format_ms(t),
                    origin.as_ref().map(|o| format!(" ({o})")).unwrap_or_else(|| " (default)".into())
                )),
            ),
            Some(_) => (true, None),
            None => (
                true,
                Some(format!(
                    "keep-alive is off ({directive}): every response closes its connection; the load balancer copes, at the cost of a new connection per request"
                )),
            ),
        };
        KeepAlive { server, directive, timeout_secs: timeout_ms.map(|t| t / 1000), timeout_ms, origin, lb_idle_timeout: lb, ok, finding }
    }
}

/// `5s`, `500ms`, `1500ms`.
pub fn format_ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) { format!("{}s", ms / 1000) } else { format!("{ms}ms") }
}

/// Everything discovery found.
#[derive(Clone, Debug, Serialize)]
pub struct Discovery {
    pub platform: crate::platform::Platform,
    pub profile: String,
    pub sources: Vec<Source>,
    pub keepalive: Vec<KeepAlive>,
    pub warnings: Vec<Warning>,
    /// Config files read, in order.
    pub configs: Vec<String>,
    /// The compiled-in settings used per server, and where they came from (`nginx -V`, profile).
    pub compiled_in: Vec<String>,
}

fn exists(root: &Root, p: &str) -> bool {
    root.host(Path::new(p)).exists()
}

/// A config path that is a symlink leading nowhere (a loop, or a missing target): worth a
/// warning, where a plainly absent file is not.
fn broken_link(root: &Root, p: &str) -> Option<Warning> {
    let path = Path::new(p);
    let link = match &root.dir {
        Some(_) => root.host(path.parent().unwrap_or(Path::new("/"))).join(path.file_name()?),
        None => path.to_path_buf(),
    };
    let is_link = std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink());
    (is_link && !exists(root, p))
        .then(|| Warning { origin: None, message: format!("{p} is a symlink that leads nowhere (a loop, or a missing target): not read") })
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// Find every web-server log on the host (or under `opts.root`).
pub fn discover(opts: &Options) -> Discovery {
    let root = &opts.root;
    let live = root.dir.is_none();
    let platform = crate::platform::detect(root);
    let mut warnings = Vec::new();
    let load_profile = |family: crate::platform::Family, warnings: &mut Vec<Warning>| match crate::profile::load(family, &opts.profile_dir) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(Warning { origin: None, message: format!("{e}: using the embedded profile") });
            crate::profile::load(family, Path::new("/nonexistent")).unwrap_or_default()
        }
    };
    let profile = load_profile(platform.family, &mut warnings);
    // An OS that cannot be identified (no readable os-release: a chroot, a container image, a
    // copied tree): each server is looked for in every Linux profile's places, the first profile
    // whose configuration exists winning.
    let unknown = platform.family == crate::platform::Family::Unknown;
    let candidates: Vec<crate::profile::Profile> = if unknown {
        use crate::platform::Family as F;
        [F::Debian, F::Rhel, F::Suse, F::Alpine].into_iter().map(|f| load_profile(f, &mut warnings)).collect()
    } else {
        vec![profile.clone()]
    };
    // Whether a profile's places hold each server's configuration.
    let has_nginx = |p: &crate::profile::Profile| p.nginx.as_ref().is_some_and(|n| n.configs.iter().any(|c| exists(root, c)));
    let has_apache = |p: &crate::profile::Profile| p.apache.as_ref().is_some_and(|a| exists(root, &a.config));
    let has_lighttpd = |p: &crate::profile::Profile| p.lighttpd.as_ref().is_some_and(|l| l.configs.iter().any(|c| exists(root, c)));
    // (server, the profile used for it, whether its configuration was found there)
    let pick = |found: &dyn Fn(&crate::profile::Profile) -> bool| match candidates.iter().find(|p| found(p)) {
        Some(p) => (p.clone(), true),
        None => (candidates[0].clone(), false),
    };
    let (nginx_profile, nginx_found) = pick(&has_nginx);
    let (apache_profile, apache_found) = pick(&has_apache);
    let (lighttpd_profile, lighttpd_found) = pick(&has_lighttpd);
    if unknown {
        let used: Vec<String> =
            [("nginx", &nginx_profile, nginx_found), ("apache", &apache_profile, apache_found), ("lighttpd", &lighttpd_profile, lighttpd_found)]
                .iter()
                .filter(|(_, _, found)| *found)
                .map(|(s, p, _)| format!("{s} in {}'s places", p.family))
                .collect();
        warnings.push(Warning {
            origin: None,
            message: format!(
                "the OS is not identified (no readable /etc/os-release): tried the places of every profile (debian, rhel, suse, alpine){}",
                if used.is_empty() { String::new() } else { format!("; found {}", used.join(", ")) }
            ),
        });
    }
    let mut sources = Vec::new();
    let mut keepalive = Vec::new();
    let mut configs = Vec::new();
    let mut compiled_in = Vec::new();
    let procs = |server: &'static str| platform.processes.iter().filter(move |p| p.server == server);

    if let Some(np) = &nginx_profile.nginx {
        let mut settings = nginx::Settings {
            prefix: np.prefix.clone().into(),
            conf_path: np.configs.first().cloned().unwrap_or_default().into(),
            http_log_path: np.http_log_path.clone().into(),
            error_log_path: np.error_log_path.clone(),
            from: format!("profile {}", nginx_profile.family),
        };
        // (config, settings) pairs: each running master with its own -p/-c, then the defaults.
        let mut confs: Vec<(String, nginx::Settings)> = Vec::new();
        let mut bins: Vec<PathBuf> = procs("nginx").filter_map(|p| p.exe.clone()).collect();
        bins.extend(np.binaries.iter().map(PathBuf::from).filter(|b| live && b.exists()));
        if live && let Some(s) = bins.iter().find_map(|b| nginx::Settings::from_binary(b)) {
            settings = s;
        }
        compiled_in.push(format!(
            "nginx: {} (prefix {}, conf-path {}, http-log-path {}, error-log-path {})",
            settings.from,
            settings.prefix.display(),
            settings.conf_path.display(),
            settings.http_log_path.display(),
            settings.error_log_path
        ));
        for p in procs("nginx") {
            let mut ps = settings.clone();
            if let Some(pre) = p.arg("-p") {
                ps.prefix = pre.into();
                ps.from = format!("{} with -p from pid {}", settings.from, p.pid);
            }
            let c = p.arg("-c").unwrap_or_else(|| settings.conf_path.display().to_string());
            let c = if Path::new(&c).is_absolute() { c } else { ps.prefix.join(c).display().to_string() };
            if !confs.iter().any(|(x, _)| *x == c) {
                confs.push((c, ps));
            }
        }
        for c in std::iter::once(settings.conf_path.display().to_string()).chain(np.configs.iter().cloned()) {
            if !confs.iter().any(|(x, _)| *x == c) {
                confs.push((c, settings.clone()));
            }
        }
        warnings.extend(confs.iter().filter_map(|(c, _)| broken_link(root, c)));
        for (c, settings) in confs.iter().filter(|(c, _)| exists(root, c)) {
            let cfg = nginx::load(root, Path::new(c));
            let (s, w) = nginx::logs(&cfg, settings);
            sources.extend(s);
            warnings.extend(w);
            warnings.extend(cfg.warnings.iter().cloned());
            configs.extend(cfg.files.iter().cloned());
            let (t, o) = nginx::keepalive_timeout(&cfg);
            let t = if t == 0 { None } else { Some(t) };
            keepalive.push(KeepAlive::new(
                ServerKind::Nginx,
                t,
                o,
                opts.lb_idle_timeout,
                "keepalive_timeout",
                &format!("keepalive_timeout {}s; in the http block", opts.lb_idle_timeout + 15),
            ));
        }
    }

    if let Some(ap) = &apache_profile.apache {
        let mut settings = apache::Settings {
            server_root: ap.server_root.clone().into(),
            config_file: ap.config.clone().into(),
            default_errorlog: ap.default_errorlog.clone(),
            builtin: ["core", "so", "http", "log_config", "logio", "version", "unixd", "watchdog"].map(String::from).to_vec(),
            from: format!("profile {}", apache_profile.family),
        };
        if live {
            let mut bins: Vec<PathBuf> = procs("apache").filter_map(|p| p.exe.clone()).collect();
            bins.extend(ap.binaries.iter().map(PathBuf::from).filter(|b| b.exists()));
            if let Some(s) = bins.iter().find_map(|b| apache::Settings::from_binary(b)) {
                settings = s;
            }
        }
        compiled_in.push(format!(
            "apache: {} (server root {}, config {}, default error log {})",
            settings.from,
            settings.server_root.display(),
            settings.config_file.display(),
            settings.default_errorlog
        ));
        // Each running master's -d/-f, then the default config.
        let mut runs: Vec<apache::Settings> = Vec::new();
        for p in procs("apache") {
            let mut ps = settings.clone();
            if let Some(d) = p.arg("-d") {
                ps.server_root = d.into();
            }
            if let Some(f) = p.arg("-f") {
                ps.config_file = if Path::new(&f).is_absolute() { f.into() } else { ps.server_root.join(f) };
            }
            if !runs.iter().any(|r| r.config_file == ps.config_file) {
                runs.push(ps);
            }
        }
        if !runs.iter().any(|r| r.config_file == settings.config_file) {
            runs.push(settings.clone());
        }
        let envvars = ap
            .envvars
            .as_deref()
            .and_then(|e| root.read(Path::new(e), 1 << 20).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map(|t| apache::envvars(&t))
            .unwrap_or_default();
        warnings.extend(runs.iter().filter_map(|s| broken_link(root, &s.config_file.display().to_string())));
        for settings in runs.iter().filter(|s| exists(root, &s.config_file.display().to_string())) {
            let cfg = apache::discover(root, settings, envvars.clone());
            sources.extend(cfg.sources);
            warnings.extend(cfg.warnings);
            configs.extend(cfg.files);
            let t = if cfg.keepalive { Some(cfg.keepalive_timeout_ms) } else { None };
            keepalive.push(KeepAlive::new(
                ServerKind::Apache,
                t,
                cfg.keepalive_origin,
                opts.lb_idle_timeout,
                "KeepAliveTimeout",
                &format!("KeepAliveTimeout {} (and KeepAlive On) in the main server config", opts.lb_idle_timeout + 5),
            ));
        }
    }

    if let Some(lp) = &lighttpd_profile.lighttpd {
        let mut confs: Vec<String> = procs("lighttpd").filter_map(|p| p.arg("-f")).collect();
        for c in &lp.configs {
            push_unique(&mut confs, c.clone());
        }
        warnings.extend(confs.iter().filter_map(|c| broken_link(root, c)));
        for c in confs.iter().filter(|c| exists(root, c)) {
            let cfg = lighttpd::discover(root, Path::new(c));
            sources.extend(cfg.sources);
            warnings.extend(cfg.warnings);
            configs.extend(cfg.files);
        }
    }

    let iis_profile =
        profile.iis.clone().or_else(|| crate::profile::load(crate::platform::Family::Windows, Path::new("/nonexistent")).ok().and_then(|p| p.iis));
    if let Some(ip) = iis_profile {
        let env = iis::default_env();
        let conf = iis::expand(&ip.config, &env);
        if iis::host_path(root, &conf).exists() {
            let cfg = iis::discover(root, &conf, &env);
            sources.extend(cfg.sources);
            warnings.extend(cfg.warnings);
            configs.push(conf);
            keepalive.push(KeepAlive::new(
                ServerKind::Iis,
                Some(cfg.connection_timeout * 1000),
                cfg.connection_timeout_origin,
                opts.lb_idle_timeout,
                "connectionTimeout",
                &format!("set system.applicationHost/webLimits connectionTimeout to 00:0{}:00 or more", (opts.lb_idle_timeout / 60) + 1),
            ));
        }
    }

    // One source per (server, kind, target): the first origin wins (Apache vhosts often repeat
    // the main error log).
    let mut seen = std::collections::HashSet::new();
    sources.retain(|s| seen.insert((s.server, s.kind, s.target.clone())));
    fill_files(&mut sources, root);
    let profile = if unknown { "unknown (every profile's places tried)".to_string() } else { profile.family.clone() };
    Discovery { platform, profile, sources, keepalive, warnings, configs, compiled_in }
}
