//! What the agent follows: discovery plus the configuration, turned into paths (or globs) and
//! the format of each.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::format::Format;

/// Paths to follow and their formats.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Paths and globs to follow (discovered, then the configuration's `logs`), minus `exclude`.
    pub paths: Vec<String>,
    /// Formats known for paths or globs, in the order they were found (discovery, in the
    /// servers' config order). For a file, an exact path wins; else the first glob that matches
    /// it — overlapping globs resolve the same way every time.
    pub formats: Vec<(String, Format)>,
    /// The web servers' config files discovery read (host paths) and their modification times:
    /// a change means discovering again.
    pub configs: Vec<(PathBuf, Option<std::time::SystemTime>)>,
}

impl Plan {
    /// Whether a config file discovery read changed (or went away) since: then discover again.
    pub fn configs_changed(&self) -> bool {
        self.configs.iter().any(|(p, m)| std::fs::metadata(p).and_then(|x| x.modified()).ok() != *m)
    }

    /// Directories holding the config files (watched, so an edit is seen at once).
    pub fn config_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.configs.iter().filter_map(|(p, _)| p.parent().map(Path::to_path_buf)).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The format a followed file was found with: its exact path first, then the first glob (in
    /// plan order) that matches it. `None`: detect it from the file.
    pub fn format_for(&self, path: &Path) -> Option<&Format> {
        let key = path.display().to_string();
        self.formats
            .iter()
            .find(|(p, _)| *p == key)
            .or_else(|| self.formats.iter().find(|(p, _)| crate::paths::has_glob(p) && glob::Pattern::new(p).is_ok_and(|g| g.matches(&key))))
            .map(|(_, f)| f)
    }
}

/// Build the plan: discovered access/error logs, the config's `logs`, extra `--log`s, minus
/// `exclude`.
pub fn plan(cfg: &Config, extra: &[PathBuf], opts: &crate::discover::Options) -> Plan {
    let mut p = Plan::default();
    let root = &opts.root;
    if cfg.discover {
        let d = crate::discover::discover(opts);
        p.configs = d
            .configs
            .iter()
            .map(|c| root.host(Path::new(c)))
            .map(|h| {
                let m = std::fs::metadata(&h).and_then(|x| x.modified()).ok();
                (h, m)
            })
            .collect();
        for s in d
            .sources
            .iter()
            .filter(|s| matches!(s.kind, crate::discover::LogKind::Access | crate::discover::LogKind::Error | crate::discover::LogKind::Httperr))
        {
            let fmt = s.log_format();
            let path = match &s.target {
                crate::discover::Target::File(f) | crate::discover::Target::Glob(f) => s.host_file(root, f).display().to_string(),
                _ => continue,
            };
            if let Some(f) = fmt
                && !p.formats.iter().any(|(k, _)| *k == path)
            {
                p.formats.push((path.clone(), f));
            }
            if !p.paths.contains(&path) {
                p.paths.push(path);
            }
        }
    }
    for l in cfg.logs.iter().cloned().chain(extra.iter().map(|e| e.display().to_string())) {
        if !p.paths.contains(&l) {
            p.paths.push(l);
        }
    }
    let excl: Vec<glob::Pattern> = cfg.exclude.iter().filter_map(|g| glob::Pattern::new(g).ok()).collect();
    p.paths.retain(|path| !excl.iter().any(|e| e.matches(path)));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_path_then_first_glob_in_order() {
        let f = |s: &str| Format::from_spec(s).unwrap();
        let p = Plan {
            formats: vec![
                ("/var/log/*.log".into(), f("nginx-combined")),
                ("/var/log/a*.log".into(), f("apache-common")),
                ("/var/log/app.log".into(), f("elb")),
            ],
            ..Default::default()
        };
        assert_eq!(p.format_for(Path::new("/var/log/app.log")).unwrap().name(), "elb");
        assert_eq!(p.format_for(Path::new("/var/log/api.log")).unwrap().name(), f("nginx-combined").name(), "the first glob in order, not a random one");
        assert!(p.format_for(Path::new("/srv/x.log")).is_none());
    }
}
