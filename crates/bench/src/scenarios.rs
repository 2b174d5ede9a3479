//! Runs the selected scenarios in three phases and turns measurements into results.
//!
//! 1. Without a server: the stats round, the `COUNT(*)` cost and the audit trail work on the
//!    data directory (or a scratch store) in this process.
//! 2. The real release panel as its own process: cold start, idle memory, login, the user list
//!    and subscriptions under load, peak memory.
//! 3. After the panel stopped, servers in this process on the same listener and TLS code: the
//!    trivial handler (the ceiling of both read scenarios), and the user list with every
//!    middleware layer and with none.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use spiritus_app::services::auth::LoginOutcome;
use spiritus_app::{App, RequestContext};
use spiritus_auth::Password;

use crate::dataset::{ADMIN_NAME, ADMIN_PASSWORD, DataSet, open_app, prepare_data_set};
use crate::figures::{ScenarioResult, ratio};
use crate::inproc::{LocalServer, TRIVIAL_PATH, bare_users_router, full_router, trivial_router};
use crate::load::{LoadOutcome, LoadPlan, LoadTarget, drive, percentile_ms};
use crate::offline;
use crate::panel::{Panel, https_client};
use crate::scale::Scale;

/// The user list request of both read scenarios.
pub const USERS_PAGE: &str = "/api/admin/users?limit=100";
/// How long the panel idles after its start before its resident memory is read.
const IDLE_SETTLE: Duration = Duration::from_secs(2);
const KIB_PER_MIB: f64 = 1024.0;

/// One scenario of `spiritus-bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    StatsIngestion,
    UserCount,
    Audit,
    Login,
    UsersList,
    Subscription,
    Footprint,
    Defences,
}

impl Scenario {
    pub const ALL: [Scenario; 8] = [
        Scenario::StatsIngestion,
        Scenario::UserCount,
        Scenario::Audit,
        Scenario::Login,
        Scenario::UsersList,
        Scenario::Subscription,
        Scenario::Footprint,
        Scenario::Defences,
    ];

    /// Returns the scenario's name in the results and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::StatsIngestion => "stats_ingestion",
            Scenario::UserCount => "user_count",
            Scenario::Audit => "audit",
            Scenario::Login => "login",
            Scenario::UsersList => "users_list",
            Scenario::Subscription => "subscription",
            Scenario::Footprint => "footprint",
            Scenario::Defences => "defences",
        }
    }

    fn needs_panel(self) -> bool {
        matches!(
            self,
            Scenario::Login | Scenario::UsersList | Scenario::Subscription | Scenario::Footprint
        )
    }

    fn needs_ceiling(self) -> bool {
        matches!(self, Scenario::UsersList | Scenario::Subscription)
    }
}

/// The output of a run: the results and the data set's facts.
pub struct RunOutput {
    pub results: Vec<ScenarioResult>,
    pub data_set: serde_json::Value,
}

/// Measurements of the panel process (phase 2).
#[derive(Default)]
struct PanelFigures {
    cold_start_seconds: f64,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    login_micros: Vec<u32>,
    argon2_micros: Vec<u32>,
    users_list: Option<LoadOutcome>,
    subscription: Option<LoadOutcome>,
}

pub async fn run(
    selection: &[Scenario],
    scale: &Scale,
    binary: &Path,
) -> anyhow::Result<RunOutput> {
    let wants = |scenario: Scenario| selection.contains(&scenario);
    let mut results = Vec::new();
    let data = prepare_data_set(scale.seed, scale.users).await?;
    eprintln!(
        "spiritus-bench: stored {} users in {:.1} s",
        data.users.len(),
        data.prepare_seconds
    );
    let data_set = json!({
        "root_is_temporary": true,
        "users": data.users.len(),
        "seed": scale.seed,
        "prepare_seconds": data.prepare_seconds,
    });

    let app = open_app(&data.root).await?;
    if wants(Scenario::StatsIngestion) {
        results.push(stats_ingestion(&app, &data, scale).await?);
    }
    if wants(Scenario::UserCount) {
        results.push(user_count(&app, &data).await?);
    }
    if wants(Scenario::Audit) {
        results.push(audit(&app, scale).await?);
    }
    app.store().close().await;

    let panel = if selection.iter().any(|s| s.needs_panel()) {
        Some(measure_panel(selection, scale, binary, &data).await?)
    } else {
        None
    };
    let in_process = selection
        .iter()
        .any(|s| s.needs_ceiling() || *s == Scenario::Defences);
    let local = if in_process {
        Some(measure_in_process(selection, scale, &data).await?)
    } else {
        None
    };

    if let Some(panel) = &panel {
        let ceiling = local.as_ref().map(|local| &local.trivial);
        if wants(Scenario::Login) {
            results.push(login(panel, scale));
        }
        if let Some(outcome) = &panel.users_list {
            results.push(read_result(
                "users_list",
                outcome,
                ceiling,
                scale,
                USERS_PAGE,
            ));
        }
        if let Some(outcome) = &panel.subscription {
            results.push(read_result(
                "subscription",
                outcome,
                ceiling,
                scale,
                "/sub/{token}",
            ));
        }
        if wants(Scenario::Footprint) {
            results.push(footprint(panel, scale));
        }
    }
    if let Some(local) = &local
        && let Some((full, bare)) = &local.defences
    {
        results.push(defences(full, bare, scale));
    }
    Ok(RunOutput { results, data_set })
}

fn plan(scale: &Scale) -> LoadPlan {
    LoadPlan {
        connections: scale.concurrency,
        warmup: scale.warmup,
        duration: scale.load_duration,
    }
}

fn load_parameters(scale: &Scale, path: &str) -> serde_json::Value {
    json!({
        "users_stored": scale.users,
        "request": format!("GET {path}"),
        "connections": scale.concurrency,
        "http": "HTTP/1.1 keep-alive over TLS 1.3 (rustls), loopback",
        "warmup_seconds": scale.warmup.as_secs_f64(),
        "measured_seconds": scale.load_duration.as_secs_f64(),
    })
}

async fn measure_panel(
    selection: &[Scenario],
    scale: &Scale,
    binary: &Path,
    data: &DataSet,
) -> anyhow::Result<PanelFigures> {
    let panel = Panel::start(binary, &data.root).await?;
    let outcome = drive_panel(selection, scale, &panel, data).await;
    let log = panel.log_text();
    panel.stop().await?;
    outcome.with_context(|| format!("measuring the panel failed; its log:\n{log}"))
}

async fn drive_panel(
    selection: &[Scenario],
    scale: &Scale,
    panel: &Panel,
    data: &DataSet,
) -> anyhow::Result<PanelFigures> {
    let mut figures = PanelFigures {
        cold_start_seconds: panel.cold_start_seconds,
        ..PanelFigures::default()
    };
    tokio::time::sleep(IDLE_SETTLE).await;
    figures.idle_rss_kib = panel.memory_kib()?.0;

    let client = https_client(&data.root.join("tls"), scale.concurrency)?;
    let token = http_login(&client, &panel.base_url).await?;
    if selection.contains(&Scenario::Login) {
        (figures.login_micros, figures.argon2_micros) =
            timed_logins(&client, &panel.base_url, scale.logins).await?;
    }
    if selection.contains(&Scenario::UsersList) || selection.contains(&Scenario::Footprint) {
        let target = LoadTarget {
            base_url: panel.base_url.clone(),
            paths: Arc::new(vec![USERS_PAGE.to_owned()]),
            bearer: Some(token),
        };
        figures.users_list = Some(drive(&client, &target, plan(scale)).await);
    }
    if selection.contains(&Scenario::Subscription) {
        let target = LoadTarget {
            base_url: panel.base_url.clone(),
            paths: Arc::new(data.subscription_paths.clone()),
            bearer: None,
        };
        figures.subscription = Some(drive(&client, &target, plan(scale)).await);
    }
    figures.peak_rss_kib = panel.memory_kib()?.1;
    Ok(figures)
}

async fn http_login(client: &reqwest::Client, base_url: &str) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base_url}/api/auth/login"))
        .json(&json!({ "username": ADMIN_NAME, "password": ADMIN_PASSWORD }))
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    body.get("access_token")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("the benchmark login failed with {status}: {body}"))
}

/// Times `count` logins, each followed by one bare hash, so both see the same machine load.
async fn timed_logins(
    client: &reqwest::Client,
    base_url: &str,
    count: usize,
) -> anyhow::Result<(Vec<u32>, Vec<u32>)> {
    let mut logins = Vec::with_capacity(count);
    let mut hashes = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        http_login(client, base_url).await?;
        logins.push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        hashes.extend(tokio::task::spawn_blocking(|| offline::bare_argon2_micros(1)).await??);
    }
    Ok((logins, hashes))
}

/// Phase 3 figures: the trivial ceiling and the defences pair.
struct LocalFigures {
    trivial: LoadOutcome,
    defences: Option<(LoadOutcome, LoadOutcome)>,
}

async fn measure_in_process(
    selection: &[Scenario],
    scale: &Scale,
    data: &DataSet,
) -> anyhow::Result<LocalFigures> {
    let app = open_app(&data.root).await?;
    let tls_dir = data.root.join("tls");
    let client = https_client(&tls_dir, scale.concurrency)?;

    let server = LocalServer::start(trivial_router(), &tls_dir, app.config()).await?;
    let trivial = drive(&client, &target(&server, TRIVIAL_PATH, None), plan(scale)).await;
    server.stop().await;

    let defences = if selection.contains(&Scenario::Defences) {
        let token = app_login(&app).await?;
        let full = LocalServer::start(full_router(&app)?, &tls_dir, app.config()).await?;
        let on = drive(
            &client,
            &target(&full, USERS_PAGE, Some(&token)),
            plan(scale),
        )
        .await;
        full.stop().await;
        let bare = LocalServer::start(bare_users_router(&app), &tls_dir, app.config()).await?;
        let off = drive(
            &client,
            &target(&bare, USERS_PAGE, Some(&token)),
            plan(scale),
        )
        .await;
        bare.stop().await;
        Some((on, off))
    } else {
        None
    };
    app.store().close().await;
    Ok(LocalFigures { trivial, defences })
}

fn target(server: &LocalServer, path: &str, bearer: Option<&str>) -> LoadTarget {
    LoadTarget {
        base_url: server.base_url.clone(),
        paths: Arc::new(vec![path.to_owned()]),
        bearer: bearer.map(str::to_owned),
    }
}

async fn app_login(app: &App) -> anyhow::Result<String> {
    let outcome = app
        .login(
            ADMIN_NAME,
            Password::new(ADMIN_PASSWORD.into()),
            &RequestContext::local(),
        )
        .await?;
    match outcome {
        LoginOutcome::Tokens(pair) => Ok(pair.access_token),
        LoginOutcome::SecondFactor(_) => {
            anyhow::bail!("the benchmark account unexpectedly needs a second factor")
        }
    }
}

async fn stats_ingestion(
    app: &App,
    data: &DataSet,
    scale: &Scale,
) -> anyhow::Result<ScenarioResult> {
    let rounds = offline::stats_rounds(app, &data.users).await?;
    let mut result = ScenarioResult::new(
        "stats_ingestion",
        "one stats round as the poller runs it: QueryStats over gRPC from a stand-in \
         StatsService on loopback, parsing, and apply_core_counters into SQLite",
        json!({ "users": scale.users, "rounds": rounds }),
    );
    for round in &rounds {
        result.figure(&format!("{} total", round.round), round.total_ms, "ms");
        result.figure(&format!("{} store", round.round), round.store_ms, "ms");
    }
    let worst = rounds
        .iter()
        .map(|round| round.total_ms)
        .fold(0.0, f64::max);
    result.at_most(
        &format!("slowest round for {} users under 1 s", scale.users),
        worst / 1000.0,
        1.0,
    );
    Ok(result)
}

async fn user_count(app: &App, data: &DataSet) -> anyhow::Result<ScenarioResult> {
    let cost = offline::count_cost(&data.root, app).await?;
    let mut result = ScenarioResult::new(
        "user_count",
        "the user list's SELECT COUNT(*) over every stored user beside the whole first \
         page (count, page query, decoding) through the store, median of 21",
        json!({ "users": cost.users_counted }),
    );
    result.figure("COUNT(*) median", cost.count_ms, "ms");
    result.figure("first page of 100 median", cost.page_of_100_ms, "ms");
    result.figure(
        "COUNT(*) share of the page",
        ratio(cost.count_ms, cost.page_of_100_ms),
        "ratio",
    );
    Ok(result)
}

async fn audit(app: &App, scale: &Scale) -> anyhow::Result<ScenarioResult> {
    let figures = offline::audit(
        scale.audit_append_entries,
        scale.audit_verify_entries,
        app.now(),
    )
    .await?;
    let verify = &figures.verify;
    let mut result = ScenarioResult::new(
        "audit",
        "audit appends through the store (one SQLite transaction each), and a full \
         verification of a synthetic log beside raw SHA-256 over the same canonical bytes",
        json!({
            "appended_entries": figures.appended,
            "verified_entries": verify.entries,
            "canonical_bytes": verify.canonical_bytes,
        }),
    )
    .with_ceiling("raw SHA-256 over the same canonical bytes, one digest per entry, one core");
    result.figure("appends", figures.appends_per_second, "entries/s");
    result.figure("verify", verify.verify_entries_per_second, "entries/s");
    result.figure("verify", verify.verify_mib_per_second, "MiB/s");
    result.figure("raw SHA-256", verify.sha256_mib_per_second, "MiB/s");
    result.figure(
        "verify / raw SHA-256",
        verify.verify_to_sha256_ratio,
        "ratio",
    );
    result.at_least(
        "verification at least 70% of raw SHA-256 throughput",
        verify.verify_to_sha256_ratio,
        0.7,
    );
    Ok(result)
}

fn login(panel: &PanelFigures, scale: &Scale) -> ScenarioResult {
    let mut login = panel.login_micros.clone();
    let mut hash = panel.argon2_micros.clone();
    login.sort_unstable();
    hash.sort_unstable();
    let mut result = ScenarioResult::new(
        "login",
        "POST /api/auth/login with the right password, one at a time, over HTTPS",
        json!({ "logins": scale.logins, "argon2": offline::argon2_parameters() }),
    )
    .with_ceiling("one bare Argon2id hash with the same parameters in the benchmark process");
    let median = percentile_ms(&login, 0.5);
    let hash_median = percentile_ms(&hash, 0.5);
    result.figure("login median", median, "ms");
    result.figure("login p99", percentile_ms(&login, 0.99), "ms");
    result.figure("bare hash median", hash_median, "ms");
    result.figure("bare hash p99", percentile_ms(&hash, 0.99), "ms");
    result.figure(
        "login / bare hash (median)",
        ratio(median, hash_median),
        "ratio",
    );
    result.at_most(
        "login median within 1.1x of the bare hash",
        ratio(median, hash_median),
        1.1,
    );
    result
}

fn read_result(
    name: &str,
    outcome: &LoadOutcome,
    ceiling: Option<&LoadOutcome>,
    scale: &Scale,
    path: &str,
) -> ScenarioResult {
    let mut result = ScenarioResult::new(
        name,
        &format!("GET {path} on the real panel under load, every middleware on"),
        load_parameters(scale, path),
    )
    .with_ceiling("a trivial handler behind the same listener and TLS code, in the bench process");
    result.figure("requests", outcome.requests_per_second, "req/s");
    result.figure("p50", outcome.p50_ms, "ms");
    result.figure("p99", outcome.p99_ms, "ms");
    result.figure("failed requests", outcome.failures as f64, "count");
    result.at_most(
        &format!("p99 under 10 ms with {} users", scale.users),
        outcome.p99_ms,
        10.0,
    );
    if let Some(ceiling) = ceiling {
        let share = ratio(outcome.requests_per_second, ceiling.requests_per_second);
        result.figure("ceiling requests", ceiling.requests_per_second, "req/s");
        result.figure("ceiling p99", ceiling.p99_ms, "ms");
        result.figure("share of the ceiling", share, "ratio");
        result.at_least("at least half of the trivial-handler ceiling", share, 0.5);
    }
    result
}

fn footprint(panel: &PanelFigures, scale: &Scale) -> ScenarioResult {
    let idle_mib = panel.idle_rss_kib as f64 / KIB_PER_MIB;
    let mut result = ScenarioResult::new(
        "footprint",
        "the panel's resident memory (VmRSS) idle after its start, its peak (VmHWM) after \
         the read loads, and the time from spawning it to its first answered GET /healthz",
        json!({ "users_stored": scale.users, "idle_settle_seconds": IDLE_SETTLE.as_secs() }),
    );
    result.figure(
        "cold start to first answer",
        panel.cold_start_seconds * 1000.0,
        "ms",
    );
    result.figure("idle resident memory", idle_mib, "MiB");
    result.figure(
        "peak resident memory",
        panel.peak_rss_kib as f64 / KIB_PER_MIB,
        "MiB",
    );
    result.at_most(
        &format!(
            "idle resident memory under 60 MiB with {} users",
            scale.users
        ),
        idle_mib,
        60.0,
    );
    result
}

fn defences(on: &LoadOutcome, off: &LoadOutcome, scale: &Scale) -> ScenarioResult {
    let mut result = ScenarioResult::new(
        "defences",
        "the authenticated user list in the bench process through the panel's whole router \
         (security headers, error normalisation, time limit, CORS, perimeter, rate limiter \
         switched off by the bench configuration, body limit) beside the same handler alone",
        load_parameters(scale, USERS_PAGE),
    )
    .with_ceiling("the same handler with no middleware, same listener and TLS");
    result.figure("every middleware", on.requests_per_second, "req/s");
    result.figure("every middleware p99", on.p99_ms, "ms");
    result.figure("bare handler", off.requests_per_second, "req/s");
    result.figure("bare handler p99", off.p99_ms, "ms");
    result.figure(
        "defences on / off",
        ratio(on.requests_per_second, off.requests_per_second),
        "ratio",
    );
    result.figure(
        "failed requests",
        (on.failures + off.failures) as f64,
        "count",
    );
    result
}
