//! cargo-fuzz entry point of `spiritus_fuzz_targets::access_log_line`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spiritus_fuzz_targets::access_log_line(data));
