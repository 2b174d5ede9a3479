//! End-to-end tests: the real `spiritus` binary on a free loopback port, spoken to over HTTPS.
//!
//! One test binary with a module per area; fixtures live in `spiritus-test-support`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first broken step"
)]

mod abuse_flood;
mod abuse_honey;
mod abuse_limits;
mod abuse_suspension;
mod alerts;
mod audit;
mod audit_fail2ban;
mod auth_flow;
mod backends;
mod backup;
mod bad_input;
mod core;
mod core_support;
mod dashboard;
mod doctor;
mod incident;
mod mfa;
mod monitoring;
mod perimeter_allowlist;
mod perimeter_browser;
mod perimeter_geo;
mod perimeter_limits;
mod perimeter_support;
mod perimeter_tls;
mod receivers;
mod redis_outage;
mod replicas;
mod subscription;
mod users;

/// Path of the binary under test, built by Cargo for this test target.
pub const BINARY: &str = env!("CARGO_BIN_EXE_spiritus");

/// The password the tests set for the owner after the forced change.
pub const OWNER_PASSWORD: &str = "correct horse battery staple";
