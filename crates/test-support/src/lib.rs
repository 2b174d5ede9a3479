//! Fixtures shared by the test suites: private PostgreSQL databases, Redis key prefixes, and
//! the rules for when a missing service fails the run instead of skipping a test.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test fixtures fail the test loudly on purpose"
)]

pub mod postgres;
pub mod redis;
pub mod server;
pub mod services;

pub use postgres::TestDatabase;
pub use redis::{RedisServer, TestRedisPrefix};
pub use server::{ServerOptions, TestServer};
pub use services::{ci_requires_services, postgres_url, redis_url};
