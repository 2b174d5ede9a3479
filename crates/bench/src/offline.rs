//! Measurements that need no HTTP server: the stats round, the cost of the user list's
//! `COUNT(*)`, the audit trail, and the bare Argon2id hash that is the login's ceiling.

use std::path::Path;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use serde::Serialize;
use serde_json::json;
use spiritus_app::App;
use spiritus_app::services::core::stats::poll_round;
use spiritus_audit::AuditDraft;
use spiritus_audit::bench_support::{VerifyBenchResult, run_verify_bench};
use spiritus_auth::password::{ITERATIONS, MEMORY_KIB, OUTPUT_LEN, PARALLELISM, SALT_LEN};
use spiritus_core::user::VpnUser;
use spiritus_proxy::bench_support::FakeCoreApi;
use spiritus_proxy::grpc::messages::Stat;
use spiritus_proxy::{CoreApi, CoreKind};
use spiritus_store::{SqlStore, UserListQuery};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use uuid::Uuid;

/// Repetitions of a quick query whose median is reported.
const QUERY_SAMPLES: usize = 21;

/// One stats round as the poller runs it.
#[derive(Debug, Clone, Serialize)]
pub struct StatsRound {
    pub round: &'static str,
    pub users_reported: usize,
    pub users_changed: usize,
    pub query_and_parse_ms: f64,
    pub store_ms: f64,
    pub total_ms: f64,
}

/// Uplink and downlink counters of every user, `scale` times a per-user amount.
fn counters(users: &[VpnUser], scale: i64) -> Vec<Stat> {
    users
        .iter()
        .enumerate()
        .flat_map(|(n, user)| {
            let key = user.core_key();
            let value = (n as i64 % 1000 + 1) * 1_000_000 * scale;
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

/// Three rounds of one core run through `poll_round` (QueryStats over gRPC from a stand-in
/// StatsService on loopback, parsing, `apply_core_counters`): every user with new traffic,
/// every user with more traffic, and no new traffic.
pub async fn stats_rounds(app: &App, users: &[VpnUser]) -> anyhow::Result<Vec<StatsRound>> {
    let run = Uuid::from_u128(0x5b1e_5b1e);
    let mut rounds = Vec::new();
    for (round, scale) in [
        ("first_round_every_user_new", 1),
        ("next_round_every_user_more", 2),
        ("no_new_traffic", 2),
    ] {
        let server = FakeCoreApi::start(counters(users, scale)).await?;
        let api = CoreApi::with_address(CoreKind::V2ray, &server.url(), Duration::from_secs(120))?;
        api.sys_stats().await?;
        let started = Instant::now();
        let report = poll_round(app.store(), &api, run, app.now()).await?;
        rounds.push(StatsRound {
            round,
            users_reported: report.users_reported,
            users_changed: report.deltas.len(),
            query_and_parse_ms: report.query_micros as f64 / 1000.0,
            store_ms: report.store_micros as f64 / 1000.0,
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
        });
    }
    Ok(rounds)
}

/// Median milliseconds of the user list's `COUNT(*)` alone and of one whole first page.
#[derive(Debug, Clone, Serialize)]
pub struct CountCost {
    pub count_ms: f64,
    pub page_of_100_ms: f64,
    pub users_counted: i64,
}

pub async fn count_cost(root: &Path, app: &App) -> anyhow::Result<CountCost> {
    let options = SqliteConnectOptions::new()
        .filename(root.join("spiritus.db"))
        .read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let mut count_times = Vec::with_capacity(QUERY_SAMPLES);
    let mut users_counted = 0;
    for _ in 0..QUERY_SAMPLES {
        let started = Instant::now();
        users_counted = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM vpn_users")
            .fetch_one(&pool)
            .await?;
        count_times.push(started.elapsed());
    }
    pool.close().await;

    let mut page_times = Vec::with_capacity(QUERY_SAMPLES);
    for _ in 0..QUERY_SAMPLES {
        let query = UserListQuery {
            limit: 100,
            ..UserListQuery::default()
        };
        let started = Instant::now();
        app.store().list_users(&query, app.now()).await?;
        page_times.push(started.elapsed());
    }
    Ok(CountCost {
        count_ms: median_ms(&mut count_times),
        page_of_100_ms: median_ms(&mut page_times),
        users_counted,
    })
}

fn median_ms(times: &mut [Duration]) -> f64 {
    times.sort_unstable();
    times
        .get(times.len() / 2)
        .map_or(0.0, |time| time.as_secs_f64() * 1000.0)
}

/// Audit appends through the store (one transaction each, as the panel writes them) and a
/// full verification beside raw SHA-256.
#[derive(Debug, Clone, Serialize)]
pub struct AuditFigures {
    pub appended: u64,
    pub append_seconds: f64,
    pub appends_per_second: f64,
    pub verify: VerifyBenchResult,
}

fn audit_draft(index: u64, time: chrono::DateTime<chrono::Utc>) -> AuditDraft {
    let mut draft = AuditDraft::new(
        time,
        format!("acc-{}", index % 50),
        "admin",
        "user.update",
        "user",
    );
    draft.ip = Some(format!("203.0.113.{}", index % 250));
    draft.resource_id = Some(format!("user-{index}"));
    draft.before = Some(json!({"traffic_limit_gb": 50, "expire_days": 30}));
    draft.after = Some(json!({"traffic_limit_gb": 100, "expire_days": 60}));
    draft
}

pub async fn audit(
    append: u64,
    verify: u64,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<AuditFigures> {
    let dir = tempfile::Builder::new()
        .prefix("spiritus-bench-audit")
        .tempdir()?;
    let store = SqlStore::connect(&format!(
        "sqlite://{}",
        dir.path().join("audit.db").display()
    ))
    .await?;
    store.migrate().await?;
    let started = Instant::now();
    for index in 0..append {
        let time = now + chrono::Duration::milliseconds(i64::try_from(index).unwrap_or(0));
        store.record_audit(audit_draft(index, time), time).await?;
    }
    let append_seconds = started.elapsed().as_secs_f64();
    store.close().await;

    let verify = tokio::task::spawn_blocking(move || run_verify_bench(verify)).await?;
    if !verify.valid {
        anyhow::bail!("the synthetic audit log did not verify; its figures would mean nothing");
    }
    Ok(AuditFigures {
        appended: append,
        append_seconds,
        appends_per_second: append as f64 / append_seconds.max(f64::MIN_POSITIVE),
        verify,
    })
}

/// Returns the login's hashing parameters, as the panel hashes passwords.
pub fn argon2_parameters() -> serde_json::Value {
    json!({
        "algorithm": "argon2id",
        "version": "0x13",
        "memory_kib": MEMORY_KIB,
        "iterations": ITERATIONS,
        "parallelism": PARALLELISM,
        "output_bytes": OUTPUT_LEN,
        "secret_bytes": 32,
    })
}

/// Microseconds of `samples` bare Argon2id hashes with the panel's parameters and a 32-byte
/// secret (the panel's pepper is one), on this thread.
pub fn bare_argon2_micros(samples: usize) -> anyhow::Result<Vec<u32>> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_LEN))
        .map_err(|error| anyhow::anyhow!("argon2 parameters: {error}"))?;
    let secret = [7u8; 32];
    let hasher = Argon2::new_with_secret(&secret, Algorithm::Argon2id, Version::V0x13, params)
        .map_err(|error| anyhow::anyhow!("argon2: {error}"))?;
    let mut output = [0u8; OUTPUT_LEN];
    let mut times = Vec::with_capacity(samples);
    for sample in 0..samples {
        let salt = [u8::try_from(sample % 256).unwrap_or(0); SALT_LEN];
        let started = Instant::now();
        hasher
            .hash_password_into(b"a long benchmark passphrase", &salt, &mut output)
            .map_err(|error| anyhow::anyhow!("argon2: {error}"))?;
        times.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    Ok(times)
}
