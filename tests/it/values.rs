//! Every duration and count from the command line or the configuration file has a range
//! (src/limits.rs): out of it — `inf`, `NaN`, `1e20`, 0 where 0 makes no sense, `u64::MAX` — is
//! a clear error that names the flag (or the key, the file and the line), exit 2, before any
//! work starts. Each case below panicked, hung or silently matched nothing before.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_tailgate")).args(args).output().unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn flags_out_of_range_are_refused() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo/elb.log");
    let cases: &[(&[&str], &str)] = &[
        (&["--probe", "http://127.0.0.1:1/", "--idle", "inf"], "--idle"),
        (&["--probe", "http://127.0.0.1:1/", "--idle", "1e20"], "--idle"),
        (&["--probe", "http://127.0.0.1:1/", "--idle=-1"], "--idle"),
        (&["--probe", "http://127.0.0.1:1/", "--timeout", "inf"], "--timeout"),
        (&["--probe", "http://127.0.0.1:1/", "--timeout", "NaN"], "--timeout"),
        (&["--probe", "http://127.0.0.1:1/", "--timeout", "0"], "--timeout"),
        (&["--probe", "http://127.0.0.1:1/", "--deadline", "inf"], "--deadline"),
        (&["--probe", "http://127.0.0.1:1/", "--lb-idle-timeout", "18446744073709551615"], "--lb-idle-timeout"),
        (&["--probe", "http://127.0.0.1:1/", "--lb-idle-timeout", "0"], "--lb-idle-timeout"),
        (&["--correlate", demo, "--window", "NaN"], "--window"),
        (&["--correlate", demo, "--window", "inf"], "--window"),
        (&["--correlate", demo, "--window=-5"], "--window"),
        (&["--correlate", demo, "--burst", "0"], "--burst"),
        (&["--correlate", demo, "--threads", "0"], "--threads"),
        (&["--scan", demo, "--threads", "99999999999"], "--threads"),
        (&["--scan", demo, "--since", "99999999999999999d"], "--since"),
        (&["--scan", demo, "--since", "36501d"], "--since"),
    ];
    for (args, flag) in cases {
        let (code, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(flag) && err.contains("must be"), "{args:?}: the message names {flag} and the range: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // The edges that are allowed still work.
    let (code, err) = run(&["--correlate", demo, "--window", "0", "--burst", "1", "--threads", "1", "--backend", "10.0.1.11:80"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn config_values_out_of_range_name_the_key_file_and_line() {
    let d = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, usize)] = &[
        ("[[probes]]\nurl = \"http://127.0.0.1:1/\"\ntimeout_secs = inf\n", "probes.timeout_secs", 3),
        ("[[probes]]\nurl = \"http://127.0.0.1:1/\"\ntimeout_secs = nan\n", "probes.timeout_secs", 3),
        ("[[probes]]\nurl = \"http://127.0.0.1:1/\"\ntimeout_secs = 0\n", "probes.timeout_secs", 3),
        ("[[probes]]\nurl = \"http://127.0.0.1:1/\"\ninterval_secs = 18446744073709551615\n", "interval_secs", 3),
        ("[[probes]]\nurl = \"http://127.0.0.1:1/\"\ninterval_secs = 0\n", "probes.interval_secs", 3),
        ("discover = false\ncheckpoint_interval_secs = 0\n", "checkpoint_interval_secs", 2),
        ("discover = false\npoll_interval_ms = 1\n", "poll_interval_ms", 2),
        ("discover = false\nlb_idle_timeout_secs = 5000\n", "lb_idle_timeout_secs", 2),
        ("discover = false\nsummary_interval_secs = 99999999999\n", "summary_interval_secs", 2),
        ("discover = false\nmax_line_bytes = 10\n", "max_line_bytes", 2),
    ];
    for (i, (text, key, line)) in cases.iter().enumerate() {
        let p = d.path().join(format!("c{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let (code, err) = run(&["--config", p.to_str().unwrap()]);
        assert_eq!(code, 2, "{text}: {err}");
        assert!(err.contains(&format!("c{i}.toml")), "{text}: names the file: {err}");
        assert!(err.contains(key), "{text}: names {key}: {err}");
        assert!(err.contains(&format!("line {line}")), "{text}: names line {line}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn probe_headers_in_the_config_cannot_inject() {
    let d = tempfile::tempdir().unwrap();
    for h in ["X-A: b\\r\\nX-Injected: 1", "X-A: b\\u0000", "X-A: b\\n", "no colon"] {
        let p = d.path().join("c.toml");
        std::fs::write(&p, format!("discover = false\n[[probes]]\nurl = \"http://127.0.0.1:1/\"\nheaders = [\"{h}\"]\n")).unwrap();
        let (code, err) = run(&["--config", p.to_str().unwrap()]);
        assert_eq!(code, 2, "{h}: {err}");
        assert!(err.contains("c.toml") && err.contains("probes") && err.contains("headers"), "{h}: {err}");
        assert!(!err.bytes().any(|b| b == 0 || b == b'\r'), "{h}: shown escaped: {err:?}");
    }
    let p = d.path().join("c.toml");
    std::fs::write(&p, "discover = false\n[[probes]]\nurl = \"http://127.0.0.1:1/a b\"\n").unwrap();
    let (code, err) = run(&["--config", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("URL"), "{err}");
}
