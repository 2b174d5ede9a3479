//! A mock Vault server following the public HTTP API of the KV version 2 engine and the
//! AppRole auth method: response envelopes, `X-Vault-Token` and `X-Vault-Namespace` checks,
//! 404 for a missing path, 403 for a bad token, 400 for bad AppRole credentials.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// Mock state: tokens, secrets and canned responses.
#[derive(Default)]
pub struct MockVault {
    /// Valid tokens.
    pub tokens: Vec<String>,
    /// KV v2 secrets by `mount/path`.
    pub secrets: HashMap<String, Value>,
    /// Required namespace, if any.
    pub namespace: Option<String>,
    /// Accepted AppRole credentials and the token a login returns.
    pub approle: Option<(String, String, String)>,
    /// Canned responses by `mount/path`: status and raw body.
    pub canned: HashMap<String, (u16, String)>,
    /// Number of AppRole logins served.
    pub logins: AtomicUsize,
}

impl MockVault {
    /// Starts the server on a free loopback port; it stops with the test's runtime.
    pub async fn start(self) -> (SocketAddr, Arc<MockVault>) {
        let state = Arc::new(self);
        let app = Router::new()
            .route("/v1/auth/approle/login", post(login))
            .route("/v1/{mount}/data/{*path}", get(read))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, state)
    }
}

fn errors(status: StatusCode, messages: &[&str]) -> Response {
    (status, Json(json!({ "errors": messages }))).into_response()
}

fn namespace_ok(vault: &MockVault, headers: &HeaderMap) -> bool {
    let sent = headers
        .get("x-vault-namespace")
        .and_then(|v| v.to_str().ok());
    vault.namespace.as_deref() == sent
}

async fn read(
    State(vault): State<Arc<MockVault>>,
    Path((mount, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let token = headers.get("x-vault-token").and_then(|v| v.to_str().ok());
    let token_ok = token.is_some_and(|token| vault.tokens.iter().any(|t| t == token));
    if !token_ok || !namespace_ok(&vault, &headers) {
        return errors(StatusCode::FORBIDDEN, &["permission denied"]);
    }

    let key = format!("{mount}/{path}");
    if let Some((status, body)) = vault.canned.get(&key) {
        return (StatusCode::from_u16(*status).unwrap(), body.clone()).into_response();
    }
    match vault.secrets.get(&key) {
        Some(data) => Json(kv2_envelope(data)).into_response(),
        None => errors(StatusCode::NOT_FOUND, &[]),
    }
}

/// Builds the KV v2 read response as documented.
fn kv2_envelope(data: &Value) -> Value {
    json!({
        "request_id": "0b8e4c5a-1f0e-4a52-9d0e-3f1d2c3b4a59",
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": {
            "data": data,
            "metadata": {
                "created_time": "2024-01-01T00:00:00.000000Z",
                "custom_metadata": null,
                "deletion_time": "",
                "destroyed": false,
                "version": 1
            }
        },
        "wrap_info": null,
        "warnings": null,
        "auth": null
    })
}

async fn login(
    State(vault): State<Arc<MockVault>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let Some((role_id, secret_id, token)) = &vault.approle else {
        return errors(StatusCode::BAD_REQUEST, &["no handler for route"]);
    };
    let matches = body["role_id"] == json!(role_id) && body["secret_id"] == json!(secret_id);
    if !matches || !namespace_ok(&vault, &headers) {
        return errors(StatusCode::BAD_REQUEST, &["invalid role or secret ID"]);
    }

    vault.logins.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "request_id": "7d4f1b2e-0c5a-4f3e-8a1b-2c3d4e5f6a7b",
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": null,
        "wrap_info": null,
        "warnings": null,
        "auth": {
            "client_token": token,
            "accessor": "hmac-accessor",
            "policies": ["default", "spiritus"],
            "token_policies": ["default", "spiritus"],
            "metadata": { "role_name": "spiritus" },
            "lease_duration": 1200,
            "renewable": true,
            "entity_id": "",
            "token_type": "service",
            "orphan": true
        }
    }))
    .into_response()
}
