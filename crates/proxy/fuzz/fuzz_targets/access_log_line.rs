//! Feeds arbitrary text to the access-log line parser: it must return an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spiritus_proxy::access_log::parse_line;

fuzz_target!(|text: &str| {
    let _ = parse_line(text);
});
