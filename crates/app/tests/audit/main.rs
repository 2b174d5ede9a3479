//! The audit service at the application level, on a real SQLite (and PostgreSQL, when the
//! test script provides it) with a manual clock: retention, the denial roll-up, concurrent
//! appends from replicas, and the tree-head signer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first broken step"
)]

mod concurrency;
mod denials;
mod retention;
mod signer;
mod support;
