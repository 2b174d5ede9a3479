//! Path declarations of the caller's own sessions (`/api/auth/sessions…`) and of a user's
//! subscription QR code, the routes the dashboard added.

#![allow(dead_code, reason = "the functions only carry path declarations")]

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::ApiErrors;

#[derive(OpenApi)]
#[openapi(
    paths(list_sessions, revoke_session, subscription_qr),
    components(schemas(SessionList, Session))
)]
pub struct Api;

/// One live session of the calling account.
#[derive(Serialize, ToSchema)]
pub struct Session {
    /// Session id (a UUID).
    id: String,
    /// RFC 3339, seconds.
    created_at: String,
    /// RFC 3339, seconds: when the refresh token runs out.
    expires_at: String,
    /// Client address the session was opened from, when known.
    ip: Option<String>,
    /// User agent the session was opened with, when known.
    user_agent: Option<String>,
    /// True for the session this request came on.
    current: bool,
}

/// Response of `GET /api/auth/sessions`.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    items: Vec<Session>,
}

#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    tag = "auth",
    summary = "List the calling account's live sessions",
    responses(
        (status = 200, description = "The sessions, the current one marked.", body = SessionList),
        ApiErrors,
    ),
)]
fn list_sessions() {}

#[utoipa::path(
    delete,
    path = "/api/auth/sessions/{id}",
    tag = "auth",
    summary = "End one of the calling account's sessions",
    description = "Another account's session, or an unknown id, returns 404.",
    params(("id" = String, Path, description = "Session id (a UUID).")),
    responses(
        (status = 204, description = "The session and its tokens are revoked."),
        ApiErrors,
    ),
)]
fn revoke_session() {}

#[utoipa::path(
    get,
    path = "/api/admin/users/{name}/subscription-qr",
    tag = "users",
    summary = "The user's subscription link as an SVG QR code",
    params(("name" = String, Path, description = "User name.")),
    responses(
        (status = 200, description = "SVG image.", content_type = "image/svg+xml", body = String),
        ApiErrors,
    ),
)]
fn subscription_qr() {}
