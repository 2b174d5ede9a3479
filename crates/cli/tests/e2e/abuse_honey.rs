//! Honey accounts end to end. A login on a decoy name (any letter case, any password)
//! "succeeds". Its address is blocked from real accounts at once while its honey session
//! goes on. A full session over every admin route (reads and writes) leaves every real
//! user, account, setting and block unchanged. Only audit entries are added, each with the
//! intruder's address and user agent, and the honey-hit metric counts every request.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use spiritus_test_support::server::{ServerOptions, TestServer};

use crate::monitoring::{metrics_url, scrape_until};
use crate::{BINARY, OWNER_PASSWORD};

const INTRUDER: &str = "203.0.113.30";
const INTRUDER_AGENT: &str = "intruder-kit/2.1";

async fn as_intruder(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .client
        .request(method, server.url(path))
        .header("x-forwarded-for", INTRUDER)
        .header("user-agent", INTRUDER_AGENT);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Everything an owner can see of the real panel.
async fn real_state(server: &TestServer, owner: &str) -> Value {
    let mut state = json!({});
    for path in [
        "/api/admin/users?limit=1000",
        "/api/admin/users/realuser",
        "/api/admin/accounts",
        "/api/admin/settings/security",
        "/api/admin/incident/ip-blocks",
    ] {
        let (status, body) = server.call(Method::GET, path, Some(owner), None).await;
        assert_eq!(status, 200, "{path}: {body}");
        state[path] = body;
    }
    state
}

/// Lists every admin route, with bodies a real call would send.
fn admin_session() -> Vec<(Method, &'static str, Option<Value>)> {
    let user = json!({"name": "newuser", "traffic_limit_gb": 5, "expire_days": 30});
    vec![
        (Method::GET, "/api/admin/users", None),
        (Method::POST, "/api/admin/users", Some(user)),
        (Method::GET, "/api/admin/users/realuser", None),
        (
            Method::PATCH,
            "/api/admin/users/realuser",
            Some(json!({"note": "owned"})),
        ),
        (Method::POST, "/api/admin/users/realuser/enable", None),
        (Method::POST, "/api/admin/users/realuser/disable", None),
        (Method::POST, "/api/admin/users/realuser/reset-usage", None),
        (
            Method::POST,
            "/api/admin/users/realuser/renew",
            Some(json!({"traffic_limit_gb": 1, "expire_days": 1})),
        ),
        (
            Method::POST,
            "/api/admin/users/realuser/add-traffic",
            Some(json!({"gb": 9})),
        ),
        (
            Method::POST,
            "/api/admin/users/realuser/rotate-subscription",
            None,
        ),
        (
            Method::POST,
            "/api/admin/users/bulk",
            Some(
                json!({"prefix": "x", "count": 3, "start": 1, "pad": 2, "traffic_limit_gb": 1, "expire_days": 1}),
            ),
        ),
        (
            Method::POST,
            "/api/admin/users/bulk-delete",
            Some(json!({"names": ["realuser"]})),
        ),
        (Method::DELETE, "/api/admin/users/realuser", None),
        (Method::GET, "/api/admin/system", None),
        (Method::GET, "/api/admin/audit", None),
        (Method::GET, "/api/admin/audit/tree-head", None),
        (Method::POST, "/api/admin/audit/verify", None),
        (Method::GET, "/api/admin/audit/export", None),
        (Method::GET, "/api/admin/accounts", None),
        (
            Method::POST,
            "/api/admin/accounts",
            Some(json!({"name": "backdoor", "role": "admin", "password": "backdoor password 1"})),
        ),
        (Method::POST, "/api/admin/accounts/admin/reset-2fa", None),
        (Method::GET, "/api/admin/settings/security", None),
        (
            Method::PUT,
            "/api/admin/settings/security",
            Some(json!({"mfa_required_for_admins": true})),
        ),
        (
            Method::POST,
            "/api/admin/incident/accounts/admin/revoke-sessions",
            None,
        ),
        (
            Method::POST,
            "/api/admin/incident/accounts/admin/force-password-reset",
            None,
        ),
        (
            Method::POST,
            "/api/admin/incident/accounts/admin/suspend",
            None,
        ),
        (
            Method::POST,
            "/api/admin/incident/accounts/admin/unsuspend",
            None,
        ),
        (Method::GET, "/api/admin/incident/ip-blocks", None),
        (
            Method::POST,
            "/api/admin/incident/ip-blocks",
            Some(json!({"ip": "198.51.100.1", "seconds": 60})),
        ),
        (
            Method::DELETE,
            "/api/admin/incident/ip-blocks/203.0.113.30",
            None,
        ),
        (Method::GET, "/api/auth/second-factors", None),
        (
            Method::POST,
            "/api/auth/password",
            Some(json!({"current": "x", "new": "a brand new password"})),
        ),
    ]
}

#[tokio::test]
async fn honey_session_changes_nothing_real() {
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some("trusted_proxies = [\"127.0.0.1/32\"]\n".into()),
            ..Default::default()
        }
        .with_env("SPIRITUS_METRICS__LISTEN", "127.0.0.1:0"),
    )
    .await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let (status, body) = server
        .call(
            Method::POST,
            "/api/admin/users",
            Some(&owner),
            Some(json!({"name": "realuser", "traffic_limit_gb": 10, "expire_days": 30})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let before = real_state(&server, &owner).await;

    // Any password opens a decoy name, in any letter case.
    let (status, login) = as_intruder(
        &server,
        Method::POST,
        "/api/auth/login",
        None,
        Some(json!({"username": "Admin_Backup", "password": "letmein"})),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["token_type"], "Bearer");
    assert!(login["refresh_token"].as_str().unwrap().starts_with("spr_"));
    let honey = login["access_token"].as_str().unwrap().to_owned();

    // The address is blocked from real accounts at once, the right password included.
    let (status, _) = as_intruder(
        &server,
        Method::POST,
        "/api/auth/login",
        None,
        Some(json!({"username": "admin", "password": OWNER_PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The honey session goes on: every admin route responds as if it worked.
    let session = admin_session();
    for (method, path, body) in &session {
        let (status, answer) =
            as_intruder(&server, method.clone(), path, Some(&honey), body.clone()).await;
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
    }
    let (_, users) =
        as_intruder(&server, Method::GET, "/api/admin/users", Some(&honey), None).await;
    assert!(
        users["total"].as_u64().unwrap() >= 10,
        "believable: {users}"
    );
    assert!(
        !users.to_string().contains("realuser"),
        "no real data: {users}"
    );
    // The real session token of the owner is not needed to see the sandbox: the honey token
    // opens nothing real when sent from the owner's own address either.
    let (status, users) = server
        .call(Method::GET, "/api/admin/users", Some(&honey), None)
        .await;
    assert_eq!(status, 200);
    assert!(!users.to_string().contains("realuser"), "{users}");

    // Nothing real changed: users, accounts, settings and blocks are as they were, the
    // intruder's block included.
    let after = real_state(&server, &owner).await;
    assert_eq!(
        before["/api/admin/users?limit=1000"],
        after["/api/admin/users?limit=1000"]
    );
    assert_eq!(
        before["/api/admin/users/realuser"],
        after["/api/admin/users/realuser"]
    );
    assert_eq!(before["/api/admin/accounts"], after["/api/admin/accounts"]);
    assert_eq!(
        before["/api/admin/settings/security"],
        after["/api/admin/settings/security"]
    );
    let blocks = after["/api/admin/incident/ip-blocks"].to_string();
    assert!(blocks.contains(INTRUDER), "{blocks}");
    assert!(!blocks.contains("198.51.100.1"), "{blocks}");
    server.login("admin", OWNER_PASSWORD).await;

    // Every honey request was audited with the intruder's address and user agent.
    let (status, audit) = server
        .call(
            Method::GET,
            "/api/admin/audit?action=honey.request&limit=100",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), session.len() + 2, "one entry per request");
    let from_intruder = entries
        .iter()
        .filter(|entry| {
            let text = entry.to_string();
            text.contains(INTRUDER) && text.contains(INTRUDER_AGENT)
        })
        .count();
    assert_eq!(from_intruder, session.len() + 1);
    let (status, audit) = server
        .call(
            Method::GET,
            "/api/admin/audit?action=honey.login",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(audit.to_string().contains("Admin_Backup"), "{audit}");

    // The login and every request of the session count as honey hits.
    let hits = format!("spiritus_honey_token_triggered_total {}", session.len() + 3);
    scrape_until(&metrics_url(&server), &[&hits]).await;
}

#[tokio::test]
async fn honey_names_reserved_any_case() {
    let server = TestServer::start(BINARY).await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    for name in ["admin_backup", "SYSTEM_TEST", "Admin_Backup"] {
        let (status, body) = server
            .call(
                Method::POST,
                "/api/admin/accounts",
                Some(&owner),
                Some(json!({"name": name, "role": "admin", "password": "a fine long password"})),
            )
            .await;
        assert_eq!(status, 422, "{name}: {body}");
        assert_eq!(body["error"]["field"], "name");
    }
}
