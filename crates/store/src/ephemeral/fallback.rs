//! Rate limiting that survives an outage of the shared store.
//!
//! [`FallbackWindows`] wraps the shared store (Redis). Revocations, blocks and challenges go
//! to it unchanged, so a revocation check still fails closed when it is down. Sliding-window
//! counters instead fall back to in-process counters while it cannot be reached. Rate limits
//! then apply per replica rather than across replicas: weaker, but a flood is still limited,
//! and an outage does not turn into rejecting every request.
//!
//! The fallback is logged as a warning at most once per [`WARN_INTERVAL`], and once more when
//! the shared store responds again. Events counted in process during the outage are not copied
//! back: after recovery the shared windows continue from what they held.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use spiritus_core::Clock;

use super::{EphemeralStore, IpBlock, MemoryStore, RevocationStatus, WindowDecision};
use crate::error::StoreError;

/// Minimum time between two warnings about the same outage.
pub const WARN_INTERVAL: Duration = Duration::from_secs(60);

/// A shared store whose sliding windows fall back to in-process counters.
pub struct FallbackWindows {
    shared: Arc<dyn EphemeralStore>,
    local: MemoryStore,
    clock: Arc<dyn Clock>,
    last_warning: Mutex<Option<DateTime<Utc>>>,
    degraded: AtomicBool,
    fallbacks: AtomicU64,
}

impl std::fmt::Debug for FallbackWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackWindows")
            .field("shared", &self.shared.name())
            .field("fallbacks", &self.fallbacks())
            .finish_non_exhaustive()
    }
}

impl FallbackWindows {
    pub fn new(shared: Arc<dyn EphemeralStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            shared,
            local: MemoryStore::new(Arc::clone(&clock)),
            clock,
            last_warning: Mutex::new(None),
            degraded: AtomicBool::new(false),
            fallbacks: AtomicU64::new(0),
        }
    }

    /// Window operations answered in process because the shared store failed.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Whether the last window operation fell back.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    fn fell_back(&self, operation: &'static str, error: &StoreError) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.degraded.store(true, Ordering::Relaxed);
        let now = self.clock.now();
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let due = last.is_none_or(|last| {
            (now - last).to_std().unwrap_or_default() >= WARN_INTERVAL || now < last
        });
        if due {
            *last = Some(now);
            tracing::warn!(
                target: "spiritus::ratelimit",
                store = self.shared.name(),
                operation,
                %error,
                fallbacks = self.fallbacks(),
                "shared rate-limit store unavailable; counting in this process only"
            );
        }
    }

    fn answered(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!(
                target: "spiritus::ratelimit",
                store = self.shared.name(),
                "shared rate-limit store answers again; counting across replicas"
            );
        }
    }
}

#[async_trait]
impl EphemeralStore for FallbackWindows {
    fn name(&self) -> &'static str {
        self.shared.name()
    }

    async fn revoke(&self, token_id: &str, ttl: Duration) -> Result<(), StoreError> {
        self.shared.revoke(token_id, ttl).await
    }

    async fn is_revoked(&self, token_id: &str) -> Result<bool, StoreError> {
        self.shared.is_revoked(token_id).await
    }

    async fn revocation_status(&self, token_ids: &[&str]) -> Result<RevocationStatus, StoreError> {
        self.shared.revocation_status(token_ids).await
    }

    async fn needs_revocation_restore(&self) -> Result<bool, StoreError> {
        self.shared.needs_revocation_restore().await
    }

    async fn mark_revocations_restored(&self) -> Result<(), StoreError> {
        self.shared.mark_revocations_restored().await
    }

    async fn restore_revocations(
        &self,
        revocations: &[(String, Duration)],
    ) -> Result<(), StoreError> {
        self.shared.restore_revocations(revocations).await
    }

    async fn hit_window(
        &self,
        key: &str,
        window: Duration,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<WindowDecision, StoreError> {
        match self.shared.hit_window(key, window, limit, now).await {
            Ok(decision) => {
                self.answered();
                Ok(decision)
            }
            Err(error) => {
                self.fell_back("hit_window", &error);
                self.local.hit_window(key, window, limit, now).await
            }
        }
    }

    async fn window_count(
        &self,
        key: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        match self.shared.window_count(key, window, now).await {
            Ok(count) => {
                self.answered();
                Ok(count)
            }
            Err(error) => {
                self.fell_back("window_count", &error);
                self.local.window_count(key, window, now).await
            }
        }
    }

    async fn clear_window(&self, key: &str) -> Result<(), StoreError> {
        self.local.clear_window(key).await?;
        match self.shared.clear_window(key).await {
            Ok(()) => {
                self.answered();
                Ok(())
            }
            Err(error) => {
                self.fell_back("clear_window", &error);
                Ok(())
            }
        }
    }

    async fn block_ip(
        &self,
        ip: &str,
        reason: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.shared.block_ip(ip, reason, ttl, now).await
    }

    async fn ip_block(&self, ip: &str, now: DateTime<Utc>) -> Result<Option<IpBlock>, StoreError> {
        self.shared.ip_block(ip, now).await
    }

    async fn list_ip_blocks(&self, now: DateTime<Utc>) -> Result<Vec<IpBlock>, StoreError> {
        self.shared.list_ip_blocks(now).await
    }

    async fn unblock_ip(&self, ip: &str) -> Result<bool, StoreError> {
        self.shared.unblock_ip(ip).await
    }

    async fn put_challenge(
        &self,
        id: &str,
        payload: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.shared.put_challenge(id, payload, ttl).await
    }

    async fn take_challenge(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.shared.take_challenge(id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.shared.ping().await
    }
}
