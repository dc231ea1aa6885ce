#![no_main]
//! A log_format string and a line (split at the first NUL): compiling never panics, and matching
//! any line against a compiled format never panics.
use libfuzzer_sys::fuzz_target;
use tailgate::format::nginx;

fuzz_target!(|data: &[u8]| {
    let (fmt, line) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (nginx::COMBINED.as_bytes(), data),
    };
    if let Ok(fmt) = std::str::from_utf8(fmt) {
        if let Ok(t) = nginx::compile("fuzz", fmt, nginx::Escape::Default) {
            if let Ok(r) = t.parse(line) {
                let _ = r.request.path();
            }
        }
    }
});
