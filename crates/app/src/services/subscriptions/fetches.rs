//! Last subscription fetch times, kept in memory on the request path and written to the
//! database in batches by a background task, so serving a subscription never writes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::error::AppError;
use crate::state::App;

/// Fetch times not yet written, newest per user.
#[derive(Debug, Default)]
pub struct FetchLog {
    pending: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl FetchLog {
    /// Remembers that the user fetched the subscription at `at`.
    pub fn record(&self, user_id: Uuid, at: DateTime<Utc>) {
        let mut pending = self.lock();
        let entry = pending.entry(user_id).or_insert(at);
        if *entry < at {
            *entry = at;
        }
    }

    /// Takes every pending time out of the log.
    fn take(&self) -> Vec<(Uuid, DateTime<Utc>)> {
        self.lock().drain().collect()
    }

    /// Puts back times that could not be written, keeping newer ones recorded meanwhile.
    fn restore(&self, fetches: Vec<(Uuid, DateTime<Utc>)>) {
        for (id, at) in fetches {
            self.record(id, at);
        }
    }

    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, DateTime<Utc>>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl App {
    /// Writes the pending fetch times; on failure they stay pending for the next try.
    pub async fn flush_subscription_fetches(&self) -> Result<u64, AppError> {
        let log = &self.inner().subscription_fetches;
        let fetches = log.take();
        if fetches.is_empty() {
            return Ok(0);
        }
        match self.store().record_subscription_fetches(&fetches).await {
            Ok(updated) => Ok(updated),
            Err(error) => {
                log.restore(fetches);
                Err(error.into())
            }
        }
    }

    /// Flushes the fetch times every `every` until `stop` turns true, then once more.
    pub fn spawn_subscription_fetch_flusher(
        &self,
        every: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let app = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    _ = tick.tick() => {}
                }
                if let Err(error) = app.flush_subscription_fetches().await {
                    tracing::warn!(%error, "could not store subscription fetch times; retrying later");
                }
            }
            if let Err(error) = app.flush_subscription_fetches().await {
                tracing::warn!(%error, "could not store the last subscription fetch times");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keeps_the_newest_time_per_user() {
        let log = FetchLog::default();
        let id = Uuid::from_u128(1);
        let early = DateTime::from_timestamp(100, 0).unwrap();
        let late = DateTime::from_timestamp(200, 0).unwrap();

        log.record(id, late);
        log.record(id, early);
        log.restore(vec![(id, early), (Uuid::from_u128(2), early)]);

        let mut taken = log.take();
        taken.sort();
        assert_eq!(taken, [(id, late), (Uuid::from_u128(2), early)]);
        assert_eq!(log.pending(), 0);
    }
}
