//! Benchmark of the production backends beside the embedded ones: the cost of a revocation
//! check and of a rate-limit check in process and on Redis, and user-list queries per second
//! on SQLite and on PostgreSQL with 100,000 users.
//!
//! Run: `scripts/test`'s services must be up, then
//! `SPIRITUS_TEST_POSTGRES_URL=… SPIRITUS_TEST_REDIS_URL=… cargo bench -p spiritus-store --bench backends`.
//! A bare number argument (or `SPIRITUS_BENCH_USERS`) changes the user count for a quick run.
//! Prints one JSON object; a backend whose URL is unset is reported as skipped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use spiritus_audit::entry::AuditDraft;
use spiritus_auth::OpaqueToken;
use spiritus_core::user::{Note, TrafficLimit, UserName};
use spiritus_core::{Clock, SystemClock};
use spiritus_store::{
    EphemeralStore, MemoryStore, NewVpnUser, RedisSettings, RedisStore, SqlStore, UserListQuery,
};
use spiritus_test_support::{TestDatabase, TestRedisPrefix};
use uuid::Uuid;

const DEFAULT_USERS: u64 = 100_000;
const SEED_BATCH: u64 = 1_000;
const EPHEMERAL_CALLS: u32 = 20_000;
const CONCURRENT_TASKS: usize = 32;
const LIST_CALLS: u32 = 300;
const LIST_PAGE: u32 = 50;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() {
    match run().await {
        Ok(report) => match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("cannot print the benchmark result: {error}"),
        },
        Err(error) => {
            eprintln!("benchmark failed: {error}");
            std::process::exit(1);
        }
    }
}

async fn run() -> BenchResult<Value> {
    let users = user_count();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let memory: Arc<dyn EphemeralStore> = Arc::new(MemoryStore::new(Arc::clone(&clock)));
    let mut ephemeral = json!({ "memory": ephemeral_costs(&memory, &clock).await? });
    ephemeral["redis"] = match TestRedisPrefix::create() {
        Some(prefix) => {
            let settings = RedisSettings::new(prefix.url()).with_key_prefix(prefix.prefix());
            let redis = RedisStore::connect(settings).await?;
            let shared: Arc<dyn EphemeralStore> = Arc::new(redis.clone());
            let costs = ephemeral_costs(&shared, &clock).await?;
            redis.purge().await?;
            costs
        }
        None => json!("skipped: SPIRITUS_TEST_REDIS_URL is not set"),
    };

    let dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let mut user_list = json!({ "sqlite": user_list_rate(&sqlite_url, users, &clock).await? });
    user_list["postgres"] = match TestDatabase::create().await {
        Some(database) => user_list_rate(database.url(), users, &clock).await?,
        None => json!("skipped: SPIRITUS_TEST_POSTGRES_URL is not set"),
    };
    Ok(json!({
        "ephemeral_checks": ephemeral,
        "user_list": user_list,
        "users": users,
        "machine_cores": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
    }))
}

fn user_count() -> u64 {
    let from_args = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<u64>().ok());
    let from_env = std::env::var("SPIRITUS_BENCH_USERS")
        .ok()
        .and_then(|text| text.parse().ok());
    from_args.or(from_env).unwrap_or(DEFAULT_USERS)
}

/// Sequential latency and concurrent throughput of the two checks every request makes.
async fn ephemeral_costs(
    store: &Arc<dyn EphemeralStore>,
    clock: &Arc<dyn Clock>,
) -> BenchResult<Value> {
    store.mark_revocations_restored().await?;
    for i in 0..1_000 {
        store
            .revoke(&format!("jti:{i}"), Duration::from_secs(600))
            .await?;
    }
    let revocation = measure(store, EPHEMERAL_CALLS, |store, i| async move {
        let ids = [format!("jti:{}", i % 2_000), format!("sid:{i}")];
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        store.revocation_status(&ids).await.map(|_| ())
    })
    .await?;
    let clock = Arc::clone(clock);
    let rate_limit = measure(store, EPHEMERAL_CALLS, move |store, i| {
        let now = clock.now();
        async move {
            let key = format!("ip:10.0.{}.{}", (i / 256) % 256, i % 256);
            store
                .hit_window(&key, Duration::from_secs(60), 100, now)
                .await
                .map(|_| ())
        }
    })
    .await?;
    Ok(json!({ "revocation_check": revocation, "rate_limit_check": rate_limit }))
}

/// Runs `call` `calls` times one after another, then again from several tasks at once.
async fn measure<F, Fut>(store: &Arc<dyn EphemeralStore>, calls: u32, call: F) -> BenchResult<Value>
where
    F: Fn(Arc<dyn EphemeralStore>, u32) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), spiritus_store::StoreError>> + Send,
{
    let started = Instant::now();
    for i in 0..calls {
        call(Arc::clone(store), i).await?;
    }
    let sequential = started.elapsed();

    let started = Instant::now();
    let per_task = calls / CONCURRENT_TASKS as u32;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..CONCURRENT_TASKS as u32 {
        let store = Arc::clone(store);
        let call = call.clone();
        tasks.spawn(async move {
            for i in 0..per_task {
                call(Arc::clone(&store), task * per_task + i).await?;
            }
            Ok::<(), spiritus_store::StoreError>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    let concurrent = started.elapsed();
    Ok(json!({
        "calls": calls,
        "sequential_us_per_call": micros_per(sequential, calls),
        "concurrent_tasks": CONCURRENT_TASKS,
        "concurrent_calls_per_second": per_second(concurrent, per_task * CONCURRENT_TASKS as u32),
    }))
}

/// Seeds `users` users and measures first-page list queries (the count included) per second.
async fn user_list_rate(url: &str, users: u64, clock: &Arc<dyn Clock>) -> BenchResult<Value> {
    let store = SqlStore::connect(url).await?;
    store.migrate().await?;
    let started = Instant::now();
    seed(&store, users, clock.now()).await?;
    let seed_time = started.elapsed();

    let query = UserListQuery {
        limit: LIST_PAGE,
        ..UserListQuery::default()
    };
    let started = Instant::now();
    for _ in 0..LIST_CALLS {
        store.list_users(&query, clock.now()).await?;
    }
    let sequential = started.elapsed();

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let tasks_count = 8u32;
    for _ in 0..tasks_count {
        let store = store.clone();
        let query = query.clone();
        let clock = Arc::clone(clock);
        tasks.spawn(async move {
            for _ in 0..LIST_CALLS / tasks_count {
                store.list_users(&query, clock.now()).await?;
            }
            Ok::<(), spiritus_store::StoreError>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    let concurrent = started.elapsed();
    store.close().await;
    Ok(json!({
        "backend": store.backend().as_str(),
        "seed_seconds": seed_time.as_secs_f64(),
        "page_size": LIST_PAGE,
        "sequential_requests_per_second": per_second(sequential, LIST_CALLS),
        "concurrent_tasks": tasks_count,
        "concurrent_requests_per_second": per_second(concurrent, LIST_CALLS / tasks_count * tasks_count),
    }))
}

/// Creates users in batches of one transaction each, straight through the store.
async fn seed(store: &SqlStore, users: u64, now: DateTime<Utc>) -> BenchResult<()> {
    let mut next = 0;
    while next < users {
        let batch_end = (next + SEED_BATCH).min(users);
        let batch = (next..batch_end)
            .map(|i| new_user(i, now))
            .collect::<BenchResult<Vec<_>>>()?;
        let audit = AuditDraft::new(now, "bench", "owner", "user.bulk_create", "user");
        store.create_users(batch, now, audit).await?;
        next = batch_end;
    }
    Ok(())
}

fn new_user(i: u64, now: DateTime<Utc>) -> BenchResult<NewVpnUser> {
    Ok(NewVpnUser {
        id: Uuid::new_v4(),
        name: UserName::parse("name", &format!("user-{i:07}"))?,
        owner_id: None,
        traffic_limit: TrafficLimit::from_gb("traffic_limit_gb", (i % 100) as f64)?,
        expire_at: now + chrono::Duration::days((i % 365) as i64 + 1),
        note: Note::parse("note", "")?,
        subscription_hash: OpaqueToken::generate("s").hash(),
        proxy_uuid: Uuid::new_v4(),
    })
}

fn micros_per(elapsed: Duration, calls: u32) -> f64 {
    elapsed.as_secs_f64() * 1e6 / f64::from(calls.max(1))
}

fn per_second(elapsed: Duration, calls: u32) -> f64 {
    f64::from(calls) / elapsed.as_secs_f64().max(1e-9)
}
