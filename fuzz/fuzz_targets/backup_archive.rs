//! cargo-fuzz entry point of `spiritus_fuzz_targets::backup_archive`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spiritus_fuzz_targets::backup_archive(data));
