#![no_main]
//! Any text as the agent's configuration file: never panics; what loads is inside every range
//! (so no later `Duration` arithmetic can overflow) and its probes are valid requests.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(c) = tailgate::config::Config::parse(text) {
        assert!((1..=86400).contains(&c.checkpoint_interval_secs));
        assert!((10..=3_600_000).contains(&c.poll_interval_ms));
        for p in &c.probes {
            assert!(p.timeout_secs > 0.0 && p.timeout_secs <= 3600.0);
            assert!((1..=86400).contains(&p.interval_secs));
            assert!(tailgate::probe::validate_request(&p.url, "GET", &p.headers, "headers").is_ok());
            let _ = std::time::Instant::now() + std::time::Duration::from_secs_f64(p.timeout_secs) * 3;
        }
    }
});
