//! The `tailgate` binary: parse arguments, pick the mode, print. The work lives in the library.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::Parser;
use tailgate::cli::OutputFormat;
use tailgate::cli::{Cli, Mode};
use tailgate::format::Format;
use tailgate::report::{self, Style};
use tailgate::scan::{self, ScanOptions};

/// The one place that reports a failed run: the message (escaped: it may quote a path or a value
/// from outside) and exit status 2.
fn fail(e: &anyhow::Error) -> ExitCode {
    let msg = format!("{e:#}");
    let lines: Vec<_> = msg.lines().map(tailgate::text::escape).collect();
    eprintln!("tailgate: {}", lines.join("\n"));
    ExitCode::from(2)
}

fn init_tracing(cli: &Cli) {
    let level = if cli.quiet {
        "error"
    } else {
        match cli.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    tracing_subscriber::fmt().with_env_filter(env_filter(level)).with_writer(io::stderr).with_ansi(io::stderr().is_terminal()).with_target(false).init();
}

/// RUST_LOG when set, else `level`.
fn env_filter(level: &str) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mode = cli.mode();
    // (the Windows service writes its diagnostics to a file: it sets tracing up itself)
    if mode != Mode::Service {
        init_tracing(&cli);
    }
    match run(mode, cli) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

/// One run in `mode`: its exit status, or the error that stopped it.
fn run(mode: Mode, cli: Cli) -> Result<ExitCode> {
    if cli.format == OutputFormat::Html && !matches!(mode, Mode::Scan | Mode::Correlate | Mode::Service) {
        bail!("--format html is for --scan and --correlate; use text, json or ndjson here");
    }
    match mode {
        Mode::Scan => run_scan(cli),
        Mode::Discover => run_discover(cli),
        Mode::Correlate => run_correlate(cli),
        Mode::Probe => run_probe(cli),
        Mode::Service => run_service(cli),
        Mode::Agent => {
            tailgate::agent::run(cli.config.as_deref(), &cli.logs, &discover_options(&cli))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The Windows service: diagnostics go to `%ProgramData%\tailgate\tailgate.log` (one `.1` kept
/// past 10 MiB), as there is no console.
#[cfg(windows)]
fn run_service(cli: Cli) -> Result<ExitCode> {
    let layout = tailgate::paths::current();
    if let Some(log) = &layout.service_log {
        if let Some(d) = log.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        if std::fs::metadata(log).map(|m| m.len() > 10 << 20).unwrap_or(false) {
            let _ = std::fs::rename(log, log.with_extension("log.1"));
        }
        if let Ok(f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let level = if cli.verbose > 1 { "debug" } else { "info" };
            tracing_subscriber::fmt().with_env_filter(env_filter(level)).with_writer(std::sync::Mutex::new(f)).with_ansi(false).with_target(false).init();
        }
    }
    // (said in the service's log too: a service has no console)
    tailgate::service::run(cli.config.clone(), cli.logs.clone(), discover_options(&cli)).inspect_err(|e| tracing::error!("{e}"))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(windows))]
fn run_service(_cli: Cli) -> Result<ExitCode> {
    bail!("--service is for the Windows service; here the service manager runs `tailgate` itself (see the systemd unit tailgate.service)")
}

fn discover_options(cli: &Cli) -> tailgate::discover::Options {
    tailgate::discover::Options {
        root: tailgate::paths::Root::new(cli.root.clone()),
        lb_idle_timeout: cli.lb_idle_timeout_or_default(),
        profile_dir: Some(tailgate::profile::override_dir()),
    }
}

/// Where the report goes: `--output FILE`, or stdout.
fn output(cli: &Cli) -> io::Result<io::BufWriter<Box<dyn Write>>> {
    let w: Box<dyn Write> = match &cli.output {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| io::Error::new(e.kind(), format!("--output {}: {e}", p.display())))?),
        None => Box::new(io::stdout().lock()),
    };
    Ok(io::BufWriter::with_capacity(1 << 16, w))
}

/// Write a report to stdout or `--output`. Text goes through [`tailgate::text::SafeWriter`] (no
/// control byte from a log reaches the terminal); JSON is escaped by serde already, HTML by
/// [`tailgate::report::html`].
fn write_out(cli: &Cli, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let mut out = output(cli)?;
    let res = if cli.format == OutputFormat::Text {
        let mut safe = tailgate::text::SafeWriter::new(&mut out, color(cli));
        f(&mut safe).and_then(|_| safe.flush())
    } else {
        f(&mut out)
    };
    written(res.and_then(|_| out.flush()))
}

/// The end of writing a report: a reader that went away (`| head`) is not a failure.
fn written(res: io::Result<()>) -> Result<()> {
    match res {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => bail!("writing the report: {e}"),
        Ok(()) => Ok(()),
    }
}

fn color(cli: &Cli) -> bool {
    cli.output.is_none() && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn run_discover(cli: Cli) -> Result<ExitCode> {
    if let Some(r) = &cli.root
        && !r.is_dir()
    {
        bail!("--root {}: not a directory", r.display());
    }
    let d = tailgate::discover::discover(&discover_options(&cli));
    let st = Style { color: color(&cli) };
    write_out(&cli, |out| match cli.format {
        OutputFormat::Text => report::write_discovery_text(out, &d, st),
        OutputFormat::Json | OutputFormat::Ndjson | OutputFormat::Html => report::write_discovery_json(out, &d),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn run_correlate(cli: Cli) -> Result<ExitCode> {
    use tailgate::correlate::{self, BackendFilter, LocalLog};
    if cli.paths.is_empty() {
        bail!("--correlate needs the load balancer's access logs: `tailgate --correlate elb.log`, a directory synced from S3, `.gz` files, or `-` for stdin");
    }
    let mut backends = cli.backends.iter().map(|b| BackendFilter::parse(b)).collect::<Result<Vec<_>, _>>()?;
    let forced = log_format(&cli)?;
    let local: Vec<LocalLog> = cli.logs.iter().map(|p| LocalLog { path: p.clone(), display: tailgate::paths::path_text(p), format: forced.clone() }).collect();
    // Discovery (it runs the web servers' `-V`: tens of ms) finds the logs when none are named and
    // the keep-alive settings of the servers that write the logs correlated. The load-balancer
    // pass needs it only for the instance's own addresses; otherwise it runs beside that pass.
    let needs_addresses = backends.is_empty() && !cli.all_backends && cli.root.is_none() && cli.logs.is_empty();
    let dopts = discover_options(&cli);
    let running = std::thread::spawn(move || tailgate::discover::discover(&dopts));
    // (done, or still running)
    let discovery = if needs_addresses { Ok(running.join().expect("discovery panicked")) } else { Err(running) };
    if let Ok(d) = &discovery {
        backends = d.platform.addresses.iter().map(|a| BackendFilter { ip: a.clone(), port: None }).collect();
    }
    if backends.is_empty() && !cli.all_backends {
        tracing::warn!("no instance address known: only LB 5xx without a backend address are in scope (use --backend IP or --all-backends)");
    }
    let opts = correlate::Options {
        elb_inputs: cli.paths.clone(),
        local,
        backends,
        all_backends: cli.all_backends,
        window_secs: cli.window,
        lb_idle_timeout_secs: cli.lb_idle_timeout_or_default(),
        infer_idle_timeout: cli.lb_idle_timeout.is_none(),
        burst_min: cli.burst.max(1),
        threads: cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1),
        local_zone: host_zone(&cli),
        keepalive: Vec::new(),
        stdin_name: cli.stdin_name.clone(),
    };
    let complete = |opts: &mut correlate::Options| {
        let d = discovery.unwrap_or_else(|running| running.join().expect("discovery panicked"));
        opts.complete_from(&d, &tailgate::paths::Root::new(cli.root.clone()), &cli.logs);
    };
    let st = Style { color: color(&cli) };
    // Findings stream out of the matcher by time; rendered at once and put in load-balancer
    // order on disk past a bound, so memory does not grow with their number.
    let ff = if cli.format == OutputFormat::Text { report::FindingFormat::Text } else { report::FindingFormat::Json };
    let mut sorted: tailgate::spill::Sorter<tailgate::spill::Keyed<(u32, u64)>> = tailgate::spill::Sorter::by_bytes(32 << 20);
    // (rendered into one buffer, then copied at its size: no growing per finding)
    let mut scratch = Vec::with_capacity(4096);
    let mut summary = correlate::run_completing(&opts, complete, &mut |key, f| {
        scratch.clear();
        report::render_finding(ff, &f, st, &mut scratch);
        sorted.push(tailgate::spill::Keyed { key, bytes: scratch.clone() });
    });
    let mut sorted = sorted.finish();
    summary.errors.extend(sorted.error.clone());
    summary.dedup_errors();
    for e in &summary.errors {
        tracing::warn!("{e}");
    }
    let mut findings = sorted.drain();
    let written = write_out(&cli, |out| report::write_correlation(out, cli.format, &summary, &mut findings.by_ref().map(|k| k.bytes), st));
    if findings.failed.get() {
        // (two failures: the write's, which came first, is said first)
        if let Err(e) = written {
            fail(&e);
        }
        tracing::error!("the findings' temporary file (in TMPDIR) could not be read back: the report is incomplete");
        return Ok(ExitCode::from(2));
    }
    written?;
    // An input that could not be read is not "0 LB 5xx": the report above says what was read.
    Ok(if summary.inputs_failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn run_probe(cli: Cli) -> Result<ExitCode> {
    let Some(url) = cli.paths.first() else {
        bail!("--probe needs a URL: `tailgate --probe http://127.0.0.1:80/health`");
    };
    let url = url.display().to_string();
    tailgate::probe::Url::parse(&url).and_then(|_| tailgate::probe::validate_request(&url, &cli.method, &cli.headers, "--header"))?;
    let opts = tailgate::probe::Options {
        url,
        method: cli.method.clone(),
        headers: cli.headers.clone(),
        timeout: Duration::from_secs_f64(cli.timeout),
        deadline: Duration::from_secs_f64(cli.deadline.unwrap_or(3.0 * cli.timeout)),
        idle: Duration::from_secs_f64(cli.idle),
        lb_idle_timeout: Duration::from_secs(cli.lb_idle_timeout_or_default()),
        verify: cli.verify,
    };
    let rep = tailgate::probe::probe(&opts);
    // Tie a short keep-alive to the directive that sets it, when discovery finds one.
    let mut hints = Vec::new();
    if rep.violations.iter().any(|v| v.rule == "keepalive-shorter-than-lb-idle") {
        let d = tailgate::discover::discover(&discover_options(&cli));
        for k in d.keepalive.iter().filter(|k| !k.ok) {
            if let Some(f) = &k.finding {
                hints.push(f.clone());
            }
        }
    }
    let st = Style { color: color(&cli) };
    let code = if rep.error.is_some() {
        ExitCode::from(2)
    } else if rep.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    write_out(&cli, |out| match cli.format {
        OutputFormat::Text => report::write_probe_text(out, &rep, &hints, st),
        OutputFormat::Json | OutputFormat::Ndjson | OutputFormat::Html => report::write_probe_json(out, &rep, &hints),
    })?;
    Ok(code)
}

/// The host's time zone (`/etc/localtime`, under `--root` when given), for error-log times.
fn host_zone(cli: &Cli) -> Option<(tailgate::time::Zone, String)> {
    tailgate::time::Zone::host(&tailgate::paths::Root::new(cli.root.clone()))
}

/// `--log-format`, parsed.
fn log_format(cli: &Cli) -> Result<Option<Format>> {
    cli.log_format.as_deref().map(Format::from_spec).transpose().map_err(|e| anyhow!("--log-format: {e}"))
}

fn run_scan(cli: Cli) -> Result<ExitCode> {
    if let Some(c) = &cli.config {
        bail!("--config {} is the agent's (run tailgate without a mode flag); --scan takes its logs as arguments", c.display());
    }
    let mut paths: Vec<(PathBuf, Option<Format>)> = cli.paths.iter().chain(cli.logs.iter()).map(|p| (p.clone(), None)).collect();
    if cli.paths.is_empty() {
        // No logs named: scan what discovery finds (plus any --log).
        let d = tailgate::discover::discover(&discover_options(&cli));
        let root = tailgate::paths::Root::new(cli.root.clone());
        for s in &d.sources {
            let fmt = s.log_format();
            for f in &s.files {
                paths.push((s.host_file(&root, f), fmt.clone()));
            }
        }
        if paths.is_empty() {
            bail!("--scan found no logs on this host (see `tailgate --discover`); name them: `tailgate --scan PATH…`");
        }
    }
    let format = log_format(&cli)?;
    let since = cli.since.as_deref().map(tailgate::time::parse_duration).transpose().map_err(|e| anyhow!("--since: {e}"))?;
    let since_micros = since.map(|d| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        (now.as_micros() as i64) - d.as_micros() as i64
    });
    let threads = cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let opts = ScanOptions {
        format,
        since_micros,
        threads,
        example_events: cli.examples,
        zones: tailgate::scan::Zones { host: host_zone(&cli), ..Default::default() },
        stdin_name: cli.stdin_name.clone(),
    };
    let total: u64 = paths.iter().filter_map(|(p, _)| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
    let bar = if !cli.quiet && io::stderr().is_terminal() && total > (64 << 20) {
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(pb)
    } else {
        None
    };
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.inc(n);
        }
    };
    let color = color(&cli);
    let mut out = output(&cli)?;
    // ndjson: every event is written as it is found (memory does not grow with the log).
    let mut write_err: Option<io::Error> = None;
    let mut write_event = |e: tailgate::detect::Event| {
        if write_err.is_none()
            && let Err(x) = report::write_ndjson_event(&mut out, &e)
        {
            write_err = Some(x);
        }
    };
    let sink: Option<scan::EventSink<'_>> = if cli.format == OutputFormat::Ndjson { Some(&mut write_event) } else { None };
    let reports = scan::scan_all(&paths, &opts, &progress, sink);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for r in &reports {
        if let Some(e) = &r.error {
            tracing::error!("{}: {}", tailgate::text::escape(&r.path), tailgate::text::escape(e));
        }
    }
    let unreadable = reports.iter().any(|r| r.error.is_some());
    let res = match write_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
    .and_then(|_| match cli.format {
        OutputFormat::Text => {
            let mut safe = tailgate::text::SafeWriter::new(&mut out, color);
            report::write_text(&mut safe, &reports, Style { color })
        }
        OutputFormat::Json => report::write_json(&mut out, &reports),
        OutputFormat::Ndjson => report::write_ndjson_summaries(&mut out, reports),
        OutputFormat::Html => tailgate::report::html::write_scan(&mut out, &reports),
    })
    .and_then(|_| out.flush());
    written(res)?;
    Ok(if unreadable { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
