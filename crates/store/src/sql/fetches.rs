//! When each user last fetched the subscription. The public endpoint never writes on its
//! request path: it remembers fetch times in memory and hands them here in batches.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::SqlStore;
use super::rows::to_ms;
use super::traffic::placeholders;
use crate::error::StoreError;

/// Rows per statement, far below both engines' parameter limits.
const BATCH_ROWS: usize = 500;

impl SqlStore {
    /// Stores the last subscription fetch time of each listed user (unknown ids are ignored);
    /// a time never moves backwards. Returns the number of users updated.
    pub async fn record_subscription_fetches(
        &self,
        fetches: &[(Uuid, DateTime<Utc>)],
    ) -> Result<u64, StoreError> {
        let mut updated = 0;
        let mut tx = self.write().await?;
        for batch in fetches.chunks(BATCH_ROWS) {
            let values = placeholders(batch.len(), 2);
            let sql = format!(
                "UPDATE vpn_users SET last_subscription_fetch = f.at \
                 FROM (SELECT column1 AS id, column2 AS at FROM (VALUES {values}) AS v) AS f \
                 WHERE vpn_users.id = f.id AND (vpn_users.last_subscription_fetch IS NULL \
                 OR vpn_users.last_subscription_fetch < f.at)"
            );
            let mut statement = sqlx::query(&sql);
            for (id, at) in batch {
                statement = statement.bind(id.to_string()).bind(to_ms(*at));
            }
            updated += statement.execute(&mut *tx.tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// Returns the last stored subscription fetch time of a user, if any.
    pub async fn last_subscription_fetch(
        &self,
        user_id: Uuid,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let ms: Option<i64> = sqlx::query_scalar::<_, Option<i64>>(
            "SELECT last_subscription_fetch FROM vpn_users WHERE id = $1",
        )
        .bind(user_id.to_string())
        .fetch_optional(self.pool())
        .await?
        .flatten();
        Ok(ms.and_then(DateTime::from_timestamp_millis))
    }
}
