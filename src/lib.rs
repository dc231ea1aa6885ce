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
//! read (files, .gz, stdin; reused buffer, byte ranges for threads)
//!   └─► format::* (zero-copy parsers: ELB, ALB, Apache/nginx compiled templates, W3C, error logs)
//!         └─► Record (borrowed fields, timestamps as UTC instants with offset + precision)
//!               └─► detect::classify (allocation-free) ─► detect::Event (owned, only for events)
//!                     └─► scan (counts, timeline, top paths) ─► report (text / json / ndjson)
//! ```
//!
//! The hot path — reading, splitting lines, parsing every field, classifying, counting per
//! minute — allocates nothing per line: parsers borrow from the read buffer, errors are static
//! strings, and events (rare) are the only thing copied out. Bad input is a counted, reported
//! line (`file:line: reason`), never a panic or an aborted run.

pub mod agent;
pub mod cli;
pub mod config;
pub mod correlate;
pub mod detect;
pub mod discover;
pub mod format;
pub mod mapped;
pub mod platform;
pub mod probe;
pub mod profile;
pub mod read;
pub mod report;
pub mod scan;
pub mod tail;
pub mod time;

/// `tailgate --version`: version, git commit and target.
pub const VERSION_LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TAILGATE_GIT_COMMIT"),
    ", target ",
    env!("TAILGATE_TARGET"),
    ")"
);
