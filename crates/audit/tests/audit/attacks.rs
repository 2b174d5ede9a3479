//! Attacks on a stored log and what the verifier reports for each.

use chrono::Duration;
use serde_json::json;
use spiritus_audit::merkle;
use spiritus_audit::{
    AuditEntry, AuditSigningKey, ChainBreak, DamageKind, Failure, Hash, LogState, PrevHash,
    SignedTreeHead, VerifyReport, seal, verify_log,
};

use crate::support::{build_log, signed_log, signing_key, start_time};

fn verify(
    key: &AuditSigningKey,
    entries: &[AuditEntry],
    head: &SignedTreeHead,
    trusted: &[SignedTreeHead],
) -> VerifyReport {
    verify_log(&key.verifying_key(), None, entries, head, trusted)
}

fn failure(report: &VerifyReport) -> &Failure {
    report
        .first_failure
        .as_ref()
        .expect("the verifier must report damage")
}

/// Re-seals `entries` from scratch, as an attacker without the signing key can.
fn rehash(entries: &[AuditEntry]) -> (LogState, Vec<AuditEntry>) {
    let mut state = LogState::new();
    let mut rebuilt = Vec::new();
    for entry in entries {
        let mut entry = entry.clone();
        entry.index = state.size();
        entry.prev_hash = *state.last_entry_hash();
        entry.hash = entry.computed_hash();
        state.replay(&entry).unwrap();
        rebuilt.push(entry);
    }
    (state, rebuilt)
}

#[test]
fn intact_log_verifies() {
    let (key, entries, head) = signed_log(25);

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(report.first_failure, None);
    assert_eq!(report.entries, 25);
    assert_eq!(report.tree_size, 25);
    assert_eq!(report.root, head.root_hash);
    assert_eq!(report.key_id, key.key_id());
}

#[test]
fn edited_field_is_entry_hash_mismatch() {
    let (key, mut entries, head) = signed_log(12);
    entries[7].after = Some(json!({"traffic_limit_gb": 1_000_000}));

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(failure(&report).kind, DamageKind::EntryHashMismatch);
    assert_eq!(failure(&report).index, Some(7));
}

#[test]
fn every_edited_field_is_caught() {
    type Edit = fn(&mut AuditEntry);
    let edits: &[(&str, Edit)] = &[
        ("index", |entry| entry.index += 100),
        ("time", |entry| entry.time += Duration::milliseconds(1)),
        ("sub-millisecond time", |entry| {
            entry.time += Duration::nanoseconds(1)
        }),
        ("actor_id", |entry| entry.actor_id.push('x')),
        ("actor_role", |entry| entry.actor_role.push('x')),
        ("ip", |entry| entry.ip = Some("192.0.2.1".to_owned())),
        ("action", |entry| entry.action.push('x')),
        ("resource_type", |entry| entry.resource_type.push('x')),
        ("resource_id", |entry| {
            entry.resource_id = Some("other".to_owned())
        }),
        ("before", |entry| entry.before = Some(json!({"x": 1}))),
        ("after", |entry| entry.after = Some(json!([]))),
        ("context", |entry| entry.context = Some(json!("ua"))),
        ("success", |entry| entry.success = !entry.success),
        ("error", |entry| entry.error = Some("changed".to_owned())),
        ("stored hash", |entry| entry.hash.0[0] ^= 1),
    ];

    for (field, edit) in edits {
        let (key, mut entries, head) = signed_log(6);
        edit(&mut entries[4]);

        let report = verify(&key, &entries, &head, &[]);
        assert!(
            report.first_failure.is_some(),
            "edited {field} was not detected"
        );

        assert_eq!(
            failure(&report).kind,
            DamageKind::EntryHashMismatch,
            "edited {field}"
        );
        assert_eq!(failure(&report).index, Some(4), "edited {field}");
    }
}

#[test]
fn edited_and_rehashed_entry_breaks_next_link() {
    let (key, mut entries, head) = signed_log(10);
    entries[3].actor_id = "acc-evil".to_owned();
    entries[3].hash = entries[3].computed_hash();

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(
        failure(&report).kind,
        DamageKind::ChainBroken(ChainBreak::Relinked)
    );
    assert_eq!(failure(&report).index, Some(4));
}

#[test]
fn deleted_middle_entry_is_named() {
    let (key, mut entries, head) = signed_log(10);
    entries.remove(5);

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(
        failure(&report).kind,
        DamageKind::ChainBroken(ChainBreak::Deleted)
    );
    assert_eq!(failure(&report).index, Some(5));
    assert!(
        failure(&report).detail.contains("entry 5 is missing"),
        "{}",
        failure(&report)
    );
}

#[test]
fn deleted_run_of_entries_names_the_range() {
    let (key, mut entries, head) = signed_log(10);
    entries.drain(2..5);

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(
        failure(&report).kind,
        DamageKind::ChainBroken(ChainBreak::Deleted)
    );
    assert_eq!(failure(&report).index, Some(2));
    assert!(
        failure(&report).detail.contains("entries 2..4 are missing"),
        "{}",
        failure(&report)
    );
}

#[test]
fn deleted_first_entry_is_named() {
    let (key, mut entries, head) = signed_log(4);
    entries.remove(0);

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(
        failure(&report).kind,
        DamageKind::ChainBroken(ChainBreak::Deleted)
    );
    assert_eq!(failure(&report).index, Some(0));
}

#[test]
fn swapped_entries_are_reordered() {
    let (key, mut entries, head) = signed_log(10);
    entries.swap(3, 4);

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(
        failure(&report).kind,
        DamageKind::ChainBroken(ChainBreak::Reordered)
    );
    assert_eq!(failure(&report).index, Some(3));
}

#[test]
fn duplicated_entry_is_reordered() {
    let (key, mut entries, head) = signed_log(6);
    let copy = entries[2].clone();
    entries.insert(4, copy);

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(
        failure(&report).kind,
        DamageKind::ChainBroken(ChainBreak::Reordered)
    );
    assert_eq!(failure(&report).index, Some(4));
}

#[test]
fn entry_cut_out_and_chain_rehashed_is_index_gap() {
    let (key, mut entries, head) = signed_log(8);
    entries.remove(3);
    for position in 3..entries.len() {
        entries[position].prev_hash = PrevHash::Entry(entries[position - 1].hash);
        entries[position].hash = entries[position].computed_hash();
    }

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(failure(&report).kind, DamageKind::IndexGap);
    assert_eq!(failure(&report).index, Some(3));
}

#[test]
fn newest_entries_deleted_against_current_head_is_truncated() {
    let (key, mut entries, head) = signed_log(10);
    entries.truncate(8);

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(failure(&report).kind, DamageKind::Truncated);
    assert_eq!(failure(&report).index, Some(8));
}

#[test]
fn newest_entries_deleted_with_older_head_given_is_truncated() {
    let key = signing_key();
    let (_, entries) = build_log(10);
    let mut early = LogState::new();
    for entry in &entries[..8] {
        early.replay(entry).unwrap();
    }
    let old_head = early.sign_head(&key, start_time());
    let mut full = early.clone();
    for entry in &entries[8..] {
        full.replay(entry).unwrap();
    }
    let witnessed = full.sign_head(&key, start_time() + Duration::minutes(5));

    // The attacker cuts entries 8 and 9 and presents the genuine head from when there were 8.
    let report = verify(&key, &entries[..8], &old_head, &[witnessed]);

    assert_eq!(failure(&report).kind, DamageKind::Truncated);
    assert_eq!(failure(&report).index, Some(8));
}

#[test]
fn cut_back_and_regrown_log_is_truncated() {
    let key = signing_key();
    let (_, entries) = build_log(10);
    let mut original = LogState::new();
    for entry in &entries[..6] {
        original.replay(entry).unwrap();
    }
    let witnessed = original.sign_head(&key, start_time());

    // Entries 4.. are replaced by new ones and the head re-signed by the (compromised) panel.
    let mut forged = LogState::new();
    let mut log: Vec<AuditEntry> = Vec::new();
    for entry in &entries[..4] {
        forged.replay(entry).unwrap();
        log.push(entry.clone());
    }
    for i in 0..5 {
        log.push(forged.append(crate::support::draft(100 + i)));
    }
    let head = forged.sign_head(&key, start_time() + Duration::minutes(1));

    let report = verify(&key, &log, &head, &[witnessed]);

    assert_eq!(failure(&report).kind, DamageKind::Truncated);
}

#[test]
fn different_root_at_same_size_is_fork() {
    let key = signing_key();
    let (state, entries) = build_log(5);
    let head = state.sign_head(&key, start_time());
    let mut other = LogState::new();
    for i in 0..5 {
        other.append(crate::support::draft(50 + i));
    }
    let other_head = other.sign_head(&key, start_time());

    let report = verify(&key, &entries, &head, &[other_head]);

    assert_eq!(failure(&report).kind, DamageKind::ForkDetected);
}

#[test]
fn consistent_trusted_heads_pass() {
    let key = signing_key();
    let (_, entries) = build_log(20);
    let mut state = LogState::new();
    let mut trusted = Vec::new();
    for entry in &entries {
        state.replay(entry).unwrap();
        if state.size().is_multiple_of(7) {
            trusted.push(state.sign_head(&key, start_time()));
        }
    }
    let head = state.sign_head(&key, start_time());
    trusted.push(head.clone());

    let report = verify(&key, &entries, &head, &trusted);

    assert_eq!(report.first_failure, None);
    assert_eq!(report.trusted_heads_checked, 3);
}

#[test]
fn rewritten_log_without_key_fails_root_or_signature() {
    let (key, entries, head) = signed_log(10);
    let mut edited = entries.clone();
    edited[2].success = !edited[2].success;
    let (forged_state, forged) = rehash(&edited);

    // Keeping the genuine head: the recomputed root no longer matches it.
    let report = verify(&key, &forged, &head, &[]);
    assert_eq!(failure(&report).kind, DamageKind::RootMismatch);

    // Reusing the genuine signature on a head with the new root.
    let mut patched = head.clone();
    patched.root_hash = forged_state.root();
    let report = verify(&key, &forged, &patched, &[]);
    assert_eq!(failure(&report).kind, DamageKind::BadSignature);

    // Signing the new head with the attacker's own key.
    let attacker = AuditSigningKey::from_seed(&[0x66; 32]);
    let own = forged_state.sign_head(&attacker, start_time());
    let report = verify(&key, &forged, &own, &[]);
    assert_eq!(failure(&report).kind, DamageKind::BadSignature);
}

#[test]
fn forged_tree_head_signature_is_bad_signature() {
    let (key, entries, mut head) = signed_log(5);
    head.signature[10] ^= 0x40;

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(failure(&report).kind, DamageKind::BadSignature);
    assert_eq!(failure(&report).index, None);
}

#[test]
fn forged_trusted_head_signature_is_bad_signature() {
    let (key, entries, head) = signed_log(5);
    let mut trusted = head.clone();
    trusted.signature[0] ^= 1;

    let report = verify(&key, &entries, &head, &[trusted]);

    assert_eq!(failure(&report).kind, DamageKind::BadSignature);
    assert!(
        failure(&report).detail.contains("trusted"),
        "{}",
        failure(&report)
    );
}

#[test]
fn entries_after_signed_head_are_unsigned() {
    let key = signing_key();
    let (mut state, mut entries) = build_log(5);
    let head = state.sign_head(&key, start_time());
    entries.push(state.append(crate::support::draft(5)));

    let report = verify(&key, &entries, &head, &[]);

    assert_eq!(failure(&report).kind, DamageKind::UnsignedEntries);
    assert_eq!(failure(&report).index, Some(5));
}

#[test]
fn empty_log_verifies_against_empty_head() {
    let key = signing_key();
    let head = LogState::new().sign_head(&key, start_time());

    let report = verify(&key, &[], &head, &[]);

    assert_eq!(report.first_failure, None);
    assert_eq!(report.tree_size, 0);
}

#[test]
fn first_entry_must_link_to_genesis() {
    let key = signing_key();
    let entry = seal(crate::support::draft(0), 0, PrevHash::Entry(Hash([1; 32])));
    let head = key.sign_tree_head(1, merkle::root_of(&[entry.leaf_hash()]), start_time());

    let report = verify(&key, &[entry], &head, &[]);

    assert_eq!(
        failure(&report).kind,
        DamageKind::ChainBroken(ChainBreak::Relinked)
    );
    assert_eq!(failure(&report).index, Some(0));
}
