#![no_main]
//! Any bytes as a server's whole output to the probe, cut into reads of sizes taken from the
//! first bytes: never panics, counts no more body than came, and gives the same verdict however
//! the bytes are cut (the parser streams; it must not depend on read boundaries).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let splits = [data[0] as usize % 17 + 1, data[1] as usize + 1];
    let then_timeout = data[2] & 1 == 1;
    let body = &data[3..];
    let r = tailgate::probe::judge_bytes(body, &splits, then_timeout);
    assert!(r.body_bytes <= body.len() as u64);
    let whole = tailgate::probe::judge_bytes(body, &[body.len().max(1)], then_timeout);
    let a: Vec<&str> = r.violations.iter().map(|v| v.rule).collect();
    let b: Vec<&str> = whole.violations.iter().map(|v| v.rule).collect();
    assert_eq!(a, b, "verdict depends on the read sizes {splits:?}");
    assert_eq!((r.status, r.body_bytes), (whole.status, whole.body_bytes));
});
