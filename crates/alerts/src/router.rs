//! The alert router: one event-bus consumer that turns events into alerts, drops repeats
//! within the deduplication window, and hands each alert to the bounded queue of every
//! channel that wants it. One worker per channel delivers, retrying with exponential backoff.
//!
//! Nothing here can slow the request that raised an event: the event bus never waits for its
//! consumers, routing only ever tries to enqueue, and a full queue drops the alert, counts it
//! and says so in the log (at most once per [`DROP_LOG_INTERVAL`] per channel).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use spiritus_app::config::AlertsConfig;
use spiritus_app::monitoring::consume_events;
use spiritus_app::{App, metrics};
use spiritus_core::Clock;
use spiritus_core::events::SecurityEvent;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::alert::{Alert, AlertAction};
use crate::channels::Channel;

/// Shortest time between two log lines about dropped alerts of one channel.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Most (kind, key) pairs remembered for deduplication; past it the oldest are forgotten.
const MAX_DEDUP_ENTRIES: usize = 10_000;

/// The spacing of delivery attempts.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    pub fn from_config(config: &AlertsConfig) -> Self {
        Self {
            max_attempts: config.max_attempts.max(1),
            initial: Duration::from_millis(config.retry_initial_ms),
            max: Duration::from_secs(config.retry_max_seconds.max(1)),
        }
    }

    /// Returns the wait after failed attempt number `attempt` (1-based): doubling, capped.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Remembers when each (kind, key) last raised an alert.
#[derive(Debug, Default)]
pub struct DedupWindow {
    seen: HashMap<(String, String), DateTime<Utc>>,
}

impl DedupWindow {
    /// Decides whether `alert` may go out at `now`, and records it if so. Resolutions always
    /// go out and clear the memory of the incident they close.
    pub fn admit(&mut self, alert: &Alert, window: Duration, now: DateTime<Utc>) -> bool {
        let incident = (alert.incident_kind().to_owned(), alert.key.clone());
        if alert.action == AlertAction::Resolve {
            self.seen.remove(&incident);
            return true;
        }
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        if let Some(last) = self.seen.get(&incident)
            && now - *last < window
        {
            return false;
        }
        if self.seen.len() >= MAX_DEDUP_ENTRIES {
            self.seen.retain(|_, last| now - *last < window);
            if self.seen.len() >= MAX_DEDUP_ENTRIES {
                // Forget the oldest tenth at once, so a storm of new keys costs one sort per
                // thousand alerts rather than a scan per alert.
                let mut by_age: Vec<_> = self.seen.iter().map(|(k, t)| (*t, k.clone())).collect();
                by_age.sort();
                for (_, key) in by_age.into_iter().take(MAX_DEDUP_ENTRIES / 10) {
                    self.seen.remove(&key);
                }
            }
        }
        self.seen.insert(incident, now);
        true
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// A channel's queue and filter, as used by the router.
struct Outlet {
    name: Arc<str>,
    wants: Box<dyn Fn(&Alert) -> bool + Send + Sync>,
    queue: mpsc::Sender<Arc<Alert>>,
    drops: DropLog,
}

/// Rate-limited logging of dropped alerts.
struct DropLog {
    since_last_line: AtomicU64,
    last_line: std::sync::Mutex<Option<Instant>>,
}

impl DropLog {
    fn new() -> Self {
        Self {
            since_last_line: AtomicU64::new(0),
            last_line: std::sync::Mutex::new(None),
        }
    }

    fn record(&self, channel: &str) {
        metrics::alert_dropped(channel);
        let dropped = self.since_last_line.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self
            .last_line
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.is_none_or(|at| at.elapsed() >= DROP_LOG_INTERVAL) {
            *last = Some(Instant::now());
            self.since_last_line.store(0, Ordering::Relaxed);
            tracing::warn!(
                channel,
                dropped,
                "alert queue full; alerts dropped (spiritus_alerts_dropped_total counts them all)"
            );
        }
    }
}

/// Routes alerts to channels.
pub struct AlertRouter {
    outlets: Vec<Outlet>,
    dedup: std::sync::Mutex<DedupWindow>,
    window: Duration,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AlertRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.outlets.iter().map(|outlet| &*outlet.name).collect();
        f.debug_struct("AlertRouter")
            .field("channels", &names)
            .finish_non_exhaustive()
    }
}

impl AlertRouter {
    /// Starts one delivery worker per channel and returns the router with its workers.
    pub fn start(
        channels: Vec<Channel>,
        config: &AlertsConfig,
        clock: Arc<dyn Clock>,
    ) -> (Arc<Self>, Vec<JoinHandle<()>>) {
        let policy = RetryPolicy::from_config(config);
        let mut outlets = Vec::new();
        let mut workers = Vec::new();
        for channel in channels {
            let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
            let name: Arc<str> = Arc::from(channel.name.as_str());
            let channel = Arc::new(channel);
            let wanted = Arc::clone(&channel);
            outlets.push(Outlet {
                name: Arc::clone(&name),
                wants: Box::new(move |alert| wanted.wants(alert)),
                queue,
                drops: DropLog::new(),
            });
            workers.push(tokio::spawn(run_worker(channel, receiver, policy)));
        }
        let router = Arc::new(Self {
            outlets,
            dedup: std::sync::Mutex::new(DedupWindow::default()),
            window: Duration::from_secs(config.dedup_window_seconds),
            clock,
        });
        (router, workers)
    }

    /// Subscribes the router to the application's events.
    pub fn subscribe(self: &Arc<Self>, app: &App) -> JoinHandle<()> {
        let router = Arc::clone(self);
        tokio::spawn(consume_events(
            app.events().subscribe(),
            "alerts",
            move |event| {
                router.route(&event);
                std::future::ready(())
            },
        ))
    }

    /// Turns one event into an alert and enqueues it; never waits.
    pub fn route(&self, event: &SecurityEvent) {
        let now = self.clock.now();
        let alert = Alert::from_event(event, now);
        if !self.outlets.iter().any(|outlet| (outlet.wants)(&alert)) {
            return;
        }
        let admitted = self
            .dedup
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .admit(&alert, self.window, now);
        if !admitted {
            metrics::alert_deduplicated();
            return;
        }
        let alert = Arc::new(alert);
        for outlet in self.outlets.iter().filter(|outlet| (outlet.wants)(&alert)) {
            if outlet.queue.try_send(Arc::clone(&alert)).is_err() {
                outlet.drops.record(&outlet.name);
            }
        }
    }
}

/// Delivers a channel's alerts one after the other.
async fn run_worker(
    channel: Arc<Channel>,
    mut queue: mpsc::Receiver<Arc<Alert>>,
    policy: RetryPolicy,
) {
    while let Some(alert) = queue.recv().await {
        deliver(&channel, &alert, policy).await;
    }
}

/// Tries to deliver one alert until it succeeds, fails for good, or runs out of attempts.
pub async fn deliver(channel: &Channel, alert: &Alert, policy: RetryPolicy) {
    for attempt in 1..=policy.max_attempts {
        let error = match channel.notifier.send(alert).await {
            Ok(()) => {
                metrics::alert_sent(&channel.name);
                tracing::debug!(channel = %channel.name, event = alert.kind, attempt, "alert delivered");
                return;
            }
            Err(error) => error,
        };
        let last = attempt == policy.max_attempts || !error.retryable;
        if last {
            metrics::alert_failed(&channel.name);
            tracing::warn!(
                channel = %channel.name,
                event = alert.kind,
                attempt,
                error = %error.detail,
                "alert not delivered"
            );
            return;
        }
        metrics::alert_retried(&channel.name);
        tracing::debug!(channel = %channel.name, attempt, error = %error.detail, "alert delivery failed; retrying");
        tokio::time::sleep(policy.delay_after(attempt)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use spiritus_core::events::LoginFailure;

    use super::*;

    fn failed_login(ip: [u8; 4]) -> Alert {
        let event = SecurityEvent::LoginFailed {
            username: "eve".into(),
            ip: IpAddr::from(ip),
            reason: LoginFailure::WrongPassword,
        };
        Alert::from_event(&event, DateTime::from_timestamp(0, 0).unwrap())
    }

    #[test]
    fn repeats_within_the_window_are_suppressed_per_key() {
        let mut dedup = DedupWindow::default();
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let window = Duration::from_secs(300);
        let a = failed_login([203, 0, 113, 1]);
        let b = failed_login([203, 0, 113, 2]);
        assert!(dedup.admit(&a, window, start));
        assert!(!dedup.admit(&a, window, start + chrono::Duration::seconds(299)));
        assert!(dedup.admit(&b, window, start + chrono::Duration::seconds(1)));
        assert!(dedup.admit(&a, window, start + chrono::Duration::seconds(300)));
    }

    #[test]
    fn remembered_keys_are_bounded() {
        let mut dedup = DedupWindow::default();
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        for n in 0..(MAX_DEDUP_ENTRIES as u32 + 500) {
            let alert = failed_login(n.to_be_bytes());
            dedup.admit(&alert, Duration::from_secs(300), now);
        }
        assert!(dedup.len() <= MAX_DEDUP_ENTRIES);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let delays: Vec<u128> = (1..=6).map(|n| policy.delay_after(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
    }
}
