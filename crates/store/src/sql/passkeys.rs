//! Passkeys (WebAuthn credentials) of panel accounts.
//!
//! The credential is stored as the text the application serialised (public key, counter,
//! flags); this crate never looks inside it. After each login the new text replaces the old
//! one only if the old one is still stored, so two logins racing on one credential cannot
//! both move its counter.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::SqlStore;
use super::audit::{AuditRecord, AuditRecordExt};
use super::rows::{from_ms, parse_uuid, to_ms};
use super::second_factors::{count_backup_codes, replace_backup_codes};
use crate::error::StoreError;

/// A stored passkey.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    /// The credential id, base64url.
    pub credential_id: String,
    /// The serialised credential.
    pub credential: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A passkey about to be stored, with the backup codes to issue if the account has none.
#[derive(Debug)]
pub struct NewPasskey {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub credential_id: String,
    pub credential: String,
    /// Stored only when the account has no backup code yet.
    pub backup_hashes: Vec<[u8; 32]>,
}

const COLUMNS: &str = "id, account_id, name, credential_id, credential, created_at, last_used_at";

impl SqlStore {
    pub async fn passkeys_of(&self, account_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM passkeys WHERE account_id = $1 ORDER BY created_at, id"
        ))
        .bind(account_id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(passkey_from_row).collect()
    }

    /// Stores a passkey; returns whether the backup codes in `new` were issued (the account
    /// had none). A credential id registered before is a conflict.
    pub async fn add_passkey(
        &self,
        new: NewPasskey,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO passkeys (id, account_id, name, credential_id, credential, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.id.to_string())
        .bind(new.account_id.to_string())
        .bind(&new.name)
        .bind(&new.credential_id)
        .bind(&new.credential)
        .bind(to_ms(now))
        .execute(&mut *tx.tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                return Err(StoreError::Conflict { what: "passkey" });
            }
            Err(error) => return Err(error.into()),
        }
        let issue_codes = !new.backup_hashes.is_empty()
            && count_backup_codes(&mut tx, new.account_id).await? == 0;
        if issue_codes {
            replace_backup_codes(&mut tx, new.account_id, &new.backup_hashes, now).await?;
        }
        let record = audit.with_resource_id(new.id).with_after(json!({
            "account_id": new.account_id,
            "name": new.name,
            "backup_codes_issued": issue_codes,
        }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(issue_codes)
    }

    /// Renames one of the account's passkeys; false when it has no passkey with that id.
    pub async fn rename_passkey(
        &self,
        account_id: Uuid,
        id: Uuid,
        name: &str,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let before: Option<String> =
            sqlx::query_scalar("SELECT name FROM passkeys WHERE id = $1 AND account_id = $2")
                .bind(id.to_string())
                .bind(account_id.to_string())
                .fetch_optional(&mut *tx.tx)
                .await?;
        let Some(before) = before else {
            return Ok(false);
        };
        sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND account_id = $3")
            .bind(name)
            .bind(id.to_string())
            .bind(account_id.to_string())
            .execute(&mut *tx.tx)
            .await?;
        let record = audit
            .with_resource_id(id)
            .with_before(json!({ "name": before }))
            .with_after(json!({ "name": name }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes one of the account's passkeys; with `drop_backup_codes_if_last`, the backup
    /// codes go too when no passkey and no TOTP remain. False when there was no such passkey.
    pub async fn remove_passkey(
        &self,
        account_id: Uuid,
        id: Uuid,
        drop_backup_codes_if_last: bool,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let removed = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND account_id = $2")
            .bind(id.to_string())
            .bind(account_id.to_string())
            .execute(&mut *tx.tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Ok(false);
        }
        let remaining: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM passkeys WHERE account_id = $1) + \
             (SELECT COUNT(*) FROM account_totp WHERE account_id = $1 AND secret IS NOT NULL)",
        )
        .bind(account_id.to_string())
        .fetch_one(&mut *tx.tx)
        .await?;
        let drop_codes = drop_backup_codes_if_last && remaining == 0;
        if drop_codes {
            replace_backup_codes(&mut tx, account_id, &[], now).await?;
        }
        let record = audit.with_resource_id(id).with_after(json!({
            "removed": true,
            "backup_codes_removed": drop_codes,
        }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces a credential after a login, only if `old` is still what is stored. Returns
    /// whether it was replaced.
    pub async fn update_passkey_credential(
        &self,
        id: Uuid,
        old: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let result = sqlx::query(
            "UPDATE passkeys SET credential = $1, last_used_at = $2 \
             WHERE id = $3 AND credential = $4",
        )
        .bind(new)
        .bind(to_ms(now))
        .bind(id.to_string())
        .bind(old)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(result.rows_affected() == 1)
    }
}

fn passkey_from_row(row: &AnyRow) -> Result<StoredPasskey, StoreError> {
    let id_text: String = row.try_get("id")?;
    let account_text: String = row.try_get("account_id")?;
    let last_used: Option<i64> = row.try_get("last_used_at")?;
    Ok(StoredPasskey {
        id: parse_uuid("passkeys", &id_text)?,
        account_id: parse_uuid("passkeys", &account_text)?,
        name: row.try_get("name")?,
        credential_id: row.try_get("credential_id")?,
        credential: row.try_get("credential")?,
        created_at: from_ms("passkeys", &id_text, row.try_get("created_at")?)?,
        last_used_at: last_used
            .map(|ms| from_ms("passkeys", &id_text, ms))
            .transpose()?,
    })
}
