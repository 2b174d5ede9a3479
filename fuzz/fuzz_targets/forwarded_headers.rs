//! cargo-fuzz entry point of `spiritus_fuzz_targets::forwarded_headers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spiritus_fuzz_targets::forwarded_headers(data));
