//! `/api/admin/accounts` and `/api/admin/settings/security`: panel accounts and the
//! second-factor policy, managed by the owner.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use spiritus_app::services::mfa::{AccountView, SecurityPolicy};
use spiritus_app::{Actor, AppError};
use spiritus_auth::Password;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::extract::{Authenticated, Ctx, StrictJson, fields};
use crate::state::ServerState;

/// `GET /api/admin/accounts`.
pub async fn list(
    State(state): State<ServerState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<Value>> {
    let accounts = state.app.admin_list_accounts(&principal).await?;
    let items: Vec<Value> = accounts.iter().map(account_json).collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateAccountBody)]
pub struct CreateBody {
    #[schema(value_type = String, required = true)]
    name: Option<Value>,
    #[schema(value_type = String, required = true)]
    role: Option<Value>,
    #[schema(value_type = String, required = true)]
    password: Option<Value>,
}

/// `POST /api/admin/accounts`: the owner creates an admin or agent.
pub async fn create(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = fields::string("name", body.name)?;
    let role = fields::string("role", body.role)?;
    let password = Password::new(fields::string("password", body.password)?);
    let account = state
        .app
        .admin_create_account(&principal, &name, &role, password, &context)
        .await?;
    Ok((StatusCode::CREATED, Json(account_json(&account))))
}

/// `POST /api/admin/accounts/{name}/reset-2fa`: the owner removes another account's second
/// factors and ends its sessions.
pub async fn reset_second_factors(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let actor = Actor::account(&principal, &context);
    let before = state.app.reset_second_factors(&actor, &name).await?;
    Ok(Json(json!({
        "name": name,
        "removed": {
            "totp": before.totp,
            "backup_codes": before.backup_codes_left,
            "passkeys": before.passkeys,
        },
    })))
}

/// `GET /api/admin/settings/security` (owner only).
pub async fn security_settings(
    State(state): State<ServerState>,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<Value>> {
    principal.require_ready()?;
    principal.require_owner()?;
    Ok(Json(policy_json(&state.app.security_policy().await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityBody {
    #[schema(value_type = bool, required = true)]
    mfa_required_for_admins: Option<Value>,
}

/// `PUT /api/admin/settings/security` (owner only).
pub async fn update_security_settings(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<SecurityBody>,
) -> ApiResult<Json<Value>> {
    let required = match body.mfa_required_for_admins {
        Some(Value::Bool(required)) => required,
        Some(Value::Null) | None => {
            return Err(AppError::validation("mfa_required_for_admins", "is required").into());
        }
        Some(_) => {
            return Err(
                AppError::validation("mfa_required_for_admins", "must be true or false").into(),
            );
        }
    };
    let policy = state
        .app
        .set_security_policy(&principal, required, &context)
        .await?;
    Ok(Json(policy_json(&policy)))
}

fn policy_json(policy: &SecurityPolicy) -> Value {
    json!({
        "mfa_required_for_admins": policy.mfa_required_for_admins,
        "source": policy.source.as_str(),
    })
}

fn account_json(account: &AccountView) -> Value {
    json!({
        "id": account.id,
        "name": account.name,
        "role": account.role.as_str(),
        "must_change_password": account.must_change_password,
        "suspended": account.suspended,
        "created_at": account.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "second_factors": {
            "totp": account.factors.totp,
            "backup_codes_left": account.factors.backup_codes_left,
            "passkeys": account.factors.passkeys,
        },
    })
}
