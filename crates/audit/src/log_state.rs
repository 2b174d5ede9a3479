//! The tip of a log: what the writer needs to seal the next entry and sign the next head.
//!
//! [`LogState`] contains the compact range of every leaf so far and the hash of the last entry,
//! O(log n) memory in all. The store keeps one, appends drafts through it, and rebuilds it at
//! start-up from the checkpoint and the retained entries with [`LogState::replay`], which
//! checks each entry on the way.

use chrono::{DateTime, Utc};

use crate::checkpoint::Checkpoint;
use crate::entry::{AuditDraft, AuditEntry, seal};
use crate::hash::{Hash, PrevHash};
use crate::keys::AuditSigningKey;
use crate::merkle::CompactRange;
use crate::tree_head::SignedTreeHead;

/// An entry that does not continue the chain it is replayed onto.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    #[error(
        "expected entry {expected} next, found entry {found}; entries are missing or out of order"
    )]
    IndexMismatch { expected: u64, found: u64 },
    #[error("entry {index} does not link to the entry before it; the chain is broken")]
    BrokenLink { index: u64 },
    #[error("entry {index} does not match its hash; the entry was changed after sealing")]
    HashMismatch { index: u64 },
}

/// The compact range and last entry hash of a log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogState {
    range: CompactRange,
    last_entry_hash: PrevHash,
}

impl LogState {
    /// Creates the state of an empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates the state right after the entries that `checkpoint` pruned.
    pub fn from_checkpoint(checkpoint: &Checkpoint) -> Self {
        Self {
            range: checkpoint.range().clone(),
            last_entry_hash: *checkpoint.last_entry_hash(),
        }
    }

    /// Number of entries so far, pruned ones included; also the index of the next entry.
    pub fn size(&self) -> u64 {
        self.range.size()
    }

    /// Link that the next entry will carry.
    pub fn last_entry_hash(&self) -> &PrevHash {
        &self.last_entry_hash
    }

    /// Merkle root of every entry so far.
    pub fn root(&self) -> Hash {
        self.range.root()
    }

    /// Compact range of every entry so far.
    pub fn range(&self) -> &CompactRange {
        &self.range
    }

    /// Seals `draft` as the next entry and adds it to the tree.
    pub fn append(&mut self, draft: AuditDraft) -> AuditEntry {
        let entry = seal(draft, self.size(), self.last_entry_hash);
        self.push(&entry);
        entry
    }

    /// Adds an already sealed entry after checking its index, link and hash.
    pub fn replay(&mut self, entry: &AuditEntry) -> Result<(), ChainError> {
        let expected = self.size();
        if entry.index != expected {
            return Err(ChainError::IndexMismatch {
                expected,
                found: entry.index,
            });
        }
        if entry.prev_hash != self.last_entry_hash {
            return Err(ChainError::BrokenLink { index: entry.index });
        }
        if entry.computed_hash() != entry.hash || entry.has_sub_millisecond_time() {
            return Err(ChainError::HashMismatch { index: entry.index });
        }

        self.push(entry);
        Ok(())
    }

    /// Signs a tree head over every entry so far.
    pub fn sign_head(&self, key: &AuditSigningKey, timestamp: DateTime<Utc>) -> SignedTreeHead {
        key.sign_tree_head(self.size(), self.root(), timestamp)
    }

    /// Returns a checkpoint that prunes every entry so far.
    pub fn to_checkpoint(&self) -> Checkpoint {
        Checkpoint::from_state(self.range.clone(), self.last_entry_hash)
    }

    fn push(&mut self, entry: &AuditEntry) {
        self.range.append(entry.leaf_hash());
        self.last_entry_hash = PrevHash::Entry(entry.hash);
    }
}
