//! Helpers of the second-factor tests: requests from a chosen client address, an independent
//! TOTP implementation (written here from RFC 6238, not the server's code), enrolment and
//! account set-up, and reading the audit log the server wrote.

use std::time::{SystemTime, UNIX_EPOCH};

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha1::Sha1;
use spiritus_audit::entry::AuditEntry;
use spiritus_store::{AuditQuery, SqlStore};
use spiritus_test_support::TestServer;

/// Sends a JSON request; with `ip`, as if a trusted proxy forwarded it from that address.
pub async fn call_from(
    server: &TestServer,
    ip: Option<&str>,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut request = server.client.request(method, server.url(path));
    if let Some(ip) = ip {
        request = request.header("x-forwarded-for", ip);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json, headers)
}

pub async fn post(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let (status, body, _) = call_from(server, None, Method::POST, path, token, Some(body)).await;
    (status, body)
}

/// Seconds since 1970 by the machine's clock, which the server under test also reads.
#[expect(
    clippy::disallowed_methods,
    reason = "the real server reads the real clock, so the test's codes must too"
)]
pub fn unix_now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(elapsed.as_secs()).unwrap()
}

/// Computes the RFC 6238 code (HMAC-SHA1, 6 digits, 30 s) of a base32 secret at a time.
pub fn totp_code(secret_base32: &str, unix_seconds: i64) -> String {
    let key = BASE32_NOPAD.decode(secret_base32.as_bytes()).unwrap();
    let counter = u64::try_from(unix_seconds).unwrap() / 30;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).unwrap();
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", value % 1_000_000)
}

/// Computes the code `steps` time steps from now (negative: in the past).
pub fn code_in(secret: &str, steps: i64) -> String {
    totp_code(secret, unix_now() + steps * 30)
}

/// A TOTP enrolment as the client saw it.
pub struct Enrolled {
    pub secret: String,
    pub backup_codes: Vec<String>,
}

/// Sets up and confirms TOTP for the account of `token`, reading the secret from the
/// `otpauth://` URI the way an authenticator app does.
pub async fn enrol_totp(server: &TestServer, token: &str) -> Enrolled {
    let (status, setup) = post(server, "/api/auth/totp/setup", Some(token), json!({})).await;
    assert_eq!(status, 200, "{setup}");
    let uri = url::Url::parse(setup["otpauth_uri"].as_str().unwrap()).unwrap();
    let secret = uri
        .query_pairs()
        .find(|(name, _)| name == "secret")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    assert_eq!(secret, setup["secret"].as_str().unwrap());
    let (status, confirmed) = post(
        server,
        "/api/auth/totp/confirm",
        Some(token),
        json!({"code": code_in(&secret, 0)}),
    )
    .await;
    assert_eq!(status, 200, "{confirmed}");
    let backup_codes = confirmed["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect();
    Enrolled {
        secret,
        backup_codes,
    }
}

/// Logs in with a password from `ip`; returns the response body.
pub async fn password_login(
    server: &TestServer,
    ip: Option<&str>,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let (status, body, _) = call_from(
        server,
        ip,
        Method::POST,
        "/api/auth/login",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await;
    (status, body)
}

/// Logs in with a password that must lead to a challenge; returns the challenge.
pub async fn challenge_for(
    server: &TestServer,
    ip: Option<&str>,
    username: &str,
    password: &str,
) -> String {
    let (status, body) = password_login(server, ip, username, password).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mfa_required"], true, "{body}");
    assert!(body.get("access_token").is_none(), "{body}");
    body["challenge"].as_str().unwrap().to_owned()
}

/// Submits one code with each challenge, all at once from separate tasks; returns the
/// statuses.
pub async fn submit_concurrently(
    server: &TestServer,
    challenges: &[String],
    code: &str,
) -> Vec<u16> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(challenges.len()));
    let tasks: Vec<_> = challenges
        .iter()
        .map(|challenge| {
            let client = server.client.clone();
            let url = server.url("/api/auth/2fa");
            let body = json!({"challenge": challenge, "code": code});
            let barrier = std::sync::Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let response = client.post(url).json(&body).send().await.unwrap();
                response.status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

/// Submits a challenge and a code from `ip`.
pub async fn submit_code(
    server: &TestServer,
    ip: Option<&str>,
    challenge: &str,
    code: &str,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    call_from(
        server,
        ip,
        Method::POST,
        "/api/auth/2fa",
        None,
        Some(json!({"challenge": challenge, "code": code})),
    )
    .await
}

/// Creates an admin as the owner and returns its token after the forced password change.
pub async fn create_admin(server: &TestServer, owner: &str, name: &str, password: &str) -> String {
    let first = "first password of the new admin";
    let (status, body) = post(
        server,
        "/api/admin/accounts",
        Some(owner),
        json!({"name": name, "role": "admin", "password": first}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let token = server.login(name, first).await;
    let (status, body) = post(
        server,
        "/api/auth/password",
        Some(&token),
        json!({"current": first, "new": password}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    server.login(name, password).await
}

/// Reads the server's audit entries with `action` from its SQLite database.
pub async fn audit_entries(server: &TestServer, action: &str) -> Vec<AuditEntry> {
    let url = format!(
        "sqlite://{}",
        server.data_dir().join("spiritus.db").display()
    );
    let store = SqlStore::connect(&url).await.unwrap();
    let entries = store
        .query_audit(&AuditQuery {
            action: Some(action.to_owned()),
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    store.close().await;
    entries
}

/// Collects the reasons (`error`) of the failed entries with `action`, oldest first.
pub async fn failure_reasons(server: &TestServer, action: &str) -> Vec<String> {
    audit_entries(server, action)
        .await
        .into_iter()
        .rev()
        .filter(|entry| !entry.success)
        .filter_map(|entry| entry.error)
        .collect()
}
