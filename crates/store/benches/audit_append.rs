//! Audit append rate through the store on SQLite: each entry in its own transaction, as the
//! panel writes them, first from one writer and then from several at once.
//!
//! Run: `cargo bench -p spiritus-store --bench audit_append` (10,000 entries), or pass the
//! entry count as a bare number argument. Prints one JSON object.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark stops loudly on a broken setup"
)]

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use spiritus_audit::AuditDraft;
use spiritus_store::SqlStore;

const DEFAULT_ENTRIES: u64 = 10_000;
const CONCURRENT_WRITERS: u64 = 8;

fn draft(index: u64, time: DateTime<Utc>) -> AuditDraft {
    let mut draft = AuditDraft::new(
        time,
        format!("acc-{}", index % 50),
        "admin",
        "user.update",
        "user",
    );
    draft.ip = Some(format!("203.0.113.{}", index % 250));
    draft.resource_id = Some(format!("user-{index}"));
    draft.before = Some(json!({"traffic_limit_gb": 50, "expire_days": 30}));
    draft.after = Some(json!({"traffic_limit_gb": 100, "expire_days": 60}));
    draft
}

async fn fresh_store(dir: &tempfile::TempDir, name: &str) -> SqlStore {
    let url = format!("sqlite://{}", dir.path().join(name).display());
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// Appends `count` entries one after another; returns the seconds taken.
async fn sequential(store: &SqlStore, count: u64, start: DateTime<Utc>) -> f64 {
    let started = Instant::now();
    for index in 0..count {
        let time = start + Duration::milliseconds(index as i64);
        store.record_audit(draft(index, time), time).await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// Appends `count` entries from several tasks at once; returns the seconds taken.
async fn concurrent(store: &SqlStore, count: u64, start: DateTime<Utc>) -> f64 {
    let started = Instant::now();
    let per_writer = count / CONCURRENT_WRITERS;
    let tasks: Vec<_> = (0..CONCURRENT_WRITERS)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for step in 0..per_writer {
                    let index = writer * per_writer + step;
                    let time = start + Duration::milliseconds(index as i64);
                    store.record_audit(draft(index, time), time).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let entries = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<u64>().ok())
        .unwrap_or(DEFAULT_ENTRIES);
    let start = DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let one = fresh_store(&dir, "sequential.db").await;
    let sequential_seconds = sequential(&one, entries, start).await;
    let many = fresh_store(&dir, "concurrent.db").await;
    let concurrent_entries = entries / CONCURRENT_WRITERS * CONCURRENT_WRITERS;
    let concurrent_seconds = concurrent(&many, concurrent_entries, start).await;
    assert_eq!(many.audit_head().await.unwrap().0, concurrent_entries);

    let result = json!({
        "backend": "sqlite",
        "entries": entries,
        "sequential_seconds": sequential_seconds,
        "sequential_entries_per_second": entries as f64 / sequential_seconds,
        "concurrent_writers": CONCURRENT_WRITERS,
        "concurrent_entries": concurrent_entries,
        "concurrent_seconds": concurrent_seconds,
        "concurrent_entries_per_second": concurrent_entries as f64 / concurrent_seconds,
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    one.close().await;
    many.close().await;
}
