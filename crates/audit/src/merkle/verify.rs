//! Proof verification (RFC 9162 §2.1.3.2 and §2.1.4.2).
//!
//! Both checks take typed [`Hash`] values, so every hash is exactly 32 bytes before it gets
//! here. A consistency check from tree size 0 is rejected: every tree extends the empty tree,
//! so such a proof shows nothing. Hostile proofs fail with an error. The loops run at most once
//! per path element and stop as soon as the path is longer than the tree is deep.

use super::node_hash;
use super::proof::{ConsistencyProof, InclusionProof};
use crate::hash::Hash;

/// A proof that does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofVerifyError {
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("proof has the wrong number of hashes for these tree sizes")]
    WrongProofLength,
    #[error("proof does not lead to the expected root")]
    RootMismatch,
    #[error("proof does not lead to the expected first root")]
    OldRootMismatch,
    #[error("consistency from tree size 0 proves nothing; use a first size of at least 1")]
    EmptyOldTree,
    #[error("first tree size {old_size} is larger than second tree size {new_size}")]
    SizesOutOfOrder { old_size: u64, new_size: u64 },
    #[error("equal tree sizes need an empty proof and equal roots")]
    EqualSizesMismatch,
}

impl InclusionProof {
    /// Checks that `leaf_hash` is leaf `leaf_index` of the tree with `root`.
    pub fn verify(&self, leaf_hash: &Hash, root: &Hash) -> Result<(), ProofVerifyError> {
        verify_inclusion(leaf_hash, self.leaf_index, self.tree_size, &self.path, root)
    }
}

impl ConsistencyProof {
    /// Checks that the tree with `old_root` is a prefix of the tree with `new_root`.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofVerifyError> {
        verify_consistency(self.old_size, self.new_size, old_root, new_root, &self.path)
    }
}

/// Checks an inclusion proof of `leaf_hash` at `index` in the tree of `size` leaves.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofVerifyError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, path)?;
    if computed != *root {
        return Err(ProofVerifyError::RootMismatch);
    }
    Ok(())
}

/// Computes the root that an inclusion proof leads to, for callers that compare it themselves.
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
) -> Result<Hash, ProofVerifyError> {
    if index >= size {
        return Err(ProofVerifyError::IndexOutOfRange { index, size });
    }

    // `node` walks from the leaf to the root; `last` is the last node index on that level.
    let mut node = index;
    let mut last = size - 1;
    let mut hash = *leaf_hash;

    for sibling in path {
        if last == 0 {
            return Err(ProofVerifyError::WrongProofLength);
        }
        if node & 1 == 1 || node == last {
            hash = node_hash(sibling, &hash);
            // A left child on the right edge has no sibling on the levels where it is alone.
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }

    if last != 0 {
        return Err(ProofVerifyError::WrongProofLength);
    }
    Ok(hash)
}

/// Checks a consistency proof between the tree of `old_size` leaves with `old_root` and the
/// tree of `new_size` leaves with `new_root`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    path: &[Hash],
) -> Result<(), ProofVerifyError> {
    if old_size == 0 {
        return Err(ProofVerifyError::EmptyOldTree);
    }
    if old_size > new_size {
        return Err(ProofVerifyError::SizesOutOfOrder { old_size, new_size });
    }
    if old_size == new_size {
        if !path.is_empty() || old_root != new_root {
            return Err(ProofVerifyError::EqualSizesMismatch);
        }
        return Ok(());
    }

    let (old_computed, new_computed) =
        roots_from_consistency_proof(old_size, new_size, old_root, path)?;
    if old_computed != *old_root {
        return Err(ProofVerifyError::OldRootMismatch);
    }
    if new_computed != *new_root {
        return Err(ProofVerifyError::RootMismatch);
    }
    Ok(())
}

/// Runs the RFC 9162 §2.1.4.2 loop for `0 < old_size < new_size` and returns the old and new
/// roots the proof leads to.
fn roots_from_consistency_proof(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    path: &[Hash],
) -> Result<(Hash, Hash), ProofVerifyError> {
    if path.is_empty() {
        return Err(ProofVerifyError::WrongProofLength);
    }

    // When the old tree is a perfect subtree, its root is the first node and is not sent.
    let (first, rest) = if old_size.is_power_of_two() {
        (*old_root, path)
    } else {
        let Some((first, rest)) = path.split_first() else {
            return Err(ProofVerifyError::WrongProofLength);
        };
        (*first, rest)
    };

    let mut node = old_size - 1;
    let mut last = new_size - 1;
    while node & 1 == 1 {
        node >>= 1;
        last >>= 1;
    }

    let mut old_hash = first;
    let mut new_hash = first;
    for sibling in rest {
        if last == 0 {
            return Err(ProofVerifyError::WrongProofLength);
        }
        if node & 1 == 1 || node == last {
            old_hash = node_hash(sibling, &old_hash);
            new_hash = node_hash(sibling, &new_hash);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            new_hash = node_hash(&new_hash, sibling);
        }
        node >>= 1;
        last >>= 1;
    }

    if last != 0 {
        return Err(ProofVerifyError::WrongProofLength);
    }
    Ok((old_hash, new_hash))
}
