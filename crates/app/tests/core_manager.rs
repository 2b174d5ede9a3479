//! The core manager against a real SQLite store: with Debian's v2ray it keeps the core's users
//! equal to the users who may connect, cuts off expired users (marked and audited by the
//! system), brings renewed users back, and skips a damaged row without stopping; with a
//! stand-in stats API, a stats round survives garbage and outages without losing or doubling
//! traffic; subscription fetch times reach the database only in batches.
//!
//! Tests needing v2ray print a message and pass without it, unless `CI=true`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first broken step"
)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use spiritus_app::config::load_config;
use spiritus_app::keys::PanelKeys;
use spiritus_app::services::core::stats::{PollError, poll_round};
use spiritus_app::services::users::{CreateUser, UserAction};
use spiritus_app::{Actor, App, AppParts, EventBus};
use spiritus_audit::keys::AuditSigningKey;
use spiritus_auth::SecretKey;
use spiritus_core::ManualClock;
use spiritus_core::user::{ExpireDays, Note, TrafficLimit, UserName};
use spiritus_proxy::bench_support::FakeCoreApi;
use spiritus_proxy::grpc::messages::Stat;
use spiritus_proxy::{CoreApi, CoreKind, InboundSettings, Protocol};
use spiritus_store::{AuditQuery, MemoryStore, SqlStore};
use uuid::Uuid;

fn start_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000, 0).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn v2ray() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("v2ray"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "v2ray is not installed but CI=true"
        );
        eprintln!("skipping: v2ray is not installed (apt-get install -y v2ray)");
    }
    found
}

struct TestApp {
    app: App,
    clock: ManualClock,
    dir: tempfile::TempDir,
}

async fn test_app(core_binary: Option<&Path>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = load_config(&dir.path().join("none.toml"), Vec::new()).unwrap();
    config.core.enabled = core_binary.is_some();
    config.core.binary = core_binary.map(Path::to_path_buf);
    config.core.listen = IpAddr::V4(Ipv4Addr::LOCALHOST);
    config.core.api_port = free_port();
    config.core.inbounds = vec![InboundSettings::tcp(Protocol::Vmess, free_port())];
    config.core.blocked_cidrs = Vec::new();
    config.core.stats_interval = 1;
    config.public_url = Some("https://panel.example.com:8443".into());

    let store = SqlStore::connect(&format!(
        "sqlite://{}",
        dir.path().join("db.sqlite").display()
    ))
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let clock = ManualClock::new(start_time());
    let shared_clock: Arc<dyn spiritus_core::Clock> = Arc::new(clock.clone());
    let keys = PanelKeys {
        jwt: vec![("test".into(), SecretKey::from_bytes(vec![1; 32]))],
        pepper: SecretKey::from_bytes(vec![2; 32]),
        audit: AuditSigningKey::generate(),
        subscription: SecretKey::from_bytes(vec![3; 32]),
        totp_encryption: SecretKey::from_bytes(vec![4; 32]),
        core_password: SecretKey::from_bytes(vec![5; 32]),
    };
    let app = App::new(AppParts {
        config,
        clock: Arc::clone(&shared_clock),
        store,
        ephemeral: Arc::new(MemoryStore::new(shared_clock)),
        keys,
        events: EventBus::new(),
    })
    .unwrap();
    TestApp { app, clock, dir }
}

async fn create(app: &App, name: &str, quota_gb: f64, days: i64) -> spiritus_core::user::VpnUser {
    app.create_user(
        &Actor::Console,
        CreateUser {
            name: UserName::parse("name", name).unwrap(),
            traffic_limit: TrafficLimit::from_gb("traffic_limit_gb", quota_gb).unwrap(),
            expire_days: ExpireDays::parse("expire_days", days).unwrap(),
            note: Note::default(),
        },
    )
    .await
    .unwrap()
}

/// Waits until the core status satisfies `check`.
async fn wait_for_status(app: &App, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = app.core_status();
        if check(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_follows_users_cuts_off_expired_ones_and_skips_damaged_rows() {
    let Some(binary) = v2ray() else { return };
    let TestApp { app, clock, dir } = test_app(Some(&binary)).await;
    create(&app, "alice", 0.0, 30).await;
    let bob = create(&app, "bob", 0.0, 1).await;
    create(&app, "broken", 0.0, 30).await;
    // A date far out of range makes the row unreadable.
    app.store()
        .execute_raw_for_tests(
            "UPDATE vpn_users SET expire_at = 9223372036854775807 WHERE name_folded = 'broken'",
        )
        .await
        .unwrap();

    app.start_core(dir.path()).await.unwrap();
    let status = wait_for_status(&app, "core not running", |s| s["state"] == "running").await;
    assert_eq!(status["users_in_core"], 2, "{status}");
    assert_eq!(status["enforcement"]["skipped_rows"], 1);
    let config = dir.path().join("core").join("config.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&config).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    // Bob's expiry passes: he leaves the core within one interval, marked and audited.
    clock.advance(chrono::Duration::days(2));
    wait_for_status(&app, "bob stayed in the core", |s| s["users_in_core"] == 1).await;
    let cutoffs = app
        .store()
        .query_audit(&AuditQuery {
            action: Some("user.cutoff".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(cutoffs.len(), 1, "{cutoffs:?}");
    assert_eq!(cutoffs[0].actor_id, "system");
    assert_eq!(
        cutoffs[0].resource_id.as_deref(),
        Some(bob.id.to_string().as_str())
    );
    assert_eq!(
        cutoffs[0].after.as_ref().unwrap()["cutoff_reason"],
        "expired"
    );
    assert_eq!(
        app.store()
            .cutoff_markers()
            .await
            .unwrap()
            .get(&bob.id)
            .map(String::as_str),
        Some("expired")
    );

    // Renewing brings him back and clears the marker (audited as a reinstatement).
    app.renew_user(
        &Actor::Console,
        "bob",
        TrafficLimit::UNLIMITED,
        ExpireDays::parse("expire_days", 30).unwrap(),
    )
    .await
    .unwrap();
    wait_for_status(&app, "bob did not come back", |s| s["users_in_core"] == 2).await;
    assert!(app.store().cutoff_markers().await.unwrap().is_empty());
    let reinstated = app
        .store()
        .query_audit(&AuditQuery {
            action: Some("user.reinstate".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(reinstated.len(), 1);

    // A connection to a watched port in the access log raises one audited alert.
    let access_log = dir.path().join("core").join("access.log");
    let line = format!(
        "2026/12/04 20:39:16 127.0.0.1:56878 accepted tcp:10.1.2.3:22 [direct] email: {}\n",
        bob.core_key()
    );
    for _ in 0..2 {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&access_log)
            .unwrap();
        std::io::Write::write_all(&mut file, line.as_bytes()).unwrap();
    }
    let recon_alerts = || async {
        app.store()
            .query_audit(&AuditQuery {
                action: Some("user.reconnaissance".into()),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while recon_alerts().await.is_empty() {
        assert!(Instant::now() < deadline, "no reconnaissance alert");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both lines were read by now; the second one is inside the window.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let alerts = recon_alerts().await;
    assert_eq!(alerts.len(), 1, "one alert per user per window");
    assert_eq!(alerts[0].actor_id, "system");
    assert_eq!(alerts[0].after.as_ref().unwrap()["port"], 22);
    assert_eq!(alerts[0].after.as_ref().unwrap()["destination"], "10.1.2.3");

    // Switching a user off removes them at once; the damaged row never stopped the job.
    app.apply_user_action(&Actor::Console, "alice", UserAction::Disable)
        .await
        .unwrap();
    wait_for_status(&app, "alice stayed", |s| s["users_in_core"] == 1).await;

    app.stop_core().await;
    assert_eq!(app.core_status()["state"], "stopped");
    assert!(!dir.path().join("core").join("core.run").exists());
}

fn counter(key: &str, direction: &str, value: i64) -> Stat {
    Stat {
        name: format!("user>>>{key}>>>traffic>>>{direction}"),
        value,
    }
}

#[tokio::test]
async fn stats_round_survives_garbage_and_outages_without_losing_or_doubling() {
    let TestApp { app, dir: _dir, .. } = test_app(None).await;
    let user = create(&app, "carol", 0.0, 30).await;
    let key = user.core_key();
    let run = Uuid::new_v4();

    let garbage = vec![
        counter(&key, "uplink", 100),
        counter(&key, "downlink", 1000),
        // not a user counter
        Stat {
            name: "inbound>>>vmess>>>traffic>>>uplink".into(),
            value: 5,
        },
        // a key that is no user of ours
        counter("someone-else", "uplink", 7),
        // a negative value
        counter(&Uuid::new_v4().simple().to_string(), "downlink", -3),
        // a separator inside the key
        counter("a>>>b", "uplink", 1),
    ];
    let fake = FakeCoreApi::start(garbage).await.unwrap();
    let api = CoreApi::with_address(CoreKind::V2ray, &fake.url(), Duration::from_secs(2)).unwrap();
    let report = poll_round(app.store(), &api, run, app.now()).await.unwrap();
    assert_eq!(report.deltas.len(), 1);
    let stored = app
        .store()
        .user_by_name("carol", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.upload_bytes, stored.download_bytes), (100, 1000));

    // The API is down: the round fails, nothing changes.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let down_api = CoreApi::with_address(CoreKind::V2ray, &dead, Duration::from_secs(2)).unwrap();
    let down = poll_round(app.store(), &down_api, run, app.now()).await;
    assert!(matches!(down, Err(PollError::Api(_))), "{down:?}");

    // The same run reports higher counters: only the difference is added.
    drop(fake);
    let fake = FakeCoreApi::start(vec![
        counter(&key, "uplink", 150),
        counter(&key, "downlink", 1500),
    ])
    .await
    .unwrap();
    let api = CoreApi::with_address(CoreKind::V2ray, &fake.url(), Duration::from_secs(2)).unwrap();
    poll_round(app.store(), &api, run, app.now()).await.unwrap();
    poll_round(app.store(), &api, run, app.now()).await.unwrap();
    let stored = app
        .store()
        .user_by_name("carol", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.upload_bytes, stored.download_bytes), (150, 1500));
}

#[tokio::test]
async fn subscription_fetch_times_reach_the_database_only_when_flushed() {
    let TestApp { app, dir: _dir, .. } = test_app(None).await;
    let user = create(&app, "dave", 1.0, 30).await;
    let url = app.subscription_url(&user).unwrap();
    let token = url.rsplit('/').next().unwrap();

    let lookup = app.subscription(token).await.unwrap().unwrap();
    assert!(lookup.known);
    assert_eq!(lookup.view.profiles.len(), 1);
    assert_eq!(lookup.view.profiles[0].host, "panel.example.com");
    assert_eq!(
        app.store().last_subscription_fetch(user.id).await.unwrap(),
        None
    );

    assert_eq!(app.flush_subscription_fetches().await.unwrap(), 1);
    assert_eq!(
        app.store().last_subscription_fetch(user.id).await.unwrap(),
        Some(start_time())
    );

    // An unknown token of the right shape still gets a stand-in view to render.
    let unknown = app.subscription(&"Q".repeat(43)).await.unwrap().unwrap();
    assert!(!unknown.known);
    assert_eq!(unknown.view.profiles.len(), lookup.view.profiles.len());
    assert!(app.subscription("../etc").await.unwrap().is_none());
}
