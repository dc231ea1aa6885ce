//! Renderers: the only place that knows about terminals and colours. Text and JSON here; the
//! self-contained HTML page in [`html`].

pub mod html;

use std::io::{self, Write};

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::scan::LogReport;
use crate::text::escape as esc;

/// ANSI styling, on only when writing to a terminal.
#[derive(Clone, Copy)]
pub struct Style {
    /// Colour (ANSI SGR) on.
    pub color: bool,
}

impl Style {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
    /// Bold.
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    /// Red (5xx, failures).
    pub fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    /// Yellow (warnings).
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    /// Dim (file:line origins).
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

/// Totals over all scanned logs.
#[derive(Debug, Default, Serialize)]
pub struct Totals {
    /// Logs scanned.
    pub logs: usize,
    /// Logs that could not be read.
    pub unreadable: usize,
    /// Lines read.
    pub lines: u64,
    /// Lines no parser took.
    pub bad_lines: u64,
    /// Records with a 5xx status.
    pub http_5xx: u64,
    /// Events of malformed backend output (the RFC 9112 violations an upstream's answer shows).
    pub malformed_output: u64,
    /// Events of an upstream failing (reset, refused, timed out, closed early).
    pub upstream_errors: u64,
}

/// The totals of a scan's reports.
pub fn totals(reports: &[LogReport]) -> Totals {
    let mut t = Totals { logs: reports.len(), ..Default::default() };
    for r in reports {
        t.unreadable += r.error.is_some() as usize;
        t.lines += r.lines;
        t.bad_lines += r.bad_lines;
        t.http_5xx += r.status_5xx.values().sum::<u64>();
        t.malformed_output += r.events_by_kind.get("malformed-output").copied().unwrap_or(0);
        t.upstream_errors += r.events_by_kind.get("upstream-error").copied().unwrap_or(0);
    }
    t
}

#[derive(Serialize)]
struct ScanDoc<'a> {
    totals: &'a Totals,
    logs: &'a [LogReport],
}

fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{n} B") } else { format!("{v:.1} {}", U[i]) }
}

/// A bar of `n` out of `max` in `width` cells.
fn bar(n: u64, max: u64, width: usize) -> String {
    if max == 0 || n == 0 {
        return String::new();
    }
    let cells = ((n as f64 / max as f64) * width as f64).ceil().max(1.0) as usize;
    "█".repeat(cells.min(width))
}

/// The timeline as at most `rows` rows (minutes merged into equal buckets when there are more).
fn timeline_rows(r: &LogReport, rows: usize) -> Vec<(String, u64, u64)> {
    let mins: Vec<(&String, &crate::scan::Minute)> = r.timeline.iter().filter(|(_, m)| m.events > 0).collect();
    if mins.len() <= rows {
        return mins.iter().map(|(k, m)| (k[..16].replace('T', " "), m.http_5xx, m.events)).collect();
    }
    let per = mins.len().div_ceil(rows);
    mins.chunks(per)
        .map(|c| {
            let label = format!("{} … {}", c[0].0[..16].replace('T', " "), &c[c.len() - 1].0[11..16]);
            (label, c.iter().map(|m| m.1.http_5xx).sum(), c.iter().map(|m| m.1.events).sum())
        })
        .collect()
}

/// `--scan` as text: per log, counts, timeline, 5xx, failing paths, bad lines, events.
pub fn write_text(out: &mut dyn Write, reports: &[LogReport], st: Style) -> io::Result<()> {
    for r in reports {
        writeln!(out, "{}  ({}, {})", st.bold(&esc(&r.path)), esc(&r.format.to_string()), human_bytes(r.bytes))?;
        if let Some(e) = &r.error {
            writeln!(out, "  {} {}", st.red("error:"), esc(e))?;
            // What was read before a read error (a truncated .gz) still counts.
            if r.lines == 0 {
                writeln!(out)?;
                continue;
            }
        }
        let mut head = format!("  lines {} · records {} · bad {}", r.lines, r.records, r.bad_lines);
        if r.skipped_old > 0 {
            head.push_str(&format!(" · older than --since {}", r.skipped_old));
        }
        writeln!(out, "{head}")?;
        if let (Some(a), Some(b)) = (&r.first_time, &r.last_time) {
            writeln!(out, "  {}", st.dim(&format!("from {} to {}", a.to_rfc3339(), b.to_rfc3339())))?;
        }
        if let Some(z) = &r.time_zone {
            writeln!(out, "  {}", st.dim(&format!("times read in {}", esc(z))))?;
        }
        for b in &r.bad_examples {
            writeln!(out, "  {} {}:{}: {}", st.yellow("bad line"), esc(&r.path), b.line, esc(&b.reason))?;
        }
        if r.bad_lines > r.bad_examples.len() as u64 {
            writeln!(out, "  … and {} more bad lines", r.bad_lines - r.bad_examples.len() as u64)?;
        }
        if !r.status_5xx.is_empty() {
            let s: Vec<String> = r.status_5xx.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
            writeln!(out, "  {} {}", st.red("5xx:"), s.join(", "))?;
        }
        if let Some(lb) = &r.lb_5xx {
            writeln!(
                out,
                "  load-balancer 5xx: {} generated by the load balancer (HTTPCode_ELB_5XX), {} by backends (HTTPCode_Backend_5XX)",
                lb.lb_generated, lb.backend_generated
            )?;
        }
        for (kind, label) in [("malformed-output", "malformed output"), ("upstream-error", "upstream errors"), ("httperr", "HTTP.sys errors")] {
            if let Some(n) = r.events_by_kind.get(kind) {
                writeln!(out, "  {}: {n}", st.red(label))?;
            }
        }
        if !r.problems.is_empty() {
            let s: Vec<String> = r.problems.iter().map(|(k, v)| format!("{} ×{v}", esc(k))).collect();
            writeln!(out, "  problems: {}", s.join(", "))?;
        }
        let rows = timeline_rows(r, 30);
        if !rows.is_empty() {
            writeln!(out, "  timeline (UTC, events per minute; 5xx in brackets):")?;
            let max = rows.iter().map(|r| r.2).max().unwrap_or(0);
            let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
            for (label, x5, ev) in rows {
                writeln!(out, "    {label:<w$}  {:>6} [{x5}] {}", ev, st.red(&bar(ev, max, 40)))?;
            }
        }
        if !r.top_failing_paths.is_empty() {
            writeln!(out, "  top failing paths:")?;
            for (p, n) in &r.top_failing_paths {
                writeln!(out, "    {n:>8}  {}", esc(p))?;
            }
        }
        writeln!(out)?;
    }
    if reports.len() > 1 {
        let t = totals(reports);
        writeln!(
            out,
            "{} {} logs, {} lines ({} bad), {} 5xx, {} malformed-output, {} upstream errors{}",
            st.bold("total:"),
            t.logs,
            t.lines,
            t.bad_lines,
            t.http_5xx,
            t.malformed_output,
            t.upstream_errors,
            if t.unreadable > 0 { format!(", {} unreadable", t.unreadable) } else { String::new() }
        )?;
    }
    Ok(())
}

/// `--scan --format json`: the totals and every log's report.
pub fn write_json(out: &mut dyn Write, reports: &[LogReport]) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &ScanDoc { totals: &totals(reports), logs: reports })?;
    writeln!(out)
}

/// The document of [`write_json`], on one line (the HTML report's data), with its `totals`.
pub(crate) fn write_json_compact(out: &mut dyn Write, totals: &Totals, reports: &[LogReport]) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &ScanDoc { totals, logs: reports })?;
    Ok(())
}

/// NDJSON: every event on its own line (`"type":"event"`), written as the scan finds it, then
/// one summary line per log (`"type":"log"`, without the events).
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    r#type: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

/// One event line of the NDJSON output.
pub fn write_ndjson_event(out: &mut dyn Write, e: &crate::detect::Event) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &Tagged { r#type: "event", inner: e })?;
    writeln!(out)
}

/// The summary lines of the NDJSON output, after the events.
pub fn write_ndjson_summaries(out: &mut dyn Write, mut reports: Vec<LogReport>) -> io::Result<()> {
    for r in reports.iter_mut() {
        r.events = Vec::new();
        serde_json::to_writer(&mut *out, &Tagged { r#type: "log", inner: &*r })?;
        writeln!(out)?;
    }
    Ok(())
}

fn target_text(t: &crate::discover::Target) -> String {
    use crate::discover::Target;
    match t {
        Target::File(p) => esc(p).into_owned(),
        Target::Glob(g) => format!("{} (pattern)", esc(g)),
        Target::Syslog(s) => format!("syslog {}", esc(s)),
        Target::Pipe(p) => format!("| {}", esc(p)),
        Target::Stderr => "stderr".into(),
        Target::Stdout => "stdout".into(),
    }
}

/// `tailgate --discover` as text.
pub fn write_discovery_text(out: &mut dyn Write, d: &crate::discover::Discovery, st: Style) -> io::Result<()> {
    let p = &d.platform;
    writeln!(
        out,
        "{} {} ({}; profile {}){}",
        st.bold("host:"),
        esc(if p.pretty_name.is_empty() { p.id.as_str() } else { p.pretty_name.as_str() }),
        p.family.as_str(),
        d.profile,
        if p.addresses.is_empty() { String::new() } else { format!(", addresses {}", esc(&p.addresses.join(" "))) }
    )?;
    for w in &p.processes {
        writeln!(out, "  running: {} pid {} {}", esc(&w.server.to_string()), w.pid, esc(&w.cmd.join(" ")))?;
    }
    for c in &d.compiled_in {
        writeln!(out, "  {}", st.dim(&esc(c)))?;
    }
    if d.sources.is_empty() {
        writeln!(out, "\nno web-server logs found (no nginx, Apache, lighttpd or IIS configuration)")?;
    }
    let mut servers: Vec<crate::discover::ServerKind> = d.sources.iter().map(|s| s.server).collect();
    servers.dedup();
    for srv in servers {
        writeln!(out, "\n{}", st.bold(&format!("{srv:?}").to_lowercase()))?;
        for s in d.sources.iter().filter(|s| s.server == srv) {
            let kind = format!("{:?}", s.kind).to_lowercase();
            let origin = match (&s.origin, &s.note) {
                (Some(o), Some(n)) => format!("{} ({})", esc(&o.to_string()), esc(n)),
                (Some(o), None) => esc(&o.to_string()).into_owned(),
                (None, Some(n)) => esc(n).into_owned(),
                (None, None) => String::new(),
            };
            let fmt = esc(&s.format_name.clone().or_else(|| s.format.clone()).unwrap_or_else(|| "-".into())).into_owned();
            writeln!(out, "  {kind:<7} {}  [{fmt}]", target_text(&s.target))?;
            writeln!(out, "          {}", st.dim(&format!("from {origin}")))?;
            match s.files.len() {
                0 if matches!(s.target, crate::discover::Target::File(_) | crate::discover::Target::Glob(_)) => {
                    writeln!(out, "          {}", st.yellow("no such file yet"))?
                }
                0 => {}
                1 if matches!(&s.target, crate::discover::Target::File(f) if *f == s.files[0]) => {}
                _ => {
                    for f in &s.files {
                        writeln!(out, "          → {}", esc(f))?;
                    }
                }
            }
        }
    }
    if !d.keepalive.is_empty() {
        writeln!(out, "\n{}", st.bold("keep-alive vs load-balancer idle timeout"))?;
        for k in &d.keepalive {
            let what = match k.timeout_secs {
                Some(t) => format!("{t}s"),
                None => "off".into(),
            };
            let verdict = if k.ok { "ok".to_string() } else { st.red("PROBLEM") };
            writeln!(out, "  {:<8} {what:<6} vs {}s: {verdict}", format!("{:?}", k.server).to_lowercase(), k.lb_idle_timeout)?;
            if let Some(f) = &k.finding {
                writeln!(out, "           {}", esc(f))?;
            }
        }
    }
    if !d.warnings.is_empty() {
        writeln!(out, "\n{}", st.bold("warnings"))?;
        for w in &d.warnings {
            writeln!(out, "  {}", esc(&w.to_string()))?;
        }
    }
    Ok(())
}

/// `--discover --format json`.
pub fn write_discovery_json(out: &mut dyn Write, d: &crate::discover::Discovery) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, d)?;
    writeln!(out)
}

/// How `--correlate` writes one finding (see [`write_correlation`]).
pub fn render_finding(format: FindingFormat, f: &crate::correlate::Finding, st: Style, out: &mut Vec<u8>) {
    match format {
        FindingFormat::Text => finding_text(out, f, st).expect("writing to memory cannot fail"),
        FindingFormat::Json => serde_json::to_writer(out, f).expect("serializing to memory cannot fail"),
    }
}

/// A finding as text or as one JSON object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingFormat {
    /// As the text report writes it.
    Text,
    /// One JSON object.
    Json,
}

/// `tailgate --correlate`: the summary, then the findings (each already rendered with
/// [`render_finding`], in the order given), as text, one JSON document, or NDJSON (findings only).
pub fn write_correlation(
    out: &mut dyn Write,
    format: OutputFormat,
    s: &crate::correlate::Summary,
    findings: &mut dyn Iterator<Item = Vec<u8>>,
    st: Style,
) -> io::Result<()> {
    match format {
        OutputFormat::Text => {
            correlation_summary_text(out, s, st)?;
            for f in findings {
                out.write_all(&f)?;
            }
            Ok(())
        }
        OutputFormat::Json => {
            out.write_all(b"{\"summary\":")?;
            serde_json::to_writer(&mut *out, s)?;
            out.write_all(b",\"findings\":[")?;
            for (i, f) in findings.enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                out.write_all(&f)?;
            }
            out.write_all(b"]}\n")
        }
        OutputFormat::Ndjson => {
            for f in findings {
                out.write_all(&f)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        OutputFormat::Html => html::write_correlation(out, s, findings),
    }
}

/// `tailgate --correlate` as text: summary, CloudWatch-style chart, bursts (the findings follow).
fn correlation_summary_text(out: &mut dyn Write, s: &crate::correlate::Summary, st: Style) -> io::Result<()> {
    writeln!(
        out,
        "{} {} load-balancer lines ({} bad), {} LB 5xx in scope: {} generated by the load balancer, {} by the backend; {} with local evidence",
        st.bold("summary:"),
        s.elb_lines,
        s.bad_lines,
        s.lb_5xx,
        s.lb_generated,
        s.backend_generated,
        s.matched
    )?;
    match s.clock_offset_ms {
        Some(o) => writeln!(out, "  clock offset (instance minus load balancer): {:+.0} ms", o)?,
        None => writeln!(out, "  clock offset: not estimated (no unambiguous match)")?,
    }
    if !s.causes.is_empty() {
        let c: Vec<String> = s.causes.iter().map(|(k, v)| format!("{} ×{v}", esc(k))).collect();
        writeln!(out, "  causes: {}", c.join(", "))?;
    }
    for b in &s.bad_examples {
        writeln!(out, "  {} {}:{}: {}", st.yellow("bad line"), esc(&b.file), b.line, esc(&b.reason))?;
    }
    for e in &s.errors {
        writeln!(out, "  {} {}", st.yellow("input:"), esc(e))?;
    }
    let busy: Vec<&crate::correlate::MinuteCounts> = s.per_minute.iter().filter(|m| m.elb_5xx + m.backend_5xx > 0).collect();
    if !busy.is_empty() {
        writeln!(out, "\n{}", st.bold("per minute (whole load balancer): HTTPCode_ELB_5XX █  HTTPCode_Backend_5XX ░"))?;
        let max = busy.iter().map(|m| m.elb_5xx + m.backend_5xx).max().unwrap_or(1);
        let show: Vec<&&crate::correlate::MinuteCounts> = busy.iter().rev().take(60).collect();
        for m in show.into_iter().rev() {
            let w = 50usize;
            let a = ((m.elb_5xx as f64 / max as f64) * w as f64).ceil() as usize;
            let b = ((m.backend_5xx as f64 / max as f64) * w as f64).ceil() as usize;
            writeln!(out, "  {}  {:>5} {:>5}  {}{}", &m.minute[..16].replace('T', " "), m.elb_5xx, m.backend_5xx, st.red(&"█".repeat(a)), "░".repeat(b))?;
        }
    }
    if !s.bursts.is_empty() {
        writeln!(out, "\n{}", st.bold("bursts of successive 502s per backend"))?;
        for b in s.bursts.iter().take(20) {
            writeln!(
                out,
                "  {:<22} {:>5} × 502  {} … {}  (from {})",
                esc(&b.backend),
                b.count,
                b.first.to_rfc3339(),
                b.last.to_rfc3339(),
                esc(&b.first_line.to_string())
            )?;
        }
    }
    if !s.backends.is_empty() {
        writeln!(out, "\n{}", st.bold("backends by LB 5xx rate"))?;
        for b in s.backends.iter().take(20) {
            writeln!(out, "  {:<22} {:>7.3}%  {:>6} / {}", esc(&b.backend), b.rate * 100.0, b.lb_5xx, b.requests)?;
        }
    }
    writeln!(out)
}

/// One finding as text: the LB line, the verdict, each piece of evidence.
fn finding_text(out: &mut dyn Write, f: &crate::correlate::Finding, st: Style) -> io::Result<()> {
    writeln!(
        out,
        "{}:{} {} {} → {} [{}] {}",
        esc(&f.elb.file),
        f.elb.line,
        f.elb.timestamp.to_rfc3339(),
        st.red(&f.elb.elb_status.to_string()),
        esc(f.elb.backend.as_deref().unwrap_or("no backend")),
        st.bold(f.cause.as_str()),
        esc(&f.elb.request)
    )?;
    writeln!(out, "    {} {}", if f.source == "lb" { "load balancer:" } else { "backend:" }, esc(&f.explanation))?;
    for e in &f.evidence {
        let what = match (&e.status, &e.message) {
            (_, Some(m)) => m.clone(),
            (Some(s), None) => format!("status {s:03}"),
            (None, None) => String::new(),
        };
        writeln!(out, "    {} {}:{} {}", st.dim("evidence"), esc(&e.file), e.line, esc(&what))?;
    }
    Ok(())
}

/// `tailgate --probe` as text: the exchange like `curl -v`, then the verdict.
pub fn write_probe_text(out: &mut dyn Write, r: &crate::probe::Report, hints: &[String], st: Style) -> io::Result<()> {
    writeln!(out, "* {} {}:{}", st.bold("probe"), esc(&r.url.host), r.url.port)?;
    for l in r.request.lines().filter(|l| !l.is_empty()) {
        writeln!(out, "> {}", esc(l))?;
    }
    if let Some(h) = &r.response_head {
        for l in h.lines().filter(|l| !l.trim().is_empty()) {
            writeln!(out, "< {}", esc(l.trim_end_matches('\r')))?;
        }
        writeln!(out, "* body: {} bytes, {:.1} ms", r.body_bytes, r.elapsed_ms)?;
    }
    if let Some(k) = &r.keepalive {
        match k.closed_after_secs {
            Some(a) => writeln!(out, "* the server closed the idle connection after {a:.1} s")?,
            None => writeln!(out, "* the idle connection was still open after {:.0} s", k.waited_secs)?,
        }
    }
    if let Some(e) = &r.error {
        writeln!(out, "{} {}", st.red("could not probe:"), esc(e))?;
        return Ok(());
    }
    if r.violations.is_empty() {
        writeln!(out, "{} the response follows RFC 9110/9112 as strictly as a load balancer reads it", st.bold("ok:"))?;
    }
    for v in &r.violations {
        writeln!(out, "{} [{}] {} ({})", st.red("violation"), v.rule, esc(&v.message), v.rfc)?;
        writeln!(out, "    fix: {}", v.fix)?;
    }
    for h in hints {
        writeln!(out, "    on this host: {}", esc(h))?;
    }
    Ok(())
}

/// `--probe --format json`: the report, and the keep-alive directives a short keep-alive points to.
pub fn write_probe_json(out: &mut dyn Write, r: &crate::probe::Report, hints: &[String]) -> io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        #[serde(flatten)]
        report: &'a crate::probe::Report,
        compliant: bool,
        hints: &'a [String],
    }
    serde_json::to_writer_pretty(&mut *out, &Doc { report: r, compliant: r.compliant(), hints })?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed writers produce exactly what serde writes for the whole report, with no
    /// findings, one, and many.
    #[test]
    fn streamed_findings_are_the_bytes_serde_writes() {
        let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
        let opts = crate::correlate::Options {
            elb_inputs: vec![demo.join("elb.log")],
            local: vec![crate::correlate::LocalLog { path: demo.join("nginx_access.log"), display: "nginx_access.log".into(), format: None }],
            backends: vec![crate::correlate::BackendFilter::parse("10.0.1.11:80").unwrap()],
            all_backends: false,
            window_secs: 5.0,
            lb_idle_timeout_secs: 60,
            infer_idle_timeout: false,
            burst_min: 3,
            threads: 1,
            local_zone: None,
            keepalive: Vec::new(),
            stdin_name: None,
        };
        let base = crate::correlate::correlate(&opts);
        assert!(!base.findings.is_empty());
        let st = Style { color: false };
        for copies in [0usize, 1, 700] {
            let mut r = base.clone();
            r.findings = base.findings.iter().cycle().take(base.findings.len() * copies).cloned().collect();
            let mut want = serde_json::to_vec(&r).unwrap();
            want.push(b'\n');
            let mut want_nd = Vec::new();
            for f in &r.findings {
                serde_json::to_writer(&mut want_nd, f).unwrap();
                want_nd.push(b'\n');
            }
            let rendered = |ff: FindingFormat| -> Vec<Vec<u8>> {
                r.findings
                    .iter()
                    .map(|f| {
                        let mut b = Vec::new();
                        render_finding(ff, f, st, &mut b);
                        b
                    })
                    .collect()
            };
            let mut got = Vec::new();
            write_correlation(&mut got, OutputFormat::Json, &r.summary, &mut rendered(FindingFormat::Json).into_iter(), st).unwrap();
            assert!(got == want, "json, {} findings", r.findings.len());
            let mut got = Vec::new();
            write_correlation(&mut got, OutputFormat::Ndjson, &r.summary, &mut rendered(FindingFormat::Json).into_iter(), st).unwrap();
            assert!(got == want_nd, "ndjson, {} findings", r.findings.len());
        }
    }
}
