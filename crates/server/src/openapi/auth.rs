//! Path declarations of `/api/auth/{login,refresh,logout,password}` and the token responses
//! they share with the second-factor steps.

#![allow(dead_code, reason = "the functions only carry path declarations")]

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::ApiErrors;
use crate::routes::auth::{LoginBody, LoginQuery, PasswordBody, RefreshBody};

#[derive(OpenApi)]
#[openapi(
    paths(login, refresh, logout, change_password),
    components(schemas(LoginAnswer, TokenPair, CookieSession, MfaChallenge))
)]
pub struct Api;

/// A token pair in the body (the default mode).
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    access_token: String,
    refresh_token: String,
    /// Always `Bearer`.
    token_type: String,
    /// Seconds the access token lives.
    expires_in: i64,
    /// True while every call but the password change returns 403.
    must_change_password: bool,
}

/// Cookie mode: the tokens are in `Set-Cookie` headers, never in the body.
#[derive(Serialize, ToSchema)]
pub struct CookieSession {
    /// Always `cookie`.
    token_type: String,
    expires_in: i64,
    must_change_password: bool,
}

/// The password was right and a second factor is needed.
#[derive(Serialize, ToSchema)]
pub struct MfaChallenge {
    /// Always true.
    mfa_required: bool,
    /// Pass to `/api/auth/2fa` or `/api/auth/webauthn/login/start`.
    challenge: String,
    /// Any of `totp`, `backup_code`, `webauthn`.
    methods: Vec<String>,
    /// Seconds the challenge lives.
    expires_in: i64,
}

/// Response of a successful login.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    Tokens(TokenPair),
    Cookie(CookieSession),
    SecondFactor(MfaChallenge),
}

/// Token response of every login step: in the body, or in cookies with `?cookie=true`.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SessionAnswer {
    Tokens(TokenPair),
    Cookie(CookieSession),
}

#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    summary = "Log in with a username and password",
    params(LoginQuery),
    request_body = LoginBody,
    responses(
        (status = 200, description = "Tokens, a cookie session, or a second-factor challenge.",
            body = LoginAnswer),
        ApiErrors,
    ),
    security(()),
)]
fn login() {}

#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    summary = "Trade a refresh token for a new pair; the old one is retired",
    description = "Without a body the refresh cookie is read, and the CSRF token must be \
                   echoed in `X-CSRF-Token`.",
    request_body(content = Option<RefreshBody>),
    responses(
        (status = 200, description = "A new token pair.", body = SessionAnswer),
        ApiErrors,
    ),
    security((), ("cookie" = [], "csrf" = [])),
)]
fn refresh() {}

#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    summary = "End the session the access token belongs to",
    responses(
        (status = 204, description = "The session is revoked; cookies are cleared in cookie mode."),
        ApiErrors,
    ),
)]
fn logout() {}

#[utoipa::path(
    post,
    path = "/api/auth/password",
    tag = "auth",
    summary = "Change the logged-in account's password",
    request_body = PasswordBody,
    responses(
        (status = 204, description = "Changed."),
        ApiErrors,
    ),
)]
fn change_password() {}
