//! Inclusion and consistency proofs served from the stored leaf hashes.
//!
//! A proof over a pruned log starts from the newest checkpoint's compact range, so every
//! proof for an entry at or after the pruned size, and between sizes at or after it, is the
//! same as the unpruned log would give. Computing one hashes each retained leaf once, which
//! runs on the blocking pool.

use spiritus_audit::{CompactRange, ConsistencyProof, Hash, InclusionProof, MerkleLog, ProofError};

use super::READ_BATCH;
use crate::error::AppError;
use crate::state::App;

/// The leaves a proof needs: the pruned prefix's range and the retained leaf hashes.
pub(crate) struct ProofMaterial {
    pub(crate) prefix: CompactRange,
    pub(crate) leaves: Vec<Hash>,
}

impl ProofMaterial {
    pub(crate) fn log(&self) -> MerkleLog<'_, Vec<Hash>> {
        MerkleLog::pruned(&self.prefix, &self.leaves)
    }
}

impl App {
    /// Inclusion proof of entry `index` in the tree of the first `tree_size` entries.
    pub async fn audit_inclusion_proof(
        &self,
        index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, AppError> {
        let material = self.proof_material("tree_size", tree_size).await?;
        if index >= tree_size {
            return Err(AppError::validation(
                "index",
                format!("must be below tree_size ({tree_size})"),
            ));
        }
        let pruned = material.prefix.size();
        if index < pruned {
            return Err(AppError::validation(
                "index",
                format!("entries below {pruned} were pruned; no inclusion proof exists for them"),
            ));
        }
        blocking(move || material.log().inclusion_proof(index, tree_size)).await
    }

    /// Consistency proof from the tree of `first` entries to the tree of `second` entries.
    pub async fn audit_consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, AppError> {
        if first == 0 {
            return Err(AppError::validation(
                "first",
                "must be at least 1: every tree extends the empty tree",
            ));
        }
        if first > second {
            return Err(AppError::validation(
                "first",
                "must not be larger than second",
            ));
        }
        let material = self.proof_material("second", second).await?;
        let pruned = material.prefix.size();
        if first < pruned {
            return Err(AppError::validation(
                "first",
                format!("must be at least {pruned}: the entries before it were pruned"),
            ));
        }
        blocking(move || material.log().consistency_proof(first, second)).await
    }

    /// Loads the checkpoint range and the retained leaf hashes of the first `size` entries.
    pub(crate) async fn proof_material(
        &self,
        field: &'static str,
        size: u64,
    ) -> Result<ProofMaterial, AppError> {
        let (log_size, _) = self.store().audit_head().await?;
        if size > log_size {
            return Err(AppError::validation(
                field,
                format!("must be at most the log size ({log_size})"),
            ));
        }
        let prefix = self
            .audit_checkpoint()
            .await?
            .map(|signed| signed.checkpoint.range().clone())
            .unwrap_or_default();
        let mut leaves = Vec::new();
        let mut from = prefix.size();
        while from < size {
            let to = size.min(from.saturating_add(READ_BATCH));
            let batch = self.store().audit_leaf_hashes(from, to).await?;
            if batch.len() as u64 != to - from {
                return Err(super::integrity_failure(
                    self,
                    format!("entries {from}..{to} are not all stored: entries were deleted"),
                ));
            }
            leaves.extend(batch);
            from = to;
        }
        Ok(ProofMaterial { prefix, leaves })
    }
}

/// Runs a proof computation on the blocking pool and maps its errors.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ProofError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| AppError::Internal(format!("proof task failed: {error}")))?
        .map_err(proof_error)
}

fn proof_error(error: ProofError) -> AppError {
    match error {
        ProofError::SizeBeyondLog { .. } | ProofError::SizePruned { .. } => {
            AppError::validation("tree_size", error.to_string())
        }
        ProofError::IndexOutOfRange { .. } | ProofError::LeafPruned { .. } => {
            AppError::validation("index", error.to_string())
        }
        ProofError::EmptyOldTree | ProofError::SizesOutOfOrder { .. } => {
            AppError::validation("first", error.to_string())
        }
        other => AppError::Internal(other.to_string()),
    }
}
