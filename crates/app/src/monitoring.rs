//! Background consumers that feed the metrics: the security-event counter and the periodic
//! sampler of gauges read from the stores.
//!
//! Both run as tasks beside the request handlers. The event counter reads the event bus like
//! any other subscriber, so the code that raises an event never knows it is counted.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use spiritus_core::events::SecurityEvent;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::metrics;
use crate::state::App;

/// How often the gauges read from the database are refreshed.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(15);

/// Runs `handle` on every event of `events` until the bus closes. Events missed because the
/// consumer fell behind are counted under `consumer` and logged.
pub async fn consume_events<F, Fut>(
    mut events: Receiver<Arc<SecurityEvent>>,
    consumer: &'static str,
    mut handle: F,
) where
    F: FnMut(Arc<SecurityEvent>) -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        match events.recv().await {
            Ok(event) => handle(event).await,
            Err(RecvError::Lagged(missed)) => {
                metrics::security_events_lost(consumer, missed);
                tracing::warn!(
                    consumer,
                    missed,
                    "an event consumer fell behind and skipped events"
                );
            }
            Err(RecvError::Closed) => break,
        }
    }
}

/// Counts every security event in the metrics.
pub fn spawn_event_metrics(app: &App) -> JoinHandle<()> {
    let events = app.events().subscribe();
    tokio::spawn(consume_events(events, "metrics", |event| async move {
        metrics::security_event(&event);
    }))
}

/// Refreshes the gauges that come from the stores every `interval`, starting at once.
pub fn spawn_sampler(app: &App, interval: Duration) -> JoinHandle<()> {
    let app = app.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            sample(&app).await;
        }
    })
}

/// Reads every sampled gauge once. A failing query leaves its gauge at the last value.
pub async fn sample(app: &App) {
    let now = app.now();
    metrics::password_hashes(app.password_hashes_computed());
    match app.store().count_live_sessions(now).await {
        Ok(count) => metrics::active_sessions(count),
        Err(error) => tracing::debug!(%error, "cannot count sessions for the metrics"),
    }
    match app.store().count_users_by_status(now).await {
        Ok(counts) => {
            for (status, count) in counts {
                metrics::users_with_status(status.as_str(), count);
            }
        }
        Err(error) => tracing::debug!(%error, "cannot count users for the metrics"),
    }
    match app.store().audit_head().await {
        Ok((size, _)) => metrics::audit_chain_length(size),
        Err(error) => tracing::debug!(%error, "cannot read the audit head for the metrics"),
    }
}
