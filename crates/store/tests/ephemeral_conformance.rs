//! Every ephemeral store operation, run against the in-process store and against Redis.
//!
//! Each test body is written once; `conformance!` makes one test per backend. Time comes from
//! a `ManualClock`: sliding windows and IP blocks take it from the caller on both backends.
//! Redis expires revocations and challenges in real time, so those bodies use short TTLs and
//! [`Harness::pass`] both moves the clock and, for Redis, waits. Each Redis test works under
//! its own random key prefix and deletes its keys at the end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first broken step"
)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use spiritus_core::{Clock, ManualClock};
use spiritus_store::{EphemeralStore, MemoryStore, RedisSettings, RedisStore};
use spiritus_test_support::TestRedisPrefix;

/// One backend under test, its clock, and (for Redis) the prefix to clean up.
struct Harness {
    store: Arc<dyn EphemeralStore>,
    clock: ManualClock,
    redis: Option<(RedisStore, TestRedisPrefix)>,
}

impl Harness {
    fn memory() -> Self {
        let clock = ManualClock::new(t0());
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        Self {
            store: Arc::new(MemoryStore::new(shared)),
            clock,
            redis: None,
        }
    }

    async fn redis() -> Option<Self> {
        let prefix = TestRedisPrefix::create()?;
        let store =
            RedisStore::connect(RedisSettings::new(prefix.url()).with_key_prefix(prefix.prefix()))
                .await
                .unwrap();
        Some(Self {
            store: Arc::new(store.clone()),
            clock: ManualClock::new(t0()),
            redis: Some((store, prefix)),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Lets `by` pass for expiry: the clock moves, and on Redis real time passes too.
    async fn pass(&self, by: Duration) {
        self.clock.advance(chrono::Duration::from_std(by).unwrap());
        if self.redis.is_some() {
            tokio::time::sleep(by).await;
        }
    }

    /// Moves only the clock (windows and blocks follow it on every backend).
    fn advance(&self, by: Duration) {
        self.clock.advance(chrono::Duration::from_std(by).unwrap());
    }

    /// Deletes this test's Redis keys and checks that none is left.
    async fn finish(self) {
        if let Some((store, prefix)) = self.redis {
            store.purge().await.unwrap();
            assert!(prefix.keys().is_empty(), "{:?}", prefix.keys());
        }
    }
}

macro_rules! conformance {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn memory() {
                let harness = super::Harness::memory();
                super::$body(&harness).await;
                harness.finish().await;
            }

            #[tokio::test]
            async fn redis() {
                let Some(harness) = super::Harness::redis().await else {
                    return;
                };
                super::$body(&harness).await;
                harness.finish().await;
            }
        }
    };
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000, 0).unwrap()
}

const SHORT_TTL: Duration = Duration::from_millis(300);
const PAST_SHORT_TTL: Duration = Duration::from_millis(500);
const MINUTE: Duration = Duration::from_secs(60);

conformance!(revocation_lasts_its_ttl, revocation_lasts_its_ttl_body);
async fn revocation_lasts_its_ttl_body(h: &Harness) {
    h.store.revoke("jti:a", SHORT_TTL).await.unwrap();
    assert!(h.store.is_revoked("jti:a").await.unwrap());
    assert!(!h.store.is_revoked("jti:b").await.unwrap());
    h.pass(PAST_SHORT_TTL).await;
    assert!(!h.store.is_revoked("jti:a").await.unwrap());
}

conformance!(
    revocation_status_checks_every_id,
    revocation_status_checks_every_id_body
);
async fn revocation_status_checks_every_id_body(h: &Harness) {
    h.store.mark_revocations_restored().await.unwrap();
    h.store.revoke("sid:s1", MINUTE).await.unwrap();
    let status = h
        .store
        .revocation_status(&["jti:t1", "sid:s1"])
        .await
        .unwrap();
    assert!(status.revoked);
    assert!(!status.needs_restore);
    let status = h
        .store
        .revocation_status(&["jti:t1", "sid:s2"])
        .await
        .unwrap();
    assert!(!status.revoked);
    let status = h.store.revocation_status(&[]).await.unwrap();
    assert!(!status.revoked);
}

conformance!(
    empty_store_asks_for_a_restore,
    empty_store_asks_for_a_restore_body
);
async fn empty_store_asks_for_a_restore_body(h: &Harness) {
    assert!(h.store.needs_revocation_restore().await.unwrap());
    let status = h.store.revocation_status(&["jti:x"]).await.unwrap();
    assert!(status.needs_restore);
    // A revocation alone is not a restore: the durable record may hold more.
    h.store.revoke("jti:x", MINUTE).await.unwrap();
    assert!(h.store.needs_revocation_restore().await.unwrap());
    h.store.mark_revocations_restored().await.unwrap();
    assert!(!h.store.needs_revocation_restore().await.unwrap());
    let status = h.store.revocation_status(&["jti:x"]).await.unwrap();
    assert!(!status.needs_restore);
    assert!(status.revoked);
}

conformance!(restore_loads_and_marks, restore_loads_and_marks_body);
async fn restore_loads_and_marks_body(h: &Harness) {
    let durable = [
        ("jti:r1".to_owned(), MINUTE),
        ("sid:r2".to_owned(), SHORT_TTL),
    ];
    h.store.restore_revocations(&durable).await.unwrap();
    let status = h.store.revocation_status(&["jti:r1"]).await.unwrap();
    assert!(!status.needs_restore);
    assert!(status.revoked);
    assert!(h.store.is_revoked("sid:r2").await.unwrap());
    h.pass(PAST_SHORT_TTL).await;
    assert!(!h.store.is_revoked("sid:r2").await.unwrap());
    assert!(h.store.is_revoked("jti:r1").await.unwrap());
    // An empty durable record still marks the store restored.
    h.store.restore_revocations(&[]).await.unwrap();
    assert!(!h.store.needs_revocation_restore().await.unwrap());
}

conformance!(
    window_allows_up_to_its_limit,
    window_allows_up_to_its_limit_body
);
async fn window_allows_up_to_its_limit_body(h: &Harness) {
    for expected in 1..=3 {
        let decision = h
            .store
            .hit_window("ip:1", MINUTE, 3, h.now())
            .await
            .unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.count, expected);
        assert_eq!(decision.limit, 3);
        assert_eq!(decision.remaining(), 3 - expected);
        h.advance(Duration::from_secs(10));
    }
    // Events at 0 s, 10 s and 20 s; now is 30 s: the oldest leaves the window at 60 s.
    let denied = h
        .store
        .hit_window("ip:1", MINUTE, 3, h.now())
        .await
        .unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.count, 3);
    assert_eq!(denied.remaining(), 0);
    assert_eq!(denied.retry_after, Duration::from_secs(30));
}

conformance!(
    denied_events_are_not_counted,
    denied_events_are_not_counted_body
);
async fn denied_events_are_not_counted_body(h: &Harness) {
    for _ in 0..2 {
        h.store
            .hit_window("user:a", MINUTE, 2, h.now())
            .await
            .unwrap();
        h.advance(Duration::from_secs(10));
    }
    for _ in 0..5 {
        let decision = h
            .store
            .hit_window("user:a", MINUTE, 2, h.now())
            .await
            .unwrap();
        assert!(!decision.allowed);
    }
    assert_eq!(
        h.store
            .window_count("user:a", MINUTE, h.now())
            .await
            .unwrap(),
        2
    );
    // At 61 s the event of 0 s has left; the denied attempts never entered.
    h.advance(Duration::from_secs(41));
    let decision = h
        .store
        .hit_window("user:a", MINUTE, 2, h.now())
        .await
        .unwrap();
    assert!(decision.allowed);
    assert_eq!(decision.count, 2);
}

conformance!(window_slides_exactly, window_slides_exactly_body);
async fn window_slides_exactly_body(h: &Harness) {
    let start = h.now();
    h.store.hit_window("k", MINUTE, 10, start).await.unwrap();
    let almost = start + chrono::Duration::milliseconds(59_999);
    let exactly = start + chrono::Duration::seconds(60);
    assert_eq!(h.store.window_count("k", MINUTE, almost).await.unwrap(), 1);
    // An event leaves the window when the window's full length has passed since it.
    assert_eq!(h.store.window_count("k", MINUTE, exactly).await.unwrap(), 0);
    let decision = h.store.hit_window("k", MINUTE, 1, exactly).await.unwrap();
    assert!(decision.allowed);
    assert_eq!(decision.count, 1);
}

conformance!(window_count_adds_nothing, window_count_adds_nothing_body);
async fn window_count_adds_nothing_body(h: &Harness) {
    assert_eq!(
        h.store
            .window_count("fresh", MINUTE, h.now())
            .await
            .unwrap(),
        0
    );
    h.store
        .hit_window("fresh", MINUTE, 5, h.now())
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            h.store
                .window_count("fresh", MINUTE, h.now())
                .await
                .unwrap(),
            1
        );
    }
}

conformance!(windows_are_kept_per_key, windows_are_kept_per_key_body);
async fn windows_are_kept_per_key_body(h: &Harness) {
    h.store
        .hit_window("login:alice", MINUTE, 1, h.now())
        .await
        .unwrap();
    let other = h
        .store
        .hit_window("login:bob", MINUTE, 1, h.now())
        .await
        .unwrap();
    assert!(other.allowed);
    let same = h
        .store
        .hit_window("login:alice", MINUTE, 1, h.now())
        .await
        .unwrap();
    assert!(!same.allowed);
}

conformance!(
    clear_window_forgets_events,
    clear_window_forgets_events_body
);
async fn clear_window_forgets_events_body(h: &Harness) {
    for _ in 0..3 {
        h.store
            .hit_window("login:ip", MINUTE, 3, h.now())
            .await
            .unwrap();
    }
    h.store.clear_window("login:ip").await.unwrap();
    assert_eq!(
        h.store
            .window_count("login:ip", MINUTE, h.now())
            .await
            .unwrap(),
        0
    );
    let decision = h
        .store
        .hit_window("login:ip", MINUTE, 3, h.now())
        .await
        .unwrap();
    assert!(decision.allowed);
    assert_eq!(decision.count, 1);
    // Clearing a window that never existed is not an error.
    h.store.clear_window("never").await.unwrap();
}

conformance!(
    simultaneous_hits_never_pass_the_limit,
    simultaneous_hits_never_pass_the_limit_body
);
async fn simultaneous_hits_never_pass_the_limit_body(h: &Harness) {
    let now = h.now();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = Arc::clone(&h.store);
            tokio::spawn(async move { store.hit_window("burst", MINUTE, 10, now).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10);
    assert_eq!(
        h.store.window_count("burst", MINUTE, now).await.unwrap(),
        10
    );
}

conformance!(
    ip_block_lasts_until_it_expires,
    ip_block_lasts_until_it_expires_body
);
async fn ip_block_lasts_until_it_expires_body(h: &Harness) {
    let now = h.now();
    let hour = Duration::from_secs(3600);
    h.store
        .block_ip("203.0.113.7", "login flood", hour, now)
        .await
        .unwrap();
    let block = h.store.ip_block("203.0.113.7", now).await.unwrap().unwrap();
    assert_eq!(block.ip, "203.0.113.7");
    assert_eq!(block.reason, "login flood");
    assert_eq!(block.expires_at, now + chrono::Duration::hours(1));
    assert!(
        h.store
            .ip_block("203.0.113.8", now)
            .await
            .unwrap()
            .is_none()
    );

    let later = now + chrono::Duration::hours(2);
    assert!(
        h.store
            .ip_block("203.0.113.7", later)
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.store.list_ip_blocks(later).await.unwrap().is_empty());
}

conformance!(ip_blocks_list_and_lift, ip_blocks_list_and_lift_body);
async fn ip_blocks_list_and_lift_body(h: &Harness) {
    let now = h.now();
    let hour = Duration::from_secs(3600);
    h.store
        .block_ip("2001:db8::1", "honey", hour, now)
        .await
        .unwrap();
    h.store
        .block_ip("198.51.100.2", "recon", hour, now)
        .await
        .unwrap();
    h.store
        .block_ip("198.51.100.3", "short", MINUTE, now)
        .await
        .unwrap();

    let listed = h.store.list_ip_blocks(now).await.unwrap();
    let ips: Vec<&str> = listed.iter().map(|block| block.ip.as_str()).collect();
    assert_eq!(ips, ["198.51.100.2", "198.51.100.3", "2001:db8::1"]);
    let later = now + chrono::Duration::minutes(2);
    assert_eq!(h.store.list_ip_blocks(later).await.unwrap().len(), 2);

    assert!(h.store.unblock_ip("198.51.100.2").await.unwrap());
    assert!(!h.store.unblock_ip("198.51.100.2").await.unwrap());
    assert!(
        h.store
            .ip_block("198.51.100.2", now)
            .await
            .unwrap()
            .is_none()
    );
    let ips: Vec<String> = h
        .store
        .list_ip_blocks(now)
        .await
        .unwrap()
        .into_iter()
        .map(|block| block.ip)
        .collect();
    assert_eq!(ips, ["198.51.100.3", "2001:db8::1"]);
}

conformance!(
    reblocking_extends_the_block,
    reblocking_extends_the_block_body
);
async fn reblocking_extends_the_block_body(h: &Harness) {
    let now = h.now();
    h.store
        .block_ip("192.0.2.1", "first", MINUTE, now)
        .await
        .unwrap();
    h.store
        .block_ip("192.0.2.1", "second", Duration::from_secs(600), now)
        .await
        .unwrap();
    let later = now + chrono::Duration::minutes(5);
    let block = h.store.ip_block("192.0.2.1", later).await.unwrap().unwrap();
    assert_eq!(block.reason, "second");
    assert_eq!(h.store.list_ip_blocks(later).await.unwrap().len(), 1);
}

conformance!(challenge_is_taken_once, challenge_is_taken_once_body);
async fn challenge_is_taken_once_body(h: &Harness) {
    let payload = [0u8, 1, 2, 255, b'{'];
    h.store.put_challenge("c1", &payload, MINUTE).await.unwrap();
    assert_eq!(
        h.store.take_challenge("c1").await.unwrap().as_deref(),
        Some(&payload[..])
    );
    assert_eq!(h.store.take_challenge("c1").await.unwrap(), None);
    assert_eq!(h.store.take_challenge("unknown").await.unwrap(), None);
}

conformance!(
    simultaneous_takes_get_one_payload,
    simultaneous_takes_get_one_payload_body
);
async fn simultaneous_takes_get_one_payload_body(h: &Harness) {
    h.store
        .put_challenge("race", b"state", MINUTE)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&h.store);
            tokio::spawn(async move { store.take_challenge("race").await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

conformance!(challenge_expires, challenge_expires_body);
async fn challenge_expires_body(h: &Harness) {
    h.store.put_challenge("c2", b"x", SHORT_TTL).await.unwrap();
    h.pass(PAST_SHORT_TTL).await;
    assert_eq!(h.store.take_challenge("c2").await.unwrap(), None);
}

conformance!(ping_answers, ping_answers_body);
async fn ping_answers_body(h: &Harness) {
    h.store.ping().await.unwrap();
    assert!(["memory", "redis"].contains(&h.store.name()));
}

mod redis_only {
    //! What only a shared store has: several handles on one prefix, and the loss of state.

    use super::*;

    async fn second_handle(prefix: &str, url: &str) -> RedisStore {
        RedisStore::connect(RedisSettings::new(url).with_key_prefix(prefix))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn replicas_on_one_prefix_share_state() {
        let Some(h) = Harness::redis().await else {
            return;
        };
        let (first, prefix) = h.redis.as_ref().unwrap();
        let second = second_handle(prefix.prefix(), prefix.url()).await;
        first.revoke("sid:shared", MINUTE).await.unwrap();
        assert!(second.is_revoked("sid:shared").await.unwrap());
        first.hit_window("ip:x", MINUTE, 2, h.now()).await.unwrap();
        second.hit_window("ip:x", MINUTE, 2, h.now()).await.unwrap();
        let third = first.hit_window("ip:x", MINUTE, 2, h.now()).await.unwrap();
        assert!(!third.allowed);
        assert_eq!(
            second.window_count("ip:x", MINUTE, h.now()).await.unwrap(),
            2
        );
        h.finish().await;
    }

    #[tokio::test]
    async fn other_prefixes_are_invisible_and_untouched() {
        let Some(h) = Harness::redis().await else {
            return;
        };
        let other_prefix = TestRedisPrefix::create().unwrap();
        let other = second_handle(other_prefix.prefix(), other_prefix.url()).await;
        other.revoke("jti:mine", MINUTE).await.unwrap();
        other.mark_revocations_restored().await.unwrap();

        assert!(!h.store.is_revoked("jti:mine").await.unwrap());
        assert!(h.store.needs_revocation_restore().await.unwrap());
        h.finish().await;
        // Purging one prefix left the other's keys alone.
        assert!(other.is_revoked("jti:mine").await.unwrap());
        assert_eq!(other.purge().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn flushed_store_asks_for_a_restore_again() {
        let Some(h) = Harness::redis().await else {
            return;
        };
        let (store, _) = h.redis.as_ref().unwrap();
        store.revoke("jti:gone", MINUTE).await.unwrap();
        store.mark_revocations_restored().await.unwrap();
        store.purge().await.unwrap();
        let status = store.revocation_status(&["jti:gone"]).await.unwrap();
        assert!(status.needs_restore, "a flushed store must not be trusted");
        assert!(!status.revoked);
        h.finish().await;
    }

    #[tokio::test]
    async fn bad_prefix_is_refused_before_connecting() {
        let error =
            RedisStore::connect(RedisSettings::new("redis://127.0.0.1:1").with_key_prefix("all*"))
                .await
                .unwrap_err();
        assert!(error.to_string().contains("redis_key_prefix"), "{error}");
    }

    #[tokio::test]
    async fn unreachable_redis_fails_fast_without_its_password() {
        let settings = RedisSettings::new("redis://:hunter2@127.0.0.1:1/0")
            .with_timeout(Duration::from_millis(500));
        let started = std::time::Instant::now();
        let error = RedisStore::connect(settings).await.unwrap_err();
        assert!(error.is_unavailable(), "{error}");
        let message = error.to_string();
        assert!(message.contains("redis://:***@127.0.0.1:1/0"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
