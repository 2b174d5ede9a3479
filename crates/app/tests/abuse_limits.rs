//! Request and login rate limits against a clock the test moves, on the in-process store and
//! on Redis. The tests check the exact number allowed, the refusal, and the release as the
//! window slides. Parallel wrong passwords run no more hashes than the limit allows. Trips
//! block an address until the block expires. The per-username threshold demands a second
//! factor without locking the owner out.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first broken step"
)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use spiritus_app::config::Config;
use spiritus_app::keys::PanelKeys;
use spiritus_app::services::auth::LoginOutcome;
use spiritus_app::services::rate_limits::LimitScope;
use spiritus_app::{Actor, App, AppError, AppParts, EventBus, RequestContext};
use spiritus_audit::keys::AuditSigningKey;
use spiritus_auth::{Password, SecretKey};
use spiritus_core::ManualClock;
use spiritus_core::account::Role;
use spiritus_core::events::SecurityEvent;
use spiritus_store::{EphemeralStore, MemoryStore, RedisSettings, RedisStore, SqlStore};
use spiritus_test_support::redis::TestRedisPrefix;
use uuid::Uuid;

const PASSWORD: &str = "a long and fine password";

struct Fixture {
    app: App,
    clock: Arc<ManualClock>,
    redis: Option<(RedisStore, TestRedisPrefix)>,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy)]
enum Backend {
    Memory,
    Redis,
}

fn start_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000, 0).unwrap()
}

/// Builds an app on `backend` with `config`, or returns `None` when Redis is requested but
/// not configured.
async fn fixture(backend: Backend, config: &str) -> Option<Fixture> {
    let clock = Arc::new(ManualClock::new(start_time()));
    let (ephemeral, redis): (Arc<dyn EphemeralStore>, _) = match backend {
        Backend::Memory => (Arc::new(MemoryStore::new(clock.clone())), None),
        Backend::Redis => {
            let prefix = TestRedisPrefix::create()?;
            let store = RedisStore::connect(
                RedisSettings::new(prefix.url()).with_key_prefix(prefix.prefix()),
            )
            .await
            .unwrap();
            (Arc::new(store.clone()), Some((store, prefix)))
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("panel.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let config: Config = toml::from_str(config).unwrap();
    let keys = PanelKeys {
        jwt: vec![("test".into(), SecretKey::generate(32))],
        pepper: SecretKey::generate(32),
        audit: AuditSigningKey::generate(),
        subscription: SecretKey::generate(32),
        totp_encryption: SecretKey::generate(32),
        core_password: SecretKey::generate(32),
    };
    let app = App::new(AppParts {
        config,
        clock: clock.clone(),
        store,
        ephemeral,
        keys,
        events: EventBus::new(),
    })
    .unwrap();
    Some(Fixture {
        app,
        clock,
        redis,
        _dir: dir,
    })
}

impl Fixture {
    fn advance(&self, seconds: i64) {
        self.clock.advance(chrono::Duration::seconds(seconds));
    }

    async fn finish(self) {
        if let Some((store, prefix)) = self.redis {
            store.purge().await.unwrap();
            assert!(prefix.keys().is_empty(), "{:?}", prefix.keys());
        }
    }
}

fn from(ip: &str) -> RequestContext {
    RequestContext::new(ip.parse::<IpAddr>().unwrap())
}

fn retry_after(error: &AppError) -> Duration {
    match error {
        AppError::RateLimited { retry_after, .. } => *retry_after,
        other => panic!("expected rate_limited, got {other:?}"),
    }
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Memory).await;
            })*
        }
        mod redis {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Redis).await;
            })*
        }
    };
}

on_both_stores!(
    address_limit_allows_exactly_the_limit_and_slides,
    account_and_route_limits_count_separately,
    login_attempts_are_limited_per_address_and_name,
    parallel_wrong_passwords_run_no_more_hashes_than_allowed,
    repeated_trips_block_the_address_until_the_block_expires,
    username_threshold_demands_a_second_factor_but_not_of_the_owner,
);

async fn address_limit_allows_exactly_the_limit_and_slides(backend: Backend) {
    let Some(f) = fixture(backend, "[rate_limits]\nper_ip_per_minute = 3\n").await else {
        return;
    };
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let count = || f.app.count_request(ip, None, "/api/admin/users");
    // Three requests at 0 s, 10 s and 20 s fit; the fourth is refused until the first leaves.
    for step in 0..3 {
        let allowance = count().await.unwrap().unwrap();
        assert_eq!(allowance.remaining, 2 - step, "request {step}");
        assert_eq!(allowance.limit, 3);
        f.advance(10);
    }
    let refusal = count().await.unwrap_err();
    assert_eq!(refusal.scope, LimitScope::Address);
    assert_eq!(retry_after(&refusal.error), Duration::from_secs(30));
    // Knocking while refused does not count: at 59 s still refused, at 60 s one slot frees.
    f.advance(29);
    assert!(
        count().await.is_err(),
        "refused until the first request is 60 s old"
    );
    f.advance(1);
    count().await.unwrap();
    assert!(count().await.is_err(), "only one slot freed");
    f.advance(10);
    count().await.unwrap();
    // Another address has a window of its own.
    f.app
        .count_request("192.0.2.2".parse().unwrap(), None, "/")
        .await
        .unwrap();
    f.finish().await;
}

async fn account_and_route_limits_count_separately(backend: Backend) {
    let config = "[rate_limits]\nper_ip_per_minute = 100\nper_user_per_hour = 2\n\
                  [[rate_limits.routes]]\npath = \"/api/admin/audit/*\"\nlimit = 1\n";
    let Some(f) = fixture(backend, config).await else {
        return;
    };
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let account = Some(Uuid::new_v4());
    f.app.count_request(ip, account, "/a").await.unwrap();
    f.app.count_request(ip, account, "/a").await.unwrap();
    let refusal = f.app.count_request(ip, account, "/a").await.unwrap_err();
    assert_eq!(refusal.scope, LimitScope::Account);
    assert_eq!(retry_after(&refusal.error), Duration::from_secs(3600));
    // The same address without the account's token still gets through, once per route.
    f.app
        .count_request(ip, None, "/api/admin/audit/export")
        .await
        .unwrap();
    let refusal = f
        .app
        .count_request(ip, None, "/api/admin/audit/verify")
        .await
        .unwrap_err();
    assert_eq!(refusal.scope, LimitScope::Route);
    f.advance(3600);
    f.app.count_request(ip, account, "/a").await.unwrap();
    f.finish().await;
}

async fn create(app: &App, name: &str, role: Role) {
    app.create_account(
        &Actor::Console,
        name,
        role,
        Password::new(PASSWORD.into()),
        false,
    )
    .await
    .unwrap();
}

async fn attempt(
    app: &App,
    name: &str,
    password: &str,
    ip: &str,
) -> Result<LoginOutcome, AppError> {
    app.login(name, Password::new(password.into()), &from(ip))
        .await
}

async fn login_attempts_are_limited_per_address_and_name(backend: Backend) {
    let Some(f) = fixture(backend, "").await else {
        return;
    };
    create(&f.app, "alice", Role::Admin).await;
    // Five attempts, right or wrong, per 5 minutes per (name, address).
    for _ in 0..2 {
        attempt(&f.app, "alice", PASSWORD, "192.0.2.1")
            .await
            .unwrap();
    }
    for _ in 0..3 {
        let error = attempt(&f.app, "alice", "wrong", "192.0.2.1")
            .await
            .unwrap_err();
        assert!(matches!(error, AppError::InvalidCredentials), "{error:?}");
    }
    let hashes = f.app.password_hashes_computed();
    let error = attempt(&f.app, "alice", PASSWORD, "192.0.2.1")
        .await
        .unwrap_err();
    assert!(retry_after(&error) <= Duration::from_secs(300));
    assert_eq!(
        f.app.password_hashes_computed(),
        hashes,
        "refused before hashing"
    );
    // Other names from the same address share the address's limit.
    let error = attempt(&f.app, "ALICE", PASSWORD, "192.0.2.1")
        .await
        .unwrap_err();
    retry_after(&error);
    let error = attempt(&f.app, "bob", PASSWORD, "192.0.2.1")
        .await
        .unwrap_err();
    retry_after(&error);
    // Another address is not affected.
    attempt(&f.app, "alice", PASSWORD, "198.51.100.7")
        .await
        .unwrap();
    // After 5 minutes the address may try again.
    f.advance(300);
    attempt(&f.app, "alice", PASSWORD, "192.0.2.1")
        .await
        .unwrap();
    f.finish().await;
}

async fn parallel_wrong_passwords_run_no_more_hashes_than_allowed(backend: Backend) {
    // A long queue wait, so that on a busy machine no allowed attempt is turned away by the
    // hashing bound instead.
    let Some(f) = fixture(backend, "[limits]\nhash_wait_seconds = 60\n").await else {
        return;
    };
    create(&f.app, "alice", Role::Admin).await;
    let before = f.app.password_hashes_computed();
    let attempts: Vec<_> = (0..40)
        .map(|_| {
            let app = f.app.clone();
            tokio::spawn(async move { attempt(&app, "alice", "wrong guess", "192.0.2.9").await })
        })
        .collect();
    let mut refused = 0;
    let mut wrong = 0;
    for handle in attempts {
        match handle.await.unwrap() {
            Err(AppError::RateLimited { .. }) => refused += 1,
            Err(AppError::InvalidCredentials) => wrong += 1,
            other => panic!("unexpected outcome {:?}", other.err()),
        }
    }
    let hashes = f.app.password_hashes_computed() - before;
    assert_eq!(
        wrong, 5,
        "exactly the limit was checked ({refused} refused)"
    );
    assert_eq!(refused, 35);
    assert_eq!(hashes, 5, "no more Argon2 hashes than attempts allowed");
    f.finish().await;
}

async fn repeated_trips_block_the_address_until_the_block_expires(backend: Backend) {
    let config = "[rate_limits]\nlogin_attempts = 2\nblock_after_trips = 3\nblock_seconds = 600\n";
    let Some(f) = fixture(backend, config).await else {
        return;
    };
    let mut events = f.app.events().subscribe();
    let attacker = "203.0.113.66";
    for trip in 1..=3 {
        for _ in 0..2 {
            let error = attempt(&f.app, "nobody", "guess", attacker)
                .await
                .unwrap_err();
            assert!(matches!(error, AppError::InvalidCredentials), "{error:?}");
        }
        // Refusals within one window are one trip, however many there are; the third trip
        // blocks the address, which is then refused with 403 before anything is counted.
        retry_after(
            &attempt(&f.app, "nobody", "guess", attacker)
                .await
                .unwrap_err(),
        );
        for _ in 0..3 {
            let error = attempt(&f.app, "nobody", "guess", attacker)
                .await
                .unwrap_err();
            if trip < 3 {
                retry_after(&error);
            } else {
                assert!(matches!(error, AppError::Forbidden(_)), "{error:?}");
            }
        }
        let blocked = f.app.active_block(attacker.parse().unwrap()).await;
        assert_eq!(blocked.is_some(), trip == 3, "trip {trip}");
        f.advance(300);
    }
    let error = attempt(&f.app, "nobody", "guess", attacker)
        .await
        .unwrap_err();
    assert!(matches!(error, AppError::Forbidden(_)), "{error:?}");
    let mut saw_block = false;
    while let Ok(event) = events.try_recv() {
        if let SecurityEvent::IpBlocked { ip, seconds, .. } = event.as_ref() {
            assert_eq!(ip.to_string(), attacker);
            assert_eq!(*seconds, 600);
            saw_block = true;
        }
    }
    assert!(saw_block, "the block raised ip_blocked");
    // The block runs out after block_seconds (300 s of it passed above).
    f.advance(299);
    assert!(
        f.app
            .active_block(attacker.parse().unwrap())
            .await
            .is_some()
    );
    f.advance(2);
    assert!(
        f.app
            .active_block(attacker.parse().unwrap())
            .await
            .is_none()
    );
    let error = attempt(&f.app, "nobody", "guess", attacker)
        .await
        .unwrap_err();
    assert!(matches!(error, AppError::InvalidCredentials), "{error:?}");
    f.finish().await;
}

async fn username_threshold_demands_a_second_factor_but_not_of_the_owner(backend: Backend) {
    let config = "[rate_limits]\nlogin_username_per_hour = 3\n";
    let Some(f) = fixture(backend, config).await else {
        return;
    };
    create(&f.app, "alice", Role::Admin).await;
    create(&f.app, "root", Role::Owner).await;
    let mut events = f.app.events().subscribe();
    // A spray from many addresses uses up both names' hourly allowance.
    for (index, name) in ["alice", "root"].iter().enumerate() {
        for host in 0..3 {
            let ip = format!("198.51.{index}.{host}");
            attempt(&f.app, name, "spray", &ip).await.unwrap_err();
        }
    }
    // alice has no second factor: refused, even with her password, and before any hash.
    let hashes = f.app.password_hashes_computed();
    let error = attempt(&f.app, "alice", PASSWORD, "192.0.2.50")
        .await
        .unwrap_err();
    retry_after(&error);
    assert_eq!(f.app.password_hashes_computed(), hashes);
    // An unknown name past the threshold gets the same answer.
    for host in 0..3 {
        attempt(&f.app, "ghost", "spray", &format!("198.51.9.{host}"))
            .await
            .unwrap_err();
    }
    retry_after(
        &attempt(&f.app, "ghost", "x", "192.0.2.50")
            .await
            .unwrap_err(),
    );
    // The owner still gets in, and an alert urges a second factor.
    let outcome = attempt(&f.app, "root", PASSWORD, "192.0.2.51")
        .await
        .unwrap();
    assert!(matches!(outcome, LoginOutcome::Tokens(_)));
    let mut urged = false;
    while let Ok(event) = events.try_recv() {
        urged |= matches!(
            event.as_ref(),
            SecurityEvent::OwnerWithoutSecondFactor { .. }
        );
    }
    assert!(urged, "owner_without_second_factor raised");
    // An hour later alice may log in again.
    f.advance(3600);
    attempt(&f.app, "alice", PASSWORD, "192.0.2.50")
        .await
        .unwrap();
    f.finish().await;
}
