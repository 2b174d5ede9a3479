//! The compact range (also called the frontier) of a tree prefix `[0, size)`.
//!
//! `[0, size)` splits into one perfect subtree per set bit of `size`, largest first: for
//! `size = 6` that is leaves `[0, 4)` and `[4, 6)`. The range stores only those subtree roots,
//! at most 64 hashes, which is enough to append further leaves, compute the root at any later
//! size, and build proofs for everything after the prefix.

use serde::{Deserialize, Serialize};

use super::{empty_root, node_hash};
use crate::hash::Hash;

/// Roots of the perfect subtrees covering leaves `[0, size)`, left to right.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "RawCompactRange", deny_unknown_fields)]
pub struct CompactRange {
    size: u64,
    hashes: Vec<Hash>,
}

/// Unchecked JSON form of [`CompactRange`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompactRange {
    size: u64,
    hashes: Vec<Hash>,
}

/// A compact range whose hash count does not fit its size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid compact range: size {size} needs {expected} subtree hashes (one per set bit), found {found}"
)]
pub struct CompactRangeError {
    pub size: u64,
    pub expected: u32,
    pub found: usize,
}

impl TryFrom<RawCompactRange> for CompactRange {
    type Error = CompactRangeError;

    fn try_from(raw: RawCompactRange) -> Result<Self, Self::Error> {
        Self::from_parts(raw.size, raw.hashes)
    }
}

/// One perfect subtree of a compact range: leaves `[start, end)` and their root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RangeNode {
    pub start: u64,
    pub end: u64,
    pub hash: Hash,
}

impl CompactRange {
    /// Creates the range of the empty prefix.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a range from its size and subtree roots, checking that there is one hash per
    /// set bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, CompactRangeError> {
        let expected = size.count_ones();
        if hashes.len() != expected as usize {
            return Err(CompactRangeError {
                size,
                expected,
                found: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// Number of leaves covered.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Subtree roots, largest subtree first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends one leaf hash, merging the equal-sized subtrees that the new leaf completes.
    ///
    /// A range never reaches 2^64 leaves in practice, and the size counter would overflow there.
    pub fn append(&mut self, leaf_hash: Hash) {
        let mut merged = leaf_hash;
        let mut completed = self.size;

        // Each trailing 1 bit of the size is a subtree of the new leaf's height: merge it in.
        while completed & 1 == 1 {
            let Some(left) = self.hashes.pop() else { break };
            merged = node_hash(&left, &merged);
            completed >>= 1;
        }

        self.hashes.push(merged);
        self.size += 1;
    }

    /// Appends every leaf hash from `leaf_hashes`, in order.
    pub fn extend(&mut self, leaf_hashes: impl IntoIterator<Item = Hash>) {
        for leaf_hash in leaf_hashes {
            self.append(leaf_hash);
        }
    }

    /// Root of the tree of `size` leaves: the subtree roots folded right to left.
    pub fn root(&self) -> Hash {
        let mut from_right = self.hashes.iter().rev();
        let Some(last) = from_right.next() else {
            return empty_root();
        };
        from_right.fold(*last, |right, left| node_hash(left, &right))
    }

    /// Lists the perfect subtrees with their leaf ranges, left to right.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = RangeNode> + '_ {
        let mut start = 0u64;
        let heights = (0..64u32)
            .rev()
            .filter(|height| self.size >> height & 1 == 1);

        heights.zip(self.hashes.iter()).map(move |(height, hash)| {
            let node = RangeNode {
                start,
                end: start + (1u64 << height),
                hash: *hash,
            };
            start = node.end;
            node
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    #[test]
    fn append_keeps_one_hash_per_set_bit() {
        let mut range = CompactRange::new();
        for count in 1..=70u64 {
            range.append(leaf_hash(&count.to_be_bytes()));
            assert_eq!(
                range.hashes().len() as u32,
                count.count_ones(),
                "size {count}"
            );
        }
    }

    #[test]
    fn nodes_cover_prefix_left_to_right() {
        let mut range = CompactRange::new();
        range.extend((0..13u8).map(|byte| leaf_hash(&[byte])));

        let spans: Vec<(u64, u64)> = range.nodes().map(|node| (node.start, node.end)).collect();

        assert_eq!(spans, vec![(0, 8), (8, 12), (12, 13)]);
    }

    #[test]
    fn from_parts_rejects_wrong_hash_count() {
        let error = CompactRange::from_parts(6, vec![Hash([0; 32])]).unwrap_err();

        assert_eq!(error.expected, 2);
        assert_eq!(error.found, 1);
    }

    #[test]
    fn json_rejects_inconsistent_range() {
        let text = format!(r#"{{"size":3,"hashes":["{}"]}}"#, "00".repeat(32));

        assert!(serde_json::from_str::<CompactRange>(&text).is_err());
    }
}
