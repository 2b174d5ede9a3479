//! Proof generation (RFC 9162 §2.1.3.1 and §2.1.4.1) over a log that may be pruned.
//!
//! A pruned log keeps only the [`CompactRange`] of its first `P` leaves. Every node that a
//! root, an inclusion proof for a leaf `>= P`, or a consistency proof between sizes `>= P`
//! needs is either one of the compact range's subtrees, a node built from them, or a node over
//! retained leaves. A node strictly inside a pruned subtree is never needed for those requests,
//! so the pruned leaves are not either.
//!
//! Cost: without cached interior nodes, one root or proof hashes every leaf after the pruned
//! prefix once (O(n) SHA-256 calls, O(log n) stack).

use serde::{Deserialize, Serialize};

use super::compact::CompactRange;
use super::{LeafHashes, empty_root, node_hash, split_point};
use crate::hash::Hash;

/// A root or proof request that the log cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    #[error("tree size {size} exceeds the log size {log_size}; request a size up to {log_size}")]
    SizeBeyondLog { size: u64, log_size: u64 },
    #[error(
        "tree size {size} is inside the pruned prefix of {pruned} leaves; request a size of at least {pruned}"
    )]
    SizePruned { size: u64, pruned: u64 },
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error(
        "leaf {index} was pruned (the first {pruned} leaves are gone); no inclusion proof exists"
    )]
    LeafPruned { index: u64, pruned: u64 },
    #[error("consistency from tree size 0 proves nothing; request a first size of at least 1")]
    EmptyOldTree,
    #[error("first tree size {old_size} is larger than second tree size {new_size}")]
    SizesOutOfOrder { old_size: u64, new_size: u64 },
    #[error("leaf source returned no hash for leaf {index}; the source is shorter than it claims")]
    LeafUnavailable { index: u64 },
    #[error("subtree [{start}, {end}) lies inside the pruned prefix and cannot be computed")]
    NodePruned { start: u64, end: u64 },
    #[error("log size overflows u64 (pruned {pruned} + retained {retained})")]
    SizeOverflow { pruned: u64, retained: u64 },
}

/// An inclusion proof (audit path) for one leaf, ordered from the leaf's sibling upwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub path: Vec<Hash>,
}

/// A consistency proof between the trees of `old_size` and `new_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub path: Vec<Hash>,
}

/// A log's leaves as seen by the prover: an optional pruned prefix described by its compact
/// range, followed by retained leaf hashes.
#[derive(Clone, Copy)]
pub struct MerkleLog<'a, L: LeafHashes + ?Sized> {
    pruned: Option<&'a CompactRange>,
    leaves: &'a L,
}

impl<'a, L: LeafHashes + ?Sized> MerkleLog<'a, L> {
    /// Wraps a complete log: `leaves` contains every leaf from index 0.
    pub fn new(leaves: &'a L) -> Self {
        Self {
            pruned: None,
            leaves,
        }
    }

    /// Wraps a pruned log: `prefix` covers leaves `[0, P)` and `retained.leaf(i)` is leaf `P + i`.
    pub fn pruned(prefix: &'a CompactRange, retained: &'a L) -> Self {
        Self {
            pruned: Some(prefix),
            leaves: retained,
        }
    }

    /// Number of leaves pruned away (`P`).
    pub fn pruned_size(&self) -> u64 {
        self.pruned.map_or(0, CompactRange::size)
    }

    /// Number of leaves in the log, pruned ones included.
    pub fn size(&self) -> Result<u64, ProofError> {
        let pruned = self.pruned_size();
        let retained = self.leaves.len();
        pruned
            .checked_add(retained)
            .ok_or(ProofError::SizeOverflow { pruned, retained })
    }

    /// Root of the tree of the first `size` leaves.
    pub fn root(&self, size: u64) -> Result<Hash, ProofError> {
        if size == 0 {
            return Ok(empty_root());
        }
        self.check_size(size)?;
        self.subtree_root(0, size, &mut SubtreeMemo::disabled())
    }

    /// Inclusion proof of leaf `index` in the tree of the first `tree_size` leaves.
    pub fn inclusion_proof(
        &self,
        index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ProofError> {
        self.inclusion_proof_with(index, tree_size, &mut SubtreeMemo::disabled())
    }

    /// Inclusion proofs of several leaves in the tree of the first `tree_size` leaves.
    ///
    /// Subtree roots of at least [`MEMO_MIN_LEAVES`] leaves are computed once and shared
    /// between the proofs, so `k` proofs cost about one pass over the leaves plus a few
    /// hundred hashes each, instead of `k` passes.
    pub fn inclusion_proofs(
        &self,
        indexes: &[u64],
        tree_size: u64,
    ) -> Result<Vec<InclusionProof>, ProofError> {
        let mut memo = SubtreeMemo::enabled();
        indexes
            .iter()
            .map(|index| self.inclusion_proof_with(*index, tree_size, &mut memo))
            .collect()
    }

    fn inclusion_proof_with(
        &self,
        index: u64,
        tree_size: u64,
        memo: &mut SubtreeMemo,
    ) -> Result<InclusionProof, ProofError> {
        self.check_size(tree_size)?;
        if index >= tree_size {
            return Err(ProofError::IndexOutOfRange {
                index,
                size: tree_size,
            });
        }
        let pruned = self.pruned_size();
        if index < pruned {
            return Err(ProofError::LeafPruned { index, pruned });
        }

        let mut path = Vec::new();
        self.inclusion_path(index, 0, tree_size, &mut path, memo)?;
        Ok(InclusionProof {
            leaf_index: index,
            tree_size,
            path,
        })
    }

    /// Consistency proof that the tree of `old_size` leaves is a prefix of the tree of
    /// `new_size` leaves.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, ProofError> {
        if old_size == 0 {
            return Err(ProofError::EmptyOldTree);
        }
        if old_size > new_size {
            return Err(ProofError::SizesOutOfOrder { old_size, new_size });
        }
        self.check_size(old_size)?;
        self.check_size(new_size)?;

        let mut path = Vec::new();
        if old_size < new_size {
            let mut memo = SubtreeMemo::disabled();
            self.consistency_path(old_size, 0, new_size, true, &mut path, &mut memo)?;
        }
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path,
        })
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        let log_size = self.size()?;
        if size > log_size {
            return Err(ProofError::SizeBeyondLog { size, log_size });
        }
        let pruned = self.pruned_size();
        if size < pruned {
            return Err(ProofError::SizePruned { size, pruned });
        }
        Ok(())
    }

    /// RFC 9162 PATH over the node covering leaves `[start, end)`, deepest sibling first.
    fn inclusion_path(
        &self,
        index: u64,
        start: u64,
        end: u64,
        path: &mut Vec<Hash>,
        memo: &mut SubtreeMemo,
    ) -> Result<(), ProofError> {
        if end - start <= 1 {
            return Ok(());
        }

        let middle = start + split_point(end - start);
        if index < middle {
            self.inclusion_path(index, start, middle, path, memo)?;
            path.push(self.subtree_root(middle, end, memo)?);
        } else {
            self.inclusion_path(index, middle, end, path, memo)?;
            path.push(self.subtree_root(start, middle, memo)?);
        }
        Ok(())
    }

    /// RFC 9162 SUBPROOF over the node `[start, end)` for the old tree boundary `old_size`.
    /// `whole_old_tree` is true while the node's left edge is leaf 0, where the verifier
    /// already knows the old root and the node need not be sent.
    fn consistency_path(
        &self,
        old_size: u64,
        start: u64,
        end: u64,
        whole_old_tree: bool,
        path: &mut Vec<Hash>,
        memo: &mut SubtreeMemo,
    ) -> Result<(), ProofError> {
        if old_size == end {
            if !whole_old_tree {
                path.push(self.subtree_root(start, end, memo)?);
            }
            return Ok(());
        }

        let middle = start + split_point(end - start);
        if old_size <= middle {
            self.consistency_path(old_size, start, middle, whole_old_tree, path, memo)?;
            path.push(self.subtree_root(middle, end, memo)?);
        } else {
            self.consistency_path(old_size, middle, end, false, path, memo)?;
            path.push(self.subtree_root(start, middle, memo)?);
        }
        Ok(())
    }

    /// Merkle tree hash of leaves `[start, end)`, `start < end`.
    fn subtree_root(
        &self,
        start: u64,
        end: u64,
        memo: &mut SubtreeMemo,
    ) -> Result<Hash, ProofError> {
        if let Some(hash) = memo.get(start, end) {
            return Ok(hash);
        }
        let pruned = self.pruned_size();
        if end <= pruned {
            if let Some(hash) = self.pruned_node(start, end)? {
                return Ok(hash);
            }
        } else if start >= pruned && end - start == 1 {
            let index = start - pruned;
            return self
                .leaves
                .leaf(index)
                .ok_or(ProofError::LeafUnavailable { index: start });
        }
        if end - start == 1 {
            return Err(ProofError::NodePruned { start, end });
        }

        let middle = start + split_point(end - start);
        let left = self.subtree_root(start, middle, memo)?;
        let right = self.subtree_root(middle, end, memo)?;
        let hash = node_hash(&left, &right);
        memo.put(start, end, hash);
        Ok(hash)
    }

    /// Looks up the pruned subtree that is exactly `[start, end)`. Returns `None` when the node
    /// spans several pruned subtrees, so it can be built from them, and an error when it lies
    /// strictly inside one of them.
    fn pruned_node(&self, start: u64, end: u64) -> Result<Option<Hash>, ProofError> {
        let Some(prefix) = self.pruned else {
            return Ok(None);
        };

        for node in prefix.nodes() {
            if node.start == start && node.end == end {
                return Ok(Some(node.hash));
            }
            if node.start <= start && end <= node.end {
                return Err(ProofError::NodePruned { start, end });
            }
        }
        Ok(None)
    }
}

/// Smallest subtree, in leaves, whose root [`MerkleLog::inclusion_proofs`] keeps for reuse.
/// About `2n / MEMO_MIN_LEAVES` roots are kept for `n` leaves, and a proof recomputes at most
/// about `2 * MEMO_MIN_LEAVES` hashes below them.
pub const MEMO_MIN_LEAVES: u64 = 64;

/// Subtree roots kept between the proofs of one batch.
struct SubtreeMemo {
    roots: Option<std::collections::HashMap<(u64, u64), Hash>>,
}

impl SubtreeMemo {
    fn disabled() -> Self {
        Self { roots: None }
    }

    fn enabled() -> Self {
        Self {
            roots: Some(std::collections::HashMap::new()),
        }
    }

    fn get(&self, start: u64, end: u64) -> Option<Hash> {
        self.roots.as_ref()?.get(&(start, end)).copied()
    }

    fn put(&mut self, start: u64, end: u64, hash: Hash) {
        if let Some(roots) = &mut self.roots
            && end - start >= MEMO_MIN_LEAVES
        {
            roots.insert((start, end), hash);
        }
    }
}
