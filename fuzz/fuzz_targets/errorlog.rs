#![no_main]
//! Any bytes as an nginx or Apache error-log line: never panics; events can be built.
use libfuzzer_sys::fuzz_target;
use tailgate::format::Format;

fuzz_target!(|data: &[u8]| {
    for f in [Format::NginxError, Format::ApacheError] {
        if let Ok(r) = f.parser().parse(data) {
            if let Some(c) = tailgate::detect::classify(&r) {
                let _ = tailgate::detect::Event::new(&r, c, "f", 1);
            }
        }
    }
});
