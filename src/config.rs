//! The agent's configuration, `/etc/tailgate/tailgate.toml` (Windows:
//! `%ProgramData%\tailgate\tailgate.toml`, see [`crate::paths`]) (serde + toml). Every key is
//! optional; unknown keys and bad values are errors that name the key and the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::tail::StartAt;

/// The configuration file read when `--config` is not given.
pub fn default_path() -> PathBuf {
    crate::paths::current().config_file
}

/// A URL the agent probes periodically (e.g. the load balancer's health-check path).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// The URL (`http://` or `https://`), as for `--probe`.
    pub url: String,
    /// Seconds between two probes (default 30).
    #[serde(default = "default_probe_interval", deserialize_with = "crate::limits::de::probe_interval")]
    pub interval_secs: u64,
    /// Extra request headers, `Name: value`.
    #[serde(default)]
    pub headers: Vec<String>,
    /// The deadline of each phase of one probe, seconds (default 10).
    #[serde(default = "default_probe_timeout", deserialize_with = "crate::limits::de::probe_timeout")]
    pub timeout_secs: f64,
}

fn default_probe_interval() -> u64 {
    30
}

fn default_probe_timeout() -> f64 {
    10.0
}

/// Where events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    /// The agent's standard output (the journal, under systemd).
    Stdout,
    /// This file (appended to; rotated at `sink_max_bytes`).
    File(PathBuf),
}

/// The agent's configuration (`/etc/tailgate/tailgate.toml`): every key optional; an unknown key
/// or a value out of range is an error naming the key and the file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Extra logs (paths or globs) besides the discovered ones.
    pub logs: Vec<String>,
    /// Globs of paths never to follow.
    pub exclude: Vec<String>,
    /// Where checkpoints live.
    pub state_dir: PathBuf,
    /// `stdout` or a file path for the NDJSON events.
    pub sink: String,
    /// Rotate the events file when it grows past this many bytes (one `.1` is kept).
    #[serde(deserialize_with = "crate::limits::de::sink_bytes")]
    pub sink_max_bytes: u64,
    /// How often the read positions are saved, seconds.
    #[serde(deserialize_with = "crate::limits::de::checkpoint_interval")]
    pub checkpoint_interval_secs: u64,
    /// For files that exist at the very first start: `end` (default) or `beginning`.
    pub start_at: StartAt,
    /// Longer lines are cut at this many bytes (the rest of the line is skipped, and said).
    #[serde(deserialize_with = "crate::limits::de::line_bytes")]
    pub max_line_bytes: usize,
    /// Look for changes at least this often, whatever notify reports (NFS, watch limits).
    #[serde(deserialize_with = "crate::limits::de::poll_interval")]
    pub poll_interval_ms: u64,
    /// How long a rotated-away file is kept open after it last grew.
    #[serde(deserialize_with = "crate::limits::de::rotate_wait")]
    pub rotate_wait_secs: u64,
    /// How often a summary goes to the log (0: never).
    #[serde(deserialize_with = "crate::limits::de::summary_interval")]
    pub summary_interval_secs: u64,
    /// Whether to discover the host's logs (off: only `logs`).
    pub discover: bool,
    /// A directory where ELB/ALB access logs arrive (a cron `aws s3 sync`): each new file is
    /// correlated with the local logs and its findings are emitted as events.
    pub elb_log_dir: Option<PathBuf>,
    /// This instance's addresses as the load balancer logs them (default: the host's).
    pub backends: Vec<String>,
    /// The load balancer's idle timeout, for correlation (seconds).
    #[serde(deserialize_with = "crate::limits::de::lb_idle")]
    pub lb_idle_timeout_secs: u64,
    /// Correlation: the largest clock difference between load balancer and instance (seconds).
    #[serde(deserialize_with = "crate::limits::de::window")]
    pub window_secs: f64,
    /// Correlation: how many successive 502s from one backend make a burst.
    #[serde(deserialize_with = "crate::limits::de::burst")]
    pub burst: usize,
    /// URLs to probe periodically; a violation is a malformed-output event.
    pub probes: Vec<ProbeConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            logs: Vec::new(),
            exclude: Vec::new(),
            state_dir: crate::paths::current().state_dir,
            sink: "stdout".into(),
            sink_max_bytes: 64 << 20,
            checkpoint_interval_secs: 5,
            start_at: StartAt::End,
            max_line_bytes: 1 << 20,
            poll_interval_ms: 1000,
            rotate_wait_secs: 5,
            summary_interval_secs: 300,
            discover: true,
            elb_log_dir: None,
            backends: Vec::new(),
            lb_idle_timeout_secs: 60,
            window_secs: 5.0,
            burst: 3,
            probes: Vec::new(),
        }
    }
}

impl Config {
    /// Read a config file. A missing default file is the defaults; any other problem is an error
    /// that says which file and which key.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let (p, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (default_path(), false),
        };
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Config::default()),
            Err(e) => return Err(anyhow::anyhow!("{}: {e}", p.display())),
        };
        Config::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
    }

    /// Parse and check a configuration's text (every range, pattern, URL and header).
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let c: Config = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim()))?;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> anyhow::Result<()> {
        // The numeric ranges are checked while parsing (crate::limits), with the line.
        for p in &self.probes {
            crate::probe::Url::parse(&p.url).map_err(|e| anyhow::anyhow!("probes: {e}"))?;
            crate::probe::validate_request(&p.url, "GET", &p.headers, "headers").map_err(|e| anyhow::anyhow!("probes: {e}"))?;
        }
        for b in &self.backends {
            crate::correlate::BackendFilter::parse(b).map_err(|e| anyhow::anyhow!("backends: {e}"))?;
        }
        for g in self.logs.iter().chain(&self.exclude) {
            glob::Pattern::new(g).map_err(|e| anyhow::anyhow!("logs/exclude: {g:?} is not a valid pattern: {e}"))?;
        }
        Ok(())
    }

    /// Where events go: `stdout` (or `-`) or a file.
    pub fn sink(&self) -> Sink {
        if self.sink == "stdout" || self.sink == "-" { Sink::Stdout } else { Sink::File(self.sink.clone().into()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.toml");
        std::fs::write(&p, "logs = [\"/var/log/app/*.log\"]\nstart_at = \"beginning\"\n").unwrap();
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(c.logs, ["/var/log/app/*.log"]);
        assert_eq!(c.start_at, StartAt::Beginning);
        assert_eq!(c.checkpoint_interval_secs, 5);
        std::fs::write(&p, "chekpoint_interval_secs = 5\n").unwrap();
        let e = Config::load(Some(&p)).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("t.toml") && e.contains("chekpoint_interval_secs"), "{e}");
        std::fs::write(&p, "start_at = \"middle\"\n").unwrap();
        let e = Config::load(Some(&p)).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("start_at") || e.contains("middle"), "{e}");
        std::fs::write(&p, "checkpoint_interval_secs = 0\n").unwrap();
        assert!(Config::load(Some(&p)).unwrap_err().to_string().contains("checkpoint_interval_secs"));
        assert!(Config::load(Some(&d.path().join("missing.toml"))).is_err(), "an explicit file must exist");
    }
}
