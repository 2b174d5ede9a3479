//! `/api/auth/webauthn/*`: passkey registration and management for the logged-in account,
//! and the passkey step of the login. With passkeys off (a public URL with an IP address and
//! no `webauthn.*` settings) every route answers 404 `passkeys_disabled` with the reason.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use spiritus_app::AppError;
use spiritus_app::services::mfa::PasskeyView;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{LoginQuery, pair_response};
use super::mfa::{ReauthBody, backup_codes_json};
use crate::error::ApiResult;
use crate::extract::{Authenticated, Ctx, StrictJson, fields};
use crate::state::ServerState;

/// `POST /api/auth/webauthn/register/start`: options for `navigator.credentials.create`.
pub async fn register_start(
    State(state): State<ServerState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.app.passkey_register_start(&principal).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinishBody {
    #[schema(value_type = String, required = true)]
    name: Option<Value>,
    #[schema(value_type = Object, required = true)]
    credential: Option<Value>,
}

/// `POST /api/auth/webauthn/register/finish`.
pub async fn register_finish(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<RegisterFinishBody>,
) -> ApiResult<Json<Value>> {
    let name = fields::string("name", body.name)?;
    let credential = body
        .credential
        .ok_or_else(|| AppError::validation("credential", "is required"))?;
    let registered = state
        .app
        .passkey_register_finish(&principal, &name, credential, &context)
        .await?;
    let mut answer = passkey_json(&registered.passkey);
    if let Some(codes) = &registered.backup_codes {
        answer["backup_codes"] = backup_codes_json(codes)["backup_codes"].take();
    }
    Ok(Json(answer))
}

/// `GET /api/auth/webauthn/credentials`.
pub async fn list(
    State(state): State<ServerState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<Value>> {
    let passkeys = state.app.passkey_list(&principal).await?;
    let items: Vec<Value> = passkeys.iter().map(passkey_json).collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    #[schema(value_type = String, required = true)]
    name: Option<Value>,
}

/// `PATCH /api/auth/webauthn/credentials/{id}`.
pub async fn rename(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<RenameBody>,
) -> ApiResult<StatusCode> {
    let id = passkey_id(&id)?;
    let name = fields::string("name", body.name)?;
    state
        .app
        .passkey_rename(&principal, id, &name, &context)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/auth/webauthn/credentials/{id}` with `{"password","code"}`.
pub async fn remove(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<ReauthBody>,
) -> ApiResult<StatusCode> {
    let id = passkey_id(&id)?;
    let (password, code) = body.read()?;
    state
        .app
        .passkey_remove(&principal, id, password, &code, &context)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginStartBody {
    #[schema(value_type = String, required = true)]
    challenge: Option<Value>,
}

/// `POST /api/auth/webauthn/login/start`: options for `navigator.credentials.get`.
pub async fn login_start(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    StrictJson(body): StrictJson<LoginStartBody>,
) -> ApiResult<Json<Value>> {
    let challenge = fields::string("challenge", body.challenge)?;
    Ok(Json(
        state.app.passkey_login_start(&challenge, &context).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginFinishBody {
    #[schema(value_type = String, required = true)]
    challenge: Option<Value>,
    #[schema(value_type = Object, required = true)]
    credential: Option<Value>,
}

/// `POST /api/auth/webauthn/login/finish`: the assertion for a token pair.
pub async fn login_finish(
    State(state): State<ServerState>,
    Query(query): Query<LoginQuery>,
    Ctx(context): Ctx,
    StrictJson(body): StrictJson<LoginFinishBody>,
) -> ApiResult<Response> {
    let challenge = fields::string("challenge", body.challenge)?;
    let credential = body
        .credential
        .ok_or_else(|| AppError::validation("credential", "is required"))?;
    let pair = state
        .app
        .passkey_login_finish(&challenge, credential, &context)
        .await?;
    Ok(pair_response(pair, &query))
}

pub(super) fn passkey_json(passkey: &PasskeyView) -> Value {
    json!({
        "id": passkey.id,
        "name": passkey.name,
        "created_at": passkey.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "last_used_at": passkey
            .last_used_at
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    })
}

fn passkey_id(raw: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound("passkey"))
}
