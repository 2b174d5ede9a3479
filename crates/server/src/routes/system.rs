//! Health and system information.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::extract::Authenticated;
use crate::state::ServerState;

/// `GET /healthz`: 200 while the database answers, 503 otherwise. Says nothing more, because
/// it is public.
pub async fn health(State(state): State<ServerState>) -> (StatusCode, Json<Value>) {
    match state.app.store().ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(error) => {
            tracing::warn!(%error, "health check failed: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
        }
    }
}

/// `GET /api/admin/system`: version, uptime and the proxy core's state.
pub async fn system(
    State(state): State<ServerState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<Value>> {
    principal.require_ready()?;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started_at.elapsed().as_secs(),
        "database": state.app.store().backend().as_str(),
        "ephemeral_store": state.app.ephemeral().name(),
        "core": state.core.status(),
    })))
}
