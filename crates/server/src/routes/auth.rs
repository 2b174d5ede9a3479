//! `/api/auth/*`: login, refresh, logout, password change.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use spiritus_app::AppError;
use spiritus_app::services::auth::{LoginOutcome, TokenPair};
use spiritus_auth::Password;

use crate::error::ApiResult;
use crate::extract::{Authenticated, Ctx, StrictJson, fields};
use crate::state::ServerState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: Option<Value>,
    password: Option<Value>,
}

pub async fn login(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    StrictJson(body): StrictJson<LoginBody>,
) -> ApiResult<Response> {
    let username = fields::string("username", body.username)?;
    let password = Password::new(fields::string("password", body.password)?);
    match state.app.login(&username, password, &context).await? {
        LoginOutcome::Tokens(pair) => Ok(token_response(pair)),
        LoginOutcome::SecondFactor(challenge) => {
            let methods: Vec<&str> = challenge.methods.iter().map(|m| m.as_str()).collect();
            Ok(Json(json!({
                "mfa_required": true,
                "challenge": challenge.challenge.expose(),
                "methods": methods,
                "expires_in": challenge.expires_in,
            }))
            .into_response())
        }
    }
}

pub(crate) fn token_response(pair: TokenPair) -> Response {
    Json(json!({
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token.expose(),
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "must_change_password": pair.must_change_password,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: Option<Value>,
}

pub async fn refresh(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    StrictJson(body): StrictJson<RefreshBody>,
) -> ApiResult<Response> {
    let token = fields::string("refresh_token", body.refresh_token)?;
    if token.len() > 256 {
        return Err(AppError::Unauthorized.into());
    }
    let pair = state.app.refresh(&token, &context).await?;
    Ok(token_response(pair))
}

pub async fn logout(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
) -> ApiResult<StatusCode> {
    state.app.logout(&principal, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Logout accepts an optional `{"refresh_token"}` body, which is checked for shape only: the
/// whole session ends either way.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutBody {
    #[allow(
        dead_code,
        reason = "accepted for compatibility; the session ends regardless"
    )]
    refresh_token: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current: Option<Value>,
    new: Option<Value>,
}

pub async fn change_password(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    let current = Password::new(fields::string("current", body.current)?);
    let new = Password::new(fields::string("new", body.new)?);
    state
        .app
        .change_password(&principal, current, new, &context)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
