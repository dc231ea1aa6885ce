#![no_main]
//! Any bytes as a elb line: never panics; a parsed record's fields lie inside the line.
use libfuzzer_sys::fuzz_target;
use tailgate::format::{Format, Record};

fuzz_target!(|data: &[u8]| {
    let mut p = Format::Elb.parser();
    if let Ok(Record::Lb(r)) = p.parse(data) {
        let _ = tailgate::detect::classify(&Record::Lb(r));
        let _ = r.request.path();
        let _ = r.time.to_rfc3339();
    }
});
