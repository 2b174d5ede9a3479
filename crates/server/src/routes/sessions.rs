//! `/api/auth/sessions`: the caller's own live sessions, and ending one of them.
//!
//! The dashboard's security page lists them (with the one the request came on marked
//! `current`) and offers to revoke any other. Ending the current one is allowed too, and
//! works like a logout that leaves the cookies in place.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use spiritus_app::AppError;
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::{Authenticated, Ctx};
use crate::state::ServerState;

/// `GET /api/auth/sessions`.
pub async fn list(
    State(state): State<ServerState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<Value>> {
    principal.require_ready()?;
    let sessions = state.app.own_sessions(&principal).await?;
    let items: Vec<Value> = sessions
        .iter()
        .map(|session| {
            json!({
                "id": session.id,
                "created_at": rfc3339(session.created_at),
                "expires_at": rfc3339(session.expires_at),
                "ip": session.ip,
                "user_agent": session.user_agent,
                "current": session.id == principal.session_id,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `DELETE /api/auth/sessions/{id}`.
pub async fn revoke(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_ready()?;
    let session_id = Uuid::parse_str(&id)
        .map_err(|_| AppError::validation("id", "must be a session id (a UUID)"))?;
    state
        .app
        .revoke_own_session(&principal, &context, session_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
