#![no_main]
//! Any bytes as the start of a file: format detection never panics, and the detected parser
//! takes every line without panicking.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(f) = tailgate::format::detect::detect(data) {
        let mut p = f.parser();
        for line in data.split(|&b| b == b'\n') {
            let _ = p.parse(line);
        }
    }
});
