//! Command-line arguments (clap). No logic here: `main` picks the mode.

use std::path::PathBuf;

use clap::{ArgGroup, Parser};

/// tailgate — is the 502 the load balancer's or my backend's, which instance, which request, and why?
#[derive(Debug, Parser)]
#[command(name = "tailgate", version = crate::VERSION_LONG, about, long_about = None)]
#[command(group(ArgGroup::new("mode").args(["scan", "discover", "correlate", "probe", "service"]).multiple(false)))]
pub struct Cli {
    /// One pass over logs: 5xx, malformed backend output, bad lines, timeline, top failing paths.
    #[arg(long)]
    pub scan: bool,
    /// Find every web-server log on this host from the servers' own configuration.
    #[arg(long)]
    pub discover: bool,
    /// Explain every load-balancer 5xx in the given ELB/ALB logs with local evidence.
    #[arg(long)]
    pub correlate: bool,
    /// Send a raw request to a backend and judge its response as strictly as the load balancer.
    #[arg(long)]
    pub probe: bool,
    /// Run the agent as a Windows service (what the MSI registers; Windows only).
    #[arg(long, hide = true)]
    pub service: bool,

    /// Logs to scan (files, `.gz` files, or `-` for stdin); ELB logs for --correlate; URL for --probe.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Treat DIR as the filesystem root (for a copied server tree).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Output format (html: one self-contained page, for --scan and --correlate).
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// How reports name stdin (`-`) in findings and events: the S3 key a pipeline streams into
    /// `tailgate … -`, say (default `-`).
    #[arg(long, value_name = "NAME")]
    pub stdin_name: Option<String>,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// An extra log to read (repeatable).
    #[arg(long = "log", value_name = "PATH")]
    pub logs: Vec<PathBuf>,
    /// Force the format of the given logs instead of detecting it: elb, alb, w3c, httperr,
    /// nginx-error, apache-error, nginx-combined, nginx-main, nginx-forwarded, apache-common, apache-combined,
    /// apache-vhost_combined, `apache:<LogFormat>` or `nginx:<log_format>`.
    #[arg(long, value_name = "SPEC")]
    pub log_format: Option<String>,
    /// Only records newer than this (e.g. 90s, 15m, 2h, 3d).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Worker threads for large files (default: all cores).
    #[arg(long, value_name = "N", value_parser = crate::limits::cli::threads)]
    pub threads: Option<usize>,
    /// How many example events per log the text and json reports keep (ndjson keeps all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub examples: usize,
    /// --correlate: this instance's address as the load balancer logs it (IP or IP:PORT,
    /// repeatable); default: the host's own addresses.
    #[arg(long = "backend", value_name = "ADDR")]
    pub backends: Vec<String>,
    /// --correlate: explain the 5xx of every backend (fleet view), not only this instance's.
    #[arg(long)]
    pub all_backends: bool,
    /// --correlate: the largest clock difference between load balancer and instance to look across, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = crate::limits::cli::window)]
    pub window: f64,
    /// --correlate: how many successive 502s from one backend make a burst.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = crate::limits::cli::burst)]
    pub burst: usize,
    /// --probe: keep the connection idle this long after a good response and record when the
    /// server closes it (0 skips the measurement).
    #[arg(long, value_name = "SECONDS", default_value_t = 65.0, value_parser = crate::limits::cli::idle)]
    pub idle: f64,
    /// --probe: the deadline of each phase (connect, TLS handshake, request, headers, body).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = crate::limits::cli::timeout)]
    pub timeout: f64,
    /// --probe: the deadline of the whole exchange, before the idle measurement (default: 3 × --timeout).
    #[arg(long, value_name = "SECONDS", value_parser = crate::limits::cli::deadline)]
    pub deadline: Option<f64>,
    /// --probe: an extra request header, e.g. the one the load balancer's health check sends (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// --probe: verify the server's TLS certificate (https://); off by default, like `curl -k`.
    #[arg(long)]
    pub verify: bool,
    /// --probe: the request method.
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// The load balancer's idle timeout in seconds, for matching 504s and the keep-alive check.
    /// Without it, --correlate infers it from the logs; else the ELB/ALB default, 60.
    #[arg(long, value_name = "SECONDS", value_parser = crate::limits::cli::lb_idle)]
    pub lb_idle_timeout: Option<u64>,
    /// More diagnostics on stderr (-vv for debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// What one run of `tailgate` does: the mode flag given (clap allows one), or the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No mode flag: follow the logs and write events (the service's mode on Linux).
    Agent,
    /// `--scan`.
    Scan,
    /// `--discover`.
    Discover,
    /// `--correlate`.
    Correlate,
    /// `--probe`.
    Probe,
    /// `--service`: the agent under the Windows service control manager.
    Service,
}

impl Cli {
    /// The mode the flags select.
    pub fn mode(&self) -> Mode {
        match (self.scan, self.discover, self.correlate, self.probe, self.service) {
            (true, ..) => Mode::Scan,
            (_, true, ..) => Mode::Discover,
            (_, _, true, ..) => Mode::Correlate,
            (_, _, _, true, _) => Mode::Probe,
            (.., true) => Mode::Service,
            _ => Mode::Agent,
        }
    }

    /// The idle timeout given, else the ELB/ALB default.
    pub fn lb_idle_timeout_or_default(&self) -> u64 {
        self.lb_idle_timeout.unwrap_or(60)
    }
}

/// Output format chosen with `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable, coloured on a terminal.
    Text,
    /// One JSON document.
    Json,
    /// One JSON object per line (events as they are found).
    Ndjson,
    /// One self-contained page, for --scan and --correlate.
    Html,
}
