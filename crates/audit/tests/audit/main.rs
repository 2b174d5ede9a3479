//! Integration tests for spiritus-audit: one test binary, one module per area. Everything
//! runs in memory except the reads of the shared test vectors and of `docs/audit-format.md`.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail the test on a broken fixture"
)]

mod support;

mod attacks;
mod canonical;
mod export;
mod format_doc;
mod proofs;
mod pruned;
mod vectors;
