//! The host: OS family and version, local IP addresses, running web-server processes.
//!
//! The OS comes from `/etc/os-release` (read under `--root` when one is given, so a copied tree
//! is judged by its own release file); addresses and processes come from sysinfo and only
//! describe the live host, so they are skipped under `--root`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::paths::Root;

/// Operating-system family, as profiles are keyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Debian,
    Rhel,
    Suse,
    Alpine,
    Windows,
    Unknown,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Debian => "debian",
            Family::Rhel => "rhel",
            Family::Suse => "suse",
            Family::Alpine => "alpine",
            Family::Windows => "windows",
            Family::Unknown => "unknown",
        }
    }
}

/// A running web-server process.
#[derive(Clone, Debug, Serialize)]
pub struct WebProcess {
    pub pid: u32,
    /// `nginx`, `apache`, `lighttpd`, `iis`.
    pub server: String,
    pub exe: Option<PathBuf>,
    pub cmd: Vec<String>,
}

impl WebProcess {
    /// The value after `flag` on the command line (`-c FILE` or `-cFILE`). nginx rewrites its
    /// argv into one string (`nginx: master process /usr/sbin/nginx -c /etc/x.conf`), so every
    /// element is split into words.
    pub fn arg(&self, flag: &str) -> Option<String> {
        let words: Vec<&str> = self.cmd.iter().flat_map(|c| c.split_whitespace()).collect();
        let mut it = words.iter();
        while let Some(a) = it.next() {
            if *a == flag {
                return it.next().map(|s| s.to_string());
            }
            if let Some(v) = a.strip_prefix(flag)
                && !v.is_empty()
                && flag.len() == 2
            {
                return Some(v.to_string());
            }
        }
        None
    }
}

/// What tailgate knows about the host.
#[derive(Clone, Debug, Serialize)]
pub struct Platform {
    pub family: Family,
    /// `ID` from os-release (`debian`, `ubuntu`, `rhel`, `amzn`, …).
    pub id: String,
    pub version: String,
    pub pretty_name: String,
    pub addresses: Vec<String>,
    pub processes: Vec<WebProcess>,
}

/// Parse os-release (`KEY=value`, values optionally quoted).
pub fn os_release(text: &str) -> HashMap<String, String> {
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').trim_matches('\'').to_string())).collect()
}

/// The family for os-release `ID` / `ID_LIKE`.
pub fn family_of(id: &str, id_like: &str) -> Family {
    let ids: Vec<&str> = std::iter::once(id).chain(id_like.split_whitespace()).collect();
    for i in ids {
        match i {
            "debian" | "ubuntu" | "raspbian" | "linuxmint" => return Family::Debian,
            "rhel" | "centos" | "fedora" | "rocky" | "almalinux" | "amzn" | "ol" => return Family::Rhel,
            "suse" | "opensuse" | "sles" | "opensuse-leap" | "opensuse-tumbleweed" => return Family::Suse,
            "alpine" => return Family::Alpine,
            _ => {}
        }
    }
    Family::Unknown
}

fn server_of(name: &str) -> Option<&'static str> {
    let n = name.trim_end_matches(".exe");
    Some(match n {
        "nginx" => "nginx",
        "apache2" | "httpd" | "httpd2-prefork" | "httpd2-worker" => "apache",
        "lighttpd" => "lighttpd",
        "w3wp" | "inetinfo" => "iis",
        _ => return None,
    })
}

/// Detect the platform. With a root, only its os-release is read.
pub fn detect(root: &Root) -> Platform {
    if cfg!(windows) && root.dir.is_none() {
        return Platform {
            family: Family::Windows,
            id: "windows".into(),
            version: sysinfo::System::os_version().ok().unwrap_or_default(),
            pretty_name: sysinfo::System::long_os_version().ok().unwrap_or_else(|| "Windows".into()),
            addresses: addresses(),
            processes: processes(),
        };
    }
    let rel = root
        .read(Path::new("/etc/os-release"), 1 << 20)
        .or_else(|_| root.read(Path::new("/usr/lib/os-release"), 1 << 20))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let r = os_release(&rel);
    let get = |k: &str| r.get(k).cloned().unwrap_or_default();
    let mut family = family_of(&get("ID"), &get("ID_LIKE"));
    if family == Family::Unknown && root.dir.is_some() && root.host(Path::new("/Windows/System32")).is_dir() {
        family = Family::Windows;
    }
    let live = root.dir.is_none();
    Platform {
        family,
        id: get("ID"),
        version: get("VERSION_ID"),
        pretty_name: get("PRETTY_NAME"),
        addresses: if live { addresses() } else { Vec::new() },
        processes: if live { processes() } else { Vec::new() },
    }
}

/// This host's IP addresses (loopback excluded).
pub fn addresses() -> Vec<String> {
    let mut v: Vec<String> = match sysinfo::Networks::new_with_refreshed_list() {
        Ok(n) => {
            (&n).into_iter().flat_map(|(_, data)| data.ip_networks().iter().map(|ip| ip.addr)).filter(|a| !a.is_loopback()).map(|a| a.to_string()).collect()
        }
        Err(_) => Vec::new(),
    };
    v.sort();
    v.dedup();
    v
}

/// Running web servers, with their command lines.
pub fn processes() -> Vec<WebProcess> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
    let Ok(mut sys) = System::new() else { return Vec::new() };
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always).with_exe(UpdateKind::Always));
    let mut v: Vec<WebProcess> = sys
        .processes()
        .values()
        .filter_map(|p| {
            let name = p.name().to_string_lossy().into_owned();
            let server = server_of(&name)?;
            Some(WebProcess {
                pid: p.pid().as_u32(),
                server: server.into(),
                exe: p.exe().map(Path::to_path_buf),
                cmd: p.cmd().iter().map(|s| s.to_string_lossy().into_owned()).collect(),
            })
        })
        .collect();
    v.sort_by_key(|p| p.pid);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(family_of("ubuntu", "debian"), Family::Debian);
        assert_eq!(family_of("amzn", "centos rhel fedora"), Family::Rhel);
        assert_eq!(family_of("rocky", "rhel centos fedora"), Family::Rhel);
        assert_eq!(family_of("opensuse-leap", "suse opensuse"), Family::Suse);
        assert_eq!(family_of("alpine", ""), Family::Alpine);
        assert_eq!(family_of("plan9", ""), Family::Unknown);
        let r = os_release("PRETTY_NAME=\"Amazon Linux 2023\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n");
        assert_eq!(r["ID"], "amzn");
        assert_eq!(r["VERSION_ID"], "2023");
    }

    #[test]
    fn process_args() {
        let p = WebProcess { pid: 1, server: "nginx".into(), exe: None, cmd: vec!["nginx: master process /usr/sbin/nginx -c /opt/n.conf".into()] };
        assert_eq!(p.arg("-c").as_deref(), Some("/opt/n.conf"));
        let p = WebProcess { pid: 1, server: "apache".into(), exe: None, cmd: vec!["httpd".into(), "-f/opt/h.conf".into(), "-d".into(), "/opt".into()] };
        assert_eq!(p.arg("-f").as_deref(), Some("/opt/h.conf"));
        assert_eq!(p.arg("-d").as_deref(), Some("/opt"));
    }

    #[test]
    fn live_host_is_detected() {
        let p = detect(&Root::default());
        assert_ne!(p.family, Family::Unknown, "{p:?}");
        assert!(p.processes.iter().all(|w| !w.server.is_empty()));
    }
}
