//! `/api/auth/2fa`, `/api/auth/totp/*`, `/api/auth/backup-codes` and
//! `/api/auth/second-factors`: the code step of the login and TOTP for the logged-in account.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use spiritus_app::services::mfa::{BackupCodes, FactorOverview};
use spiritus_auth::Password;
use utoipa::ToSchema;

use super::auth::{LoginQuery, pair_response};
use super::passkeys::passkey_json;
use crate::error::ApiResult;
use crate::extract::{Authenticated, Ctx, StrictJson, fields};
use crate::state::ServerState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorBody {
    #[schema(value_type = String, required = true)]
    challenge: Option<Value>,
    #[schema(value_type = String, required = true)]
    code: Option<Value>,
}

/// `POST /api/auth/2fa`: a challenge and a TOTP or backup code for a token pair.
pub async fn second_factor(
    State(state): State<ServerState>,
    Query(query): Query<LoginQuery>,
    Ctx(context): Ctx,
    StrictJson(body): StrictJson<SecondFactorBody>,
) -> ApiResult<Response> {
    let challenge = fields::string("challenge", body.challenge)?;
    let code = fields::string("code", body.code)?;
    let pair = state
        .app
        .login_second_factor(&challenge, &code, &context)
        .await?;
    Ok(pair_response(pair, &query))
}

/// `POST /api/auth/totp/setup`: a new pending secret, shown once.
pub async fn totp_setup(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<Value>> {
    let enrolment = state.app.totp_setup(&principal, &context).await?;
    Ok(Json(json!({
        "secret": enrolment.secret.as_str(),
        "otpauth_uri": enrolment.otpauth_uri.as_str(),
        "qr_svg": enrolment.qr_svg,
        "qr_png": STANDARD.encode(&enrolment.qr_png),
    })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    #[schema(value_type = String, required = true)]
    code: Option<Value>,
}

/// `POST /api/auth/totp/confirm`: turns TOTP on and returns ten backup codes.
pub async fn totp_confirm(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<CodeBody>,
) -> ApiResult<Json<Value>> {
    let code = fields::string("code", body.code)?;
    let codes = state.app.totp_confirm(&principal, &code, &context).await?;
    Ok(Json(backup_codes_json(&codes)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthBody {
    #[schema(value_type = String, required = true)]
    password: Option<Value>,
    #[schema(value_type = String, required = true)]
    code: Option<Value>,
}

impl ReauthBody {
    pub(super) fn read(self) -> Result<(Password, String), spiritus_app::AppError> {
        let password = Password::new(fields::string("password", self.password)?);
        let code = fields::string("code", self.code)?;
        Ok((password, code))
    }
}

/// `POST /api/auth/totp/disable`.
pub async fn totp_disable(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<ReauthBody>,
) -> ApiResult<StatusCode> {
    let (password, code) = body.read()?;
    state
        .app
        .totp_disable(&principal, password, &code, &context)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/backup-codes`: ten new codes; the old ones stop working.
pub async fn regenerate_backup_codes(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<ReauthBody>,
) -> ApiResult<Json<Value>> {
    let (password, code) = body.read()?;
    let codes = state
        .app
        .regenerate_backup_codes(&principal, password, &code, &context)
        .await?;
    Ok(Json(backup_codes_json(&codes)))
}

/// `GET /api/auth/second-factors`.
pub async fn overview(
    State(state): State<ServerState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<Value>> {
    let overview: FactorOverview = state.app.second_factor_overview(&principal).await?;
    Ok(Json(json!({
        "totp": overview.totp,
        "totp_pending": overview.totp_pending,
        "backup_codes_left": overview.backup_codes_left,
        "passkeys": overview.passkeys.iter().map(passkey_json).collect::<Vec<_>>(),
        "passkeys_available": overview.passkeys_available,
        "enrolment_required": overview.enrolment_required,
    })))
}

pub(super) fn backup_codes_json(codes: &BackupCodes) -> Value {
    let shown: Vec<&str> = codes.0.iter().map(|code| code.as_str()).collect();
    json!({ "backup_codes": shown })
}
