//! `--format html`: one self-contained page for `--correlate` and `--scan`, to open, share and
//! attach to a ticket.
//!
//! - **Shape.** [askama] renders the page (`templates/html/`, compiled into the binary and
//!   HTML-escaped by default) around two JSON data islands (`<script type="application/json">`):
//!   the summary, written first, and the findings, streamed one by one as the correlation renders
//!   them (memory does not grow with their number). The charts are uPlot (`assets/uplot/`, the
//!   npm package's build, MIT); the tables, filters and sparklines are `assets/report.js`, which
//!   builds every cell with `textContent`.
//! - **No network.** Scripts, styles and fonts are inline (system fonts); a content security
//!   policy `default-src 'none'` allows only the page's own script and style blocks, by hash.
//! - **Hostile text.** Log lines are attacker-controlled. What the server renders, askama
//!   escapes; in the data islands `<`, `>` and `&` are written as `\u003c`, `\u003e`, `\u0026`
//!   (a `</script>` in a user agent cannot end the island); the script never parses text as
//!   HTML.

use std::io::{self, Write};

use askama::Template;
use base64::Engine;
use sha2::Digest;

use crate::correlate::{Cause, Summary};
use crate::scan::LogReport;

const UPLOT_JS: &str = include_str!("../../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/uplot/uPlot.min.css");
const REPORT_JS: &str = include_str!("../../assets/report.js");
const REPORT_CSS: &str = include_str!("../../assets/report.css");

/// The page up to the findings' data island (opened).
#[derive(Template)]
#[template(path = "html/start.html")]
struct Start<'a> {
    title: &'a str,
    csp: &'a str,
    style: &'a str,
    mode: &'a str,
    verdict: Option<Verdict>,
    scan: Option<&'a crate::report::Totals>,
}

/// The rest: the islands closed, the scripts.
#[derive(Template)]
#[template(path = "html/end.html")]
struct End<'a> {
    uplot: &'a str,
    app: &'a str,
}

/// The correlation's verdict, rendered on the server (readable without the script).
struct Verdict {
    elb_lines: u64,
    bad_lines: u64,
    lb_5xx: u64,
    lb_generated: u64,
    backend_generated: u64,
    matched: u64,
    causes: Vec<CauseRow>,
    clock_offset: String,
    idle_timeout: String,
    error_zone: Option<String>,
    keepalive: Vec<KeepAliveRow>,
    errors: Vec<String>,
    local_logs: Vec<String>,
}

struct CauseRow {
    name: &'static str,
    count: u64,
    meaning: &'static str,
}

struct KeepAliveRow {
    directive: String,
    origin: String,
    verdict: String,
    risky: bool,
}

fn verdict(s: &Summary) -> Verdict {
    let idle = s.lb_idle_timeout_s.value;
    let keepalive = s
        .keepalive
        .iter()
        .map(|k| {
            let risky = k.timeout_ms < idle * 1000;
            KeepAliveRow {
                directive: k.directive.clone(),
                origin: k.origin.as_ref().map_or_else(|| "compiled-in default".to_string(), |(f, l)| format!("{f}:{l}")),
                verdict: if risky {
                    format!("shorter than the load balancer's idle timeout ({idle} s): the web server may close a connection the LB is about to reuse (keepalive-closed 502s)")
                } else {
                    format!("not shorter than the load balancer's idle timeout ({idle} s): fine")
                },
                risky,
            }
        })
        .collect();
    Verdict {
        elb_lines: s.elb_lines,
        bad_lines: s.bad_lines,
        lb_5xx: s.lb_5xx,
        lb_generated: s.lb_generated,
        backend_generated: s.backend_generated,
        matched: s.matched,
        causes: Cause::ALL.iter().filter_map(|c| s.causes.get(c.as_str()).map(|&n| CauseRow { name: c.as_str(), count: n, meaning: c.meaning() })).collect(),
        clock_offset: s.clock_offset_ms.map_or_else(|| "unknown (no unambiguous pair)".to_string(), |o| format!("{o:+.1} ms (instance minus load balancer)")),
        idle_timeout: {
            let t = &s.lb_idle_timeout_s;
            match t.from {
                "inferred" => format!("{} s, inferred from {} pairs", t.value, t.pairs),
                "flag" => format!("{} s, from --lb-idle-timeout", t.value),
                _ => format!("{} s, the default (not given, not inferable)", t.value),
            }
        },
        error_zone: s.error_log_time_zone.clone(),
        keepalive,
        errors: s.errors.clone(),
        local_logs: s.local_logs.iter().map(|l| format!("{} ({}, {} lines, {} bad)", l.file, l.format, l.lines, l.bad_lines)).collect(),
    }
}

/// `'sha256-…'` of an inline block, for the content security policy.
fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes())))
}

/// Writes JSON into a `<script type="application/json">` island: `<`, `>` and `&` (which JSON
/// only has inside strings) become `\u003c`, `\u003e`, `\u0026`.
struct Island<'a>(&'a mut dyn Write);

impl Write for Island<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut from = 0;
        for (i, &b) in buf.iter().enumerate() {
            let esc: &[u8] = match b {
                b'<' => b"\\u003c",
                b'>' => b"\\u003e",
                b'&' => b"\\u0026",
                _ => continue,
            };
            self.0.write_all(&buf[from..i])?;
            self.0.write_all(esc)?;
            from = i + 1;
        }
        self.0.write_all(&buf[from..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

fn page(
    out: &mut dyn Write,
    title: &str,
    mode: &str,
    verdict: Option<Verdict>,
    scan: Option<&crate::report::Totals>,
    data: impl FnOnce(&mut Island<'_>) -> io::Result<()>,
    findings: &mut dyn Iterator<Item = Vec<u8>>,
) -> io::Result<()> {
    let style = format!("{UPLOT_CSS}\n{REPORT_CSS}");
    let csp = format!(
        "default-src 'none'; script-src {} {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(UPLOT_JS),
        csp_hash(REPORT_JS),
        csp_hash(&style)
    );
    let start = Start { title, csp: &csp, style: &style, mode, verdict, scan };
    start.write_into(out)?;
    // The summary island, then the findings island, streamed.
    out.write_all(b"<script type=\"application/json\" id=\"tg-data-summary\">")?;
    data(&mut Island(out))?;
    out.write_all(b"</script>\n<script type=\"application/json\" id=\"tg-data-findings\">[")?;
    for (i, f) in findings.enumerate() {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        Island(out).write_all(&f)?;
    }
    out.write_all(b"]</script>\n")?;
    End { uplot: UPLOT_JS, app: REPORT_JS }.write_into(out)?;
    Ok(())
}

/// The summary's data for the page: what JSON reports say, plus the per-backend minutes.
#[derive(serde::Serialize)]
struct CorrelationData<'a> {
    summary: &'a Summary,
    /// Per backend (with `--all-backends`): `[[unix_minute, lb_5xx], …]`, in the order of
    /// `summary.backends`.
    backend_minutes: Vec<&'a [(i64, u64)]>,
    causes: Vec<(&'static str, &'static str)>,
}

/// `tailgate --correlate --format html`: the summary and the findings (each rendered as JSON
/// by [`crate::report::render_finding`], in load-balancer order).
pub fn write_correlation(out: &mut dyn Write, s: &Summary, findings: &mut dyn Iterator<Item = Vec<u8>>) -> io::Result<()> {
    let data = CorrelationData {
        summary: s,
        backend_minutes: s.backends.iter().map(|b| b.lb_5xx_by_minute.as_slice()).collect(),
        causes: Cause::ALL.iter().map(|c| (c.as_str(), c.meaning())).collect(),
    };
    page(
        out,
        "tailgate — load-balancer 5xx explained",
        "correlate",
        Some(verdict(s)),
        None,
        |w| serde_json::to_writer(w, &data).map_err(io::Error::from),
        findings,
    )
}

/// `tailgate --scan --format html`: per log, its timeline, 5xx, events, top failing paths and
/// bad lines.
pub fn write_scan(out: &mut dyn Write, reports: &[LogReport]) -> io::Result<()> {
    // (the page's cards and its data island show the same totals)
    let totals = crate::report::totals(reports);
    page(out, "tailgate — scan", "scan", None, Some(&totals), |w| crate::report::write_json_compact(w, &totals, reports), &mut std::iter::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_island_cannot_be_closed_from_inside() {
        let mut v = Vec::new();
        serde_json::to_writer(Island(&mut v), &serde_json::json!({"ua": "</script><img src=x onerror=alert(1)> & \u{2028}"})).unwrap();
        let text = String::from_utf8(v).unwrap();
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'), "{text}");
        // and it is still the same JSON
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["ua"], "</script><img src=x onerror=alert(1)> & \u{2028}");
    }

    #[test]
    fn the_policy_hashes_the_blocks_the_page_carries() {
        let mut v = Vec::new();
        write_scan(&mut v, &[]).unwrap();
        let page = String::from_utf8(v).unwrap();
        for block in [UPLOT_JS, REPORT_JS] {
            assert!(page.contains(&format!(">{block}</script>")), "script inline, byte for byte");
            assert!(page.contains(csp_hash(block).trim_matches('\'')));
        }
        assert!(page.contains(csp_hash(&format!("{UPLOT_CSS}\n{REPORT_CSS}")).trim_matches('\'')));
    }
}
