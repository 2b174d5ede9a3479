//! RFC 9162 Merkle tree over audit entries: hashing, roots, the compact range used to
//! append in O(log n) memory, and inclusion and consistency proofs.
//!
//! Hashing (RFC 9162 §2.1.1): a leaf hash is SHA-256(0x00 || leaf input), an interior node is
//! SHA-256(0x01 || left || right), and the empty tree hashes to SHA-256 of no bytes. A tree of
//! `n > 1` leaves splits at `k`, the largest power of two below `n`: the left subtree contains
//! leaves `[0, k)` and the right one `[k, n)`.
//!
//! Proofs are computed over a [`MerkleLog`]: leaf hashes from any [`LeafHashes`] source,
//! optionally after a pruned prefix that only a [`CompactRange`] still describes.

mod compact;
mod proof;
mod verify;

pub use compact::{CompactRange, CompactRangeError};
pub use proof::{ConsistencyProof, InclusionProof, MerkleLog, ProofError};
pub use verify::{
    ProofVerifyError, root_from_inclusion_proof, verify_consistency, verify_inclusion,
};

use sha2::{Digest, Sha256, compress256};

use crate::entry::AuditEntry;
use crate::hash::Hash;

/// RFC 9162 leaf hash: SHA-256(0x00 || `leaf_input`).
pub fn leaf_hash(leaf_input: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf_input);
    Hash(hasher.finalize().into())
}

/// Leaf hash of an audit entry: the RFC 9162 leaf hash with the 32-byte entry hash as the
/// leaf input, SHA-256(0x00 || `entry_hash`).
///
/// The 33-byte input fits one SHA-256 block, which is compressed directly: the verifier
/// computes one leaf per entry, and the general-purpose hasher's buffering would cost about
/// as much as the compression itself.
pub fn entry_leaf_hash(entry_hash: &Hash) -> Hash {
    let mut block = Block::default();
    block[1..33].copy_from_slice(entry_hash.as_bytes());
    block[33] = 0x80;
    block[56..].copy_from_slice(&(33u64 * 8).to_be_bytes());
    compress_padded(&[block])
}

/// One 64-byte SHA-256 input block.
type Block = sha2::digest::core_api::Block<sha2::Sha256VarCore>;

/// SHA-256 initial hash value (FIPS 180-4, section 5.3.3).
const SHA256_INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-256 of a message already laid out in padded blocks.
fn compress_padded(blocks: &[Block]) -> Hash {
    let mut state = SHA256_INITIAL;
    compress256(&mut state, blocks);
    let mut digest = [0u8; 32];
    for (chunk, word) in digest.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    Hash(digest)
}

/// RFC 9162 interior node hash: SHA-256(0x01 || `left` || `right`).
///
/// The 65-byte input is laid out in two padded blocks and compressed directly; a tree of `n`
/// leaves computes about `n` of these.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut blocks = [Block::default(), Block::default()];
    blocks[0][0] = 0x01;
    blocks[0][1..33].copy_from_slice(left.as_bytes());
    blocks[0][33..].copy_from_slice(&right.as_bytes()[..31]);
    blocks[1][0] = right.as_bytes()[31];
    blocks[1][1] = 0x80;
    blocks[1][56..].copy_from_slice(&(65u64 * 8).to_be_bytes());
    compress_padded(&blocks)
}

/// Root of the empty tree: SHA-256 of no bytes.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// Root of the tree whose leaves have the given leaf hashes.
pub fn root_of(leaf_hashes: &[Hash]) -> Hash {
    let mut range = CompactRange::new();
    range.extend(leaf_hashes.iter().copied());
    range.root()
}

/// Largest power of two strictly below `size`; `size` must be at least 2.
pub(crate) fn split_point(size: u64) -> u64 {
    1 << (63 - (size - 1).leading_zeros())
}

/// A source of leaf hashes numbered from 0, such as a slice or a store query.
pub trait LeafHashes {
    /// Number of leaves.
    fn len(&self) -> u64;

    /// Leaf hash at `index`, or `None` when the source cannot produce it.
    fn leaf(&self, index: u64) -> Option<Hash>;

    /// Reports whether there are no leaves.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LeafHashes for [Hash] {
    fn len(&self) -> u64 {
        <[Hash]>::len(self) as u64
    }

    fn leaf(&self, index: u64) -> Option<Hash> {
        let index = usize::try_from(index).ok()?;
        self.get(index).copied()
    }
}

impl LeafHashes for Vec<Hash> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn leaf(&self, index: u64) -> Option<Hash> {
        LeafHashes::leaf(self.as_slice(), index)
    }
}

/// Entries as leaves: each leaf hash is computed from the entry's stored hash when asked.
impl LeafHashes for [AuditEntry] {
    fn len(&self) -> u64 {
        <[AuditEntry]>::len(self) as u64
    }

    fn leaf(&self, index: u64) -> Option<Hash> {
        let index = usize::try_from(index).ok()?;
        self.get(index).map(AuditEntry::leaf_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_largest_power_of_two_below_size() {
        let cases: &[(u64, u64)] = &[
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (u64::MAX, 1 << 63),
        ];

        for (size, expected) in cases {
            assert_eq!(split_point(*size), *expected, "size {size}");
        }
    }

    #[test]
    fn direct_compression_matches_the_streaming_hasher() {
        for seed in 0..64u8 {
            let left = Hash::digest(&[seed]);
            let right = Hash::digest(&[seed, 1]);
            let mut node = vec![0x01];
            node.extend_from_slice(left.as_bytes());
            node.extend_from_slice(right.as_bytes());

            assert_eq!(node_hash(&left, &right), Hash::digest(&node));
            assert_eq!(entry_leaf_hash(&left), leaf_hash(left.as_bytes()));
        }
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(root_of(&[]), empty_root());
    }
}
