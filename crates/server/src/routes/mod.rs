//! The HTTP routes and the middleware stack around them.
//!
//! Layers run outermost first: security headers (so every response has them, errors
//! included), then error-body normalisation, then the body limit, then the handlers.

pub mod accounts;
pub mod auth;
pub mod mfa;
pub mod passkeys;
pub mod system;
pub mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, patch, post};

use crate::error::normalize_errors;
use crate::headers::{SecurityHeaders, add_security_headers};
use crate::state::ServerState;

/// `/api/auth/…` routes of the second factors.
fn second_factor_routes() -> Router<ServerState> {
    Router::new()
        .route("/2fa", post(mfa::second_factor))
        .route("/second-factors", get(mfa::overview))
        .route("/totp/setup", post(mfa::totp_setup))
        .route("/totp/confirm", post(mfa::totp_confirm))
        .route("/totp/disable", post(mfa::totp_disable))
        .route("/backup-codes", post(mfa::regenerate_backup_codes))
        .route("/webauthn/register/start", post(passkeys::register_start))
        .route("/webauthn/register/finish", post(passkeys::register_finish))
        .route("/webauthn/credentials", get(passkeys::list))
        .route(
            "/webauthn/credentials/{id}",
            patch(passkeys::rename).delete(passkeys::remove),
        )
        .route("/webauthn/login/start", post(passkeys::login_start))
        .route("/webauthn/login/finish", post(passkeys::login_finish))
}

/// `/api/admin/…` routes of panel accounts and the security policy.
fn account_routes() -> Router<ServerState> {
    Router::new()
        .route("/accounts", get(accounts::list).post(accounts::create))
        .route(
            "/accounts/{name}/reset-2fa",
            post(accounts::reset_second_factors),
        )
        .route(
            "/settings/security",
            get(accounts::security_settings).put(accounts::update_security_settings),
        )
}

/// Builds the full application router.
pub fn router(state: ServerState) -> Router {
    let config = state.app.config().clone();
    let security_headers = SecurityHeaders::new(config.tls.hsts_preload, "cross-origin");

    let auth = Router::new()
        .route("/login", post(auth::login))
        .route("/refresh", post(auth::refresh))
        .route("/logout", post(auth::logout))
        .route("/password", post(auth::change_password))
        .merge(second_factor_routes());

    let bulk = Router::new()
        .route("/users/bulk", post(users::bulk_create))
        .route("/users/bulk-delete", post(users::bulk_delete))
        .layer(DefaultBodyLimit::max(config.limits.bulk_body_bytes));

    let admin = Router::new()
        .route("/users", get(users::list).post(users::create))
        .route(
            "/users/{name}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route("/users/{name}/enable", post(users::enable))
        .route("/users/{name}/disable", post(users::disable))
        .route("/users/{name}/reset-usage", post(users::reset_usage))
        .route("/users/{name}/renew", post(users::renew))
        .route("/users/{name}/add-traffic", post(users::add_traffic))
        .route(
            "/users/{name}/rotate-subscription",
            post(users::rotate_subscription),
        )
        .route("/system", get(system::system))
        .merge(account_routes())
        .merge(bulk);

    Router::new()
        .route("/healthz", get(system::health))
        .nest("/api/auth", auth)
        .nest("/api/admin", admin)
        .layer(DefaultBodyLimit::max(config.limits.body_bytes))
        .layer(from_fn(normalize_errors))
        .layer(from_fn_with_state(security_headers, add_security_headers))
        .with_state(state)
}
