//! Two measurements with 100,000 VPN users stored in SQLite (and in PostgreSQL when
//! `SPIRITUS_TEST_POSTGRES_URL` is set), printed as one JSON object per line:
//!
//! * `subscription`: requests per second of `GET /sub/{token}` through the full router and
//!   middleware stack, beside the served stylesheet (a static handler behind the same stack)
//!   in the same run, plus the median time of known and unknown tokens;
//! * `stats_round`: one stats round for every user through the store (QueryStats against the
//!   stand-in StatsService of `spiritus_proxy::bench_support`, parsing, and
//!   `apply_core_counters`), first with new traffic for every user, then with none.
//!
//! Run: `cargo bench -p spiritus-cli --bench core` (user count as an argument for a quick run,
//! e.g. `-- 10000`).

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use spiritus_app::config::load_config;
use spiritus_app::keys::PanelKeys;
use spiritus_app::services::core::stats::poll_round;
use spiritus_app::services::users::BulkCreate;
use spiritus_app::{Actor, App, AppParts, EventBus};
use spiritus_audit::keys::AuditSigningKey;
use spiritus_auth::SecretKey;
use spiritus_core::user::{ExpireDays, TrafficLimit, VpnUser};
use spiritus_core::{Clock, SystemClock};
use spiritus_proxy::bench_support::FakeCoreApi;
use spiritus_proxy::grpc::messages::Stat;
use spiritus_proxy::{CoreApi, CoreKind};
use spiritus_server::{NoCore, ServerState, router};
use spiritus_store::{MemoryStore, SqlStore};
use tower::ServiceExt;
use uuid::Uuid;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const DEFAULT_USERS: u32 = 100_000;
/// Requests in flight at once.
const CONCURRENCY: usize = 4;
/// Length of each throughput measurement.
const MEASURE_FOR: Duration = Duration::from_secs(5);

fn main() -> Result<()> {
    let users = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(DEFAULT_USERS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(users))
}

async fn run(users: u32) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench_backend("sqlite", &sqlite, users).await?;

    if std::env::var("SPIRITUS_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty())
        && let Some(database) = spiritus_test_support::TestDatabase::create().await
    {
        bench_backend("postgres", database.url(), users).await?;
    }
    Ok(())
}

async fn bench_backend(backend: &str, url: &str, count: u32) -> Result<()> {
    let app = bench_app(url).await?;
    let started = Instant::now();
    let users = create_users(&app, count).await?;
    let setup_seconds = started.elapsed().as_secs_f64();

    let report = subscription_rps(&app, &users).await?;
    println!(
        "{}",
        json!({ "bench": "subscription", "backend": backend, "users": count,
                "setup_seconds": setup_seconds, "result": report })
    );

    let report = stats_rounds(&app, &users).await?;
    println!(
        "{}",
        json!({ "bench": "stats_round", "backend": backend, "users": count, "result": report })
    );
    app.store().close().await;
    Ok(())
}

async fn bench_app(url: &str) -> Result<App> {
    let mut config = load_config(
        std::path::Path::new("/nonexistent/spiritus.toml"),
        Vec::new(),
    )?;
    config.core.enabled = false;
    config.public_url = Some("https://panel.example.com".into());
    let store = SqlStore::connect(url).await?;
    store.migrate().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = PanelKeys {
        jwt: vec![("bench".into(), SecretKey::generate(32))],
        pepper: SecretKey::generate(32),
        audit: AuditSigningKey::generate(),
        subscription: SecretKey::generate(32),
        totp_encryption: SecretKey::generate(32),
        core_password: SecretKey::generate(32),
    };
    Ok(App::new(AppParts {
        config,
        clock: Arc::clone(&clock),
        store,
        ephemeral: Arc::new(MemoryStore::new(clock)),
        keys,
        events: EventBus::new(),
    })?)
}

async fn create_users(app: &App, count: u32) -> Result<Vec<VpnUser>> {
    let mut users = Vec::with_capacity(count as usize);
    let mut start = 0;
    while start < count {
        let batch = (count - start).min(1000);
        let bulk = BulkCreate {
            prefix: "user".into(),
            count: batch,
            start,
            pad: 6,
            traffic_limit: TrafficLimit::UNLIMITED,
            expire_days: ExpireDays::parse("expire_days", 365)?,
        };
        users.extend(app.bulk_create_users(&Actor::Console, bulk).await?);
        start += batch;
    }
    Ok(users)
}

/// Requests per second of one path family, `CONCURRENCY` callers for `MEASURE_FOR`.
async fn throughput(router: &Router, paths: Arc<Vec<String>>, expected: u16) -> Result<f64> {
    let started = Instant::now();
    let mut callers = Vec::new();
    for caller in 0..CONCURRENCY {
        let (router, paths) = (router.clone(), Arc::clone(&paths));
        callers.push(tokio::spawn(async move {
            let mut done = 0u64;
            let mut index = caller;
            while started.elapsed() < MEASURE_FOR {
                let path = &paths[index % paths.len()];
                index += CONCURRENCY;
                if call(&router, path).await == Some(expected) {
                    done += 1;
                }
            }
            done
        }));
    }
    let mut total = 0;
    for caller in callers {
        total += caller.await?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Sends one GET through the router and reads the whole body; returns the status.
async fn call(router: &Router, path: &str) -> Option<u16> {
    let request = Request::get(path).body(Body::empty()).ok()?;
    let response = router.clone().oneshot(request).await.ok()?;
    let status = response.status().as_u16();
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .ok()?;
    Some(status)
}

async fn median_micros(router: &Router, paths: &[String], expected: u16) -> Result<u128> {
    let mut times = Vec::with_capacity(paths.len());
    for path in paths {
        let started = Instant::now();
        if call(router, path).await != Some(expected) {
            return Err(format!("{path} did not answer {expected}").into());
        }
        times.push(started.elapsed().as_micros());
    }
    times.sort_unstable();
    Ok(times[times.len() / 2])
}

async fn subscription_rps(app: &App, users: &[VpnUser]) -> Result<serde_json::Value> {
    let perimeter = spiritus_server::Perimeter::from_config(app.config())?;
    let router = router(
        ServerState {
            app: app.clone(),
            started_at: Instant::now(),
            core: Arc::new(NoCore {
                reason: "benchmark".into(),
            }),
        },
        perimeter,
    );
    let mut known = Vec::with_capacity(users.len());
    for user in users {
        let url = app.subscription_url(user)?;
        let token = url.rsplit('/').next().unwrap_or_default().to_owned();
        known.push(format!("/sub/{token}"));
    }
    let unknown: Vec<String> = (0..1000)
        .map(|n| format!("/sub/{}", format!("{n:0>43}").replace('0', "Q")))
        .collect();

    let sample: Vec<String> = known
        .iter()
        .step_by(known.len().div_ceil(1000).max(1))
        .cloned()
        .collect();
    let known_median = median_micros(&router, &sample, 200).await?;
    let unknown_median = median_micros(&router, &unknown, 404).await?;
    let subscription = throughput(&router, Arc::new(known), 200).await?;
    let stylesheet = throughput(
        &router,
        Arc::new(vec!["/assets/subscription.css".into()]),
        200,
    )
    .await?;
    Ok(json!({
        "concurrency": CONCURRENCY,
        "seconds": MEASURE_FOR.as_secs(),
        "subscription_rps": subscription.round(),
        "static_handler_rps": stylesheet.round(),
        "known_token_median_micros": known_median,
        "unknown_token_median_micros": unknown_median,
    }))
}

fn counters(users: &[VpnUser], scale: i64) -> Vec<Stat> {
    users
        .iter()
        .enumerate()
        .flat_map(|(n, user)| {
            let key = user.core_key();
            let value = (n as i64 % 1000 + 1) * scale;
            [
                Stat {
                    name: format!("user>>>{key}>>>traffic>>>uplink"),
                    value,
                },
                Stat {
                    name: format!("user>>>{key}>>>traffic>>>downlink"),
                    value: value * 10,
                },
            ]
        })
        .collect()
}

async fn stats_rounds(app: &App, users: &[VpnUser]) -> Result<serde_json::Value> {
    let run = Uuid::new_v4();
    let mut rounds = Vec::new();
    for (label, scale) in [
        ("every_user_new_traffic", 1),
        ("every_user_more_traffic", 2),
        ("no_new_traffic", 2),
    ] {
        let server = FakeCoreApi::start(counters(users, scale)).await?;
        let api = CoreApi::with_address(CoreKind::V2ray, &server.url(), Duration::from_secs(120))?;
        api.sys_stats().await?;
        let started = Instant::now();
        let report = poll_round(app.store(), &api, run, app.now()).await?;
        rounds.push(json!({
            "round": label,
            "users_reported": report.users_reported,
            "users_changed": report.deltas.len(),
            "query_and_parse_ms": report.query_micros / 1000,
            "store_ms": report.store_micros / 1000,
            "total_ms": started.elapsed().as_millis(),
        }));
    }
    Ok(json!(rounds))
}
