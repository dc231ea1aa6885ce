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

/// Something worth telling about a config (missing include, parse error, syslog-only, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub origin: Option<Origin>,
    pub message: String,
}

/// Maps instance paths to where they are read from (`--root`).
#[derive(Clone, Debug, Default)]
pub struct Root {
    pub dir: Option<PathBuf>,
}

impl Root {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Root { dir }
    }

    /// Where the instance path `p` is on this machine.
    pub fn host(&self, p: &Path) -> PathBuf {
        match &self.dir {
            Some(r) => r.join(p.strip_prefix("/").unwrap_or(p)),
            None => p.to_path_buf(),
        }
    }

    /// The instance path of a host path under the root.
    pub fn instance(&self, p: &Path) -> PathBuf {
        match &self.dir {
            Some(r) => match p.strip_prefix(r) {
                Ok(rel) => Path::new("/").join(rel),
                Err(_) => p.to_path_buf(),
            },
            None => p.to_path_buf(),
        }
    }

    /// Resolve symlinks inside the root (an absolute link target is taken under the root too),
    /// returning the instance path. Stops after 40 links.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        let mut out = PathBuf::from("/");
        let mut todo: Vec<std::ffi::OsString> = p.components().filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_os_string()),
            _ => None,
        }).rev().collect();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                out.pop();
                continue;
            }
            let next = out.join(&c);
            match std::fs::read_link(self.host(&next)) {
                Ok(target) if hops < 40 => {
                    hops += 1;
                    if target.is_absolute() {
                        out = PathBuf::from("/");
                    }
                    for t in target.components().rev() {
                        match t {
                            std::path::Component::Normal(s) => todo.push(s.to_os_string()),
                            std::path::Component::ParentDir => todo.push("..".into()),
                            _ => {}
                        }
                    }
                }
                _ => out = next,
            }
        }
        out
    }

    /// Instance paths matching a glob pattern (instance path), sorted; unreadable entries skipped.
    pub fn glob(&self, pattern: &str) -> Vec<PathBuf> {
        let host_pat = self.host(Path::new(pattern));
        let Some(hp) = host_pat.to_str() else { return Vec::new() };
        let mut v: Vec<PathBuf> = match glob::glob(hp) {
            Ok(paths) => paths.filter_map(Result::ok).map(|p| self.instance(&p)).collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    }
}

/// Whether a path has glob metacharacters.
pub fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// Fill `files` for every source: the file if it exists, or the glob's matches.
/// IIS sources (Windows paths) are filled by [`iis::discover`] itself.
pub fn fill_files(sources: &mut [Source], root: &Root) {
    for s in sources.iter_mut().filter(|s| s.server != ServerKind::Iis) {
        s.files = match &s.target {
            Target::File(p) => {
                let ip = root.resolve(Path::new(p));
                if root.host(&ip).is_file() { vec![ip.display().to_string()] } else { Vec::new() }
            }
            Target::Glob(g) => root.glob(g).into_iter().filter(|p| root.host(p).is_file()).map(|p| p.display().to_string()).collect(),
            _ => Vec::new(),
        };
    }
}

/// Read a config file with a size cap, so a 50 MB file of junk cannot stall discovery.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

pub fn read_config(root: &Root, p: &Path) -> Result<Vec<u8>, String> {
    let host = root.host(p);
    let meta = std::fs::metadata(&host).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    if meta.is_dir() {
        return Err(format!("{} is a directory", p.display()));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(format!("{} is {} bytes, over the {} byte limit for a config file: skipped", p.display(), meta.len(), MAX_CONFIG_BYTES));
    }
    std::fs::read(&host).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_mapping_and_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let r = Root::new(Some(d.path().to_path_buf()));
        std::fs::create_dir_all(d.path().join("var/log/httpd")).unwrap();
        std::fs::create_dir_all(d.path().join("etc/httpd")).unwrap();
        std::os::unix::fs::symlink("../../var/log/httpd", d.path().join("etc/httpd/logs")).unwrap();
        assert_eq!(r.resolve(Path::new("/etc/httpd/logs/error_log")), PathBuf::from("/var/log/httpd/error_log"));
        std::os::unix::fs::symlink("/var/log/httpd", d.path().join("etc/abs")).unwrap();
        assert_eq!(r.resolve(Path::new("/etc/abs/x")), PathBuf::from("/var/log/httpd/x"));
        assert_eq!(r.host(Path::new("/etc/x")), d.path().join("etc/x"));
        assert_eq!(r.instance(&d.path().join("etc/x")), PathBuf::from("/etc/x"));
    }
}
