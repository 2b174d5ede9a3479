//! The Prometheus endpoint: its own loopback listener, optional bearer token, and output that
//! `promtool check metrics` accepts after traffic that moves every reachable counter.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use spiritus_test_support::{ServerOptions, TestServer};
use tokio::io::AsyncWriteExt;

use crate::{BINARY, OWNER_PASSWORD};

/// Runs `spiritus ARGS --data-dir DIR` with `stdin`; returns (success, stdout, stderr).
pub async fn run_cli(data_dir: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = tokio::process::Command::new(BINARY)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the command finished")
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Creates a panel account from the console.
pub async fn create_account(data_dir: &Path, name: &str, role: &str, password: &str) {
    let (ok, stdout, stderr) = run_cli(
        data_dir,
        &["admin", "create", name, "--role", role, "--password-stdin"],
        &format!("{password}\n"),
    )
    .await;
    assert!(ok, "admin create failed: {stdout}\n{stderr}");
}

/// The metrics URL the server printed at start.
pub fn metrics_url(server: &TestServer) -> String {
    server
        .stdout
        .iter()
        .find_map(|line| line.strip_prefix("Metrics are served on "))
        .expect("the server printed its metrics address")
        .trim()
        .to_owned()
}

pub async fn scrape(url: &str, token: Option<&str>) -> (u16, String) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Scrapes until every `needle` appears in the output (events are counted asynchronously).
pub async fn scrape_until(url: &str, needles: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, text) = scrape(url, None).await;
        assert_eq!(status, 200, "{text}");
        if needles.iter().all(|needle| text.contains(needle)) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing one of {needles:?} in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn with_metrics() -> ServerOptions {
    ServerOptions {
        env: vec![("SPIRITUS_METRICS__LISTEN".into(), "127.0.0.1:0".into())],
        config: None,
        ..Default::default()
    }
}

fn promtool_check(text: &str) {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test installs Debian's prometheus package)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool rejected the metrics:\n{}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn metrics_pass_promtool_after_traffic_that_moves_every_counter() {
    let server = TestServer::start_with(BINARY, with_metrics()).await;
    let url = metrics_url(&server);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let owner = server.owner_token(OWNER_PASSWORD).await;
    create_account(server.data_dir(), "agent7", "agent", "agent password 7").await;
    let agent = server.login("agent7", "agent password 7").await;

    // A failed login whose typed password must never reach a label.
    let typed = "typed-secret-password-1";
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "admin", "password": typed})),
        )
        .await;
    assert_eq!(status, 401);
    // An access-control violation: agents may not run incident commands.
    let (status, _) = server
        .call(
            Method::GET,
            "/api/admin/incident/ip-blocks",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, 403);
    // Admin actions, and a path holding something that looks like a token.
    let (status, _) = server
        .call(
            Method::POST,
            "/api/admin/users",
            Some(&owner),
            Some(json!({"name": "metricuser", "traffic_limit_gb": 1, "expire_days": 3})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .call(
            Method::GET,
            "/api/admin/users/metricuser",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(Method::GET, "/no/such/route/at/all", None, None)
        .await;
    assert_eq!(status, 404);

    let text = scrape_until(
        &url,
        &[
            "spiritus_failed_logins_total{reason=\"wrong_password\"} 1",
            "spiritus_unauthorized_access_total{reason=\"role\"} 1",
            "spiritus_admin_actions_total{action=\"user.create\"} 1",
            "spiritus_security_events_total{kind=\"login_succeeded\"}",
            "route=\"/api/admin/users/{name}\"",
            "route=\"unmatched\"",
            "spiritus_http_request_duration_seconds_bucket",
            "spiritus_honey_token_triggered_total 0",
            "spiritus_password_hashes_total",
            "spiritus_users{status=\"active\"}",
        ],
    )
    .await;
    promtool_check(&text);
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        assert!(
            !line.contains("metricuser"),
            "a user name became a label: {line}"
        );
        assert!(
            !line.contains("tokenlike"),
            "a raw path became a label: {line}"
        );
        assert!(
            !line.contains(typed),
            "a typed password reached the metrics: {line}"
        );
        assert!(
            !line.contains("127.0.0.1"),
            "an address became a label: {line}"
        );
    }
    for line in text.lines().filter(|line| line.starts_with("# TYPE")) {
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no HELP text"
        );
    }

    // The API port never serves the metrics.
    let (status, _) = server.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn metrics_need_the_bearer_token_when_one_is_set() {
    let token = "scrape-token-0123456789";
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            env: vec![
                ("SPIRITUS_METRICS__LISTEN".into(), "127.0.0.1:0".into()),
                (
                    "SPIRITUS_METRICS__BEARER_TOKEN".into(),
                    "env:MONITORING_TEST_SCRAPE_TOKEN".into(),
                ),
                ("MONITORING_TEST_SCRAPE_TOKEN".into(), token.into()),
            ],
            config: None,
            ..Default::default()
        },
    )
    .await;
    let url = metrics_url(&server);
    assert_eq!(scrape(&url, None).await.0, 401);
    assert_eq!(scrape(&url, Some("scrape-token-012345678")).await.0, 401);
    assert_eq!(scrape(&url, Some("scrape-token-0123456789x")).await.0, 401);
    let (status, text) = scrape(&url, Some(token)).await;
    assert_eq!(status, 200);
    assert!(text.contains("spiritus_honey_token_triggered_total"));
    assert!(!server.log_text().contains(token), "the token was logged");
}

/// Starts `spiritus serve` expecting it to fail; returns its standard error.
async fn failed_start(env: &[(&str, String)]) -> String {
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(BINARY);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env_remove("RUST_LOG")
        .env("SPIRITUS_CORE__ENABLED", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("serve exits")
        .unwrap();
    assert!(
        !output.status.success(),
        "serve started although it should not"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn metrics_port_in_use_stops_start_up_and_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let stderr = failed_start(&[("SPIRITUS_METRICS__LISTEN", address.clone())]).await;
    assert!(stderr.contains(&address), "{stderr}");
    assert!(stderr.contains("metrics.listen"), "{stderr}");
}

#[tokio::test]
async fn public_metrics_address_without_token_is_refused() {
    let stderr = failed_start(&[("SPIRITUS_METRICS__LISTEN", "0.0.0.0:0".into())]).await;
    assert!(stderr.contains("bearer_token"), "{stderr}");
}
