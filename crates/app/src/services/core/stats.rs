//! One stats round: read every user's counters from the core's StatsService and add what is
//! new to stored usage.
//!
//! Counters are read without resetting them; the store keeps the last value it added per core
//! run (see `SqlStore::apply_core_counters`), so a poll that fails anywhere (core API down,
//! garbage response, database error, the panel killed mid-way) is simply repeated by the next
//! one and nothing is lost or counted twice. The run id must be the id of the process that
//! answered: the caller reads it before and after the query and drops the round when it
//! changed in between.

use std::time::Instant;

use chrono::{DateTime, Utc};
use spiritus_proxy::grpc::ApiError;
use spiritus_proxy::{CoreApi, CoreState, CoreSupervisor, SupervisorError};
use spiritus_store::sql::{CoreCounter, UsageDelta};
use spiritus_store::{SqlStore, StoreError};
use thiserror::Error;
use uuid::Uuid;

/// Reasons a stats round added nothing.
#[derive(Debug, Error)]
pub enum PollError {
    #[error("the core is not running")]
    NotRunning,
    #[error("the core restarted during the poll; its counters are read again next round")]
    RunChanged,
    #[error("the core API failed: {0}")]
    Api(#[from] ApiError),
    #[error("the core supervisor failed: {0}")]
    Supervisor(#[from] SupervisorError),
    #[error("the usage could not be stored: {0}")]
    Store(#[from] StoreError),
}

/// Result of one successful stats round.
#[derive(Debug, Clone)]
pub struct PollReport {
    pub run_id: Uuid,
    /// Users the core reported counters for.
    pub users_reported: usize,
    /// Traffic added to stored usage.
    pub deltas: Vec<UsageDelta>,
    pub query_micros: u128,
    pub store_micros: u128,
}

/// Reads counters through `api` and adds them to stored usage as counters of core run `run_id`.
pub async fn poll_round(
    store: &SqlStore,
    api: &CoreApi,
    run_id: Uuid,
    now: DateTime<Utc>,
) -> Result<PollReport, PollError> {
    let started = Instant::now();
    let counters = read_counters(api).await?;
    let queried = Instant::now();
    let report = store_counters(store, run_id, &counters, now).await?;
    Ok(PollReport {
        query_micros: queried.duration_since(started).as_micros(),
        store_micros: queried.elapsed().as_micros(),
        ..report
    })
}

/// Polls the supervised core, checking that one process served the whole round.
pub(crate) async fn poll_supervised(
    store: &SqlStore,
    supervisor: &CoreSupervisor,
    now: DateTime<Utc>,
) -> Result<PollReport, PollError> {
    let before = supervisor.status();
    let run_id = match (before.state, before.run_id) {
        (CoreState::Running, Some(run_id)) => run_id,
        _ => return Err(PollError::NotRunning),
    };
    let api = supervisor.api()?;
    let started = Instant::now();
    let counters = read_counters(&api).await?;
    let queried = Instant::now();
    if supervisor.status().run_id != Some(run_id) {
        return Err(PollError::RunChanged);
    }
    let report = store_counters(store, run_id, &counters, now).await?;
    Ok(PollReport {
        query_micros: queried.duration_since(started).as_micros(),
        store_micros: queried.elapsed().as_micros(),
        ..report
    })
}

async fn read_counters(api: &CoreApi) -> Result<Vec<CoreCounter>, PollError> {
    let counters = api.user_counters(false).await?;
    Ok(counters
        .into_iter()
        .map(|(user_key, counter)| CoreCounter {
            user_key,
            uplink: counter.uplink,
            downlink: counter.downlink,
        })
        .collect())
}

async fn store_counters(
    store: &SqlStore,
    run_id: Uuid,
    counters: &[CoreCounter],
    now: DateTime<Utc>,
) -> Result<PollReport, PollError> {
    let deltas = store
        .apply_core_counters(&run_id.to_string(), counters, now)
        .await?;
    Ok(PollReport {
        run_id,
        users_reported: counters.len(),
        deltas,
        query_micros: 0,
        store_micros: 0,
    })
}
