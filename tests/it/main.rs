//! tailgate's integration tests, one crate (as ripgrep's `tests/integration`): each module runs the
//! real binary (`CARGO_BIN_EXE_tailgate`) or the library against real input — real servers started
//! on 127.0.0.1, public projects' test data, the servers' own logs as judges. `support` starts the
//! servers and the misbehaving test backend; `support::cdp` drives headless Chromium.
//!
//! One crate links once (33 crates each compiled `support` and linked the library before) and runs
//! its tests on as many threads as there are cores, as each crate did. `cargo test --test it MODULE::` runs one
//! module. On Windows (packaging/windows/test.sh, under Wine) only the tail model is built: the
//! other modules start Debian's servers and use Unix files.

#[cfg(unix)]
mod support;

// Discovery: configs → logs, judged by the servers themselves where they run here
#[cfg(unix)]
mod discover_apache;
#[cfg(unix)]
mod discover_apache_oracle;
#[cfg(unix)]
mod discover_broken;
#[cfg(unix)]
mod discover_host;
#[cfg(unix)]
mod discover_hostile;
#[cfg(unix)]
mod discover_iis;
#[cfg(unix)]
mod discover_lighttpd;
#[cfg(unix)]
mod discover_lighttpd_oracle;
#[cfg(unix)]
mod discover_nginx;
#[cfg(unix)]
mod discover_nginx_stream;
#[cfg(unix)]
mod discover_oracle;

// Formats and real-world lines
#[cfg(unix)]
mod escapes;
#[cfg(unix)]
mod formats_defaults;
#[cfg(unix)]
mod messages;
#[cfg(unix)]
mod real_lines;
#[cfg(unix)]
mod realworld;
#[cfg(unix)]
mod values;

// `--scan`
#[cfg(unix)]
mod cli_scan;
#[cfg(unix)]
mod real_servers;
#[cfg(unix)]
mod streams;

// `--correlate`
#[cfg(unix)]
mod cli_correlate;
#[cfg(unix)]
mod correlate_haproxy;
#[cfg(unix)]
mod correlate_lab;
#[cfg(unix)]
mod correlate_truth;

// `--probe`
#[cfg(unix)]
mod probe;
#[cfg(unix)]
mod probe_hostile;

// The agent and its tail engine
#[cfg(unix)]
mod agent;
#[cfg(unix)]
mod agent_losses;
#[cfg(unix)]
mod agent_torture;
mod tail_model;
#[cfg(unix)]
mod tail_scenarios;

// Reports and the fleet job
#[cfg(unix)]
mod fleet;
#[cfg(unix)]
mod html;
