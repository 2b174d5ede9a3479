//! The manager's own figures beside the supervisor's process state: the stats polls (when,
//! how long, how late, failures) and the enforcement figures.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use spiritus_proxy::CoreStatus;

/// Figures the manager's task updates and the system page reads.
#[derive(Debug, Default, Clone)]
pub(crate) struct PollFigures {
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_duration: Option<Duration>,
    /// How much later than scheduled the last successful poll came after the one before it.
    pub lag: Option<Duration>,
    pub consecutive_failures: u64,
    pub total_failures: u64,
    pub last_error: Option<String>,
    pub users_with_traffic: usize,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct EnforcementFigures {
    pub cutoffs: u64,
    /// Users removed who may still hold an open connection, waiting for a restart.
    pub pending_disconnects: usize,
    pub disconnect_restarts: u64,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub skipped_rows: usize,
}

/// The shared record.
#[derive(Debug, Default)]
pub(crate) struct ManagerFigures {
    pub polls: Mutex<PollFigures>,
    pub enforcement: Mutex<EnforcementFigures>,
}

impl ManagerFigures {
    pub fn polls(&self) -> PollFigures {
        lock(&self.polls).clone()
    }

    pub fn enforcement(&self) -> EnforcementFigures {
        lock(&self.enforcement).clone()
    }

    pub fn update_polls(&self, change: impl FnOnce(&mut PollFigures)) {
        change(&mut lock(&self.polls));
    }

    pub fn update_enforcement(&self, change: impl FnOnce(&mut EnforcementFigures)) {
        change(&mut lock(&self.enforcement));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Builds the JSON the system page shows for the core.
pub(crate) fn status_json(
    core: &CoreStatus,
    users_in_core: usize,
    figures: &ManagerFigures,
    stats_interval: u64,
    disconnect_after: u64,
) -> Value {
    let polls = figures.polls();
    let enforcement = figures.enforcement();
    json!({
        "state": core.state,
        "kind": core.kind,
        "version": core.version,
        "binary": core.binary,
        "pid": core.pid,
        "uptime_seconds": core.uptime.map(|uptime| uptime.as_secs()),
        "restarts": core.restarts,
        "last_error": core.last_error,
        "run_id": core.run_id,
        "users_in_core": users_in_core,
        "stats": {
            "interval_seconds": stats_interval,
            "last_poll_at": polls.last_success_at.map(rfc3339),
            "last_poll_ms": polls.last_duration.map(millis),
            "poll_lag_ms": polls.lag.map(millis),
            "consecutive_failures": polls.consecutive_failures,
            "total_failures": polls.total_failures,
            "last_error": polls.last_error,
            "users_with_traffic": polls.users_with_traffic,
        },
        "enforcement": {
            "cutoffs": enforcement.cutoffs,
            "pending_disconnects": enforcement.pending_disconnects,
            "disconnect_after_seconds": disconnect_after,
            "disconnect_restarts": enforcement.disconnect_restarts,
            "last_sync_at": enforcement.last_sync_at.map(rfc3339),
            "skipped_rows": enforcement.skipped_rows,
        },
    })
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
