//! TOTP enrolment and replay protection, and backup codes.
//!
//! Every single-use rule is one conditional statement, so it stays true across restarts, replicas
//! and simultaneous requests: a TOTP step is accepted only by an `UPDATE … WHERE last_step <
//! $step` that changes one row, a backup code only by a `DELETE` that removes one.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Row;
use uuid::Uuid;

use super::audit::{AuditRecord, AuditRecordExt};
use super::rows::{from_ms, to_ms};
use super::{SqlStore, WriteTx};
use crate::error::StoreError;

/// The stored TOTP state of an account.
pub struct TotpRecord {
    /// The sealed active secret, once enrolment is confirmed.
    pub secret: Option<Vec<u8>>,
    /// The sealed secret waiting for its first code.
    pub pending_secret: Option<Vec<u8>>,
    pub enabled_at: Option<DateTime<Utc>>,
    pub last_step: Option<u64>,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord")
            .field("enabled_at", &self.enabled_at)
            .field("pending", &self.pending_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// Summary of the second factors an account has, without any secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FactorSummary {
    pub totp: bool,
    pub backup_codes_left: u64,
    pub passkeys: u64,
}

impl FactorSummary {
    /// Returns whether the account has a factor a login can be challenged with. Backup codes only
    /// stand in for the others, so they alone do not count.
    pub fn has_second_factor(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

impl SqlStore {
    pub async fn totp_record(&self, account_id: Uuid) -> Result<Option<TotpRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT secret, pending_secret, enabled_at, last_step FROM account_totp \
             WHERE account_id = $1",
        )
        .bind(account_id.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id = account_id.to_string();
        let enabled_at: Option<i64> = row.try_get("enabled_at")?;
        let last_step: Option<i64> = row.try_get("last_step")?;
        Ok(Some(TotpRecord {
            secret: row.try_get("secret")?,
            pending_secret: row.try_get("pending_secret")?,
            enabled_at: enabled_at
                .map(|ms| from_ms("account_totp", &id, ms))
                .transpose()?,
            last_step: last_step.and_then(|step| u64::try_from(step).ok()),
        }))
    }

    /// Stores a new pending secret, replacing an earlier pending one. Refused with a conflict
    /// while TOTP is on.
    pub async fn set_pending_totp(
        &self,
        account_id: Uuid,
        sealed: &[u8],
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let result = sqlx::query(
            "INSERT INTO account_totp (account_id, pending_secret, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET pending_secret = excluded.pending_secret, \
             updated_at = excluded.updated_at WHERE account_totp.secret IS NULL",
        )
        .bind(account_id.to_string())
        .bind(sealed.to_vec())
        .bind(to_ms(now))
        .execute(&mut *tx.tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::Conflict { what: "TOTP" });
        }
        let record = audit
            .with_resource_id(account_id)
            .with_after(json!({ "totp": "pending" }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await
    }

    /// Turns the pending secret `expected_pending` on, records `step` as used and replaces
    /// the backup codes. Returns `false` (and changes nothing) when that pending secret is no
    /// longer the one stored.
    pub async fn confirm_totp(
        &self,
        account_id: Uuid,
        expected_pending: &[u8],
        step: u64,
        backup_hashes: &[[u8; 32]],
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let result = sqlx::query(
            "UPDATE account_totp SET secret = pending_secret, pending_secret = NULL, \
             enabled_at = $1, last_step = $2, updated_at = $1 \
             WHERE account_id = $3 AND secret IS NULL AND pending_secret = $4",
        )
        .bind(to_ms(now))
        .bind(step_to_i64(step))
        .bind(account_id.to_string())
        .bind(expected_pending.to_vec())
        .execute(&mut *tx.tx)
        .await?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        replace_backup_codes(&mut tx, account_id, backup_hashes, now).await?;
        let record = audit.with_resource_id(account_id).with_after(json!({
            "totp": "on",
            "backup_codes": backup_hashes.len(),
        }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Accepts a TOTP time step once: true only when `step` is later than every step accepted
    /// before for this account, in which case it is now recorded.
    pub async fn accept_totp_step(&self, account_id: Uuid, step: u64) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let result = sqlx::query(
            "UPDATE account_totp SET last_step = $1 WHERE account_id = $2 \
             AND secret IS NOT NULL AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(step_to_i64(step))
        .bind(account_id.to_string())
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(result.rows_affected() == 1)
    }

    /// Turns TOTP off; with `drop_backup_codes` the backup codes go too.
    pub async fn disable_totp(
        &self,
        account_id: Uuid,
        drop_backup_codes: bool,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM account_totp WHERE account_id = $1")
            .bind(account_id.to_string())
            .execute(&mut *tx.tx)
            .await?;
        if drop_backup_codes {
            replace_backup_codes(&mut tx, account_id, &[], now).await?;
        }
        let record = audit.with_resource_id(account_id).with_after(json!({
            "totp": "off",
            "backup_codes_removed": drop_backup_codes,
        }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await
    }

    /// Uses up a backup code: true only for the one request whose `DELETE` removed its row,
    /// and only then is the use audited.
    pub async fn use_backup_code(
        &self,
        account_id: Uuid,
        code_hash: &[u8; 32],
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let result =
            sqlx::query("DELETE FROM backup_codes WHERE account_id = $1 AND code_hash = $2")
                .bind(account_id.to_string())
                .bind(code_hash.to_vec())
                .execute(&mut *tx.tx)
                .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        let left = count_backup_codes(&mut tx, account_id).await?;
        let record = audit
            .with_resource_id(account_id)
            .with_after(json!({ "backup_codes_left": left }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Voids every backup code of the account and stores new ones.
    pub async fn replace_backup_codes(
        &self,
        account_id: Uuid,
        backup_hashes: &[[u8; 32]],
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        replace_backup_codes(&mut tx, account_id, backup_hashes, now).await?;
        let record = audit
            .with_resource_id(account_id)
            .with_after(json!({ "backup_codes": backup_hashes.len() }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await
    }

    /// Counts the second factors of an account in one query.
    pub async fn factor_summary(&self, account_id: Uuid) -> Result<FactorSummary, StoreError> {
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM account_totp WHERE account_id = $1 AND secret IS NOT NULL) AS totp, \
             (SELECT COUNT(*) FROM backup_codes WHERE account_id = $1) AS codes, \
             (SELECT COUNT(*) FROM passkeys WHERE account_id = $1) AS passkeys",
        )
        .bind(account_id.to_string())
        .fetch_one(self.pool())
        .await?;
        let count = |name: &str| -> Result<u64, StoreError> {
            let value: i64 = row.try_get(name)?;
            Ok(u64::try_from(value).unwrap_or(0))
        };
        Ok(FactorSummary {
            totp: count("totp")? > 0,
            backup_codes_left: count("codes")?,
            passkeys: count("passkeys")?,
        })
    }

    /// Removes every second factor of an account (TOTP, backup codes, passkeys).
    pub async fn reset_second_factors(
        &self,
        account_id: Uuid,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<FactorSummary, StoreError> {
        let before = self.factor_summary(account_id).await?;
        let mut tx = self.write().await?;
        for table in ["account_totp", "backup_codes", "passkeys"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE account_id = $1"))
                .bind(account_id.to_string())
                .execute(&mut *tx.tx)
                .await?;
        }
        let record = audit
            .with_resource_id(account_id)
            .with_before(summary_state(&before))
            .with_after(summary_state(&FactorSummary::default()));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(before)
    }
}

/// Builds the audited view of a summary.
pub(crate) fn summary_state(summary: &FactorSummary) -> serde_json::Value {
    json!({
        "totp": summary.totp,
        "backup_codes_left": summary.backup_codes_left,
        "passkeys": summary.passkeys,
    })
}

pub(crate) async fn replace_backup_codes(
    tx: &mut WriteTx<'_>,
    account_id: Uuid,
    backup_hashes: &[[u8; 32]],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM backup_codes WHERE account_id = $1")
        .bind(account_id.to_string())
        .execute(&mut *tx.tx)
        .await?;
    for hash in backup_hashes {
        sqlx::query(
            "INSERT INTO backup_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(account_id.to_string())
        .bind(hash.to_vec())
        .bind(to_ms(now))
        .execute(&mut *tx.tx)
        .await?;
    }
    Ok(())
}

pub(crate) async fn count_backup_codes(
    tx: &mut WriteTx<'_>,
    account_id: Uuid,
) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_codes WHERE account_id = $1")
        .bind(account_id.to_string())
        .fetch_one(&mut *tx.tx)
        .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

fn step_to_i64(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}
