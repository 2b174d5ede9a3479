//! The offline verifier: checks a retained log against its signed tree head.
//!
//! Checks, each reported as a [`DamageKind`]:
//!
//! - the checkpoint (when the log was pruned), the tree head and every trusted older head carry
//!   valid signatures by the pinned key ([`DamageKind::BadSignature`]);
//! - every entry matches its hash ([`DamageKind::EntryHashMismatch`]: a field was edited);
//! - every entry links to the one before it, or to the checkpoint ([`DamageKind::ChainBroken`]:
//!   an entry was deleted, moved, or replaced and re-hashed);
//! - indexes run on without a gap ([`DamageKind::IndexGap`]: entries were cut out and the chain
//!   re-hashed around the hole);
//! - the recomputed root equals the signed root ([`DamageKind::RootMismatch`]) and the signed
//!   size equals the log size ([`DamageKind::Truncated`], [`DamageKind::UnsignedEntries`]);
//! - every trusted older head is a prefix of this log ([`DamageKind::Truncated`], or
//!   [`DamageKind::ForkDetected`] for a different root at the current size).
//!
//! The report names the first failure in this order: checkpoint and trusted-head signatures,
//! the tree head signature, the first damaged entry, the signed size and root, then the trusted
//! heads from the smallest. Nothing here panics on hostile input.

mod verifier;

pub use verifier::LogVerifier;

use std::fmt;

use serde::{Serialize, Serializer};

use crate::checkpoint::SignedCheckpoint;
use crate::entry::AuditEntry;
use crate::hash::Hash;
use crate::keys::AuditVerifyingKey;
use crate::tree_head::SignedTreeHead;

/// Cause of a break in the chain of `prev_hash` links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainBreak {
    /// One or more entries are missing from the sequence.
    Deleted,
    /// Entries appear out of order or twice.
    Reordered,
    /// The index is right but the link is not: the entry before was replaced and re-hashed, or
    /// this entry's link was changed.
    Relinked,
}

/// Kind of damage the verifier found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DamageKind {
    EntryHashMismatch,
    ChainBroken(ChainBreak),
    IndexGap,
    RootMismatch,
    BadSignature,
    Truncated,
    ForkDetected,
    CheckpointInvalid,
    /// The log contains entries beyond the signed tree head's size.
    UnsignedEntries,
}

impl DamageKind {
    /// Stable machine-readable code, for JSON output and exit messages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EntryHashMismatch => "entry_hash_mismatch",
            Self::ChainBroken(ChainBreak::Deleted) => "chain_broken_deleted",
            Self::ChainBroken(ChainBreak::Reordered) => "chain_broken_reordered",
            Self::ChainBroken(ChainBreak::Relinked) => "chain_broken_relinked",
            Self::IndexGap => "index_gap",
            Self::RootMismatch => "root_mismatch",
            Self::BadSignature => "bad_signature",
            Self::Truncated => "truncated",
            Self::ForkDetected => "fork_detected",
            Self::CheckpointInvalid => "checkpoint_invalid",
            Self::UnsignedEntries => "unsigned_entries",
        }
    }
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for DamageKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Index of the first entry at which the damage shows, when it concerns one entry.
    pub index: Option<u64>,
    pub kind: DamageKind,
    /// Human-readable explanation with the values involved.
    pub detail: String,
}

impl Failure {
    pub(crate) fn at(index: u64, kind: DamageKind, detail: String) -> Self {
        Self {
            index: Some(index),
            kind,
            detail,
        }
    }

    pub(crate) fn log(kind: DamageKind, detail: String) -> Self {
        Self {
            index: None,
            kind,
            detail,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(f, "entry {index}: {}: {}", self.kind, self.detail),
            None => write!(f, "{}: {}", self.kind, self.detail),
        }
    }
}

/// Outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Retained entries read.
    pub entries: u64,
    /// Entries in the log, pruned ones included.
    pub tree_size: u64,
    /// Recomputed Merkle root over the whole log.
    pub root: Hash,
    /// Key id of the key the signatures were checked against.
    pub key_id: String,
    /// Trusted older heads compared with the log.
    pub trusted_heads_checked: usize,
    /// Trusted older heads that predate the checkpoint, which the retained log cannot check.
    pub trusted_heads_skipped: usize,
    /// The first problem, or `None` when the log verified.
    pub first_failure: Option<Failure>,
}

impl VerifyReport {
    /// Reports whether every check passed.
    pub fn is_valid(&self) -> bool {
        self.first_failure.is_none()
    }
}

/// Entries hashed together by [`verify_log`]; large enough to share out over the cores.
const VERIFY_BATCH: usize = 1 << 16;

/// Verifies a retained log held in memory.
///
/// `entries` must be the retained entries in log order; `checkpoint` is required when the log
/// was pruned; `trusted_heads` are older heads saved earlier or read from a witness file.
pub fn verify_log(
    key: &AuditVerifyingKey,
    checkpoint: Option<&SignedCheckpoint>,
    entries: &[AuditEntry],
    tree_head: &SignedTreeHead,
    trusted_heads: &[SignedTreeHead],
) -> VerifyReport {
    let mut verifier = LogVerifier::new(*key, checkpoint, trusted_heads);
    for batch in entries.chunks(VERIFY_BATCH) {
        verifier.push_batch(batch);
    }
    verifier.finish(tree_head)
}
