//! Requests per second for one authenticated read (`GET /api/admin/system` with a bearer
//! token) through the whole middleware stack, beside the same handler with no middleware.
//!
//! Run: `cargo bench -p spiritus-server --bench perimeter` (20,000 requests per round), or pass
//! the count as an argument. Prints one JSON object. Requests go through the router in
//! process, with no socket and no TLS, so the difference between the two figures is the
//! middleware's cost: security headers, error normalisation, request time limit, CORS, the
//! perimeter (allowlist, client address, geo lookup, path checks) and the body limit.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use serde_json::json;
use spiritus_app::config::{Config, load_config};
use spiritus_app::keys::PanelKeys;
use spiritus_app::{Actor, App, AppParts, EventBus, RequestContext};
use spiritus_auth::{Password, SecretKey};
use spiritus_core::account::Role;
use spiritus_core::{Clock, SystemClock};
use spiritus_server::extract::ConnectionInfo;
use spiritus_server::routes::system;
use spiritus_server::{NoCore, Perimeter, ServerState, router};
use spiritus_store::{EphemeralStore, MemoryStore, SqlStore};
use tower::ServiceExt;

const DEFAULT_REQUESTS: u32 = 20_000;
const ROUNDS: usize = 3;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BenchResult<()> {
    let requests = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<u32>().ok())
        .unwrap_or(DEFAULT_REQUESTS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(requests))?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}

async fn run(requests: u32) -> BenchResult<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let config = bench_config(dir.path())?;
    let app = open_app(dir.path(), config.clone()).await?;
    let token = admin_token(&app).await?;
    let state = ServerState {
        app,
        started_at: Instant::now(),
        core: Arc::new(NoCore {
            reason: "benchmark".into(),
        }),
    };
    let full = router(state.clone(), Perimeter::from_config(&config)?);
    let bare = Router::new()
        .route("/api/admin/system", get(system::system))
        .with_state(state);

    measure(&full, &token, 500).await?;
    measure(&bare, &token, 500).await?;
    let mut full_rates = Vec::new();
    let mut bare_rates = Vec::new();
    for _ in 0..ROUNDS {
        bare_rates.push(rate(requests, measure(&bare, &token, requests).await?));
        full_rates.push(rate(requests, measure(&full, &token, requests).await?));
    }
    let full_rps = median(&mut full_rates);
    let bare_rps = median(&mut bare_rates);
    Ok(json!({
        "benchmark": "authenticated GET /api/admin/system, in process, sequential",
        "requests_per_round": requests,
        "rounds": ROUNDS,
        "full_stack_rps": full_rps.round(),
        "bare_handler_rps": bare_rps.round(),
        "middleware_cost_microseconds": ((1.0 / full_rps - 1.0 / bare_rps) * 1e6 * 100.0).round() / 100.0,
        "full_stack_relative": ((full_rps / bare_rps) * 1000.0).round() / 1000.0,
    }))
}

/// A configuration with every perimeter check switched on and passing for the caller.
fn bench_config(dir: &Path) -> BenchResult<Config> {
    let geo =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/geoip/GeoIP2-Country-Test.mmdb");
    let text = format!(
        "admin_allowlist = [\"127.0.0.1/32\", \"::1\"]\n\
         trusted_proxies = [\"10.0.0.0/8\"]\n\
         [cors]\nallowed_origins = [\"https://panel.example.com\"]\n\
         [geo]\ndatabase = {:?}\nblocked_countries = [\"IR\"]\n",
        geo.display().to_string()
    );
    let path = dir.join("spiritus.toml");
    std::fs::write(&path, text)?;
    Ok(load_config(&path, Vec::new())?)
}

async fn open_app(dir: &Path, config: Config) -> BenchResult<App> {
    let store = SqlStore::connect(&format!("sqlite://{}", dir.join("bench.db").display())).await?;
    store.migrate().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ephemeral: Arc<dyn EphemeralStore> = Arc::new(MemoryStore::new(Arc::clone(&clock)));
    let keys = PanelKeys {
        jwt: vec![("bench".into(), SecretKey::generate(32))],
        pepper: SecretKey::generate(32),
        audit: spiritus_audit::keys::AuditSigningKey::generate(),
        subscription: SecretKey::generate(32),
        totp_encryption: SecretKey::generate(32),
        core_password: SecretKey::generate(32),
    };
    Ok(App::new(AppParts {
        config,
        clock,
        store,
        ephemeral,
        keys,
        events: EventBus::new(),
    })?)
}

async fn admin_token(app: &App) -> BenchResult<String> {
    let password = "bench password that is long enough";
    app.create_account(
        &Actor::Console,
        "bencher",
        Role::Admin,
        Password::new(password.into()),
        false,
    )
    .await?;
    let outcome = app
        .login(
            "bencher",
            Password::new(password.into()),
            &RequestContext::local(),
        )
        .await?;
    match outcome {
        spiritus_app::services::auth::LoginOutcome::Tokens(pair) => Ok(pair.access_token),
        spiritus_app::services::auth::LoginOutcome::SecondFactor(_) => {
            Err("the bench account unexpectedly needs a second factor".into())
        }
    }
}

/// Sends `count` requests one after another and returns the time they took.
async fn measure(router: &Router, token: &str, count: u32) -> BenchResult<Duration> {
    let connection = ConnectionInfo {
        peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        client_certificate: None,
    };
    let started = Instant::now();
    for _ in 0..count {
        let mut request = Request::builder()
            .uri("/api/admin/system")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::ORIGIN, "https://panel.example.com")
            .body(Body::empty())?;
        request.extensions_mut().insert(connection.clone());
        let response = router.clone().oneshot(request).await?;
        if response.status() != StatusCode::OK {
            return Err(format!("the benchmark request failed with {}", response.status()).into());
        }
    }
    Ok(started.elapsed())
}

fn rate(count: u32, elapsed: Duration) -> f64 {
    f64::from(count) / elapsed.as_secs_f64().max(f64::EPSILON)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}
