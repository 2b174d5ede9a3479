//! Brute-force suspension on the real binary. Eleven wrong passwords for one account, each
//! from an address of its own, suspend it until the owner lifts the suspension: the account
//! list shows it suspended and its password no longer opens a session. The same spray
//! against the owner leaves the owner able to log in. The hour-long window itself is tested against a
//! moved clock in `crates/app/tests/abuse_suspension.rs`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use spiritus_test_support::server::{ServerOptions, TestServer};

use crate::{BINARY, OWNER_PASSWORD};

const ALICE_PASSWORD: &str = "alice has a long password";

async fn spray(server: &TestServer, name: &str, count: u32) {
    for attempt in 0..count {
        let response = server
            .client
            .post(server.url("/api/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.{}", attempt + 1))
            .json(&json!({"username": name, "password": format!("guess {attempt}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
}

async fn account(server: &TestServer, owner: &str, name: &str) -> Value {
    let (status, body) = server
        .call(Method::GET, "/api/admin/accounts", Some(owner), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == name)
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn eleventh_failure_suspends_but_not_owner() {
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some("trusted_proxies = [\"127.0.0.1/32\"]\n".into()),
            ..Default::default()
        }
        .with_env("SPIRITUS_RATE_LIMITS__SUSPEND_AFTER_FAILURES", "10"),
    )
    .await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/admin/accounts",
            Some(&owner),
            Some(json!({"name": "alice", "role": "admin", "password": ALICE_PASSWORD})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    spray(&server, "alice", 10).await;
    assert_eq!(account(&server, &owner, "alice").await["suspended"], false);
    spray(&server, "alice", 1).await;
    assert_eq!(account(&server, &owner, "alice").await["suspended"], true);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "alice", "password": ALICE_PASSWORD})),
        )
        .await;
    assert_eq!(status, 401, "no second factor: refused until lifted");

    let (status, body) = server
        .call(
            Method::POST,
            "/api/admin/incident/accounts/alice/unsuspend",
            Some(&owner),
            None,
        )
        .await;
    assert!(status.is_success(), "{body}");
    server.login("alice", ALICE_PASSWORD).await;

    // The same spray against the owner: step-up, not lockout.
    spray(&server, "admin", 11).await;
    let owner_again = server.login("admin", OWNER_PASSWORD).await;
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&owner_again), None)
        .await;
    assert_eq!(status, 200);
}
