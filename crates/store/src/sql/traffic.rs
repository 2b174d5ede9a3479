//! Traffic accounting: turning the proxy core's per-user counters into stored usage.
//!
//! The core's counters only grow while one core process runs and restart from zero with the
//! next one. The store keeps, per core run, the last counter value it has added to usage, in
//! the same transaction as the usage itself. The next poll adds only the difference, so a
//! crash of either side between reading and committing neither loses nor doubles a byte: an
//! uncommitted poll is simply read again. A counter lower than the stored one within a run
//! can only mean a reset of the core's statistics, so its whole value is new traffic.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::rows::{to_i64, to_ms};
use super::{SqlStore, WriteTx};
use crate::error::StoreError;

/// Rows per multi-row statement; keeps every statement far below both engines' parameter
/// limits.
const BATCH_ROWS: usize = 500;

/// One user's cumulative counters as the core reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreCounter {
    pub user_key: String,
    pub uplink: u64,
    pub downlink: u64,
}

/// Traffic added to one user by a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    pub user_id: Uuid,
    pub upload: u64,
    pub download: u64,
}

impl SqlStore {
    /// Adds the traffic counted since the last poll of this core run to users' usage.
    ///
    /// Counters whose key is not a stored user (deleted meanwhile, or not ours) are recorded
    /// as seen but add nothing. Returns the deltas applied.
    pub async fn apply_core_counters(
        &self,
        run_id: &str,
        counters: &[CoreCounter],
        now: DateTime<Utc>,
    ) -> Result<Vec<UsageDelta>, StoreError> {
        let mut tx = self.write().await?;
        let seen = last_seen(&mut tx, run_id).await?;

        let mut deltas = Vec::new();
        let mut changed = Vec::new();
        for counter in counters {
            let Ok(user_id) = Uuid::parse_str(&counter.user_key) else {
                continue;
            };
            let (last_up, last_down) = seen.get(&counter.user_key).copied().unwrap_or((0, 0));
            let upload = difference(counter.uplink, last_up);
            let download = difference(counter.downlink, last_down);
            if upload == 0 && download == 0 {
                continue;
            }
            deltas.push(UsageDelta {
                user_id,
                upload,
                download,
            });
            changed.push(counter);
        }

        for batch in deltas.chunks(BATCH_ROWS) {
            add_usage(&mut tx, batch).await?;
        }
        for batch in changed.chunks(BATCH_ROWS) {
            remember_counters(&mut tx, run_id, batch, now).await?;
        }
        sqlx::query("DELETE FROM core_counters WHERE run_id <> $1")
            .bind(run_id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(deltas)
    }
}

/// New traffic between two readings of one counter.
fn difference(current: u64, last: u64) -> u64 {
    if current >= last {
        current - last
    } else {
        current
    }
}

async fn last_seen(
    tx: &mut WriteTx<'_>,
    run_id: &str,
) -> Result<HashMap<String, (u64, u64)>, StoreError> {
    let rows =
        sqlx::query("SELECT user_key, uplink, downlink FROM core_counters WHERE run_id = $1")
            .bind(run_id)
            .fetch_all(&mut *tx.tx)
            .await?;
    let mut seen = HashMap::with_capacity(rows.len());
    for row in rows {
        let key: String = row.try_get("user_key")?;
        let uplink: i64 = row.try_get("uplink")?;
        let downlink: i64 = row.try_get("downlink")?;
        seen.insert(key, (uplink.max(0) as u64, downlink.max(0) as u64));
    }
    Ok(seen)
}

async fn add_usage(tx: &mut WriteTx<'_>, batch: &[UsageDelta]) -> Result<(), StoreError> {
    let values = placeholders(batch.len(), 3);
    let sql = format!(
        "UPDATE vpn_users SET upload_bytes = vpn_users.upload_bytes + d.up, \
         download_bytes = vpn_users.download_bytes + d.down \
         FROM (SELECT column1 AS id, column2 AS up, column3 AS down FROM (VALUES {values}) AS v) AS d \
         WHERE vpn_users.id = d.id"
    );
    let mut statement = sqlx::query(&sql);
    for delta in batch {
        statement = statement
            .bind(delta.user_id.to_string())
            .bind(to_i64(delta.upload))
            .bind(to_i64(delta.download));
    }
    statement.execute(&mut *tx.tx).await?;
    Ok(())
}

async fn remember_counters(
    tx: &mut WriteTx<'_>,
    run_id: &str,
    batch: &[&CoreCounter],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let values = placeholders(batch.len(), 5);
    let sql = format!(
        "INSERT INTO core_counters (run_id, user_key, uplink, downlink, updated_at) VALUES {values} \
         ON CONFLICT (run_id, user_key) DO UPDATE SET uplink = excluded.uplink, \
         downlink = excluded.downlink, updated_at = excluded.updated_at"
    );
    let mut statement = sqlx::query(&sql);
    for counter in batch {
        statement = statement
            .bind(run_id.to_owned())
            .bind(counter.user_key.clone())
            .bind(to_i64(counter.uplink))
            .bind(to_i64(counter.downlink))
            .bind(to_ms(now));
    }
    statement.execute(&mut *tx.tx).await?;
    Ok(())
}

/// `($1, $2, $3), ($4, $5, $6), …` for `rows` rows of `columns` parameters.
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(row * columns + column + 1).to_string());
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_difference_handles_reset() {
        assert_eq!(difference(150, 100), 50);
        assert_eq!(difference(100, 100), 0);
        // A counter that went backwards restarted from zero.
        assert_eq!(difference(30, 100), 30);
    }

    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
