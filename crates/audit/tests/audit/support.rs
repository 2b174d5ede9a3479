//! Shared fixtures: the shared test-data folder, a fixed key and time, small logs.

use std::path::PathBuf;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use spiritus_audit::{AuditDraft, AuditEntry, AuditSigningKey, LogState, SignedTreeHead};

/// The repository's `testdata/` folder.
pub fn testdata_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Locates the Merkle test-vector folder and fails the test when it is missing.
pub fn merkle_testdata() -> PathBuf {
    let dir = testdata_dir().join("merkle");
    assert!(
        dir.join("vectors.json").is_file(),
        "Merkle test vectors not found under {}",
        dir.display()
    );
    dir
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

pub fn signing_key() -> AuditSigningKey {
    AuditSigningKey::from_seed(&[0x5a; 32])
}

/// Builds the `i`-th draft of a varied synthetic log.
pub fn draft(i: u64) -> AuditDraft {
    let time = start_time() + Duration::seconds(i as i64);
    let mut draft = match i % 3 {
        0 => AuditDraft::new(time, format!("acc-{i}"), "admin", "login", "session"),
        1 => {
            let mut draft = AuditDraft::new(time, "acc-1", "owner", "user.update", "user");
            draft.resource_id = Some(format!("user-{i}"));
            draft.before = Some(json!({"traffic_limit_gb": i, "enabled": true}));
            draft.after = Some(json!({"traffic_limit_gb": i + 1, "enabled": i.is_multiple_of(2)}));
            draft
        }
        _ => {
            let mut draft = AuditDraft::new(time, "anonymous", "none", "login", "session");
            draft.success = false;
            draft.error = Some("invalid credentials".to_owned());
            draft
        }
    };
    draft.ip = Some(format!("198.51.100.{}", i % 200));
    draft
}

/// Builds a log of `count` entries through `LogState` and returns it with its final state.
pub fn build_log(count: u64) -> (LogState, Vec<AuditEntry>) {
    let mut state = LogState::new();
    let entries = (0..count).map(|i| state.append(draft(i))).collect();
    (state, entries)
}

/// Builds a log of `count` entries and signs a head over all of it.
pub fn signed_log(count: u64) -> (AuditSigningKey, Vec<AuditEntry>, SignedTreeHead) {
    let key = signing_key();
    let (state, entries) = build_log(count);
    let head = state.sign_head(&key, start_time() + Duration::hours(1));
    (key, entries, head)
}
