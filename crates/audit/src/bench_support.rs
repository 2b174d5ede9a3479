//! The verification benchmark as a library function, so the crate's bench target and a later
//! workspace benchmark binary measure the same thing.
//!
//! [`run_verify_bench`] builds a synthetic log, then times a full verification (canonical
//! encoding, entry hash, leaf hash, chain and index checks, Merkle root, tree head signature)
//! beside plain SHA-256 over the same canonical bytes, one digest per entry, in the same run.
//! A verification hashes every canonical encoding once; the leaf hash covers only the 32-byte
//! entry hash (one SHA-256 block) and the tree adds about one interior node (two blocks) per
//! entry, so the cost above plain SHA-256 is about three blocks per entry, plus the canonical
//! encoding itself. [`crate::verify_log`] spreads the entry hashes over every available core;
//! the plain SHA-256 baseline runs on one, as a single stream of digests would.

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;

use crate::entry::{ACTOR_ANONYMOUS, AuditDraft, AuditEntry};
use crate::hash::Hash;
use crate::keys::AuditSigningKey;
use crate::log_state::LogState;
use crate::merkle::{CompactRange, entry_leaf_hash};
use crate::tree_head::SignedTreeHead;
use crate::verify::verify_log;

/// Measurements of one benchmark run.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyBenchResult {
    pub entries: u64,
    pub canonical_bytes: u64,
    /// Whether the verification passed, as it must for the numbers to mean anything.
    pub valid: bool,
    pub build_seconds: f64,
    pub verify_seconds: f64,
    pub verify_entries_per_second: f64,
    pub verify_mib_per_second: f64,
    pub sha256_seconds: f64,
    pub sha256_mib_per_second: f64,
    /// Time to fold the `entries` leaf hashes into a compact range and take the root.
    pub merkle_fold_seconds: f64,
    /// `verify_mib_per_second / sha256_mib_per_second`.
    pub verify_to_sha256_ratio: f64,
}

/// Fixed start time of the synthetic log: 2026-01-01T00:00:00Z.
const SYNTHETIC_START_SECONDS: i64 = 1_767_225_600;

/// Builds a deterministic log of `count` entries, one second apart: logins, failed logins and
/// user updates with before/after state. Returns it with its key and a head over all of it.
pub fn synthetic_log(count: u64) -> (AuditSigningKey, Vec<AuditEntry>, SignedTreeHead) {
    let key = AuditSigningKey::from_seed(&[42; 32]);
    let start = DateTime::from_timestamp(SYNTHETIC_START_SECONDS, 0).unwrap_or_default();
    let mut state = LogState::new();

    let entries: Vec<AuditEntry> = (0..count)
        .map(|index| state.append(synthetic_draft(index, start)))
        .collect();

    let head = state.sign_head(
        &key,
        start + Duration::seconds(i64::try_from(count).unwrap_or(i64::MAX)),
    );
    (key, entries, head)
}

fn synthetic_draft(index: u64, start: DateTime<Utc>) -> AuditDraft {
    let time = start + Duration::seconds(i64::try_from(index).unwrap_or(0));
    let account = format!("acc-{:06}", index % 5000);
    let ip = format!("203.0.113.{}", index % 250);

    let mut draft = match index % 4 {
        0 | 1 => AuditDraft::new(time, &account, "admin", "login", "session"),
        2 => {
            let mut draft = AuditDraft::new(time, ACTOR_ANONYMOUS, "none", "login", "session");
            draft.success = false;
            draft.error = Some("invalid credentials".to_owned());
            draft
        }
        _ => {
            let mut draft = AuditDraft::new(time, &account, "admin", "user.update", "user");
            draft.resource_id = Some(format!("user-{}", index % 20_000));
            draft.before =
                Some(json!({"traffic_limit_gb": 50, "expire_days": 30, "enabled": true}));
            draft.after =
                Some(json!({"traffic_limit_gb": 100, "expire_days": 60, "enabled": true}));
            draft
        }
    };
    draft.ip = Some(ip);
    draft.context = Some(json!({"user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}));
    draft
}

/// Builds a log of `count` entries and measures verification against plain SHA-256.
pub fn run_verify_bench(count: u64) -> VerifyBenchResult {
    let build_started = Instant::now();
    let (key, entries, head) = synthetic_log(count);
    let build_seconds = build_started.elapsed().as_secs_f64();

    let verify_started = Instant::now();
    let report = verify_log(&key.verifying_key(), None, &entries, &head, &[]);
    let verify_seconds = verify_started.elapsed().as_secs_f64();

    let encodings: Vec<Vec<u8>> = entries.iter().map(AuditEntry::canonical_bytes).collect();
    let canonical_bytes: u64 = encodings.iter().map(|bytes| bytes.len() as u64).sum();
    let sha256_started = Instant::now();
    for bytes in &encodings {
        black_box(Hash::digest(black_box(bytes)));
    }
    let sha256_seconds = sha256_started.elapsed().as_secs_f64();

    let leaf_hashes: Vec<Hash> = entries
        .iter()
        .map(|entry| entry_leaf_hash(&entry.hash))
        .collect();
    let fold_started = Instant::now();
    let mut range = CompactRange::new();
    range.extend(leaf_hashes.iter().copied());
    black_box(range.root());
    let merkle_fold_seconds = fold_started.elapsed().as_secs_f64();

    let mib = canonical_bytes as f64 / (1024.0 * 1024.0);
    let verify_mib_per_second = mib / verify_seconds.max(f64::MIN_POSITIVE);
    let sha256_mib_per_second = mib / sha256_seconds.max(f64::MIN_POSITIVE);

    VerifyBenchResult {
        entries: count,
        canonical_bytes,
        valid: report.is_valid(),
        build_seconds,
        verify_seconds,
        verify_entries_per_second: count as f64 / verify_seconds.max(f64::MIN_POSITIVE),
        verify_mib_per_second,
        sha256_seconds,
        sha256_mib_per_second,
        merkle_fold_seconds,
        verify_to_sha256_ratio: verify_mib_per_second
            / sha256_mib_per_second.max(f64::MIN_POSITIVE),
    }
}
