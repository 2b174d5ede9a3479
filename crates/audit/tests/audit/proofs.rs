//! Property tests for proof generation and verification: every honest proof verifies, and any
//! single flipped bit, wrong index, or cut or padded path fails without a panic.

use proptest::prelude::*;
use spiritus_audit::Hash;
use spiritus_audit::merkle::{
    self, MerkleLog, ProofError, ProofVerifyError, verify_consistency, verify_inclusion,
};

fn leaves(count: u64) -> Vec<Hash> {
    (0..count)
        .map(|i| merkle::leaf_hash(&i.to_le_bytes()))
        .collect()
}

fn flip_bit(hash: &Hash, bit: usize) -> Hash {
    let mut flipped = *hash;
    flipped.0[bit / 8 % 32] ^= 1 << (bit % 8);
    flipped
}

/// Generates a tree size from 1 to 1100 and a leaf index inside it.
fn size_and_index() -> impl Strategy<Value = (u64, u64)> {
    (1u64..=1100).prop_flat_map(|size| (Just(size), 0..size))
}

/// Generates two tree sizes `1 <= old <= new <= 1100`.
fn size_pair() -> impl Strategy<Value = (u64, u64)> {
    (1u64..=1100).prop_flat_map(|new| (1..=new, Just(new)))
}

proptest! {
    #[test]
    fn inclusion_proof_verifies_for_random_sizes((size, index) in size_and_index()) {
        let leaves = leaves(size);
        let log = MerkleLog::new(&leaves);
        let root = log.root(size).unwrap();

        let proof = log.inclusion_proof(index, size).unwrap();

        prop_assert_eq!(proof.verify(&leaves[index as usize], &root), Ok(()));
        prop_assert_eq!(root, merkle::root_of(&leaves));
    }

    #[test]
    fn inclusion_proof_rejects_flipped_bit((size, index) in size_and_index(), target in any::<usize>(), bit in 0usize..256) {
        let leaves = leaves(size);
        let log = MerkleLog::new(&leaves);
        let root = log.root(size).unwrap();
        let proof = log.inclusion_proof(index, size).unwrap();
        let leaf = leaves[index as usize];

        // Targets: every path element, then the leaf hash, then the root.
        let choice = target % (proof.path.len() + 2);
        let outcome = if choice < proof.path.len() {
            let mut path = proof.path.clone();
            path[choice] = flip_bit(&path[choice], bit);
            verify_inclusion(&leaf, index, size, &path, &root)
        } else if choice == proof.path.len() {
            verify_inclusion(&flip_bit(&leaf, bit), index, size, &proof.path, &root)
        } else {
            verify_inclusion(&leaf, index, size, &proof.path, &flip_bit(&root, bit))
        };

        prop_assert!(outcome.is_err());
    }

    #[test]
    fn inclusion_proof_rejects_cut_or_padded_path((size, index) in size_and_index(), extra in any::<[u8; 32]>()) {
        let leaves = leaves(size);
        let log = MerkleLog::new(&leaves);
        let root = log.root(size).unwrap();
        let proof = log.inclusion_proof(index, size).unwrap();
        let leaf = leaves[index as usize];

        let mut padded = proof.path.clone();
        padded.push(Hash(extra));
        prop_assert!(verify_inclusion(&leaf, index, size, &padded, &root).is_err());

        if let Some((_, cut)) = proof.path.split_last() {
            prop_assert!(verify_inclusion(&leaf, index, size, cut, &root).is_err());
        }
    }

    #[test]
    fn consistency_proof_verifies_for_random_sizes((old_size, new_size) in size_pair()) {
        let leaves = leaves(new_size);
        let log = MerkleLog::new(&leaves);
        let old_root = log.root(old_size).unwrap();
        let new_root = log.root(new_size).unwrap();

        let proof = log.consistency_proof(old_size, new_size).unwrap();

        prop_assert_eq!(proof.verify(&old_root, &new_root), Ok(()));
    }

    #[test]
    fn consistency_proof_rejects_flipped_bit((old_size, new_size) in size_pair(), target in any::<usize>(), bit in 0usize..256) {
        let leaves = leaves(new_size);
        let log = MerkleLog::new(&leaves);
        let old_root = log.root(old_size).unwrap();
        let new_root = log.root(new_size).unwrap();
        let proof = log.consistency_proof(old_size, new_size).unwrap();

        // Targets: every path element, then the old root, then the new root.
        let choice = target % (proof.path.len() + 2);
        let outcome = if choice < proof.path.len() {
            let mut path = proof.path.clone();
            path[choice] = flip_bit(&path[choice], bit);
            verify_consistency(old_size, new_size, &old_root, &new_root, &path)
        } else if choice == proof.path.len() {
            verify_consistency(old_size, new_size, &flip_bit(&old_root, bit), &new_root, &proof.path)
        } else {
            verify_consistency(old_size, new_size, &old_root, &flip_bit(&new_root, bit), &proof.path)
        };

        prop_assert!(outcome.is_err());
    }

    #[test]
    fn consistency_proof_rejects_cut_or_padded_path((old_size, new_size) in size_pair(), extra in any::<[u8; 32]>()) {
        let leaves = leaves(new_size);
        let log = MerkleLog::new(&leaves);
        let old_root = log.root(old_size).unwrap();
        let new_root = log.root(new_size).unwrap();
        let proof = log.consistency_proof(old_size, new_size).unwrap();

        let mut padded = proof.path.clone();
        padded.push(Hash(extra));
        prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &padded).is_err());

        if let Some((_, cut)) = proof.path.split_last() {
            prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, cut).is_err());
        }
    }

    #[test]
    fn verifiers_reject_random_proofs_without_panicking(
        index in any::<u64>(),
        size in prop_oneof![any::<u64>(), 0u64..64],
        old_size in prop_oneof![any::<u64>(), 0u64..64],
        path in prop::collection::vec(any::<[u8; 32]>(), 0..80),
        leaf in any::<[u8; 32]>(),
        root in any::<[u8; 32]>(),
    ) {
        let path: Vec<Hash> = path.into_iter().map(Hash).collect();

        prop_assert!(verify_inclusion(&Hash(leaf), index, size, &path, &Hash(root)).is_err());
        prop_assert!(verify_consistency(old_size, size, &Hash(leaf), &Hash(root), &path).is_err());
    }
}

#[test]
fn inclusion_proof_rejects_every_other_index() {
    for size in 1..=40u64 {
        let leaves = leaves(size);
        let log = MerkleLog::new(&leaves);
        let root = log.root(size).unwrap();

        for index in 0..size {
            let proof = log.inclusion_proof(index, size).unwrap();
            for other in (0..size).filter(|other| *other != index) {
                let outcome =
                    verify_inclusion(&leaves[index as usize], other, size, &proof.path, &root);
                assert!(
                    outcome.is_err(),
                    "proof for leaf {index} of {size} accepted at index {other}"
                );
            }
        }
    }
}

#[test]
fn consistency_rejects_size_zero_and_reversed_sizes() {
    let leaves = leaves(4);
    let log = MerkleLog::new(&leaves);
    let root = log.root(4).unwrap();
    let empty = merkle::empty_root();

    assert_eq!(
        verify_consistency(0, 4, &empty, &root, &[]),
        Err(ProofVerifyError::EmptyOldTree)
    );
    assert_eq!(
        verify_consistency(0, 0, &empty, &empty, &[]),
        Err(ProofVerifyError::EmptyOldTree)
    );
    assert_eq!(
        verify_consistency(4, 3, &root, &root, &[]),
        Err(ProofVerifyError::SizesOutOfOrder {
            old_size: 4,
            new_size: 3
        })
    );
    assert_eq!(log.consistency_proof(0, 4), Err(ProofError::EmptyOldTree));
}

#[test]
fn prover_rejects_requests_outside_the_log() {
    let leaves = leaves(5);
    let log = MerkleLog::new(&leaves);

    assert_eq!(
        log.root(6),
        Err(ProofError::SizeBeyondLog {
            size: 6,
            log_size: 5
        })
    );
    assert_eq!(
        log.inclusion_proof(5, 5),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        log.consistency_proof(3, 2),
        Err(ProofError::SizesOutOfOrder {
            old_size: 3,
            new_size: 2
        })
    );
    assert_eq!(log.root(0), Ok(merkle::empty_root()));
}

#[test]
fn compact_range_root_matches_prover_at_every_size() {
    let leaves = leaves(300);
    let log = MerkleLog::new(&leaves);
    let mut range = merkle::CompactRange::new();

    for (count, leaf) in leaves.iter().enumerate() {
        range.append(*leaf);
        assert_eq!(
            range.root(),
            log.root(count as u64 + 1).unwrap(),
            "size {}",
            count + 1
        );
    }
}
