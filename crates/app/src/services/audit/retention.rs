//! Retention: entries older than `audit.retention_days` are pruned behind a signed checkpoint.
//!
//! The new checkpoint extends the newest one over the entries about to go, checking each
//! (index, link, hash) on the way, so a damaged stretch is never folded in and deleted. A
//! tree head covering the whole log is signed first, so the head history contains a head beyond
//! the pruned size and consistency proofs from it keep working. The checkpoint, the deletion
//! and the prune's own audit entry (actor `system`) are one transaction.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use spiritus_audit::LogState;
use spiritus_store::{AuditRecordExt, StoreError};

use super::{READ_BATCH, integrity_failure};
use crate::actor::Actor;
use crate::error::AppError;
use crate::state::App;

/// Result of a prune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneOutcome {
    /// Entries before this index are gone; `None` when nothing was old enough.
    pub pruned_size: Option<u64>,
    /// Entries deleted by this prune.
    pub removed: u64,
    /// Entries older than this were due.
    pub cutoff: DateTime<Utc>,
}

impl App {
    /// Prunes the entries older than the retention period; 0 days keeps every entry.
    pub async fn prune_audit_log(&self) -> Result<PruneOutcome, AppError> {
        let days = self.config().audit.retention_days;
        let now = self.now();
        let cutoff = now - Duration::days(i64::from(days));
        let nothing = PruneOutcome {
            pruned_size: None,
            removed: 0,
            cutoff,
        };
        if days == 0 {
            return Ok(nothing);
        }

        let previous = self.audit_checkpoint().await?;
        let previous_pruned = previous
            .as_ref()
            .map_or(0, |signed| signed.checkpoint.pruned_size());
        let (size, _) = self.store().audit_head().await?;
        let prune_to = self
            .store()
            .first_audit_index_since(cutoff)
            .await?
            .unwrap_or(size)
            .min(size);
        if prune_to <= previous_pruned {
            return Ok(nothing);
        }

        self.sign_tree_head().await?;
        let mut state = previous
            .as_ref()
            .map(|signed| LogState::from_checkpoint(&signed.checkpoint))
            .unwrap_or_default();
        self.fold_pruned_entries(&mut state, prune_to).await?;
        let checkpoint = self.audit_key().sign_checkpoint(state.to_checkpoint(), now);
        let body = serde_json::to_string(&checkpoint)
            .map_err(|error| AppError::Internal(format!("cannot encode a checkpoint: {error}")))?;

        let record = Actor::System
            .audit(now, "audit.prune", "audit_log")
            .with_after(json!({
                "pruned_size": prune_to,
                "previous_pruned_size": previous_pruned,
                "retention_days": days,
                "cutoff": cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            }));
        let (removed, _) = self
            .store()
            .prune_audit(previous_pruned, prune_to, &body, now, record)
            .await
            .map_err(|error| match error {
                StoreError::Conflict { .. } => AppError::Conflict {
                    field: None,
                    message: "another replica pruned the audit log at the same time".into(),
                },
                other => other.into(),
            })?;
        tracing::info!(
            target: "spiritus::audit",
            pruned_size = prune_to,
            removed,
            retention_days = days,
            "pruned the audit log behind a signed checkpoint"
        );
        Ok(PruneOutcome {
            pruned_size: Some(prune_to),
            removed,
            cutoff,
        })
    }

    /// Replays the entries from the state's size up to `prune_to` onto `state`.
    async fn fold_pruned_entries(
        &self,
        state: &mut LogState,
        prune_to: u64,
    ) -> Result<(), AppError> {
        while state.size() < prune_to {
            let from = state.size();
            let to = prune_to.min(from.saturating_add(READ_BATCH));
            let entries = self.store().audit_entries(from, to).await?;
            if entries.len() as u64 != to - from {
                return Err(integrity_failure(
                    self,
                    format!("entries {from}..{to} are not all stored; refusing to prune"),
                ));
            }
            for entry in &entries {
                state.replay(entry).map_err(|error| {
                    integrity_failure(self, format!("refusing to prune: {error}"))
                })?;
            }
        }
        Ok(())
    }
}
