//! Request and login rate limits on the real binary. The tests check the exact number
//! allowed, a 429 with `Retry-After` and the `RateLimit-Policy`/`RateLimit` headers, one audit
//! entry per window and the release once the window has slid. An address that trips the login
//! limit gets 403 on every route until its block runs out.
//!
//! Clients other than the owner are told apart by `X-Forwarded-For` from the trusted
//! loopback proxy, so the owner's own calls never share the attacker's counters.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use spiritus_test_support::server::{ServerOptions, TestServer};

use crate::{BINARY, OWNER_PASSWORD};

/// Starts a server with the default limits except `overrides` (`RATE_LIMITS__` variable
/// suffixes).
async fn server_with_limits(overrides: &[(&str, &str)]) -> TestServer {
    let mut options = ServerOptions {
        config: Some("trusted_proxies = [\"127.0.0.1/32\"]\n".into()),
        ..Default::default()
    };
    let defaults = [
        ("PER_IP_PER_MINUTE", "100"),
        ("PER_USER_PER_HOUR", "1000"),
        ("LOGIN_ATTEMPTS", "5"),
        ("LOGIN_USERNAME_PER_HOUR", "20"),
        ("SUSPEND_AFTER_FAILURES", "10"),
        ("BLOCK_AFTER_TRIPS", "3"),
    ];
    for (key, value) in defaults.iter().chain(overrides) {
        options = options.with_env(&format!("SPIRITUS_RATE_LIMITS__{key}"), *value);
    }
    TestServer::start_with(BINARY, options).await
}

/// Sends a request as the client at `ip`; returns the response.
async fn send_as(
    server: &TestServer,
    ip: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = server
        .client
        .request(method, server.url(path))
        .header("x-forwarded-for", ip);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn audit_entries(server: &TestServer, token: &str, action: &str) -> Vec<Value> {
    let (status, body) = server
        .call(
            Method::GET,
            &format!("/api/admin/audit?action={action}&limit=100"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn request_limit_exact_count_then_429() {
    let server = server_with_limits(&[("PER_IP_PER_MINUTE", "10")]).await;
    let client = "203.0.113.10";
    for sent in 1..=10 {
        let response = send_as(&server, client, Method::GET, "/healthz", None).await;
        assert_eq!(response.status(), StatusCode::OK, "request {sent}");
        assert_eq!(
            header(&response, "ratelimit-policy"),
            "\"address\";q=10;w=60"
        );
        let current = header(&response, "ratelimit");
        assert!(
            current.starts_with(&format!("\"address\";r={};t=", 10 - sent)),
            "{current}"
        );
    }
    let mut retry_after = 0;
    for _ in 0..5 {
        let response = send_as(&server, client, Method::GET, "/api/admin/users", None).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        retry_after = header(&response, "retry-after").parse::<u64>().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(
            header(&response, "ratelimit-policy"),
            "\"default\";q=10;w=60"
        );
        assert!(header(&response, "ratelimit").contains("r=0"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
    }
    // The owner, at another address, is not affected. The five refusals were audited once
    // per window, not once each.
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let denials: Vec<Value> = audit_entries(&server, &owner, "access.denied")
        .await
        .into_iter()
        .filter(|entry| entry["actor_ip"] == client || entry.to_string().contains(client))
        .collect();
    // One entry per denial window; five refusals within a second can straddle at most one
    // window boundary.
    assert!((1..=2).contains(&denials.len()), "{denials:?}");
    assert!(
        denials[0].to_string().contains("rate_limited"),
        "{denials:?}"
    );
    // Once the oldest request has left the window, the client gets through again.
    tokio::time::sleep(Duration::from_secs(retry_after + 1)).await;
    let response = send_as(&server, client, Method::GET, "/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn login_trips_block_address_until_expiry() {
    let server = server_with_limits(&[("BLOCK_AFTER_TRIPS", "1"), ("BLOCK_SECONDS", "4")]).await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let attacker = "203.0.113.20";
    let guess = |password: &str| json!({"username": "admin", "password": password});
    for attempt in 0..5 {
        let response = send_as(
            &server,
            attacker,
            Method::POST,
            "/api/auth/login",
            Some(guess(&format!("guess {attempt}"))),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // The sixth attempt, even with the right password, is refused before it is checked.
    let response = send_as(
        &server,
        attacker,
        Method::POST,
        "/api/auth/login",
        Some(guess(OWNER_PASSWORD)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!header(&response, "retry-after").is_empty());
    assert_eq!(
        header(&response, "ratelimit-policy"),
        "\"default\";q=5;w=300"
    );
    // That trip blocked the address: 403 on every route, before anything else.
    for path in ["/healthz", "/api/admin/users", "/api/auth/login"] {
        let response = send_as(&server, attacker, Method::GET, path, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
    }
    let (status, blocks) = server
        .call(
            Method::GET,
            "/api/admin/incident/ip-blocks",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200, "{blocks}");
    assert!(blocks.to_string().contains(attacker), "{blocks}");
    // The owner's own address still logs in.
    server.login("admin", OWNER_PASSWORD).await;
    // The block runs out; the login window, five minutes long, still holds the attempts.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let response = send_as(&server, attacker, Method::GET, "/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = send_as(
        &server,
        attacker,
        Method::POST,
        "/api/auth/login",
        Some(guess("again")),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}
