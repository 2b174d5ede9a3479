//! How big a run is: the full run the targets speak of, or the CI smoke run.

use std::time::Duration;

use serde::Serialize;

/// The sizes and durations of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Scale {
    pub smoke: bool,
    pub seed: u64,
    pub users: u32,
    pub audit_append_entries: u64,
    pub audit_verify_entries: u64,
    /// Sequential password logins measured (and bare hashes beside them).
    pub logins: usize,
    /// Connections the load generator keeps open at once.
    pub concurrency: usize,
    #[serde(serialize_with = "seconds")]
    pub load_duration: Duration,
    #[serde(serialize_with = "seconds")]
    pub warmup: Duration,
}

impl Scale {
    pub fn full(seed: u64) -> Self {
        Self {
            smoke: false,
            seed,
            users: 100_000,
            audit_append_entries: 10_000,
            audit_verify_entries: 1_000_000,
            logins: 20,
            concurrency: 32,
            load_duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
        }
    }

    pub fn smoke(seed: u64) -> Self {
        Self {
            smoke: true,
            seed,
            users: 1_000,
            audit_append_entries: 1_000,
            audit_verify_entries: 10_000,
            logins: 3,
            concurrency: 8,
            load_duration: Duration::from_secs(2),
            warmup: Duration::from_millis(300),
        }
    }
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}
