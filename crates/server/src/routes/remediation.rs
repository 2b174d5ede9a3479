//! `/api/admin/incident`: remediation commands for owners and admins.
//!
//! | call | body | success |
//! |---|---|---|
//! | `POST /accounts/{name}/revoke-sessions` | | `200 {"revoked"}` |
//! | `POST /accounts/{name}/force-password-reset` | | `200 {"revoked"}` |
//! | `POST /accounts/{name}/suspend` | `{"reason"?}` | `200 {"suspended"}` |
//! | `POST /accounts/{name}/unsuspend` | | `200 {"lifted"}` |
//! | `GET /ip-blocks` | | `200 {"items":[{"ip","reason","expires_at"}]}` |
//! | `POST /ip-blocks` | `{"ip","seconds"?,"reason"?}` | `201` the block |
//! | `DELETE /ip-blocks/{ip}` | | `200 {"lifted"}` |
//! | `GET /ip-blocks/nftables` | | `200` an nftables script (`text/plain`) |

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use spiritus_app::services::incident::parse_ip;
use spiritus_app::{Actor, AppError};
use spiritus_store::IpBlock;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::extract::{Authenticated, Ctx, StrictJson, fields};
use crate::state::ServerState;

fn block_json(block: &IpBlock) -> Value {
    json!({
        "ip": block.ip,
        "reason": block.reason,
        "expires_at": block.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

pub async fn revoke_sessions(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = Actor::account(&principal, &context);
    let revoked = state.app.revoke_account_sessions(&actor, &name).await?;
    Ok(Json(json!({ "revoked": revoked })))
}

pub async fn force_password_reset(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = Actor::account(&principal, &context);
    let revoked = state.app.force_password_reset(&actor, &name).await?;
    Ok(Json(json!({ "revoked": revoked })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    #[schema(value_type = String)]
    reason: Option<Value>,
}

pub async fn suspend(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
    StrictJson(body): StrictJson<SuspendBody>,
) -> ApiResult<Json<Value>> {
    let reason = fields::optional_string("reason", body.reason)?
        .unwrap_or_else(|| "suspended by an operator".into());
    let actor = Actor::account(&principal, &context);
    let suspended = state.app.suspend_account(&actor, &name, &reason).await?;
    Ok(Json(json!({ "suspended": suspended })))
}

pub async fn unsuspend(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = Actor::account(&principal, &context);
    let lifted = state.app.lift_suspension(&actor, &name).await?;
    Ok(Json(json!({ "lifted": lifted })))
}

pub async fn list_blocks(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<Value>> {
    let actor = Actor::account(&principal, &context);
    let blocks = state.app.list_ip_blocks(&actor).await?;
    let items: Vec<Value> = blocks.iter().map(block_json).collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockBody {
    #[schema(value_type = String, required = true)]
    ip: Option<Value>,
    #[schema(value_type = u64)]
    seconds: Option<Value>,
    #[schema(value_type = String)]
    reason: Option<Value>,
}

pub async fn block(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<BlockBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let ip = parse_ip("ip", &fields::string("ip", body.ip)?)?;
    let seconds = match body.seconds {
        None | Some(Value::Null) => state.app.config().rate_limits.block_seconds,
        value => u64::try_from(fields::integer("seconds", value)?)
            .map_err(|_| AppError::validation("seconds", "must be positive"))?,
    };
    let reason = fields::optional_string("reason", body.reason)?
        .unwrap_or_else(|| "blocked by an operator".into());
    let actor = Actor::account(&principal, &context);
    let block = state
        .app
        .block_ip(&actor, ip, Duration::from_secs(seconds), &reason)
        .await?;
    Ok((StatusCode::CREATED, Json(block_json(&block))))
}

pub async fn unblock(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(ip): Path<String>,
) -> ApiResult<Json<Value>> {
    let ip = parse_ip("ip", &ip)?;
    let actor = Actor::account(&principal, &context);
    let lifted = state.app.unblock_ip(&actor, ip).await?;
    Ok(Json(json!({ "lifted": lifted })))
}

pub async fn nftables(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
) -> ApiResult<impl IntoResponse> {
    let actor = Actor::account(&principal, &context);
    let blocks = state.app.list_ip_blocks(&actor).await?;
    let ruleset = spiritus_app::firewall::nftables_ruleset(&blocks, state.app.now());
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        ruleset,
    ))
}
