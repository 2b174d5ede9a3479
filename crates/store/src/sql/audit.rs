//! The audit log's storage: appends inside the caller's transaction, reads for proofs,
//! queries, signed tree heads and retention checkpoints.
//!
//! An append reads and updates the single `audit_head` row, which PostgreSQL locks for the
//! rest of the transaction, so replicas that append at once still build one chain. On SQLite
//! the store's writer lock already serialises every write.

use chrono::{DateTime, Utc};
use serde_json::Value;
use spiritus_audit::entry::{AuditDraft, AuditEntry, seal};
use spiritus_audit::hash::{GENESIS, Hash, PrevHash};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::rows::{from_ms, to_ms};
use super::{Backend, SqlStore, WriteTx};
use crate::error::StoreError;

/// What the application reports about one audited event.
pub type AuditRecord = AuditDraft;

/// Builder-style setters for the optional parts of an audit record.
pub trait AuditRecordExt: Sized {
    fn with_resource_id(self, id: impl ToString) -> Self;
    fn with_before(self, state: Value) -> Self;
    fn with_after(self, state: Value) -> Self;
    fn with_ip(self, ip: Option<String>) -> Self;
    fn with_context(self, context: Value) -> Self;
    fn failed(self, error: impl Into<String>) -> Self;
}

impl AuditRecordExt for AuditDraft {
    fn with_resource_id(mut self, id: impl ToString) -> Self {
        self.resource_id = Some(id.to_string());
        self
    }

    fn with_before(mut self, state: Value) -> Self {
        self.before = Some(state);
        self
    }

    fn with_after(mut self, state: Value) -> Self {
        self.after = Some(state);
        self
    }

    fn with_ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    fn with_context(mut self, context: Value) -> Self {
        self.context = Some(context);
        self
    }

    fn failed(mut self, error: impl Into<String>) -> Self {
        self.success = false;
        self.error = Some(error.into());
        self
    }
}

/// Filters for an audit query; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub success: Option<bool>,
    /// Only entries with an index below this one (for paging backwards from the newest).
    pub before_index: Option<u64>,
    pub limit: u32,
}

const COLUMNS: &str = "idx, time, actor_id, actor_role, ip, action, resource_type, resource_id, \
                       before_state, after_state, context, success, error, prev_hash, hash";

impl SqlStore {
    /// Appends an entry inside an open write transaction and returns it sealed.
    pub(crate) async fn append_audit(
        &self,
        tx: &mut WriteTx<'_>,
        mut record: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<AuditEntry, StoreError> {
        record.time = now;
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let head = sqlx::query(&format!(
            "SELECT size, last_hash FROM audit_head WHERE id = 1{lock}"
        ))
        .fetch_one(&mut *tx.tx)
        .await?;
        let size: i64 = head.try_get("size")?;
        let last_hash: String = head.try_get("last_hash")?;
        let prev = parse_prev(&last_hash, size)?;
        let index = u64::try_from(size).map_err(|_| corrupt_head("negative size"))?;

        let entry = seal(record, index, prev);
        insert_entry(tx, &entry).await?;
        sqlx::query("UPDATE audit_head SET size = $1, last_hash = $2 WHERE id = 1")
            .bind(size + 1)
            .bind(entry.hash.to_hex())
            .execute(&mut *tx.tx)
            .await?;
        Ok(entry)
    }

    /// Appends one entry in its own transaction.
    pub async fn record_audit(
        &self,
        record: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<AuditEntry, StoreError> {
        let mut tx = self.write().await?;
        let entry = self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// The number of entries ever appended (pruned ones included) and the newest entry's hash.
    pub async fn audit_head(&self) -> Result<(u64, PrevHash), StoreError> {
        let head = sqlx::query("SELECT size, last_hash FROM audit_head WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        let size: i64 = head.try_get("size")?;
        let last_hash: String = head.try_get("last_hash")?;
        let prev = parse_prev(&last_hash, size)?;
        Ok((
            u64::try_from(size).map_err(|_| corrupt_head("negative size"))?,
            prev,
        ))
    }

    /// Entries with `from <= index < to`, in order.
    pub async fn audit_entries(&self, from: u64, to: u64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE idx >= $1 AND idx < $2 ORDER BY idx"
        ))
        .bind(index_i64(from))
        .bind(index_i64(to))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// The stored leaf hashes (SHA-256(0x00 || entry hash)) of entries with
    /// `from <= index < to`, in order.
    pub async fn audit_leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        let rows = sqlx::query(
            "SELECT idx, leaf_hash FROM audit_log WHERE idx >= $1 AND idx < $2 ORDER BY idx",
        )
        .bind(index_i64(from))
        .bind(index_i64(to))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let idx: i64 = row.try_get("idx")?;
                let bytes: Vec<u8> = row.try_get("leaf_hash")?;
                <[u8; 32]>::try_from(bytes.as_slice())
                    .map(Hash)
                    .map_err(|_| StoreError::Corrupt {
                        table: "audit_log",
                        id: idx.to_string(),
                        detail: "leaf hash is not 32 bytes".into(),
                    })
            })
            .collect()
    }

    /// Entries matching a query, newest first.
    pub async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE ($1 IS NULL OR time >= $1) \
             AND ($2 IS NULL OR time < $2) AND ($3 IS NULL OR actor_id = $3) \
             AND ($4 IS NULL OR ip = $4) AND ($5 IS NULL OR action = $5) \
             AND ($6 IS NULL OR resource_type = $6) AND ($7 IS NULL OR resource_id = $7) \
             AND ($8 IS NULL OR success = $8) AND ($9 IS NULL OR idx < $9) \
             ORDER BY idx DESC LIMIT {}",
            query.limit.clamp(1, 1000)
        );
        let rows = sqlx::query(&sql)
            .bind(query.from.map(to_ms))
            .bind(query.to.map(to_ms))
            .bind(query.actor_id.clone())
            .bind(query.ip.clone())
            .bind(query.action.clone())
            .bind(query.resource_type.clone())
            .bind(query.resource_id.clone())
            .bind(query.success.map(i64::from))
            .bind(query.before_index.map(index_i64))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Stores a signed tree head (its JSON form) unless one for that size exists.
    pub async fn save_tree_head(
        &self,
        tree_size: u64,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO audit_tree_heads (tree_size, body, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tree_size) DO NOTHING",
        )
        .bind(index_i64(tree_size))
        .bind(body)
        .bind(to_ms(now))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// The JSON of the newest stored tree head.
    pub async fn latest_tree_head(&self) -> Result<Option<String>, StoreError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM audit_tree_heads ORDER BY tree_size DESC LIMIT 1")
                .fetch_optional(self.pool())
                .await?;
        Ok(body)
    }

    /// The JSON of the newest retention checkpoint, if the log was ever pruned.
    pub async fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body FROM audit_checkpoints ORDER BY pruned_size DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(body)
    }

    /// The JSON of every stored tree head, smallest size first.
    pub async fn audit_tree_heads(&self) -> Result<Vec<String>, StoreError> {
        let bodies: Vec<String> =
            sqlx::query_scalar("SELECT body FROM audit_tree_heads ORDER BY tree_size")
                .fetch_all(self.pool())
                .await?;
        Ok(bodies)
    }

    /// Deletes entries below `pruned_size`, stores the signed checkpoint that replaces them
    /// and appends `record` (the prune's own audit entry), all in one transaction.
    ///
    /// `previous_pruned` is the size of the checkpoint the new one extends; when another
    /// replica stored a newer checkpoint meanwhile, nothing changes and the call fails with
    /// [`StoreError::Conflict`]. Returns the number of entries deleted and the new entry.
    pub async fn prune_audit(
        &self,
        previous_pruned: u64,
        pruned_size: u64,
        checkpoint_body: &str,
        now: DateTime<Utc>,
        record: AuditRecord,
    ) -> Result<(u64, AuditEntry), StoreError> {
        let mut tx = self.write().await?;
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(pruned_size) FROM audit_checkpoints")
                .fetch_one(&mut *tx.tx)
                .await?;
        if newest.unwrap_or(0) != index_i64(previous_pruned) {
            return Err(StoreError::Conflict {
                what: "audit checkpoint",
            });
        }
        sqlx::query(
            "INSERT INTO audit_checkpoints (pruned_size, body, created_at) VALUES ($1, $2, $3)",
        )
        .bind(index_i64(pruned_size))
        .bind(checkpoint_body)
        .bind(to_ms(now))
        .execute(&mut *tx.tx)
        .await?;
        let removed = sqlx::query("DELETE FROM audit_log WHERE idx < $1")
            .bind(index_i64(pruned_size))
            .execute(&mut *tx.tx)
            .await?
            .rows_affected();
        let entry = self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok((removed, entry))
    }

    /// The index of the first entry at or after `time`, if any.
    pub async fn first_audit_index_since(
        &self,
        time: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let idx: Option<i64> =
            sqlx::query_scalar("SELECT MIN(idx) FROM audit_log WHERE time >= $1")
                .bind(to_ms(time))
                .fetch_one(self.pool())
                .await?;
        Ok(idx.and_then(|idx| u64::try_from(idx).ok()))
    }

    /// The lowest retained index, or `None` when no entry is stored.
    pub async fn first_retained_audit_index(&self) -> Result<Option<u64>, StoreError> {
        let idx: Option<i64> = sqlx::query_scalar("SELECT MIN(idx) FROM audit_log")
            .fetch_one(self.pool())
            .await?;
        Ok(idx.and_then(|idx| u64::try_from(idx).ok()))
    }

    /// Runs raw SQL; only for tests that damage the log on purpose.
    #[doc(hidden)]
    pub async fn execute_raw_for_tests(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql).execute(self.pool()).await?.rows_affected())
    }

    /// A fresh id for a request-scoped resource, for callers without one.
    pub fn new_id() -> Uuid {
        Uuid::new_v4()
    }
}

async fn insert_entry(tx: &mut WriteTx<'_>, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (idx, time, actor_id, actor_role, ip, action, resource_type, \
         resource_id, before_state, after_state, context, success, error, prev_hash, hash, \
         leaf_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(index_i64(entry.index))
    .bind(to_ms(entry.time))
    .bind(&entry.actor_id)
    .bind(&entry.actor_role)
    .bind(entry.ip.clone())
    .bind(&entry.action)
    .bind(&entry.resource_type)
    .bind(entry.resource_id.clone())
    .bind(entry.before.as_ref().map(Value::to_string))
    .bind(entry.after.as_ref().map(Value::to_string))
    .bind(entry.context.as_ref().map(Value::to_string))
    .bind(i64::from(entry.success))
    .bind(entry.error.clone())
    .bind(prev_text(&entry.prev_hash))
    .bind(entry.hash.as_bytes().to_vec())
    // SHA-256(0x00 || hash): kept beside the entry so proofs read 32 bytes per leaf.
    .bind(entry.leaf_hash().as_bytes().to_vec())
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let idx: i64 = row.try_get("idx")?;
    let id = idx.to_string();
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "audit_log",
        id: id.clone(),
        detail,
    };
    let json = |column: &str| -> Result<Option<Value>, StoreError> {
        let raw: Option<String> = row.try_get(column)?;
        raw.map(|raw| serde_json::from_str(&raw).map_err(|error| corrupt(error.to_string())))
            .transpose()
    };
    let prev_raw: String = row.try_get("prev_hash")?;
    let hash_bytes: Vec<u8> = row.try_get("hash")?;
    Ok(AuditEntry {
        index: u64::try_from(idx).map_err(|_| corrupt("negative index".into()))?,
        time: from_ms("audit_log", &id, row.try_get("time")?)?,
        actor_id: row.try_get("actor_id")?,
        actor_role: row.try_get("actor_role")?,
        ip: row.try_get("ip")?,
        action: row.try_get("action")?,
        resource_type: row.try_get("resource_type")?,
        resource_id: row.try_get("resource_id")?,
        before: json("before_state")?,
        after: json("after_state")?,
        context: json("context")?,
        success: row.try_get::<i64, _>("success")? != 0,
        error: row.try_get("error")?,
        prev_hash: parse_prev_text(&prev_raw).ok_or_else(|| corrupt("bad prev_hash".into()))?,
        hash: <[u8; 32]>::try_from(hash_bytes.as_slice())
            .map(Hash)
            .map_err(|_| corrupt("hash is not 32 bytes".into()))?,
    })
}

fn prev_text(prev: &PrevHash) -> String {
    match prev {
        PrevHash::Genesis => GENESIS.to_owned(),
        PrevHash::Entry(hash) => hash.to_hex(),
    }
}

fn parse_prev_text(raw: &str) -> Option<PrevHash> {
    if raw == GENESIS {
        return Some(PrevHash::Genesis);
    }
    Hash::from_hex(raw).ok().map(PrevHash::Entry)
}

fn parse_prev(raw: &str, size: i64) -> Result<PrevHash, StoreError> {
    let prev = parse_prev_text(raw).ok_or_else(|| corrupt_head("last_hash is not a hash"))?;
    if (size == 0) != (prev == PrevHash::Genesis) {
        return Err(corrupt_head("size and last_hash disagree"));
    }
    Ok(prev)
}

fn corrupt_head(detail: &str) -> StoreError {
    StoreError::Corrupt {
        table: "audit_head",
        id: "1".into(),
        detail: detail.into(),
    }
}

fn index_i64(index: u64) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}
