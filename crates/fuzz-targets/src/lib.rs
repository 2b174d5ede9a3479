//! Fuzz targets: one function per parser of outside input, taking raw bytes.
//!
//! Each target feeds the bytes to the real parser and checks what must hold whatever the
//! input: no panic, and the target's own invariant (an error never echoes a secret, a proof
//! that verifies was really built for its root, …). The same functions run in two places:
//! the cargo-fuzz project in `fuzz/` (coverage-guided, nightly) and the stable corpus test in
//! `tests/corpus.rs`, which replays the seed corpus under `fuzz/corpus/` and random and
//! mutated inputs on every `cargo test`.
#![forbid(unsafe_code)]
#![allow(
    clippy::panic,
    reason = "a fuzz target reports a broken invariant by panicking, which the fuzzer records"
)]

mod audit;
mod auth;
mod config;
mod http;
mod secrets;

pub use audit::{audit_json, backup_archive};
pub use auth::{jwt, second_factor_code};
pub use config::{access_log_line, config_toml, subscription_token};
pub use http::{forwarded_headers, user_json};
pub use secrets::{secret_reference, sops_document};

/// A fuzz target: bytes in, panic on a broken invariant.
pub type Target = fn(&[u8]);

/// Every target by name; the names are the cargo-fuzz target and corpus folder names.
pub const TARGETS: &[(&str, Target)] = &[
    ("secret_reference", secret_reference),
    ("sops_document", sops_document),
    ("config_toml", config_toml),
    ("subscription_token", subscription_token),
    ("jwt", jwt),
    ("forwarded_headers", forwarded_headers),
    ("audit_json", audit_json),
    ("backup_archive", backup_archive),
    ("access_log_line", access_log_line),
    ("second_factor_code", second_factor_code),
    ("user_json", user_json),
];

/// The bytes as text, lossily: most parsers take `&str`, and invalid UTF-8 must not hide the
/// rest of the input from them.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Splits the input at the first NUL byte, for targets that take two inputs.
fn split_two(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|byte| *byte == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}
