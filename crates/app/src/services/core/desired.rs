//! The desired state of the core: the users that may connect, each with the credentials the
//! core needs, and the figures the manager watches between two full loads (quota, usage,
//! expiry).
//!
//! A user's Trojan/Shadowsocks password is derived with HMAC-SHA256 under a key derived from
//! the pepper, over the user's id and proxy id. It is never stored: the core config, the live
//! API calls and the user's own subscription derive the same value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use spiritus_auth::SecretKey;
use spiritus_core::user::VpnUser;
use spiritus_proxy::CoreUser;
use uuid::Uuid;

use crate::error::AppError;

/// Bytes of HMAC output used for a password (32 characters of URL-safe base64).
const PASSWORD_BYTES: usize = 24;

/// Derives the user's Trojan/Shadowsocks password.
pub fn core_password(key: &SecretKey, user_id: Uuid, proxy_uuid: Uuid) -> Result<String, AppError> {
    // HMAC takes keys of any length, so this error cannot occur.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose())
        .map_err(|_| AppError::Internal("core password key unusable".into()))?;
    mac.update(b"spiritus-core-password-v1");
    mac.update(user_id.as_bytes());
    mac.update(proxy_uuid.as_bytes());
    let digest = mac.finalize().into_bytes();
    Ok(URL_SAFE_NO_PAD.encode(&digest[..PASSWORD_BYTES]))
}

/// Builds the core's view of a user: key (`email`), VMess/VLESS id and password.
pub fn core_user(key: &SecretKey, user: &VpnUser) -> Result<CoreUser, AppError> {
    let password = core_password(key, user.id, user.proxy_uuid)?;
    Ok(CoreUser::new(user.core_key(), user.proxy_uuid, password))
}

/// A user in the core, with what decides when it must leave.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tracked {
    pub id: Uuid,
    /// Quota in bytes; 0 = unlimited.
    pub limit: u64,
    /// Usage as last loaded, plus the traffic counted since.
    pub used: u64,
    pub expire_at: DateTime<Utc>,
}

impl Tracked {
    pub fn of(user: &VpnUser) -> Self {
        Self {
            id: user.id,
            limit: user.traffic_limit.bytes(),
            used: user.used_bytes(),
            expire_at: user.expire_at,
        }
    }

    /// Returns whether the user has reached the quota or expiry at `now`, by these figures.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        (self.limit > 0 && self.used >= self.limit) || self.expire_at <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_stable_per_user() {
        let key = SecretKey::from_bytes(vec![7; 32]);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));

        let first = core_password(&key, a, b).unwrap();

        assert_eq!(first, core_password(&key, a, b).unwrap());
        assert_ne!(first, core_password(&key, b, a).unwrap());
        assert_ne!(
            first,
            core_password(&SecretKey::from_bytes(vec![8; 32]), a, b).unwrap()
        );
        assert_eq!(first.len(), 32);
    }

    #[test]
    fn tracked_user_due_at_limits() {
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let tracked = Tracked {
            id: Uuid::nil(),
            limit: 100,
            used: 99,
            expire_at: now + chrono::Duration::seconds(1),
        };
        let cases = [
            // below quota, before expiry
            (tracked.clone(), false),
            // quota reached exactly
            (
                Tracked {
                    used: 100,
                    ..tracked.clone()
                },
                true,
            ),
            // unlimited never reaches a quota
            (
                Tracked {
                    limit: 0,
                    used: u64::MAX,
                    ..tracked.clone()
                },
                false,
            ),
            // expiry reached exactly
            (
                Tracked {
                    expire_at: now,
                    ..tracked.clone()
                },
                true,
            ),
        ];
        for (index, (tracked, due)) in cases.into_iter().enumerate() {
            assert_eq!(tracked.is_due(now), due, "case {index}");
        }
    }
}
