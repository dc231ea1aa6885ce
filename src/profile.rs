//! Per-OS defaults (`profiles/*.toml`, embedded in the binary): where each server keeps its
//! configuration and logs, and its compiled-in defaults. Files in `/etc/tailgate/profiles.d/`
//! named after a family (`debian.toml`, …) are merged over the embedded one key by key.
//! Profiles are a fallback and a starting point: the servers' own configuration wins.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::platform::Family;

/// One OS family's places and defaults (a `profiles/*.toml` file, or an override merged over it).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `debian`, `rhel`, `suse`, `alpine` or `windows`.
    pub family: String,
    /// Where nginx is (absent: not looked for on this family).
    pub nginx: Option<NginxProfile>,
    /// Where Apache httpd is.
    pub apache: Option<ApacheProfile>,
    /// Where lighttpd is.
    pub lighttpd: Option<LighttpdProfile>,
    /// Where IIS is.
    pub iis: Option<IisProfile>,
}

/// nginx's places and compiled-in defaults (used when no binary can tell them with `-V`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NginxProfile {
    /// Binaries to run with `-V` for the compiled-in settings.
    pub binaries: Vec<String>,
    /// Main config files, the first that exists wins.
    pub configs: Vec<String>,
    /// `--prefix`: relative paths in the config are under it.
    pub prefix: String,
    /// `--http-log-path`: the access log when no `access_log` is set.
    pub http_log_path: String,
    /// `--error-log-path`: the error log when no `error_log` is set (`stderr` on Debian).
    pub error_log_path: String,
    /// Where this family's packages put the logs (for the agent's defaults).
    pub log_dirs: Vec<String>,
}

/// Apache httpd's places and compiled-in defaults (used when no binary can tell them with `-V`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApacheProfile {
    /// Binaries to run with `-V` for the compiled-in settings.
    pub binaries: Vec<String>,
    /// `HTTPD_ROOT`: relative paths in the config are under it.
    pub server_root: String,
    /// `SERVER_CONFIG_FILE`, the main config file.
    pub config: String,
    /// Debian's `envvars` file (`APACHE_LOG_DIR`, …), read for `${VAR}` in the config.
    pub envvars: Option<String>,
    /// `DEFAULT_ERRORLOG`: the error log when no `ErrorLog` is set.
    pub default_errorlog: String,
    /// Where this family's packages put the logs.
    pub log_dirs: Vec<String>,
}

/// lighttpd's places.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LighttpdProfile {
    /// Main config files, the first that exists wins.
    pub configs: Vec<String>,
    /// Where this family's packages put the logs.
    pub log_dirs: Vec<String>,
}

/// IIS's places.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IisProfile {
    /// `applicationHost.config` (with `%windir%`-style variables).
    pub config: String,
    /// Where IIS writes logs by default.
    pub log_dirs: Vec<String>,
}

/// The profiles compiled into the binary.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("debian", include_str!("../profiles/debian.toml")),
    ("rhel", include_str!("../profiles/rhel.toml")),
    ("suse", include_str!("../profiles/suse.toml")),
    ("alpine", include_str!("../profiles/alpine.toml")),
    ("windows", include_str!("../profiles/windows.toml")),
];

/// Where an operator's profile overrides live (`/etc/tailgate/profiles.d`; Windows:
/// `%ProgramData%\tailgate\profiles.d`).
pub fn override_dir() -> std::path::PathBuf {
    crate::paths::current().profiles_dir
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The profile for a family: the embedded one (Debian's for unknown Linux families), with the
/// override file from `override_dir` (when given) merged over it. A broken override is an error
/// naming the file and the problem.
pub fn load(family: Family, override_dir: Option<&Path>) -> anyhow::Result<Profile> {
    let name = match family {
        Family::Unknown => "debian",
        f => f.as_str(),
    };
    let text = EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).unwrap_or(EMBEDDED[0].1);
    let mut table: toml::Table = text.parse().map_err(|e| anyhow::anyhow!("embedded profile {name}: {e}"))?;
    let ov = override_dir.map(|d| d.join(format!("{name}.toml"))).filter(|ov| ov.exists());
    if let Some(ov) = &ov {
        let t = std::fs::read_to_string(ov).map_err(|e| anyhow::anyhow!("{}: {e}", ov.display()))?;
        let o: toml::Table = t.parse().map_err(|e| anyhow::anyhow!("{}: {e}", ov.display()))?;
        merge(&mut table, o);
    }
    let source = match &ov {
        Some(ov) => ov.display().to_string(),
        None => format!("embedded profile {name}"),
    };
    Profile::deserialize(toml::Value::Table(table)).map_err(|e| anyhow::anyhow!("{source}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_profile_parses() {
        for f in [Family::Debian, Family::Rhel, Family::Suse, Family::Alpine, Family::Windows, Family::Unknown] {
            let p = load(f, None).unwrap();
            assert!(!p.family.is_empty());
        }
        let d = load(Family::Debian, None).unwrap();
        assert_eq!(d.nginx.unwrap().error_log_path, "stderr");
        assert_eq!(load(Family::Rhel, Some(Path::new("/x"))).unwrap().apache.unwrap().server_root, "/etc/httpd");
    }

    #[test]
    fn overrides_merge_and_typos_are_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("debian.toml"), "[nginx]\nconfigs = [\"/opt/nginx/nginx.conf\"]\n").unwrap();
        let p = load(Family::Debian, Some(d.path())).unwrap();
        let n = p.nginx.unwrap();
        assert_eq!(n.configs, ["/opt/nginx/nginx.conf"]);
        assert_eq!(n.prefix, "/usr/share/nginx", "other keys keep the embedded value");
        std::fs::write(d.path().join("debian.toml"), "[nginx]\nconfig = \"/x\"\n").unwrap();
        let e = load(Family::Debian, Some(d.path())).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("debian.toml") && e.contains("config"), "{e}");
    }
}
