//! Path declarations of the second factors: the code step of the login, TOTP, backup codes
//! and passkeys (`/api/auth/2fa`, `/api/auth/totp/*`, `/api/auth/webauthn/*`, …).

#![allow(dead_code, reason = "the functions only carry path declarations")]

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::ApiErrors;
use super::auth::SessionAnswer;
use crate::routes::auth::LoginQuery;
use crate::routes::mfa::{CodeBody, ReauthBody, SecondFactorBody};
use crate::routes::passkeys::{LoginFinishBody, LoginStartBody, RegisterFinishBody, RenameBody};

#[derive(OpenApi)]
#[openapi(paths(
    second_factor,
    overview,
    totp_setup,
    totp_confirm,
    totp_disable,
    backup_codes,
    register_start,
    register_finish,
    credentials,
    rename,
    remove,
    login_start,
    login_finish,
))]
pub struct Api;

/// A pending TOTP secret, shown once; not active until confirmed.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    secret: String,
    otpauth_uri: String,
    /// The `otpauth_uri` as an SVG QR code.
    qr_svg: String,
    /// The same QR code as a base64 PNG.
    qr_png: String,
}

/// Ten single-use backup codes; earlier ones stop working.
#[derive(Serialize, ToSchema)]
pub struct BackupCodeList {
    backup_codes: Vec<String>,
}

/// A registered passkey.
#[derive(Serialize, ToSchema)]
pub struct Passkey {
    id: String,
    name: String,
    created_at: String,
    last_used_at: Option<String>,
}

/// A passkey just registered; the first second factor also brings backup codes.
#[derive(Serialize, ToSchema)]
pub struct RegisteredPasskey {
    id: String,
    name: String,
    created_at: String,
    last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backup_codes: Option<Vec<String>>,
}

/// The logged-in account's passkeys.
#[derive(Serialize, ToSchema)]
pub struct PasskeyList {
    items: Vec<Passkey>,
}

/// The logged-in account's second factors.
#[derive(Serialize, ToSchema)]
pub struct FactorOverview {
    totp: bool,
    totp_pending: bool,
    backup_codes_left: u64,
    passkeys: Vec<Passkey>,
    passkeys_available: bool,
    /// True when the policy requires a second factor and the account has none yet.
    enrolment_required: bool,
}

#[utoipa::path(
    post,
    path = "/api/auth/2fa",
    tag = "second factors",
    summary = "Finish a login with a TOTP or backup code",
    params(LoginQuery),
    request_body = SecondFactorBody,
    responses((status = 200, description = "Tokens.", body = SessionAnswer), ApiErrors),
    security(()),
)]
fn second_factor() {}

#[utoipa::path(
    get,
    path = "/api/auth/second-factors",
    tag = "second factors",
    summary = "The logged-in account's second factors",
    responses((status = 200, description = "The overview.", body = FactorOverview), ApiErrors),
)]
fn overview() {}

#[utoipa::path(
    post,
    path = "/api/auth/totp/setup",
    tag = "second factors",
    summary = "Start TOTP enrolment",
    responses((status = 200, description = "A pending secret.", body = TotpEnrolment), ApiErrors),
)]
fn totp_setup() {}

#[utoipa::path(
    post,
    path = "/api/auth/totp/confirm",
    tag = "second factors",
    summary = "Turn TOTP on with a first code",
    request_body = CodeBody,
    responses((status = 200, description = "Backup codes.", body = BackupCodeList), ApiErrors),
)]
fn totp_confirm() {}

#[utoipa::path(
    post,
    path = "/api/auth/totp/disable",
    tag = "second factors",
    summary = "Turn TOTP off",
    request_body = ReauthBody,
    responses((status = 204, description = "TOTP is off."), ApiErrors),
)]
fn totp_disable() {}

#[utoipa::path(
    post,
    path = "/api/auth/backup-codes",
    tag = "second factors",
    summary = "Replace the backup codes",
    request_body = ReauthBody,
    responses((status = 200, description = "New codes.", body = BackupCodeList), ApiErrors),
)]
fn backup_codes() {}

#[utoipa::path(
    post,
    path = "/api/auth/webauthn/register/start",
    tag = "second factors",
    summary = "Options for navigator.credentials.create",
    responses(
        (status = 200, description = "WebAuthn creation options.", body = serde_json::Value),
        ApiErrors,
    ),
)]
fn register_start() {}

#[utoipa::path(
    post,
    path = "/api/auth/webauthn/register/finish",
    tag = "second factors",
    summary = "Register the created credential",
    request_body = RegisterFinishBody,
    responses((status = 200, description = "The passkey.", body = RegisteredPasskey), ApiErrors),
)]
fn register_finish() {}

#[utoipa::path(
    get,
    path = "/api/auth/webauthn/credentials",
    tag = "second factors",
    summary = "The logged-in account's passkeys",
    responses((status = 200, description = "The passkeys.", body = PasskeyList), ApiErrors),
)]
fn credentials() {}

#[utoipa::path(
    patch,
    path = "/api/auth/webauthn/credentials/{id}",
    tag = "second factors",
    summary = "Rename a passkey",
    params(("id" = String, Path, description = "The passkey id (a UUID).")),
    request_body = RenameBody,
    responses((status = 204, description = "Renamed."), ApiErrors),
)]
fn rename() {}

#[utoipa::path(
    delete,
    path = "/api/auth/webauthn/credentials/{id}",
    tag = "second factors",
    summary = "Remove a passkey (password and code required)",
    params(("id" = String, Path, description = "The passkey id (a UUID).")),
    request_body = ReauthBody,
    responses((status = 204, description = "Removed."), ApiErrors),
)]
fn remove() {}

#[utoipa::path(
    post,
    path = "/api/auth/webauthn/login/start",
    tag = "second factors",
    summary = "Options for navigator.credentials.get",
    request_body = LoginStartBody,
    responses(
        (status = 200, description = "WebAuthn request options.", body = serde_json::Value),
        ApiErrors,
    ),
    security(()),
)]
fn login_start() {}

#[utoipa::path(
    post,
    path = "/api/auth/webauthn/login/finish",
    tag = "second factors",
    summary = "Finish a login with a passkey assertion",
    params(LoginQuery),
    request_body = LoginFinishBody,
    responses((status = 200, description = "Tokens.", body = SessionAnswer), ApiErrors),
    security(()),
)]
fn login_finish() {}
