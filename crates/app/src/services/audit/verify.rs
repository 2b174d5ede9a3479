//! Full verification of the stored log, by the server or by `spiritus audit verify`.
//!
//! The retained entries are streamed from the store through the crate's verifier, from the
//! newest checkpoint on. Everything that vouches for the log's past is a trusted head: every
//! stored head, every witnessed head, the newest head this process signed and any head the
//! caller brings (`--tree-head FILE`). The latest head is signed here over the recomputed root
//! and never published: it only closes the report, because the entries after the newest
//! periodic head are legitimately unsigned yet. So the verdict rests on the entries' own
//! hashes and links, the checkpoint's signature, and agreement with every trusted head.
//!
//! The store's `audit_head` row is a last witness: when it counts more entries than are
//! present, the newest entries were deleted.

use chrono::{DateTime, Utc};
use serde::Serialize;
use spiritus_audit::{
    DamageKind, Failure, LogVerifier, SignedCheckpoint, SignedTreeHead, VerifyReport,
};

use super::{READ_BATCH, witness};
use crate::error::AppError;
use crate::state::App;

/// The outcome of a verification and what it was checked against.
#[derive(Debug, Clone, Serialize)]
pub struct AuditVerification {
    /// Whether every check passed.
    pub valid: bool,
    #[serde(flatten)]
    pub report: VerifyReport,
    /// Entries the checkpoint stands for.
    pub pruned: u64,
    pub stored_heads: usize,
    pub witnessed_heads: usize,
    pub checked_at: DateTime<Utc>,
}

/// Heads that vouch for the log's past, by where they came from.
struct TrustedHeads {
    heads: Vec<SignedTreeHead>,
    stored: usize,
    witnessed: usize,
}

impl App {
    /// Verifies the whole stored log; `extra_heads` are heads the caller saved earlier.
    ///
    /// `progress` is called with (entries read, entries to read) after each batch.
    pub async fn verify_audit_log(
        &self,
        extra_heads: &[SignedTreeHead],
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<AuditVerification, AppError> {
        let key = self.audit_key().verifying_key();
        let (head_size, _) = self.store().audit_head().await?;
        let (checkpoint, checkpoint_failure) = self.checkpoint_for_verify().await?;
        let trusted = self.trusted_heads(extra_heads).await?;
        let pruned = checkpoint
            .as_ref()
            .map_or(0, |signed| signed.checkpoint.pruned_size());

        let mut verifier = LogVerifier::new(key, checkpoint.as_ref(), &trusted.heads);
        let mut from = pruned;
        while from < head_size {
            let to = head_size.min(from.saturating_add(READ_BATCH));
            verifier.push_batch(&self.store().audit_entries(from, to).await?);
            progress(to - pruned, head_size.saturating_sub(pruned));
            from = to;
        }

        let log_size = verifier.tree_size();
        let closing = self
            .audit_key()
            .sign_tree_head(log_size, verifier.root(), self.now());
        let mut report = verifier.finish(&closing);
        report.first_failure = checkpoint_failure
            .or(report.first_failure)
            .or_else(|| deleted_tail(head_size, log_size));
        Ok(AuditVerification {
            valid: report.first_failure.is_none(),
            report,
            pruned,
            stored_heads: trusted.stored,
            witnessed_heads: trusted.witnessed,
            checked_at: self.now(),
        })
    }

    /// Verifies the log and raises `AuditVerificationFailed` when it does not verify.
    pub async fn verify_audit_log_and_alert(&self) -> Result<AuditVerification, AppError> {
        let outcome = self.verify_audit_log(&[], &mut |_, _| {}).await?;
        if let Some(failure) = &outcome.report.first_failure {
            super::integrity_failure(self, failure.to_string());
        } else {
            tracing::info!(
                target: "spiritus::audit",
                entries = outcome.report.entries,
                tree_size = outcome.report.tree_size,
                "audit log verified"
            );
        }
        Ok(outcome)
    }

    /// Reads the stored checkpoint for verification. A checkpoint that does not parse is
    /// reported as damage rather than as an error, so the report still names it.
    async fn checkpoint_for_verify(
        &self,
    ) -> Result<(Option<SignedCheckpoint>, Option<Failure>), AppError> {
        let Some(body) = self.store().latest_checkpoint().await? else {
            return Ok((None, None));
        };
        match serde_json::from_str(&body) {
            Ok(checkpoint) => Ok((Some(checkpoint), None)),
            Err(error) => Ok((
                None,
                Some(Failure {
                    index: None,
                    kind: DamageKind::CheckpointInvalid,
                    detail: format!("the stored checkpoint is unreadable: {error}"),
                }),
            )),
        }
    }

    async fn trusted_heads(&self, extra: &[SignedTreeHead]) -> Result<TrustedHeads, AppError> {
        let stored = self.stored_tree_heads().await?;
        let witnessed = witness::read_heads(self.config())?;
        let (stored_count, witnessed_count) = (stored.len(), witnessed.len());
        let mut heads = stored;
        heads.extend(witnessed);
        heads.extend(self.last_signed_tree_head().await);
        heads.extend(extra.iter().cloned());
        Ok(TrustedHeads {
            heads,
            stored: stored_count,
            witnessed: witnessed_count,
        })
    }
}

/// Damage when the store's head row counts entries that are not there.
fn deleted_tail(head_size: u64, log_size: u64) -> Option<Failure> {
    (head_size > log_size).then(|| Failure {
        index: Some(log_size),
        kind: DamageKind::Truncated,
        detail: format!(
            "the store's audit head counts {head_size} entries but the log ends at {log_size}: the newest entries were removed"
        ),
    })
}
