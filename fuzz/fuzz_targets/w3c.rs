#![no_main]
//! Any bytes as a W3C / HTTPERR file (several lines, headers included): never panics.
use libfuzzer_sys::fuzz_target;
use tailgate::format::Format;

fuzz_target!(|data: &[u8]| {
    for f in [Format::W3c, Format::HttpErr] {
        let mut p = f.parser();
        for line in data.split(|&b| b == b'\n') {
            if let Ok(r) = p.parse(line) {
                let _ = tailgate::detect::classify(&r);
            }
        }
    }
});
