//! Persistence for Spiritus.
//!
//! * [`SqlStore`]: the durable state (accounts and their second factors, sessions, refresh
//!   tokens, revocations, VPN users, traffic counters, the audit log, settings) in SQLite (the embedded default) or
//!   PostgreSQL, chosen by the database URL. One set of queries serves both: times are unix
//!   milliseconds, flags are 0/1 integers and placeholders are `$n`, which both drivers accept.
//! * [`EphemeralStore`]: short-lived shared state (token revocations, rate-limit windows, IP
//!   blocks, single-use challenges), in process or in Redis.
//!
//! Backend types never leave this crate: callers see domain types and [`StoreError`].
#![forbid(unsafe_code)]

pub mod ephemeral;
mod error;
pub mod sql;

pub use ephemeral::{
    EphemeralStore, FallbackWindows, IpBlock, MemoryStore, RedisSettings, RedisStore,
    RevocationStatus, WindowDecision,
};
pub use error::StoreError;
pub use sql::{
    AuditQuery, AuditRecord, AuditRecordExt, Backend, CutoffOutcome, CutoffReason, LiveSession,
    NewAccount, NewSession, NewVpnUser, RotateOutcome, SqlStore, UserListQuery, UserPage,
    UserPatch, UserSort,
};
pub use sql::{FactorSummary, KnownIp, LoginLocation, NewPasskey, StoredPasskey, TotpRecord};
