//! A Redis of the test's own is stopped and started again under a live store: revocation
//! checks fail closed, rate limiting falls back to in-process counters with a rate-limited
//! warning, and both recover without a new store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first broken step"
)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::DateTime;
use spiritus_core::{Clock, ManualClock};
use spiritus_store::{EphemeralStore, FallbackWindows, RedisSettings, RedisStore};
use spiritus_test_support::RedisServer;

const MINUTE: Duration = Duration::from_secs(60);
const WARNING: &str = "shared rate-limit store unavailable";

/// Log lines written by the code under test.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> (CapturedLog, tracing::subscriber::DefaultGuard) {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    (log, tracing::subscriber::set_default(subscriber))
}

async fn connect(server: &RedisServer) -> RedisStore {
    RedisStore::connect(RedisSettings::new(server.url()).with_timeout(Duration::from_millis(500)))
        .await
        .unwrap()
}

/// Waits until the shared store answers a window call again.
async fn until_shared_answers(store: &FallbackWindows, clock: &ManualClock) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        store
            .window_count("probe", MINUTE, clock.now())
            .await
            .unwrap();
        if !store.is_degraded() {
            return;
        }
        assert!(Instant::now() < deadline, "Redis never answered again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn windows_fall_back_and_revocations_fail_closed_while_redis_is_down() {
    let (log, _guard) = capture_logs();
    let mut server = RedisServer::start().await;
    let clock = ManualClock::new(DateTime::from_timestamp(1_900_000_000, 0).unwrap());
    let redis: Arc<dyn EphemeralStore> = Arc::new(connect(&server).await);
    let store = FallbackWindows::new(Arc::clone(&redis), Arc::new(clock.clone()));
    store.mark_revocations_restored().await.unwrap();
    store.revoke("jti:before", MINUTE).await.unwrap();
    store
        .hit_window("ip:a", MINUTE, 3, clock.now())
        .await
        .unwrap();
    assert_eq!(store.fallbacks(), 0);

    server.stop().await;

    // Revocation checks refuse to answer rather than answer "not revoked".
    let started = Instant::now();
    let error = store.revocation_status(&["jti:before"]).await.unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // Windows keep limiting, in process.
    let mut decisions = Vec::new();
    for _ in 0..4 {
        decisions.push(
            store
                .hit_window("ip:a", MINUTE, 3, clock.now())
                .await
                .unwrap(),
        );
    }
    let allowed: Vec<bool> = decisions.iter().map(|decision| decision.allowed).collect();
    assert_eq!(allowed, [true, true, true, false]);
    assert!(store.is_degraded());
    assert_eq!(store.fallbacks(), 4);
    assert_eq!(
        log.count(WARNING),
        1,
        "one warning per interval:\n{}",
        log.text()
    );

    clock.advance(chrono::Duration::seconds(61));
    store
        .hit_window("ip:a", MINUTE, 3, clock.now())
        .await
        .unwrap();
    assert_eq!(log.count(WARNING), 2, "{}", log.text());

    // Redis comes back empty; the same store recovers by itself.
    server.start_again().await;
    until_shared_answers(&store, &clock).await;
    assert!(log.text().contains("answers again"), "{}", log.text());
    let decision = store
        .hit_window("ip:a", MINUTE, 3, clock.now())
        .await
        .unwrap();
    assert!(decision.allowed);
    assert_eq!(
        decision.count, 1,
        "the restarted Redis starts with empty windows"
    );
    let status = store.revocation_status(&["jti:before"]).await.unwrap();
    assert!(
        status.needs_restore,
        "an emptied Redis must ask for the durable revocations"
    );
    assert!(!log.text().contains("jti:before"));
}
