//! Cut-off markers: why and when the panel took a VPN user off the proxy core because the
//! quota was reached or the expiry passed.
//!
//! The user's status is always computed from quota, usage, expiry and the enabled switch; the
//! marker records the enforcement itself. Marking re-checks the status inside the transaction,
//! so a renewal that commits first is never undone, and both marking and clearing append their
//! audit entry in the same transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use spiritus_core::user::{UserStatus, VpnUser};
use sqlx::Row;
use uuid::Uuid;

use super::audit::{AuditRecord, AuditRecordExt};
use super::rows::to_ms;
use super::users::{COLUMNS, user_from_row, user_state};
use super::{Backend, SqlStore, WriteTx};
use crate::error::StoreError;

/// Reason a user was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutoffReason {
    /// Usage reached the traffic quota.
    Quota,
    /// The expiry time passed.
    Expired,
}

impl CutoffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CutoffReason::Quota => "quota",
            CutoffReason::Expired => "expired",
        }
    }

    /// Returns the reason that applies to a user in `status`, if any.
    pub fn for_status(status: UserStatus) -> Option<Self> {
        match status {
            UserStatus::Limited => Some(CutoffReason::Quota),
            UserStatus::Expired => Some(CutoffReason::Expired),
            UserStatus::Active | UserStatus::Disabled => None,
        }
    }
}

/// Outcome of [`SqlStore::mark_cutoff`].
#[derive(Debug, Clone)]
pub enum CutoffOutcome {
    /// The user is over quota or expired and carries the marker; `newly` when this call set it.
    Cut {
        user: VpnUser,
        reason: CutoffReason,
        newly: bool,
    },
    /// The user is active or switched off by an operator (changed meanwhile): nothing written.
    NotDue(VpnUser),
    /// No user has this id any more.
    Gone,
}

impl SqlStore {
    /// Marks a user cut off when, at `now`, the quota is reached or the expiry passed, with an
    /// audit entry (`audit` completed with the states before and after).
    pub async fn mark_cutoff(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<CutoffOutcome, StoreError> {
        let mut tx = self.write().await?;
        let Some((user, marker)) = self.lock_user_by_id(&mut tx, user_id).await? else {
            return Ok(CutoffOutcome::Gone);
        };
        let Some(reason) = CutoffReason::for_status(user.status(now)) else {
            return Ok(CutoffOutcome::NotDue(user));
        };
        if marker.as_deref() == Some(reason.as_str()) {
            return Ok(CutoffOutcome::Cut {
                user,
                reason,
                newly: false,
            });
        }

        sqlx::query("UPDATE vpn_users SET cutoff_reason = $1, cutoff_at = $2 WHERE id = $3")
            .bind(reason.as_str())
            .bind(to_ms(now))
            .bind(user.id.to_string())
            .execute(&mut *tx.tx)
            .await?;
        let record = audit
            .with_resource_id(user.id)
            .with_before(marked_state(&user, marker.as_deref(), None))
            .with_after(marked_state(&user, Some(reason.as_str()), Some(now)));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(CutoffOutcome::Cut {
            user,
            reason,
            newly: true,
        })
    }

    /// Removes the cut-off marker of a user who is active again at `now`, with an audit entry.
    /// Returns false (and writes nothing) when the user is not active or carries no marker.
    pub async fn clear_cutoff(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let Some((user, Some(marker))) = self.lock_user_by_id(&mut tx, user_id).await? else {
            return Ok(false);
        };
        if user.status(now) != UserStatus::Active {
            return Ok(false);
        }

        sqlx::query("UPDATE vpn_users SET cutoff_reason = NULL, cutoff_at = NULL WHERE id = $1")
            .bind(user.id.to_string())
            .execute(&mut *tx.tx)
            .await?;
        let record = audit
            .with_resource_id(user.id)
            .with_before(marked_state(&user, Some(&marker), None))
            .with_after(marked_state(&user, None, None));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Returns the cut-off reason of every user that carries a marker.
    pub async fn cutoff_markers(&self) -> Result<HashMap<Uuid, String>, StoreError> {
        let rows =
            sqlx::query("SELECT id, cutoff_reason FROM vpn_users WHERE cutoff_reason IS NOT NULL")
                .fetch_all(self.pool())
                .await?;
        let mut markers = HashMap::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let reason: String = row.try_get("cutoff_reason")?;
            if let Ok(id) = Uuid::parse_str(&id) {
                markers.insert(id, reason);
            }
        }
        Ok(markers)
    }

    async fn lock_user_by_id(
        &self,
        tx: &mut WriteTx<'_>,
        user_id: Uuid,
    ) -> Result<Option<(VpnUser, Option<String>)>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, cutoff_reason FROM vpn_users WHERE id = $1{lock}"
        ))
        .bind(user_id.to_string())
        .fetch_optional(&mut *tx.tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let marker: Option<String> = row.try_get("cutoff_reason")?;
        Ok(Some((user_from_row(&row)?, marker)))
    }
}

/// Builds the audited user state with its cut-off marker.
fn marked_state(user: &VpnUser, reason: Option<&str>, at: Option<DateTime<Utc>>) -> Value {
    let mut state = user_state(user);
    state["cutoff_reason"] = json!(reason);
    if let Some(at) = at {
        state["cutoff_at"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    state
}
