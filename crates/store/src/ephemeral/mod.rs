//! Short-lived shared state: revoked token ids, sliding-window counters, IP blocks and
//! single-use challenges.
//!
//! The in-process [`MemoryStore`] serves one replica; the [`RedisStore`] serves several. Both
//! implement [`EphemeralStore`] with the same meaning, which one conformance suite checks.
//! [`FallbackWindows`] wraps the shared store so rate limiting keeps working in process while
//! Redis is down.

mod fallback;
mod memory;
mod redis;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;

pub use self::redis::{DEFAULT_KEY_PREFIX, DEFAULT_TIMEOUT, RedisSettings, RedisStore};
pub use fallback::{FallbackWindows, WARN_INTERVAL};
pub use memory::MemoryStore;

/// The answer of a sliding-window counter to one more event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowDecision {
    /// Whether the event fits under the limit (and was therefore counted).
    pub allowed: bool,
    /// Events in the window after this decision.
    pub count: u64,
    pub limit: u64,
    /// When the oldest counted event leaves the window: the earliest moment a denied caller
    /// may succeed.
    pub retry_after: Duration,
}

impl WindowDecision {
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.count)
    }
}

/// An active block of a client address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpBlock {
    pub ip: String,
    pub reason: String,
    pub expires_at: DateTime<Utc>,
}

/// The answer to a revocation check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationStatus {
    /// One of the ids is revoked.
    pub revoked: bool,
    /// The store lost its revocations (it is new or was flushed) and must be refilled from
    /// the durable record before its answer can be trusted.
    pub needs_restore: bool,
}

#[async_trait]
pub trait EphemeralStore: Send + Sync + 'static {
    /// Which implementation this is, for logs and the system page.
    fn name(&self) -> &'static str;

    /// Marks a token id (`jti:…` or `sid:…`) revoked for `ttl`.
    async fn revoke(&self, token_id: &str, ttl: Duration) -> Result<(), StoreError>;

    async fn is_revoked(&self, token_id: &str) -> Result<bool, StoreError>;

    /// Checks several token ids at once and reports whether the store still holds the
    /// revocations restored into it (one round trip on Redis).
    async fn revocation_status(&self, token_ids: &[&str]) -> Result<RevocationStatus, StoreError>;

    /// Whether the store has lost its revocations since they were last restored (it started
    /// empty or was flushed), so the durable copy must be loaded again.
    async fn needs_revocation_restore(&self) -> Result<bool, StoreError>;

    /// Records that the durable revocations were loaded.
    async fn mark_revocations_restored(&self) -> Result<(), StoreError>;

    /// Loads the durable revocations still in force (`(token id, remaining life)`) and marks
    /// the store restored. Redis does both in one transaction, so a Redis that restarts halfway
    /// is never left marked restored without the revocations.
    async fn restore_revocations(
        &self,
        revocations: &[(String, Duration)],
    ) -> Result<(), StoreError> {
        for (token_id, ttl) in revocations {
            self.revoke(token_id, *ttl).await?;
        }
        self.mark_revocations_restored().await
    }

    /// Counts one event under `key` if fewer than `limit` events happened in the last
    /// `window`; events that are denied are not counted.
    async fn hit_window(
        &self,
        key: &str,
        window: Duration,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<WindowDecision, StoreError>;

    /// Events counted under `key` in the last `window`, without adding one.
    async fn window_count(
        &self,
        key: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Forgets the events of a window (after a successful login, for example).
    async fn clear_window(&self, key: &str) -> Result<(), StoreError>;

    async fn block_ip(
        &self,
        ip: &str,
        reason: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn ip_block(&self, ip: &str, now: DateTime<Utc>) -> Result<Option<IpBlock>, StoreError>;

    async fn list_ip_blocks(&self, now: DateTime<Utc>) -> Result<Vec<IpBlock>, StoreError>;

    /// Lifts a block; returns whether there was one.
    async fn unblock_ip(&self, ip: &str) -> Result<bool, StoreError>;

    /// Stores a single-use value (a second-factor challenge, a WebAuthn ceremony state).
    async fn put_challenge(
        &self,
        id: &str,
        payload: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// Removes and returns a challenge; a second call for the same id returns `None`.
    async fn take_challenge(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Checks that the backend answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
