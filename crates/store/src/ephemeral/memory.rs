//! The in-process ephemeral store, for a single replica.
//!
//! Expiry follows the injected clock, so tests move time instead of sleeping. The number of
//! tracked keys is capped so that a flood of distinct keys (one per spoofed username, say)
//! cannot grow memory without bound: past the cap, expired entries are swept and then the
//! oldest windows are dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use spiritus_core::Clock;

use super::{EphemeralStore, IpBlock, RevocationStatus, WindowDecision};
use crate::error::StoreError;

/// Most keys each map may hold before sweeping.
const MAX_KEYS: usize = 200_000;

#[derive(Default)]
struct State {
    revoked: HashMap<String, DateTime<Utc>>,
    windows: HashMap<String, VecDeque<DateTime<Utc>>>,
    blocks: HashMap<String, IpBlock>,
    challenges: HashMap<String, (Vec<u8>, DateTime<Utc>)>,
    restored: bool,
}

/// Ephemeral state held in this process.
#[derive(Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            clock,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn expiry(&self, ttl: Duration) -> DateTime<Utc> {
        self.clock.now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
    }
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

fn sweep_windows(windows: &mut HashMap<String, VecDeque<DateTime<Utc>>>, before: DateTime<Utc>) {
    windows.retain(|_, events| events.back().is_some_and(|newest| *newest > before));
    if windows.len() >= MAX_KEYS {
        let mut newest: Vec<(DateTime<Utc>, String)> = windows
            .iter()
            .filter_map(|(key, events)| events.back().map(|time| (*time, key.clone())))
            .collect();
        newest.sort();
        for (_, key) in newest.into_iter().take(MAX_KEYS / 10) {
            windows.remove(&key);
        }
    }
}

#[async_trait]
impl EphemeralStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn revoke(&self, token_id: &str, ttl: Duration) -> Result<(), StoreError> {
        let expires_at = self.expiry(ttl);
        let now = self.clock.now();
        let mut state = self.state();
        if state.revoked.len() >= MAX_KEYS {
            state.revoked.retain(|_, expiry| *expiry > now);
        }
        state.revoked.insert(token_id.to_owned(), expires_at);
        Ok(())
    }

    async fn is_revoked(&self, token_id: &str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        Ok(self
            .state()
            .revoked
            .get(token_id)
            .is_some_and(|expiry| *expiry > now))
    }

    async fn revocation_status(&self, token_ids: &[&str]) -> Result<RevocationStatus, StoreError> {
        let now = self.clock.now();
        let state = self.state();
        let revoked = token_ids
            .iter()
            .any(|id| state.revoked.get(*id).is_some_and(|expiry| *expiry > now));
        Ok(RevocationStatus {
            revoked,
            needs_restore: !state.restored,
        })
    }

    async fn needs_revocation_restore(&self) -> Result<bool, StoreError> {
        Ok(!self.state().restored)
    }

    async fn mark_revocations_restored(&self) -> Result<(), StoreError> {
        self.state().restored = true;
        Ok(())
    }

    async fn hit_window(
        &self,
        key: &str,
        window: Duration,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<WindowDecision, StoreError> {
        let window = to_chrono(window);
        let start = now - window;
        let mut state = self.state();
        if !state.windows.contains_key(key) && state.windows.len() >= MAX_KEYS {
            sweep_windows(&mut state.windows, start);
        }
        let events = state.windows.entry(key.to_owned()).or_default();
        while events.front().is_some_and(|oldest| *oldest <= start) {
            events.pop_front();
        }

        let allowed = (events.len() as u64) < limit;
        if allowed {
            events.push_back(now);
        }
        let retry_after = events
            .front()
            .map(|oldest| (*oldest + window - now).to_std().unwrap_or_default())
            .unwrap_or_default();
        Ok(WindowDecision {
            allowed,
            count: events.len() as u64,
            limit,
            retry_after,
        })
    }

    async fn window_count(
        &self,
        key: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let start = now - to_chrono(window);
        Ok(self
            .state()
            .windows
            .get(key)
            .map(|events| events.iter().filter(|time| **time > start).count() as u64)
            .unwrap_or(0))
    }

    async fn clear_window(&self, key: &str) -> Result<(), StoreError> {
        self.state().windows.remove(key);
        Ok(())
    }

    async fn block_ip(
        &self,
        ip: &str,
        reason: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let block = IpBlock {
            ip: ip.to_owned(),
            reason: reason.to_owned(),
            expires_at: now + to_chrono(ttl),
        };
        let mut state = self.state();
        if state.blocks.len() >= MAX_KEYS {
            state.blocks.retain(|_, block| block.expires_at > now);
        }
        state.blocks.insert(ip.to_owned(), block);
        Ok(())
    }

    async fn ip_block(&self, ip: &str, now: DateTime<Utc>) -> Result<Option<IpBlock>, StoreError> {
        Ok(self
            .state()
            .blocks
            .get(ip)
            .filter(|block| block.expires_at > now)
            .cloned())
    }

    async fn list_ip_blocks(&self, now: DateTime<Utc>) -> Result<Vec<IpBlock>, StoreError> {
        let mut blocks: Vec<IpBlock> = self
            .state()
            .blocks
            .values()
            .filter(|block| block.expires_at > now)
            .cloned()
            .collect();
        blocks.sort_by(|a, b| a.ip.cmp(&b.ip));
        Ok(blocks)
    }

    async fn unblock_ip(&self, ip: &str) -> Result<bool, StoreError> {
        Ok(self.state().blocks.remove(ip).is_some())
    }

    async fn put_challenge(
        &self,
        id: &str,
        payload: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let expires_at = self.expiry(ttl);
        let now = self.clock.now();
        let mut state = self.state();
        if state.challenges.len() >= MAX_KEYS {
            state.challenges.retain(|_, (_, expiry)| *expiry > now);
        }
        state
            .challenges
            .insert(id.to_owned(), (payload.to_vec(), expires_at));
        Ok(())
    }

    async fn take_challenge(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .state()
            .challenges
            .remove(id)
            .filter(|(_, expiry)| *expiry > now)
            .map(|(payload, _)| payload))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
