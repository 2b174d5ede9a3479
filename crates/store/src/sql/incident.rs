//! Incident response state: account suspensions, forced password changes and the durable
//! record of blocked client addresses. Every change appends its audit entry in the same
//! transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Row;
use uuid::Uuid;

use super::SqlStore;
use super::audit::{AuditRecord, AuditRecordExt};
use super::rows::{from_ms, to_ms};
use crate::ephemeral::IpBlock;
use crate::error::StoreError;

impl SqlStore {
    /// Suspends an account; returns `false` (and changes nothing) if it already was.
    pub async fn suspend_account(
        &self,
        account_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let updated = sqlx::query(
            "UPDATE accounts SET suspended_at = $1, suspension_reason = $2, updated_at = $1 \
             WHERE id = $3 AND suspended_at IS NULL",
        )
        .bind(to_ms(now))
        .bind(reason)
        .bind(account_id.to_string())
        .execute(&mut *tx.tx)
        .await?;
        if updated.rows_affected() == 0 {
            return self.account_exists(account_id).await.map(|_| false);
        }
        let record = audit
            .with_resource_id(account_id)
            .with_before(json!({ "suspended": false }))
            .with_after(json!({ "suspended": true, "reason": reason }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Lifts an account's suspension; returns `false` (and changes nothing) if there was none.
    pub async fn lift_suspension(
        &self,
        account_id: Uuid,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let reason: Option<Option<String>> = sqlx::query_scalar(
            "SELECT suspension_reason FROM accounts WHERE id = $1 AND suspended_at IS NOT NULL",
        )
        .bind(account_id.to_string())
        .fetch_optional(&mut *tx.tx)
        .await?;
        let Some(reason) = reason else {
            drop(tx);
            return self.account_exists(account_id).await.map(|_| false);
        };
        sqlx::query(
            "UPDATE accounts SET suspended_at = NULL, suspension_reason = NULL, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(to_ms(now))
        .bind(account_id.to_string())
        .execute(&mut *tx.tx)
        .await?;
        let record = audit
            .with_resource_id(account_id)
            .with_before(json!({ "suspended": true, "reason": reason }))
            .with_after(json!({ "suspended": false }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Makes the account change its password before anything else at its next login.
    pub async fn require_password_change(
        &self,
        account_id: Uuid,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let updated = sqlx::query(
            "UPDATE accounts SET must_change_password = 1, updated_at = $1 WHERE id = $2",
        )
        .bind(to_ms(now))
        .bind(account_id.to_string())
        .execute(&mut *tx.tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "account" });
        }
        let record = audit
            .with_resource_id(account_id)
            .with_after(json!({ "must_change_password": true }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await
    }

    async fn account_exists(&self, account_id: Uuid) -> Result<(), StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE id = $1")
            .bind(account_id.to_string())
            .fetch_one(self.pool())
            .await?;
        if count == 0 {
            return Err(StoreError::NotFound { what: "account" });
        }
        Ok(())
    }

    /// Records (or extends) the block of an address until `expires_at`.
    pub async fn record_ip_block(
        &self,
        block: &IpBlock,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM ip_blocks WHERE expires_at <= $1")
            .bind(to_ms(now))
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query(
            "INSERT INTO ip_blocks (ip, reason, created_at, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (ip) DO UPDATE SET reason = excluded.reason, \
             expires_at = excluded.expires_at",
        )
        .bind(&block.ip)
        .bind(&block.reason)
        .bind(to_ms(now))
        .bind(to_ms(block.expires_at))
        .execute(&mut *tx.tx)
        .await?;
        let record = audit.with_resource_id(&block.ip).with_after(json!({
            "ip": block.ip,
            "reason": block.reason,
            "expires_at": block.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await
    }

    /// Removes the durable block of an address; returns whether a live one existed. The
    /// audit entry is written either way, since the caller may have lifted an ephemeral
    /// block that was never recorded here.
    pub async fn remove_ip_block(
        &self,
        ip: &str,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let removed = sqlx::query("DELETE FROM ip_blocks WHERE ip = $1 AND expires_at > $2")
            .bind(ip)
            .bind(to_ms(now))
            .execute(&mut *tx.tx)
            .await?
            .rows_affected()
            > 0;
        sqlx::query("DELETE FROM ip_blocks WHERE ip = $1 OR expires_at <= $2")
            .bind(ip)
            .bind(to_ms(now))
            .execute(&mut *tx.tx)
            .await?;
        let record = audit.with_resource_id(ip).with_before(json!({ "ip": ip }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Blocks still in force, by address.
    pub async fn live_ip_blocks(&self, now: DateTime<Utc>) -> Result<Vec<IpBlock>, StoreError> {
        let rows = sqlx::query(
            "SELECT ip, reason, expires_at FROM ip_blocks WHERE expires_at > $1 ORDER BY ip",
        )
        .bind(to_ms(now))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let ip: String = row.try_get("ip")?;
                let expires_at = from_ms("ip_blocks", &ip, row.try_get("expires_at")?)?;
                Ok(IpBlock {
                    reason: row.try_get("reason")?,
                    ip,
                    expires_at,
                })
            })
            .collect()
    }
}
