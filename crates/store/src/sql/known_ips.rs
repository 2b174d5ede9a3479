//! The client addresses each account has logged in from, for new-location alerts and for
//! letting a recently verified address skip the second factor.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Row;
use uuid::Uuid;

use super::SqlStore;
use super::audit::{AuditRecord, AuditRecordExt};
use super::rows::{from_ms, to_ms};
use crate::error::StoreError;

/// Record of one address an account logged in from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownIp {
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The last login from this address that passed a second factor.
    pub last_second_factor_at: Option<DateTime<Utc>>,
}

/// Whether a login came from a new address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginLocation {
    /// The account's first recorded address.
    First,
    Known,
    /// The account has other addresses but not this one.
    New,
}

impl SqlStore {
    pub async fn known_ip(
        &self,
        account_id: Uuid,
        ip: &str,
    ) -> Result<Option<KnownIp>, StoreError> {
        let row = sqlx::query(
            "SELECT first_seen_at, last_seen_at, last_second_factor_at FROM account_known_ips \
             WHERE account_id = $1 AND ip = $2",
        )
        .bind(account_id.to_string())
        .bind(ip)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id = account_id.to_string();
        let verified: Option<i64> = row.try_get("last_second_factor_at")?;
        Ok(Some(KnownIp {
            first_seen_at: from_ms("account_known_ips", &id, row.try_get("first_seen_at")?)?,
            last_seen_at: from_ms("account_known_ips", &id, row.try_get("last_seen_at")?)?,
            last_second_factor_at: verified
                .map(|ms| from_ms("account_known_ips", &id, ms))
                .transpose()?,
        }))
    }

    /// Records a successful login from `ip` and returns whether the address is new. The audit
    /// entry `new_location` is appended, in the same transaction, only for a new address.
    pub async fn record_login_ip(
        &self,
        account_id: Uuid,
        ip: &str,
        second_factor: bool,
        now: DateTime<Utc>,
        new_location: AuditRecord,
    ) -> Result<LoginLocation, StoreError> {
        let mut tx = self.write().await?;
        let known: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM account_known_ips WHERE account_id = $1 AND ip = $2",
        )
        .bind(account_id.to_string())
        .bind(ip)
        .fetch_one(&mut *tx.tx)
        .await?;
        let any: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM account_known_ips WHERE account_id = $1")
                .bind(account_id.to_string())
                .fetch_one(&mut *tx.tx)
                .await?;
        let verified_at = second_factor.then(|| to_ms(now));
        sqlx::query(
            "INSERT INTO account_known_ips \
             (account_id, ip, first_seen_at, last_seen_at, last_second_factor_at) \
             VALUES ($1, $2, $3, $3, $4) ON CONFLICT (account_id, ip) DO UPDATE SET \
             last_seen_at = excluded.last_seen_at, last_second_factor_at = \
             COALESCE(excluded.last_second_factor_at, account_known_ips.last_second_factor_at)",
        )
        .bind(account_id.to_string())
        .bind(ip)
        .bind(to_ms(now))
        .bind(verified_at)
        .execute(&mut *tx.tx)
        .await?;
        let location = match (known > 0, any > 0) {
            (true, _) => LoginLocation::Known,
            (false, false) => LoginLocation::First,
            (false, true) => LoginLocation::New,
        };
        if location == LoginLocation::New {
            let record = new_location
                .with_resource_id(account_id)
                .with_after(json!({ "ip": ip, "known_addresses": any }));
            self.append_audit(&mut tx, record, now).await?;
        }
        tx.commit().await?;
        Ok(location)
    }
}
