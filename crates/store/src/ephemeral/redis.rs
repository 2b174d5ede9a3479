//! The Redis ephemeral store, shared by every replica of a deployment.
//!
//! Every key starts with the deployment's prefix (`spiritus:` by default), so several panels
//! and the test suite can share one Redis:
//!
//! | key | type | contains |
//! |---|---|---|
//! | `{prefix}rev:{token id}` | string, TTL = the token's remaining life | a revoked token or session id |
//! | `{prefix}rev-restored` | string, no TTL | marker: the durable revocations were loaded |
//! | `{prefix}win:{key}` | sorted set of event times (ms), TTL = the window | one sliding window |
//! | `{prefix}block:{ip}` | JSON, TTL = the block's life | one IP block |
//! | `{prefix}blocks` | sorted set of IPs by expiry (ms) | the index used to list blocks |
//! | `{prefix}chal:{id}` | bytes, TTL | a single-use challenge |
//!
//! The restored marker is what makes a flushed or restarted Redis safe: it is absent in an
//! empty Redis, the revocation check reads it in the same `MGET` as the token ids, and the
//! panel then refills the revocations from the SQL store before it trusts a "not revoked".
//!
//! Sliding windows are exact logs made atomic with one Lua script; the caller passes `now`,
//! so the injected clock decides which events are in the window. Expiry of revocations,
//! blocks and challenges is Redis's own (real time). Every call is bounded by a timeout, and
//! the connection manager reconnects in the background after Redis comes back.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, Client, RedisError, Script};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use self::encoding::{
    StoredBlock, check_prefix, duration_ms, escape_glob, live_block, store_error, ttl_ms,
};
use super::{EphemeralStore, IpBlock, RevocationStatus, WindowDecision};
use crate::error::StoreError;
use crate::sql::redact_url;

mod encoding;

/// The key prefix used when the configuration names none.
pub const DEFAULT_KEY_PREFIX: &str = "spiritus:";
/// The bound on one Redis call when the configuration names none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest accepted key prefix.
pub(crate) const MAX_PREFIX_LEN: usize = 64;

/// Counts one event if the window has room. KEYS[1] = the window; ARGV = now (ms), start of
/// the window (ms, exclusive), window length (ms), limit, a unique member for the event.
/// Returns {allowed (0/1), count after the decision, score of the oldest event or ""}.
const HIT_WINDOW_LUA: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
  count = count + 1
  allowed = 1
end
local oldest = ''
if count > 0 then
  oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {allowed, count, oldest}
";

/// How to reach Redis and which part of it belongs to this deployment.
#[derive(Clone)]
pub struct RedisSettings {
    /// `redis://[user:password@]host[:port][/db]`.
    pub url: String,
    /// Prepended to every key: 1–64 characters of letters, digits and `:_.-`.
    pub key_prefix: String,
    /// The bound on one call, connection attempts included.
    pub timeout: Duration,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redact_url(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Ephemeral state in Redis.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    display_url: String,
    hit_window: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.display_url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects and checks that Redis answers; fails when it cannot be reached within the
    /// timeout. Messages show the URL without its password.
    pub async fn connect(settings: RedisSettings) -> Result<Self, StoreError> {
        let display_url = redact_url(&settings.url);
        check_prefix(&settings.key_prefix)?;
        let client =
            Client::open(settings.url.as_str()).map_err(|error| StoreError::InvalidSetting {
                setting: "redis_url",
                reason: format!("{display_url}: {error}"),
            })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let connecting = ConnectionManager::new_with_config(client, config);
        let connection = tokio::time::timeout(settings.timeout, connecting)
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "cannot connect to Redis at {display_url}: no answer within {} ms",
                    settings.timeout.as_millis()
                ))
            })?
            .map_err(|error| {
                StoreError::Unavailable(format!(
                    "cannot connect to Redis at {display_url}: {error}"
                ))
            })?;
        let store = Self {
            connection,
            prefix: settings.key_prefix,
            timeout: settings.timeout,
            display_url,
            hit_window: Script::new(HIT_WINDOW_LUA),
        };
        store.ping().await?;
        Ok(store)
    }

    /// The connection URL with its password hidden.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// Deletes every key under this store's prefix and returns how many there were. For
    /// tests and for an operator who retires a deployment; other prefixes are untouched.
    pub async fn purge(&self) -> Result<u64, StoreError> {
        let pattern = format!("{}*", escape_glob(&self.prefix));
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let mut connection = self.connection.clone();
            let (next, keys): (u64, Vec<String>) = self
                .bounded(
                    ::redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(500)
                        .query_async(&mut connection),
                )
                .await?;
            if !keys.is_empty() {
                let count: u64 = self.bounded(connection.unlink(&keys)).await?;
                removed += count;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    fn key(&self, kind: &str, name: &str) -> String {
        format!("{}{kind}:{name}", self.prefix)
    }

    fn restored_key(&self) -> String {
        format!("{}rev-restored", self.prefix)
    }

    fn blocks_key(&self) -> String {
        format!("{}blocks", self.prefix)
    }

    /// Runs one Redis call under the store's timeout.
    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(store_error),
            Err(_) => Err(StoreError::Unavailable(format!(
                "Redis did not answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

#[async_trait]
impl EphemeralStore for RedisStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn revoke(&self, token_id: &str, ttl: Duration) -> Result<(), StoreError> {
        let Some(ttl) = ttl_ms(ttl) else {
            return Ok(());
        };
        let mut connection = self.connection.clone();
        self.bounded(connection.pset_ex::<_, _, ()>(self.key("rev", token_id), 1u8, ttl))
            .await
    }

    async fn is_revoked(&self, token_id: &str) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        self.bounded(connection.exists(self.key("rev", token_id)))
            .await
    }

    async fn revocation_status(&self, token_ids: &[&str]) -> Result<RevocationStatus, StoreError> {
        let mut keys = Vec::with_capacity(token_ids.len() + 1);
        keys.push(self.restored_key());
        keys.extend(token_ids.iter().map(|id| self.key("rev", id)));
        let mut connection = self.connection.clone();
        // One round trip: MGET always answers a list, one entry per key.
        let found: Vec<Option<String>> = self
            .bounded(::redis::cmd("MGET").arg(&keys).query_async(&mut connection))
            .await?;
        let mut found = found.into_iter();
        let restored = found.next().flatten().is_some();
        Ok(RevocationStatus {
            revoked: found.any(|value| value.is_some()),
            needs_restore: !restored,
        })
    }

    async fn needs_revocation_restore(&self) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let restored: bool = self.bounded(connection.exists(self.restored_key())).await?;
        Ok(!restored)
    }

    async fn mark_revocations_restored(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        self.bounded(connection.set::<_, _, ()>(self.restored_key(), 1u8))
            .await
    }

    async fn restore_revocations(
        &self,
        revocations: &[(String, Duration)],
    ) -> Result<(), StoreError> {
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        for (token_id, ttl) in revocations {
            if let Some(ttl) = ttl_ms(*ttl) {
                pipe.pset_ex(self.key("rev", token_id), 1u8, ttl).ignore();
            }
        }
        pipe.set(self.restored_key(), 1u8).ignore();
        let mut connection = self.connection.clone();
        self.bounded(pipe.query_async::<()>(&mut connection)).await
    }

    async fn hit_window(
        &self,
        key: &str,
        window: Duration,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<WindowDecision, StoreError> {
        let now_ms = now.timestamp_millis();
        let window_ms = duration_ms(window);
        let member = format!("{now_ms}-{}", uuid::Uuid::new_v4().simple());
        let mut connection = self.connection.clone();
        let mut invocation = self.hit_window.key(self.key("win", key));
        invocation
            .arg(now_ms)
            .arg(now_ms.saturating_sub(window_ms))
            .arg(window_ms.max(1))
            .arg(limit)
            .arg(member);
        let (allowed, count, oldest): (u8, u64, String) = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        let retry_after = oldest
            .parse::<i64>()
            .ok()
            .map(|oldest| {
                let wait = oldest.saturating_add(window_ms).saturating_sub(now_ms);
                Duration::from_millis(u64::try_from(wait).unwrap_or(0))
            })
            .unwrap_or_default();
        Ok(WindowDecision {
            allowed: allowed == 1,
            count,
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
        let start = now.timestamp_millis().saturating_sub(duration_ms(window));
        let mut connection = self.connection.clone();
        self.bounded(connection.zcount(self.key("win", key), format!("({start}"), "+inf"))
            .await
    }

    async fn clear_window(&self, key: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        self.bounded(connection.del::<_, ()>(self.key("win", key)))
            .await
    }

    async fn block_ip(
        &self,
        ip: &str,
        reason: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let Some(ttl) = ttl_ms(ttl) else {
            return Ok(());
        };
        let now_ms = now.timestamp_millis();
        let expires_at_ms = now_ms.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX));
        let stored = serde_json::to_string(&StoredBlock {
            reason: reason.to_owned(),
            expires_at_ms,
        })
        .map_err(|error| StoreError::Backend(format!("cannot encode an IP block: {error}")))?;
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .pset_ex(self.key("block", ip), stored, ttl)
            .ignore()
            .zadd(self.blocks_key(), ip, expires_at_ms)
            .ignore()
            .zrembyscore(self.blocks_key(), "-inf", now_ms)
            .ignore();
        let mut connection = self.connection.clone();
        self.bounded(pipe.query_async::<()>(&mut connection)).await
    }

    async fn ip_block(&self, ip: &str, now: DateTime<Utc>) -> Result<Option<IpBlock>, StoreError> {
        let mut connection = self.connection.clone();
        let stored: Option<String> = self.bounded(connection.get(self.key("block", ip))).await?;
        Ok(stored.and_then(|stored| live_block(ip, &stored, now)))
    }

    async fn list_ip_blocks(&self, now: DateTime<Utc>) -> Result<Vec<IpBlock>, StoreError> {
        let mut connection = self.connection.clone();
        let ips: Vec<String> = self
            .bounded(connection.zrangebyscore(
                self.blocks_key(),
                format!("({}", now.timestamp_millis()),
                "+inf",
            ))
            .await?;
        if ips.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ips.iter().map(|ip| self.key("block", ip)).collect();
        let stored: Vec<Option<String>> = self
            .bounded(::redis::cmd("MGET").arg(&keys).query_async(&mut connection))
            .await?;
        let mut blocks: Vec<IpBlock> = ips
            .iter()
            .zip(stored)
            .filter_map(|(ip, stored)| stored.and_then(|stored| live_block(ip, &stored, now)))
            .collect();
        blocks.sort_by(|a, b| a.ip.cmp(&b.ip));
        Ok(blocks)
    }

    async fn unblock_ip(&self, ip: &str) -> Result<bool, StoreError> {
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .del(self.key("block", ip))
            .zrem(self.blocks_key(), ip)
            .ignore();
        let mut connection = self.connection.clone();
        let (deleted,): (u64,) = self.bounded(pipe.query_async(&mut connection)).await?;
        Ok(deleted > 0)
    }

    async fn put_challenge(
        &self,
        id: &str,
        payload: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let Some(ttl) = ttl_ms(ttl) else {
            return Ok(());
        };
        let mut connection = self.connection.clone();
        self.bounded(connection.pset_ex::<_, _, ()>(self.key("chal", id), payload, ttl))
            .await
    }

    async fn take_challenge(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut connection = self.connection.clone();
        // GETDEL reads and removes in one step, so two takers never both get the payload.
        self.bounded(connection.get_del(self.key("chal", id))).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        self.bounded(::redis::cmd("PING").query_async::<String>(&mut connection))
            .await
            .map(|_| ())
    }
}
