//! # tailgate
//!
//! An on-instance agent that answers the 3 a.m. question: *my load balancer returns HTTP 502 — is
//! it the load balancer or my backend, which instance, which request, and why?*
//!
//! ## Design
//!
//! Data flows one way through small stages, each in its own module with one job:
//!
//! ```text
//! platform + profile ─► discover::{nginx, apache, lighttpd, iis} ─► Source { path or glob, format, origin file:line }
//!                                              │
//!          read / mapped (one-shot: files, .gz, stdin; ranges for threads)   tail (agent: identity, checkpoint, watch)
//!                                              │
//!   format::* (zero-copy parsers: ELB, ALB, Apache/nginx compiled templates, W3C/HTTPERR, error logs)
//!                                              ▼
//!            Record (borrowed fields; timestamps as UTC instants with offset + precision)
//!                                              │
//!      detect::classify (allocation-free) ─► detect::Event (owned, only for the rare events)
//!          │                        │                               │
//!   scan (counts, timeline)   correlate (ELB pass ⋈ local pass ─► matcher ─► Finding)   agent (NDJSON sink)
//!          └──────────────┬─────────┘                                                       │
//!                      report (text / json / ndjson)                 probe (raw HTTP/1.1 exchange + rules)
//! ```
//!
//! The one-shot hot path (`--scan`, `--correlate`) — reading, splitting lines, parsing every
//! field, classifying, counting per minute — allocates nothing per line: parsers borrow from the
//! read buffer (or the memory mapping), errors are static strings, and events (rare) are the only
//! thing copied out. The agent's tailer is the exception: it hands out each line as an owned
//! buffer ([`tail::TailLine`]), one allocation per line, at the rate a live log grows. Bad input
//! is a counted, reported line (`file:line: reason`), never a panic or an aborted run.
//!
//! Modules the binary and the tests use are public; the rest are `pub(crate)`, and every public
//! item is documented (`#![warn(missing_docs)]`, denied in CI). No module depends on a sibling
//! that depends on it back (`.ci/module-cycles.py`, in CI).
//!
//! | module | one job |
//! |---|---|
//! | `cli`, `main.rs` | arguments (clap), pick the mode, print |
//! | [`config`], [`paths`] | the agent's `/etc/tailgate/tailgate.toml`; default file locations per platform, instance paths under `--root`, paths as text |
//! | `service` (Windows only) | running the agent as a Windows service |
//! | `platform`, [`profile`] | OS family, addresses, running servers; per-OS defaults |
//! | [`discover`] | web-server configs → logs, with origins; the keep-alive check |
//! | [`format`](mod@format), [`time`], `num` | one parser per log format; timestamps; decimal numbers in bytes |
//! | [`read`], `mapped`, [`fold`] | one-shot reading (read(2) or a truncation-safe mapping); the one parallel fold over a log's records |
//! | [`detect`] | records → events |
//! | [`scan`] | `--scan` |
//! | [`correlate`] | `--correlate`: ELB pass, local pass (their contract in `correlate::key`), idle timeout, join, matcher |
//! | [`probe`] | `--probe`: deadlined raw exchange (`wire`), the streaming response judge (`response`), the rules |
//! | [`tail`], [`agent`] | following logs through rotation; the agent: plan → pipeline → outbox → sink, probes and `elb_log_dir` on threads of their own |
//! | [`report`], [`text`] | renderers (text and JSON; the HTML page in [`report::html`]): the only place that knows about terminals; the one escaping of outside text |
//! | `limits` | the range of every duration and count a user sets |

#![warn(missing_docs)]

pub mod agent;
pub mod cli;
pub mod config;
pub mod correlate;
pub mod detect;
pub mod discover;
pub mod fold;
pub mod format;
pub(crate) mod limits;
pub(crate) mod mapped;
pub(crate) mod num;
pub mod paths;
pub(crate) mod platform;
pub mod probe;
pub mod profile;
pub mod read;
pub mod report;
pub mod scan;
#[cfg(windows)]
pub mod service;
pub mod spill;
pub mod tail;
pub mod text;
pub mod time;

/// `tailgate --version`: version, git commit and target.
pub const VERSION_LONG: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("TAILGATE_GIT_COMMIT"), ", target ", env!("TAILGATE_TARGET"), ")");
