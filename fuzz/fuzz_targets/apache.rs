#![no_main]
//! A LogFormat string and a line (split at the first NUL): compiling never panics, and matching
//! any line against a compiled format never panics.
use libfuzzer_sys::fuzz_target;
use tailgate::format::apache;

fuzz_target!(|data: &[u8]| {
    let (fmt, line) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\""[..], data),
    };
    if let Ok(fmt) = std::str::from_utf8(fmt) {
        if let Ok(t) = apache::compile("fuzz", fmt) {
            let _ = t.parse(line);
        }
    }
});
