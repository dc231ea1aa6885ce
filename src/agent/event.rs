//! The agent's NDJSON events: [`AgentEvent`] *is* the schema — one JSON object per line, its
//! `kind` the variant's name. Every event the agent writes is built here.

use serde::Serialize;

use crate::detect::{Event, Problem};
use crate::time::Timestamp;

/// One line of the agent's output.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind")]
pub enum AgentEvent {
    /// A followed access log recorded a 5xx.
    #[serde(rename = "http-5xx")]
    Http5xx(LogEvent),
    /// The backend's output was not valid HTTP: from a followed log (nginx status 009,
    /// "upstream sent invalid header", …) or from a periodic probe.
    #[serde(rename = "malformed-output")]
    MalformedOutput(Malformed),
    /// The web server could not get a response from its upstream.
    #[serde(rename = "upstream-error")]
    UpstreamError(LogEvent),
    /// A load-balancer access log recorded a 5xx.
    #[serde(rename = "lb-5xx")]
    Lb5xx(LogEvent),
    /// HTTP.sys refused or dropped a request (IIS HTTPERR).
    #[serde(rename = "httperr")]
    HttpErr(LogEvent),
    /// A line longer than `max_line_bytes`: its head was read, the rest skipped.
    #[serde(rename = "line-cut")]
    LineCut(LineCut),
    /// A line that does not parse in its file's format (rate-limited per file; `bad_lines`
    /// counts them all).
    #[serde(rename = "bad-line")]
    BadLine(BadLine),
    /// A load-balancer 5xx from a file in `elb_log_dir`, explained with local evidence.
    #[serde(rename = "lb-finding")]
    LbFinding(Box<crate::correlate::Finding>),
}

/// A record of a followed log. Offsets, not line numbers: a file followed from its middle has
/// no known line number.
#[derive(Clone, Debug, Serialize)]
pub struct LogEvent {
    /// [`crate::detect::SCHEMA`].
    pub schema: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
    pub file: String,
    /// Byte offset of the line in its file.
    pub offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For a load-balancer line: the status the backend sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_status: Option<u16>,
    /// For a load-balancer line: the load balancer's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lb: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `malformed-output` from a log or from a probe.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Malformed {
    Log(LogEvent),
    Probe(ProbeViolation),
}

/// A periodic probe's violation (`source: "probe"`).
#[derive(Clone, Debug, Serialize)]
pub struct ProbeViolation {
    pub source: &'static str,
    pub rule: &'static str,
    pub rfc: &'static str,
    pub url: String,
    pub status: Option<u16>,
    pub message: String,
    pub fix: &'static str,
    pub timestamp: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LineCut {
    pub file: String,
    pub offset: u64,
    pub max_line_bytes: usize,
    /// Lines cut so far, all files.
    pub lines_cut: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct BadLine {
    pub file: String,
    pub offset: u64,
    pub reason: String,
    /// The start of the line (at most 200 bytes, lossily decoded).
    pub excerpt: String,
    /// Bad lines in this file so far (this one included).
    pub bad_lines: u64,
    /// Bad lines since the previous `bad-line` event of this file that got no event of their own.
    pub not_reported: u64,
}

impl AgentEvent {
    /// The event for a classified record of a followed log.
    pub fn of_log(e: Event, offset: u64) -> AgentEvent {
        let l = LogEvent {
            schema: e.schema,
            problem: e.problem,
            file: e.file,
            offset,
            timestamp: e.timestamp,
            status: e.status,
            backend_status: e.backend_status,
            lb: e.lb,
            source: e.source,
            request: e.request,
            client: e.client,
            upstream: e.upstream,
            user_agent: e.user_agent,
            message: e.message,
        };
        use crate::detect::EventKind as K;
        match e.kind {
            K::Http5xx => AgentEvent::Http5xx(l),
            K::MalformedOutput => AgentEvent::MalformedOutput(Malformed::Log(l)),
            K::UpstreamError => AgentEvent::UpstreamError(l),
            K::Lb5xx => AgentEvent::Lb5xx(l),
            K::HttpErr => AgentEvent::HttpErr(l),
        }
    }

    /// One NDJSON line (without its newline).
    pub fn to_line(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("events serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_the_stable_strings() {
        let l = LogEvent {
            schema: 1,
            problem: None,
            file: "a.log".into(),
            offset: 7,
            timestamp: None,
            status: Some(502),
            backend_status: None,
            lb: None,
            source: None,
            request: None,
            client: None,
            upstream: None,
            user_agent: None,
            message: None,
        };
        assert_eq!(
            String::from_utf8(AgentEvent::Http5xx(l.clone()).to_line()).unwrap(),
            r#"{"kind":"http-5xx","schema":1,"file":"a.log","offset":7,"status":502}"#
        );
        assert_eq!(
            String::from_utf8(AgentEvent::MalformedOutput(Malformed::Log(l)).to_line()).unwrap(),
            r#"{"kind":"malformed-output","schema":1,"file":"a.log","offset":7,"status":502}"#
        );
        let b = BadLine { file: "a.log".into(), offset: 0, reason: "no status".into(), excerpt: "x".into(), bad_lines: 1, not_reported: 0 };
        assert!(String::from_utf8(AgentEvent::BadLine(b).to_line()).unwrap().starts_with(r#"{"kind":"bad-line","file":"a.log""#));
    }
}
