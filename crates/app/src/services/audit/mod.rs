//! The audit trail as a running service: signed tree heads, proofs, verification, queries,
//! exports, retention and the roll-up of repeated denials.
//!
//! The store appends every entry in the transaction of the change it records; this module
//! owns what happens to the log afterwards:
//!
//! - [`signer`]: keeps an incremental compact range of the whole log (pruned leaves included,
//!   through the newest checkpoint), catches up from the store's head (other replicas append
//!   too), signs tree heads on demand and periodically, stores them and publishes each one to
//!   the witness file and the `spiritus::audit` log target;
//! - [`proofs`]: inclusion and consistency proofs over the stored leaf hashes;
//! - [`verify`]: full server-side verification against the checkpoint, the stored heads, the
//!   witness file and the heads this process signed;
//! - [`query`]: filtered, paged reads and the two export formats;
//! - [`retention`]: pruning behind a signed checkpoint;
//! - [`denials`]: one audit entry per address, reason and window for refused requests;
//! - [`jobs`]: the background loops that drive all of the above.

pub mod denials;
pub mod jobs;
pub mod proofs;
pub mod query;
pub mod retention;
pub mod signer;
pub mod verify;
pub mod witness;

use spiritus_audit::{Hash, SignedCheckpoint, SignedTreeHead};

use crate::error::AppError;
use crate::state::App;

pub use denials::DenialWindows;
pub use query::{AuditExport, AuditFilter, AuditPage};
pub use retention::PruneOutcome;
pub use signer::TreeHeadSigner;
pub use verify::AuditVerification;

/// Entries read from the store per query while streaming the log.
pub(crate) const READ_BATCH: u64 = 5_000;

/// The audit service's in-process state, one per [`App`].
#[derive(Default)]
pub struct AuditRuntime {
    pub(crate) signer: TreeHeadSigner,
    pub(crate) denials: DenialWindows,
}

impl App {
    /// The newest retention checkpoint, with its signature checked against the audit key.
    pub(crate) async fn audit_checkpoint(&self) -> Result<Option<SignedCheckpoint>, AppError> {
        let Some(body) = self.store().latest_checkpoint().await? else {
            return Ok(None);
        };
        let checkpoint: SignedCheckpoint = serde_json::from_str(&body).map_err(|error| {
            integrity_failure(
                self,
                format!("the stored audit checkpoint is unreadable: {error}"),
            )
        })?;
        checkpoint
            .verify(&self.audit_key().verifying_key())
            .map_err(|error| {
                integrity_failure(
                    self,
                    format!("the stored audit checkpoint has a bad signature: {error}"),
                )
            })?;
        Ok(Some(checkpoint))
    }

    /// Every stored tree head, smallest first; a head that does not parse is an error.
    pub(crate) async fn stored_tree_heads(&self) -> Result<Vec<SignedTreeHead>, AppError> {
        self.store()
            .audit_tree_heads()
            .await?
            .iter()
            .map(|body| {
                serde_json::from_str(body).map_err(|error| {
                    AppError::Internal(format!("a stored tree head is unreadable: {error}"))
                })
            })
            .collect()
    }
}

/// Reports that the audit log failed a check the panel relies on: logs it, raises
/// `AuditVerificationFailed` and returns the error to give the caller.
pub(crate) fn integrity_failure(app: &App, detail: String) -> AppError {
    tracing::error!(target: "spiritus::audit", %detail, "audit log integrity check failed");
    app.events()
        .emit(spiritus_core::SecurityEvent::AuditVerificationFailed {
            detail: detail.clone(),
        });
    AppError::Unavailable(format!("the audit log failed an integrity check: {detail}"))
}

/// Lower-case hex of a hash, for log fields.
pub(crate) fn hex(hash: &Hash) -> String {
    hash.to_hex()
}
