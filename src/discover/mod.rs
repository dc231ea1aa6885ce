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
    /// nginx.
    Nginx,
    /// Apache httpd.
    Apache,
    /// lighttpd.
    Lighttpd,
    /// IIS.
    Iis,
}

/// What a log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    /// An access log.
    Access,
    /// An error log.
    Error,
    /// IIS's HTTP.sys error log (`HTTPERR`).
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
    /// The config file (instance path).
    pub file: String,
    /// The line (1-based).
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
    /// The server whose configuration names it.
    pub server: ServerKind,
    /// Access or error log.
    pub kind: LogKind,
    /// The file, glob, pipe or syslog it goes to.
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
    /// The directive it is about, when one is.
    pub origin: Option<Origin>,
    /// What to know.
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

/// Read a config file (at most [`MAX_CONFIG_BYTES`]) under `root`.
pub fn read_config(root: &Root, p: &Path) -> anyhow::Result<Vec<u8>> {
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

/// Why [`Budget::read`] read nothing.
#[derive(Debug, thiserror::Error)]
pub enum ConfigReadError {
    /// The budget was spent by an earlier read, which said so: nothing more to tell.
    #[error("the configuration read budget was spent earlier")]
    Spent,
    /// This read spent the budget, or the file could not be read: worth a warning.
    #[error("{0}")]
    Refused(String),
}

impl Budget {
    /// [`read_config`] within the budget.
    pub fn read(&mut self, root: &Root, p: &Path, from: Option<&Origin>) -> Result<Vec<u8>, ConfigReadError> {
        if self.spent {
            return Err(ConfigReadError::Spent);
        }
        if self.reads >= MAX_CONFIG_READS || self.bytes > MAX_CONFIG_TOTAL {
            self.spent = true;
            let at = from.map(|o| format!(" (included from {o})")).unwrap_or_default();
            return Err(ConfigReadError::Refused(format!(
                "the configuration's includes read {} files ({} bytes) — they repeat or multiply (an include cycle through a pattern?): stopped before {}{at}; the servers refuse such a configuration",
                self.reads,
                self.bytes,
                p.display()
            )));
        }
        let d = read_config(root, p).map_err(|e| ConfigReadError::Refused(e.to_string()))?;
        self.reads += 1;
        self.bytes += d.len() as u64;
        Ok(d)
    }
}

/// Options for a discovery run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the instance's files are read from.
    pub root: Root,
    /// The load balancer's idle timeout (seconds) for the keep-alive check.
    pub lb_idle_timeout: u64,
    /// Where local profile overrides live; `None`: the embedded profiles alone.
    pub profile_dir: Option<PathBuf>,
}

/// A server's keep-alive timeout compared with the load balancer's idle timeout.
#[derive(Clone, Debug, Serialize)]
pub struct KeepAlive {
    /// The server.
    pub server: ServerKind,
    /// The directive that sets it (`keepalive_timeout`, `KeepAliveTimeout`, `connectionTimeout`).
    #[serde(skip)]
    pub directive: &'static str,
    /// `None` when keep-alive is off. Whole seconds (rounded down): see `timeout_ms`.
    pub timeout_secs: Option<u64>,
    /// The timeout as set (`500ms` is 500).
    pub timeout_ms: Option<u64>,
    /// The directive's `file:line` (`None`: the server's default).
    pub origin: Option<Origin>,
    /// The load balancer's idle timeout compared with (seconds).
    pub lb_idle_timeout: u64,
    /// The keep-alive outlasts the load balancer's idle timeout (or keep-alive is off).
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
    /// The OS, addresses and web-server processes.
    pub platform: crate::platform::Platform,
    /// The profile used (`debian`, …, or `unknown …`).
    pub profile: String,
    /// Every log, with the config file and line it came from.
    pub sources: Vec<Source>,
    /// Each server's keep-alive against the load balancer's idle timeout.
    pub keepalive: Vec<KeepAlive>,
    /// What is worth telling (missing includes, broken links, syslog-only logs, …).
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

/// Find every web-server log on the host (or under `opts.root`): the platform, the profile for
/// each server, then each server's configuration — nginx, Apache, lighttpd, IIS — read from the
/// places the profile (or the running server itself) says.
pub fn discover(opts: &Options) -> Discovery {
    let root = &opts.root;
    let platform = crate::platform::detect(root);
    let mut found = Found::default();
    let profiles = Profiles::choose(opts, &platform, &mut found.warnings);
    let host = Host { root, live: root.dir.is_none(), platform: &platform, lb_idle_timeout: opts.lb_idle_timeout };
    if let Some(np) = &profiles.nginx.nginx {
        host.nginx(np, &profiles.nginx.family, &mut found);
    }
    if let Some(ap) = &profiles.apache.apache {
        host.apache(ap, &profiles.apache.family, &mut found);
    }
    if let Some(lp) = &profiles.lighttpd.lighttpd {
        host.lighttpd(lp, &mut found);
    }
    let iis_profile = profiles.host.iis.clone().or_else(|| crate::profile::load(crate::platform::Family::Windows, None).ok().and_then(|p| p.iis));
    if let Some(ip) = iis_profile {
        host.iis(&ip, &mut found);
    }
    let Found { mut sources, keepalive, warnings, configs, compiled_in } = found;
    // One source per (server, kind, target): the first origin wins (Apache vhosts often repeat
    // the main error log).
    let mut seen = std::collections::HashSet::new();
    sources.retain(|s| seen.insert((s.server, s.kind, s.target.clone())));
    fill_files(&mut sources, root);
    let profile = if profiles.unknown { "unknown (every profile's places tried)".to_string() } else { profiles.host.family.clone() };
    Discovery { platform, profile, sources, keepalive, warnings, configs, compiled_in }
}

/// What the per-server steps of [`discover`] add up.
#[derive(Default)]
struct Found {
    sources: Vec<Source>,
    keepalive: Vec<KeepAlive>,
    warnings: Vec<Warning>,
    configs: Vec<String>,
    compiled_in: Vec<String>,
}

/// The profile each server is looked for with.
struct Profiles {
    /// The host's own (its family's).
    host: crate::profile::Profile,
    nginx: crate::profile::Profile,
    apache: crate::profile::Profile,
    lighttpd: crate::profile::Profile,
    /// The OS is not identified: every Linux profile's places were tried.
    unknown: bool,
}

impl Profiles {
    /// The host family's profile for every server; on an OS that cannot be identified (no
    /// readable os-release: a chroot, a container image, a copied tree), each server is looked
    /// for in every Linux profile's places, the first profile whose configuration exists winning.
    fn choose(opts: &Options, platform: &crate::platform::Platform, warnings: &mut Vec<Warning>) -> Profiles {
        let root = &opts.root;
        let load_profile = |family: crate::platform::Family, warnings: &mut Vec<Warning>| match crate::profile::load(family, opts.profile_dir.as_deref()) {
            Ok(p) => p,
            Err(e) => {
                warnings.push(Warning { origin: None, message: format!("{e}: using the embedded profile") });
                crate::profile::load(family, None).unwrap_or_default()
            }
        };
        let profile = load_profile(platform.family, warnings);
        let unknown = platform.family == crate::platform::Family::Unknown;
        let candidates: Vec<crate::profile::Profile> = if unknown {
            use crate::platform::Family as F;
            [F::Debian, F::Rhel, F::Suse, F::Alpine].into_iter().map(|f| load_profile(f, warnings)).collect()
        } else {
            vec![profile.clone()]
        };
        // Whether a profile's places hold each server's configuration.
        let has_nginx = |p: &crate::profile::Profile| p.nginx.as_ref().is_some_and(|n| n.configs.iter().any(|c| exists(root, c)));
        let has_apache = |p: &crate::profile::Profile| p.apache.as_ref().is_some_and(|a| exists(root, &a.config));
        let has_lighttpd = |p: &crate::profile::Profile| p.lighttpd.as_ref().is_some_and(|l| l.configs.iter().any(|c| exists(root, c)));
        // (the profile used for a server, whether its configuration was found there)
        let pick = |found: &dyn Fn(&crate::profile::Profile) -> bool| match candidates.iter().find(|p| found(p)) {
            Some(p) => (p.clone(), true),
            None => (candidates[0].clone(), false),
        };
        let (nginx, nginx_found) = pick(&has_nginx);
        let (apache, apache_found) = pick(&has_apache);
        let (lighttpd, lighttpd_found) = pick(&has_lighttpd);
        if unknown {
            let used: Vec<String> = [("nginx", &nginx, nginx_found), ("apache", &apache, apache_found), ("lighttpd", &lighttpd, lighttpd_found)]
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
        Profiles { host: profile, nginx, apache, lighttpd, unknown }
    }
}

/// Where discovery looks: the root, whether it is the live host (binaries are run and processes
/// read only then), and the load balancer's idle timeout for the keep-alive check.
struct Host<'a> {
    root: &'a Root,
    live: bool,
    platform: &'a crate::platform::Platform,
    lb_idle_timeout: u64,
}

impl Host<'_> {
    /// The running processes of one server.
    fn procs(&self, server: &'static str) -> impl Iterator<Item = &crate::platform::WebProcess> {
        self.platform.processes.iter().filter(move |p| p.server == server)
    }

    /// nginx: the compiled-in settings (from a binary's `-V` on the live host, else the
    /// profile's), each running master's `-p`/`-c`, then the profile's configs.
    fn nginx(&self, np: &crate::profile::NginxProfile, family: &str, out: &mut Found) {
        let root = self.root;
        let mut settings = nginx::Settings {
            prefix: np.prefix.clone().into(),
            conf_path: np.configs.first().cloned().unwrap_or_default().into(),
            http_log_path: np.http_log_path.clone().into(),
            error_log_path: np.error_log_path.clone(),
            from: format!("profile {family}"),
        };
        // (config, settings) pairs: each running master with its own -p/-c, then the defaults.
        let mut confs: Vec<(String, nginx::Settings)> = Vec::new();
        let mut bins: Vec<PathBuf> = self.procs("nginx").filter_map(|p| p.exe.clone()).collect();
        bins.extend(np.binaries.iter().map(PathBuf::from).filter(|b| self.live && b.exists()));
        if self.live
            && let Some(s) = bins.iter().find_map(|b| nginx::Settings::from_binary(b))
        {
            settings = s;
        }
        out.compiled_in.push(format!(
            "nginx: {} (prefix {}, conf-path {}, http-log-path {}, error-log-path {})",
            settings.from,
            settings.prefix.display(),
            settings.conf_path.display(),
            settings.http_log_path.display(),
            settings.error_log_path
        ));
        for p in self.procs("nginx") {
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
        out.warnings.extend(confs.iter().filter_map(|(c, _)| broken_link(root, c)));
        for (c, settings) in confs.iter().filter(|(c, _)| exists(root, c)) {
            let cfg = nginx::load(root, Path::new(c));
            let (s, w) = nginx::logs(&cfg, settings);
            out.sources.extend(s);
            out.warnings.extend(w);
            out.warnings.extend(cfg.warnings.iter().cloned());
            out.configs.extend(cfg.files.iter().cloned());
            let (t, o) = nginx::keepalive_timeout(&cfg);
            let t = if t == 0 { None } else { Some(t) };
            out.keepalive.push(KeepAlive::new(
                ServerKind::Nginx,
                t,
                o,
                self.lb_idle_timeout,
                "keepalive_timeout",
                &format!("keepalive_timeout {}s; in the http block", self.lb_idle_timeout + 15),
            ));
        }
    }

    /// Apache: the compiled-in settings (`-V` on the live host, else the profile's), each running
    /// master's `-d`/`-f`, then the default config; `envvars` (Debian) for `${APACHE_LOG_DIR}`.
    fn apache(&self, ap: &crate::profile::ApacheProfile, family: &str, out: &mut Found) {
        let root = self.root;
        let mut settings = apache::Settings {
            server_root: ap.server_root.clone().into(),
            config_file: ap.config.clone().into(),
            default_errorlog: ap.default_errorlog.clone(),
            builtin: ["core", "so", "http", "log_config", "logio", "version", "unixd", "watchdog"].map(String::from).to_vec(),
            from: format!("profile {family}"),
        };
        if self.live {
            let mut bins: Vec<PathBuf> = self.procs("apache").filter_map(|p| p.exe.clone()).collect();
            bins.extend(ap.binaries.iter().map(PathBuf::from).filter(|b| b.exists()));
            if let Some(s) = bins.iter().find_map(|b| apache::Settings::from_binary(b)) {
                settings = s;
            }
        }
        out.compiled_in.push(format!(
            "apache: {} (server root {}, config {}, default error log {})",
            settings.from,
            settings.server_root.display(),
            settings.config_file.display(),
            settings.default_errorlog
        ));
        // Each running master's -d/-f, then the default config.
        let mut runs: Vec<apache::Settings> = Vec::new();
        for p in self.procs("apache") {
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
        out.warnings.extend(runs.iter().filter_map(|s| broken_link(root, &s.config_file.display().to_string())));
        for settings in runs.iter().filter(|s| exists(root, &s.config_file.display().to_string())) {
            let cfg = apache::discover(root, settings, envvars.clone());
            out.sources.extend(cfg.sources);
            out.warnings.extend(cfg.warnings);
            out.configs.extend(cfg.files);
            let t = if cfg.keepalive { Some(cfg.keepalive_timeout_ms) } else { None };
            out.keepalive.push(KeepAlive::new(
                ServerKind::Apache,
                t,
                cfg.keepalive_origin,
                self.lb_idle_timeout,
                "KeepAliveTimeout",
                &format!("KeepAliveTimeout {} (and KeepAlive On) in the main server config", self.lb_idle_timeout + 5),
            ));
        }
    }

    /// lighttpd: each running server's `-f`, then the profile's configs.
    fn lighttpd(&self, lp: &crate::profile::LighttpdProfile, out: &mut Found) {
        let root = self.root;
        let mut confs: Vec<String> = self.procs("lighttpd").filter_map(|p| p.arg("-f")).collect();
        for c in &lp.configs {
            push_unique(&mut confs, c.clone());
        }
        out.warnings.extend(confs.iter().filter_map(|c| broken_link(root, c)));
        for c in confs.iter().filter(|c| exists(root, c)) {
            let cfg = lighttpd::discover(root, Path::new(c));
            out.sources.extend(cfg.sources);
            out.warnings.extend(cfg.warnings);
            out.configs.extend(cfg.files);
        }
    }

    /// IIS: `applicationHost.config`, where the profile says (the Windows profile's on any host:
    /// a copied Windows tree under `--root`).
    fn iis(&self, ip: &crate::profile::IisProfile, out: &mut Found) {
        let root = self.root;
        let env = iis::default_env();
        let conf = iis::expand(&ip.config, &env);
        if iis::host_path(root, &conf).exists() {
            let cfg = iis::discover(root, &conf, &env);
            out.sources.extend(cfg.sources);
            out.warnings.extend(cfg.warnings);
            out.configs.push(conf);
            out.keepalive.push(KeepAlive::new(
                ServerKind::Iis,
                Some(cfg.connection_timeout * 1000),
                cfg.connection_timeout_origin,
                self.lb_idle_timeout,
                "connectionTimeout",
                &format!("set system.applicationHost/webLimits connectionTimeout to 00:0{}:00 or more", (self.lb_idle_timeout / 60) + 1),
            ));
        }
    }
}
