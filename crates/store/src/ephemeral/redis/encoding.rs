//! Pure helpers of the Redis store: how values, TTLs and errors are encoded and checked.

use std::time::Duration;

use ::redis::RedisError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::MAX_PREFIX_LEN;
use crate::ephemeral::IpBlock;
use crate::error::StoreError;

/// The stored form of an IP block.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredBlock {
    pub(super) reason: String,
    pub(super) expires_at_ms: i64,
}

/// Connection trouble is `Unavailable` (the caller fails closed or falls back); anything
/// else is a backend error.
pub(super) fn store_error(error: RedisError) -> StoreError {
    if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
    {
        StoreError::Unavailable(format!("Redis: {error}"))
    } else {
        StoreError::Backend(format!("Redis: {error}"))
    }
}

pub(super) fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '-');
    if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN || !prefix.chars().all(valid_char) {
        return Err(StoreError::InvalidSetting {
            setting: "redis_key_prefix",
            reason: format!("use 1 to {MAX_PREFIX_LEN} characters of letters, digits and \":_.-\""),
        });
    }
    Ok(())
}

/// Escapes the glob characters of `SCAN MATCH` (none pass [`check_prefix`], but a purge
/// must never widen its pattern).
pub(super) fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A TTL in whole milliseconds, rounded up so a positive TTL never becomes zero; `None` for
/// a zero TTL, which stores nothing.
pub(super) fn ttl_ms(ttl: Duration) -> Option<u64> {
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    (ms > 0).then(|| u64::try_from(ms).unwrap_or(u64::MAX).min(i64::MAX as u64))
}

pub(super) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

pub(super) fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Decodes a stored block and keeps it only while it is in force at `now`.
pub(super) fn live_block(ip: &str, stored: &str, now: DateTime<Utc>) -> Option<IpBlock> {
    let stored: StoredBlock = serde_json::from_str(stored).ok()?;
    let expires_at = ms_to_time(stored.expires_at_ms);
    (expires_at > now).then(|| IpBlock {
        ip: ip.to_owned(),
        reason: stored.reason,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ephemeral::redis::RedisSettings;

    #[test]
    fn prefixes_outside_the_safe_alphabet_are_refused() {
        for bad in ["", "a*", "a b", "x[1]", "ä", &"p".repeat(65)] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
        for good in ["spiritus:", "test-1.a_b:", "p"] {
            assert!(check_prefix(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(escape_glob(r"a*b?[c]\"), r"a\*b\?\[c\]\\");
    }

    #[test]
    fn ttls_round_up_to_whole_milliseconds() {
        assert_eq!(ttl_ms(Duration::ZERO), None);
        assert_eq!(ttl_ms(Duration::from_nanos(1)), Some(1));
        assert_eq!(ttl_ms(Duration::from_millis(1500)), Some(1500));
    }

    #[test]
    fn settings_debug_hides_the_password() {
        let settings = RedisSettings::new("redis://:hunter2@127.0.0.1:6379/0");
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
