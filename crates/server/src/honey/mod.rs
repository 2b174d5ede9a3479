//! The sandbox that serves every `/api/*` request of a honey session.
//!
//! [`crate::rate_limit::limit_requests`] sends a request here when its access token belongs
//! to a honey session ([`App::honey_session`]), before the address block and before any real
//! handler. The request is audited and counted ([`App::record_honey_request`]), then
//! served from [`fake`]: reads return a small believable panel, writes respond as if they had
//! succeeded. The sandbox uses the app only for its clock and the audit trail, so no real
//! user, account or setting is read or changed.

pub mod fake;

use axum::Json;
use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use spiritus_app::services::honey::HoneyRequest;
use spiritus_app::{App, AppError, RequestContext};
use uuid::Uuid;

use crate::error::ApiError;

/// Maximum request body the sandbox reads.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Maximum number of users a fake bulk creation returns.
const MAX_BULK: u64 = 100;

/// Audits a honey-session request and serves it from the sandbox.
pub async fn serve(
    app: &App,
    session_id: Uuid,
    context: &RequestContext,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let honey = HoneyRequest {
        session_id,
        method: method.as_str(),
        path: &path,
    };
    app.record_honey_request(honey, context).await;
    let body = to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .unwrap_or(Value::Null);
    let segments: Vec<&str> = path
        .trim_start_matches("/api/")
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    fake_response(app, &method, &segments, &body)
}

fn fake_response(app: &App, method: &Method, segments: &[&str], body: &Value) -> Response {
    let now = app.now();
    match (method.as_str(), segments) {
        ("GET", ["admin", "users"]) => ok(fake::user_list(now)),
        ("POST", ["admin", "users"]) => {
            let name = body["name"].as_str().unwrap_or("user");
            created(fake::user(name, fake::seed_of(name), now))
        }
        ("POST", ["admin", "users", "bulk"]) => created(bulk_users(body, now)),
        ("POST", ["admin", "users", "bulk-delete"]) => {
            let deleted = body["names"].as_array().map_or(0, Vec::len);
            ok(json!({ "deleted": deleted }))
        }
        ("DELETE", ["admin", "users", _]) => StatusCode::NO_CONTENT.into_response(),
        ("GET" | "PATCH", ["admin", "users", name]) | ("POST", ["admin", "users", name, _]) => {
            ok(fake::user(name, fake::seed_of(name), now))
        }
        ("GET", ["admin", "system"]) => {
            let uptime = u64::try_from(now.timestamp().rem_euclid(86_400)).unwrap_or(0);
            ok(fake::system(uptime + 3 * 86_400))
        }
        ("GET", ["admin", "accounts"]) => ok(fake::accounts(now)),
        ("POST", ["admin", "accounts"]) => created(json!({
            "id": Uuid::new_v4(),
            "name": body["name"].as_str().unwrap_or("admin2"),
            "role": body["role"].as_str().unwrap_or("admin"),
            "must_change_password": true,
        })),
        ("POST", ["admin", "accounts", name, "reset-2fa"]) => ok(json!({
            "name": name,
            "removed": { "totp": false, "backup_codes": 0, "passkeys": 0 },
        })),
        ("GET" | "PUT", ["admin", "settings", "security"]) => ok(fake::security_settings()),
        ("GET", ["admin", "audit", ..]) => ok(json!({ "items": [], "next_cursor": null })),
        ("POST", ["admin", "audit", "verify"]) => ok(json!({ "valid": true })),
        ("GET", ["admin", "incident", "ip-blocks"]) => ok(json!({ "items": [] })),
        ("POST" | "DELETE", ["admin", "incident", ..])
        | ("POST", ["auth", "logout" | "password"]) => StatusCode::NO_CONTENT.into_response(),
        ("GET", ["auth", "second-factors"]) => ok(fake::second_factors()),
        _ => ApiError(AppError::NotFound("resource")).into_response(),
    }
}

fn bulk_users(body: &Value, now: chrono::DateTime<chrono::Utc>) -> Value {
    let prefix = body["prefix"].as_str().unwrap_or("user");
    let count = body["count"].as_u64().unwrap_or(1).clamp(1, MAX_BULK);
    let start = body["start"].as_u64().unwrap_or(1);
    let items: Vec<Value> = (start..start + count)
        .map(|number| {
            let name = format!("{prefix}{number}");
            fake::user(&name, number, now)
        })
        .collect();
    json!({ "items": items })
}

fn ok(body: Value) -> Response {
    Json(body).into_response()
}

fn created(body: Value) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}
