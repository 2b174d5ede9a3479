//! Runtime settings an owner can change through the API, stored as JSON values by key.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::SqlStore;
use super::audit::AuditRecord;
use super::rows::to_ms;
use crate::error::StoreError;

impl SqlStore {
    pub async fn setting(&self, key: &str) -> Result<Option<Value>, StoreError> {
        let raw: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        raw.map(|raw| {
            serde_json::from_str(&raw).map_err(|error| StoreError::Corrupt {
                table: "settings",
                id: key.to_owned(),
                detail: error.to_string(),
            })
        })
        .transpose()
    }

    /// Stores a setting and its audit entry (with the old and new value) together.
    pub async fn put_setting(
        &self,
        key: &str,
        value: &Value,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        use super::audit::AuditRecordExt;

        let before = self.setting(key).await?;
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value.to_string())
        .bind(to_ms(now))
        .execute(&mut *tx.tx)
        .await?;
        let mut record = audit.with_resource_id(key).with_after(value.clone());
        if let Some(before) = before {
            record = record.with_before(before);
        }
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await
    }
}
