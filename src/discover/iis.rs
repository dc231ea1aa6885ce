//! IIS: `applicationHost.config` → W3C log folders, plus the HTTP.sys HTTPERR folder.
//!
//! - `system.applicationHost/log@centralLogFileMode`: `Site` (default) gives one folder per site,
//!   `<directory>\W3SVC<id>\u_ex<date>.log`; `CentralW3C` one server-wide W3C log under
//!   `centralW3CLogFile@directory` (its exact file naming is not pinned down: globbed).
//! - Each site's `<logFile>` is merged over `siteDefaults/logFile` (enabled, directory, logFormat,
//!   period). Formats other than W3C (IIS, NCSA, custom) are reported with their prefix.
//! - `%SystemDrive%`-style variables are expanded (on Windows from the real environment).
//! - HTTPERR lives in `%SystemRoot%\System32\LogFiles\HTTPERR` unless the HTTP service's
//!   `ErrorLoggingDir` registry value moves it (Windows only).
//! - Keep-alive: `webLimits@connectionTimeout` (default 2 minutes) and per-site `limits`.
//!
//! Paths stay in Windows form in reports; with `--root`, `C:\x` is read from `ROOT/x` and other
//! drives from `ROOT/<letter>/x`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{LogKind, Origin, ServerKind, Source, Target, Warning};
use crate::paths::Root;

/// The variables IIS paths use, with their Windows defaults.
pub fn default_env() -> HashMap<String, String> {
    let mut m = HashMap::new();
    #[cfg(windows)]
    for k in ["SystemDrive", "SystemRoot", "windir", "ProgramData"] {
        if let Ok(v) = std::env::var(k) {
            m.insert(k.to_ascii_lowercase(), v);
        }
    }
    m.entry("systemdrive".into()).or_insert_with(|| "C:".into());
    m.entry("systemroot".into()).or_insert_with(|| "C:\\Windows".into());
    m.entry("windir".into()).or_insert_with(|| "C:\\Windows".into());
    m
}

/// Expand `%NAME%` (case-insensitive); unknown names are left as written.
pub fn expand(s: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let r = &rest[i + 1..];
        match r.find('%') {
            Some(e) if e > 0 => {
                let name = &r[..e];
                match env.get(&name.to_ascii_lowercase()) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[i..i + e + 2]),
                }
                rest = &r[e + 1..];
            }
            _ => {
                out.push('%');
                rest = r;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where a Windows path is read from: with a root, `C:\a\b` → `ROOT/a/b`, `D:\a` → `ROOT/D/a`.
pub fn host_path(root: &Root, win: &str) -> PathBuf {
    let (drive, rest) = match win.as_bytes() {
        [d, b':', ..] => ((*d as char).to_ascii_uppercase(), &win[2..]),
        _ => ('C', win),
    };
    let rel: PathBuf = rest.split(['\\', '/']).filter(|c| !c.is_empty()).collect();
    match &root.dir {
        Some(_) => root.host(&instance_path(drive, &rel)),
        None if cfg!(windows) => PathBuf::from(win),
        None => Path::new("/").join(rel),
    }
}

/// `C:\a\b` as an instance path under a root: `/a/b` (`D:\a`: `/D/a`).
fn instance_path(drive: char, rel: &Path) -> PathBuf {
    if drive == 'C' { Path::new("/").join(rel) } else { Path::new("/").join(drive.to_string()).join(rel) }
}

fn join_win(dir: &str, tail: &str) -> String {
    format!("{}\\{}", dir.trim_end_matches(['\\', '/']), tail)
}

/// Files matching a Windows glob (the pattern only in the last component, or `**` folders).
fn matches(root: &Root, win_glob: &str) -> Vec<String> {
    if root.dir.is_some() {
        // Under a root: walked inside it (see Root::glob), shown as Windows paths.
        let (drive, rest) = match win_glob.as_bytes() {
            [d, b':', ..] => ((*d as char).to_ascii_uppercase(), &win_glob[2..]),
            _ => ('C', win_glob),
        };
        let rel: PathBuf = rest.split(['\\', '/']).filter(|c| !c.is_empty()).collect();
        let mut v: Vec<String> = root
            .glob(&instance_path(drive, &rel).display().to_string())
            .into_iter()
            .filter(|p| root.host(p).is_file())
            .map(|p| {
                let parts: Vec<String> = p.components().skip(1).map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                format!("C:\\{}", parts.join("\\"))
            })
            .collect();
        v.sort();
        return v;
    }
    let host = host_path(root, win_glob);
    let Some(h) = host.to_str() else { return Vec::new() };
    let mut v: Vec<String> = glob::glob(h)
        .map(|it| {
            it.filter_map(Result::ok)
                .filter(|p| p.is_file())
                .map(|p| match &root.dir {
                    Some(r) => {
                        let rel = p.strip_prefix(r).unwrap_or(&p);
                        let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                        format!("C:\\{}", parts.join("\\"))
                    }
                    None => p.display().to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The result of reading applicationHost.config.
#[derive(Debug, Default)]
pub struct Config {
    /// The logs found (sites' W3C logs, central logging, HTTPERR).
    pub sources: Vec<Source>,
    /// What is worth telling about the configuration.
    pub warnings: Vec<Warning>,
    /// `webLimits@connectionTimeout` in seconds (IIS default 120) and its origin.
    pub connection_timeout: u64,
    /// Where `connectionTimeout` was set.
    pub connection_timeout_origin: Option<Origin>,
}

/// `hh:mm:ss` or `d.hh:mm:ss` → seconds.
fn timespan(s: &str) -> Option<u64> {
    let (days, hms) = match s.split_once('.') {
        Some((d, r)) if !d.contains(':') => (d.parse::<u64>().ok()?, r),
        _ => (0, s),
    };
    let p: Vec<u64> = hms.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    match p.as_slice() {
        [h, m, s] => Some(days * 86_400 + h * 3600 + m * 60 + s),
        _ => None,
    }
}

fn line_of(doc: &roxmltree::Document, node: roxmltree::Node) -> usize {
    doc.text_pos_at(node.range().start).row as usize
}

/// Read `config` (a Windows path such as `C:\Windows\System32\inetsrv\config\applicationHost.config`).
pub fn discover(root: &Root, config: &str, env: &HashMap<String, String>) -> Config {
    let mut out = Config { connection_timeout: 120, ..Default::default() };
    let httperr_dir = expand("%SystemRoot%\\System32\\LogFiles\\HTTPERR", env);
    let httperr = join_win(&httperr_dir, "httperr*.log");
    out.sources.push(Source {
        server: ServerKind::Iis,
        kind: LogKind::Httperr,
        files: matches(root, &httperr),
        target: Target::Glob(httperr),
        format: Some("httperr".into()),
        format_name: None,
        origin: None,
        note: Some("HTTP.sys error log (always on; the HTTP service's ErrorLoggingDir registry value can move it)".into()),
    });
    let path = host_path(root, config);
    let text = match crate::paths::read_regular(&path, super::MAX_CONFIG_BYTES).map(|b| String::from_utf8_lossy(&b).into_owned()) {
        Ok(t) => t,
        Err(e) => {
            out.warnings.push(Warning { origin: None, message: format!("cannot read {config}: {e}") });
            return out;
        }
    };
    let doc = match roxmltree::Document::parse(&text) {
        Ok(d) => d,
        Err(e) => {
            out.warnings.push(Warning { origin: Some(Origin { file: config.into(), line: e.pos().row as usize }), message: format!("not valid XML: {e}") });
            return out;
        }
    };
    let origin = |n: roxmltree::Node| Origin { file: config.to_string(), line: line_of(&doc, n) };
    let find = |name: &str| doc.descendants().find(|n| n.has_tag_name(name));
    if let Some(wl) = find("webLimits")
        && let Some(t) = wl.attribute("connectionTimeout").and_then(timespan)
    {
        out.connection_timeout = t;
        out.connection_timeout_origin = Some(origin(wl));
    }
    let log = find("log");
    let mode = log.and_then(|l| l.attribute("centralLogFileMode")).unwrap_or("Site");
    if mode == "CentralW3C" {
        let c = log.and_then(|l| l.children().find(|n| n.has_tag_name("centralW3CLogFile")));
        let dir = expand(c.and_then(|c| c.attribute("directory")).unwrap_or("%SystemDrive%\\inetpub\\logs\\LogFiles"), env);
        let g = join_win(&dir, "**\\*.log");
        out.sources.push(Source {
            server: ServerKind::Iis,
            kind: LogKind::Access,
            files: matches(root, &g),
            target: Target::Glob(g),
            format: Some("w3c".into()),
            format_name: Some("CentralW3C".into()),
            origin: c.map(origin),
            note: Some("one W3C log for all sites (s-sitename tells them apart)".into()),
        });
        return out;
    }
    if mode == "CentralBinary" {
        out.warnings.push(Warning { origin: log.map(origin), message: "centralLogFileMode=CentralBinary: IIS writes binary logs tailgate cannot read".into() });
        return out;
    }
    let defaults = find("siteDefaults").and_then(|d| d.children().find(|n| n.has_tag_name("logFile")));
    let attr = |site_lf: Option<roxmltree::Node<'_, '_>>, name: &str, dflt: &'static str| -> String {
        site_lf.and_then(|n| n.attribute(name)).or_else(|| defaults.and_then(|d| d.attribute(name))).unwrap_or(dflt).to_string()
    };
    let Some(sites) = find("sites") else { return out };
    for site in sites.children().filter(|n| n.has_tag_name("site")) {
        let id = site.attribute("id").unwrap_or("?");
        let name = site.attribute("name").unwrap_or("");
        let lf = site.children().find(|n| n.has_tag_name("logFile"));
        if attr(lf, "enabled", "true").eq_ignore_ascii_case("false") {
            out.warnings.push(Warning { origin: Some(origin(lf.unwrap_or(site))), message: format!("site {id} \"{name}\": logging disabled") });
            continue;
        }
        let fmt = attr(lf, "logFormat", "W3C");
        let (prefix, spec) = match fmt.as_str() {
            "W3C" => ("u_ex", Some("w3c".to_string())),
            "IIS" => ("u_in", None),
            "NCSA" => ("u_nc", Some("apache-common".to_string())),
            _ => ("u_", None),
        };
        if spec.is_none() {
            out.warnings.push(Warning {
                origin: Some(origin(lf.unwrap_or(site))),
                message: format!("site {id} \"{name}\": log format {fmt} is not read by tailgate (switch it to W3C)"),
            });
        }
        let dir = expand(&attr(lf, "directory", "%SystemDrive%\\inetpub\\logs\\LogFiles"), env);
        let g = join_win(&join_win(&dir, &format!("W3SVC{id}")), &format!("{prefix}*.log"));
        let period = attr(lf, "period", "Daily");
        out.sources.push(Source {
            server: ServerKind::Iis,
            kind: LogKind::Access,
            files: matches(root, &g),
            target: Target::Glob(g),
            format: spec,
            format_name: Some(fmt),
            origin: Some(origin(lf.unwrap_or(site))),
            note: Some(format!("site {id} \"{name}\", {period} files")),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_and_paths() {
        let env = default_env();
        assert_eq!(expand("%SystemDrive%\\inetpub\\logs", &env), "C:\\inetpub\\logs");
        assert_eq!(expand("%UNKNOWN%\\x", &env), "%UNKNOWN%\\x");
        let r = Root::new(Some("/r".into()));
        assert_eq!(host_path(&r, "C:\\inetpub\\logs"), PathBuf::from("/r/inetpub/logs"));
        assert_eq!(host_path(&r, "D:\\logs\\iis"), PathBuf::from("/r/D/logs/iis"));
        assert_eq!(timespan("00:02:00"), Some(120));
        assert_eq!(timespan("1.00:00:05"), Some(86_405));
    }
}
