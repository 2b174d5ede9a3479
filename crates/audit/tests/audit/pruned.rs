//! A pruned log (checkpoint compact range + retained leaves) yields exactly the roots and
//! proofs of the complete log, for every request the retained part can serve.

use proptest::prelude::*;
use spiritus_audit::merkle::{self, CompactRange, MerkleLog, ProofError};
use spiritus_audit::{ChainBreak, Checkpoint, DamageKind, Hash, LeafHashes, PrevHash, verify_log};

use crate::support::{build_log, signing_key, start_time};

fn leaves(count: u64) -> Vec<Hash> {
    (0..count)
        .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
        .collect()
}

fn prefix_range(leaves: &[Hash]) -> CompactRange {
    let mut range = CompactRange::new();
    range.extend(leaves.iter().copied());
    range
}

/// Generates a log size `n` in 1..=700, a pruned prefix `P` in 0..=n, and two sizes
/// `P.max(1) <= a <= b <= n`.
fn pruned_case() -> impl Strategy<Value = (u64, u64, u64, u64)> {
    (1u64..=700)
        .prop_flat_map(|n| (Just(n), 0..=n))
        .prop_flat_map(|(n, pruned)| (Just(n), Just(pruned), pruned.max(1)..=n))
        .prop_flat_map(|(n, pruned, b)| (Just(n), Just(pruned), pruned.max(1)..=b, Just(b)))
}

proptest! {
    #[test]
    fn pruned_log_matches_full_log((n, pruned, a, b) in pruned_case(), pick in any::<u64>()) {
        let all = leaves(n);
        let range = prefix_range(&all[..pruned as usize]);
        let retained = &all[pruned as usize..];
        let full = MerkleLog::new(&all);
        let cut = MerkleLog::pruned(&range, retained);

        prop_assert_eq!(cut.size().unwrap(), n);
        prop_assert_eq!(cut.root(a).unwrap(), full.root(a).unwrap());
        prop_assert_eq!(cut.root(b).unwrap(), full.root(b).unwrap());
        prop_assert_eq!(cut.consistency_proof(a, b).unwrap(), full.consistency_proof(a, b).unwrap());

        if b > pruned {
            let index = pruned + pick % (b - pruned);
            let proof = cut.inclusion_proof(index, b).unwrap();
            prop_assert_eq!(&proof, &full.inclusion_proof(index, b).unwrap());
            prop_assert_eq!(proof.verify(&all[index as usize], &full.root(b).unwrap()), Ok(()));
        }
    }
}

#[test]
fn pruned_log_rejects_pruned_leaf_and_size() {
    let all = leaves(10);
    let range = prefix_range(&all[..6]);
    let cut = MerkleLog::pruned(&range, &all[6..]);

    assert_eq!(
        cut.inclusion_proof(5, 10),
        Err(ProofError::LeafPruned {
            index: 5,
            pruned: 6
        })
    );
    assert_eq!(
        cut.root(5),
        Err(ProofError::SizePruned { size: 5, pruned: 6 })
    );
    assert_eq!(
        cut.consistency_proof(3, 10),
        Err(ProofError::SizePruned { size: 3, pruned: 6 })
    );
}

/// A leaf source that claims more leaves than it has.
struct ShortSource(Vec<Hash>);

impl LeafHashes for ShortSource {
    fn len(&self) -> u64 {
        self.0.len() as u64 + 3
    }

    fn leaf(&self, index: u64) -> Option<Hash> {
        self.0.get(index as usize).copied()
    }
}

#[test]
fn prover_reports_missing_leaf_from_source() {
    let source = ShortSource(leaves(4));
    let log = MerkleLog::new(&source);

    assert_eq!(log.root(7), Err(ProofError::LeafUnavailable { index: 4 }));
}

#[test]
fn entries_act_as_leaf_source() {
    let (state, entries) = build_log(9);
    let log = MerkleLog::new(entries.as_slice());

    assert_eq!(log.root(9).unwrap(), state.root());
}

#[test]
fn pruned_entry_log_verifies_with_signed_checkpoint() {
    let key = signing_key();
    let (state, entries) = build_log(40);
    let checkpoint = Checkpoint::new(CompactRange::new(), PrevHash::Genesis)
        .unwrap()
        .advance(&entries[..25])
        .unwrap();
    let signed_checkpoint = key.sign_checkpoint(checkpoint, start_time());
    let head = state.sign_head(&key, start_time());

    let report = verify_log(
        &key.verifying_key(),
        Some(&signed_checkpoint),
        &entries[25..],
        &head,
        &[],
    );

    assert_eq!(report.first_failure, None);
    assert_eq!(report.entries, 15);
    assert_eq!(report.tree_size, 40);
    assert_eq!(report.root, head.root_hash);
}

#[test]
fn tree_head_older_than_checkpoint_is_checkpoint_invalid() {
    let key = signing_key();
    let (_, entries) = build_log(12);
    let mut early = spiritus_audit::LogState::new();
    for entry in &entries[..5] {
        early.replay(entry).unwrap();
    }
    let stale_head = early.sign_head(&key, start_time());
    let checkpoint = early.to_checkpoint().advance(&entries[5..8]).unwrap();
    let signed_checkpoint = key.sign_checkpoint(checkpoint, start_time());

    let report = verify_log(
        &key.verifying_key(),
        Some(&signed_checkpoint),
        &entries[8..],
        &stale_head,
        &[],
    );

    assert_eq!(
        report.first_failure.unwrap().kind,
        DamageKind::CheckpointInvalid
    );
}

#[test]
fn log_still_holding_pruned_entries_is_checkpoint_invalid() {
    let key = signing_key();
    let (state, entries) = build_log(12);
    let checkpoint = spiritus_audit::LogState::new()
        .to_checkpoint()
        .advance(&entries[..6])
        .unwrap();
    let signed_checkpoint = key.sign_checkpoint(checkpoint, start_time());
    let head = state.sign_head(&key, start_time());

    let report = verify_log(
        &key.verifying_key(),
        Some(&signed_checkpoint),
        &entries[4..],
        &head,
        &[],
    );
    let failure = report.first_failure.unwrap();

    assert_eq!(failure.kind, DamageKind::CheckpointInvalid);
    assert_eq!(failure.index, Some(6));
}

#[test]
fn first_retained_entry_must_link_to_checkpoint() {
    let key = signing_key();
    let (state, entries) = build_log(12);
    let genuine = spiritus_audit::LogState::new()
        .to_checkpoint()
        .advance(&entries[..6])
        .unwrap();
    // A checkpoint with the right compact range but another last entry hash, signed by the key.
    let wrong_link =
        Checkpoint::new(genuine.range().clone(), PrevHash::Entry(entries[4].hash)).unwrap();
    let signed_checkpoint = key.sign_checkpoint(wrong_link, start_time());
    let head = state.sign_head(&key, start_time());

    let report = verify_log(
        &key.verifying_key(),
        Some(&signed_checkpoint),
        &entries[6..],
        &head,
        &[],
    );
    let failure = report.first_failure.unwrap();

    assert_eq!(failure.kind, DamageKind::ChainBroken(ChainBreak::Relinked));
    assert_eq!(failure.index, Some(6));
    assert!(failure.detail.contains("checkpoint"), "{failure}");
}

#[test]
fn trusted_head_before_checkpoint_is_skipped() {
    let key = signing_key();
    let (state, entries) = build_log(20);
    let mut early = spiritus_audit::LogState::new();
    for entry in &entries[..3] {
        early.replay(entry).unwrap();
    }
    let old_head = early.sign_head(&key, start_time());
    let at_checkpoint = early.to_checkpoint().advance(&entries[3..10]).unwrap();
    let mut at_checkpoint_state = spiritus_audit::LogState::from_checkpoint(&at_checkpoint);
    let head_at_checkpoint = at_checkpoint_state.sign_head(&key, start_time());
    let signed_checkpoint = key.sign_checkpoint(at_checkpoint, start_time());
    for entry in &entries[10..] {
        at_checkpoint_state.replay(entry).unwrap();
    }
    assert_eq!(at_checkpoint_state.root(), state.root());
    let head = state.sign_head(&key, start_time());

    let report = verify_log(
        &key.verifying_key(),
        Some(&signed_checkpoint),
        &entries[10..],
        &head,
        &[old_head, head_at_checkpoint],
    );

    assert_eq!(report.first_failure, None);
    assert_eq!(report.trusted_heads_checked, 1);
    assert_eq!(report.trusted_heads_skipped, 1);
}

proptest! {
    #[test]
    fn batched_proofs_match_single_proofs((n, pruned, _a, b) in pruned_case()) {
        let all = leaves(n);
        let range = prefix_range(&all[..pruned as usize]);
        let retained = &all[pruned as usize..];
        let cut = MerkleLog::pruned(&range, retained);
        let indexes: Vec<u64> = (pruned..b).step_by(3).collect();

        let batched = cut.inclusion_proofs(&indexes, b).unwrap();
        for (index, proof) in indexes.iter().zip(&batched) {
            prop_assert_eq!(proof, &cut.inclusion_proof(*index, b).unwrap());
        }
    }
}
