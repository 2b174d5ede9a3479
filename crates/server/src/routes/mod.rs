//! The HTTP routes and the middleware stack around them.
//!
//! Layers run outermost first:
//! 1. security headers, so every response has them, refusals and errors included;
//! 2. `Connection: close` when a response leaves the request body unread (see
//!    [`crate::unread_body`]), around everything that can answer before reading it;
//! 3. error-body normalisation;
//! 4. the request time limit (503 past it), which covers everything below;
//! 5. CORS, so a refusal sent to an allowed origin is still readable by its page, and so
//!    preflights are answered before anything looks for credentials;
//! 6. IP blocks (403) and request rate limits (429), see [`crate::rate_limit`];
//! 7. the perimeter (allowlist, client certificate, geo, canonical paths), before any
//!    handler reads a credential or a body;
//! 8. the body limit, then the handlers.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod mfa;
pub mod passkeys;
pub mod remediation;
pub mod sessions;
pub mod subscription;
pub mod subscription_page;
pub mod subscription_qr;
pub mod system;
pub mod users;

mod table;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use spiritus_app::config::LimitsConfig;

use crate::cors::apply_cors;
use crate::error::normalize_errors;
use crate::headers::{SecurityHeaders, add_security_headers};
use crate::limits::limit_request_time;
use crate::perimeter::{Perimeter, PerimeterState, guard_request};
use crate::rate_limit::limit_requests;
use crate::state::ServerState;

pub use table::Mount;

/// `/api/auth/…`: login, tokens and the password.
fn auth_routes() -> Vec<Mount> {
    vec![
        Mount::post("/api/auth/login", auth::login),
        Mount::post("/api/auth/refresh", auth::refresh),
        Mount::post("/api/auth/logout", auth::logout),
        Mount::post("/api/auth/password", auth::change_password),
        Mount::get("/api/auth/sessions", sessions::list),
        Mount::delete("/api/auth/sessions/{id}", sessions::revoke),
    ]
}

/// `/api/auth/…` routes of the second factors.
fn second_factor_routes() -> Vec<Mount> {
    vec![
        Mount::post("/api/auth/2fa", mfa::second_factor),
        Mount::get("/api/auth/second-factors", mfa::overview),
        Mount::post("/api/auth/totp/setup", mfa::totp_setup),
        Mount::post("/api/auth/totp/confirm", mfa::totp_confirm),
        Mount::post("/api/auth/totp/disable", mfa::totp_disable),
        Mount::post("/api/auth/backup-codes", mfa::regenerate_backup_codes),
        Mount::post(
            "/api/auth/webauthn/register/start",
            passkeys::register_start,
        ),
        Mount::post(
            "/api/auth/webauthn/register/finish",
            passkeys::register_finish,
        ),
        Mount::get("/api/auth/webauthn/credentials", passkeys::list),
        Mount::patch("/api/auth/webauthn/credentials/{id}", passkeys::rename),
        Mount::delete("/api/auth/webauthn/credentials/{id}", passkeys::remove),
        Mount::post("/api/auth/webauthn/login/start", passkeys::login_start),
        Mount::post("/api/auth/webauthn/login/finish", passkeys::login_finish),
    ]
}

/// `/api/admin/users…`: VPN users. The bulk calls take larger bodies.
fn user_routes(limits: &LimitsConfig) -> Vec<Mount> {
    let bulk = limits.bulk_body_bytes;
    vec![
        Mount::get("/api/admin/users", users::list),
        Mount::post("/api/admin/users", users::create),
        Mount::get("/api/admin/users/{name}", users::get),
        Mount::patch("/api/admin/users/{name}", users::update),
        Mount::delete("/api/admin/users/{name}", users::delete),
        Mount::post("/api/admin/users/{name}/enable", users::enable),
        Mount::post("/api/admin/users/{name}/disable", users::disable),
        Mount::post("/api/admin/users/{name}/reset-usage", users::reset_usage),
        Mount::post("/api/admin/users/{name}/renew", users::renew),
        Mount::post("/api/admin/users/{name}/add-traffic", users::add_traffic),
        Mount::get(
            "/api/admin/users/{name}/subscription-qr",
            subscription_qr::subscription_qr,
        ),
        Mount::post(
            "/api/admin/users/{name}/rotate-subscription",
            users::rotate_subscription,
        ),
        Mount::post("/api/admin/users/bulk", users::bulk_create).with_body_limit(bulk),
        Mount::post("/api/admin/users/bulk-delete", users::bulk_delete).with_body_limit(bulk),
    ]
}

/// `/api/admin/system` and `/api/admin/audit…`.
fn system_and_audit_routes() -> Vec<Mount> {
    vec![
        Mount::get("/api/admin/system", system::system),
        Mount::get("/api/admin/audit", audit::query),
        Mount::get("/api/admin/audit/tree-head", audit::tree_head),
        Mount::get("/api/admin/audit/proof/inclusion", audit::inclusion_proof),
        Mount::get(
            "/api/admin/audit/proof/consistency",
            audit::consistency_proof,
        ),
        Mount::post("/api/admin/audit/verify", audit::verify),
        Mount::get("/api/admin/audit/export", audit::export),
    ]
}

/// `/api/admin/…` routes of panel accounts and the security policy.
fn account_routes() -> Vec<Mount> {
    vec![
        Mount::get("/api/admin/accounts", accounts::list),
        Mount::post("/api/admin/accounts", accounts::create),
        Mount::post(
            "/api/admin/accounts/{name}/reset-2fa",
            accounts::reset_second_factors,
        ),
        Mount::get("/api/admin/settings/security", accounts::security_settings),
        Mount::put(
            "/api/admin/settings/security",
            accounts::update_security_settings,
        ),
    ]
}

/// Remediation commands under `/api/admin/incident`.
fn incident_routes() -> Vec<Mount> {
    use remediation as r;
    vec![
        Mount::post(
            "/api/admin/incident/accounts/{name}/revoke-sessions",
            r::revoke_sessions,
        ),
        Mount::post(
            "/api/admin/incident/accounts/{name}/force-password-reset",
            r::force_password_reset,
        ),
        Mount::post("/api/admin/incident/accounts/{name}/suspend", r::suspend),
        Mount::post(
            "/api/admin/incident/accounts/{name}/unsuspend",
            r::unsuspend,
        ),
        Mount::get("/api/admin/incident/ip-blocks", r::list_blocks),
        Mount::post("/api/admin/incident/ip-blocks", r::block),
        Mount::get("/api/admin/incident/ip-blocks/nftables", r::nftables),
        Mount::delete("/api/admin/incident/ip-blocks/{ip}", r::unblock),
    ]
}

/// Public routes: health, subscriptions and the API document.
fn public_routes() -> Vec<Mount> {
    vec![
        Mount::get("/healthz", system::health),
        Mount::get("/sub/{token}", subscription::subscription),
        Mount::get(subscription::PAGE_STYLESHEET_PATH, subscription::stylesheet),
        Mount::get(crate::openapi::DOCUMENT_PATH, crate::openapi::serve),
        Mount::get("/", dashboard::page),
        Mount::get("/assets/{*file}", dashboard::asset),
    ]
}

/// Lists every route the panel mounts: [`router`] mounts exactly these, and the
/// OpenAPI coverage test compares them with the document. A new route goes into its group
/// here and gets a path declaration in `crate::openapi`.
pub fn route_table(limits: &LimitsConfig) -> Vec<Mount> {
    [
        public_routes(),
        auth_routes(),
        second_factor_routes(),
        user_routes(limits),
        system_and_audit_routes(),
        account_routes(),
        incident_routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Builds the full application router behind the perimeter checks.
pub fn router(state: ServerState, perimeter: Perimeter) -> Router {
    let config = state.app.config().clone();
    let security_headers = SecurityHeaders::new(
        config.tls.hsts_preload,
        config.headers.cross_origin_resource_policy.as_str(),
    );
    let request_time = Duration::from_secs(config.limits.request_timeout_seconds.max(1));
    let cors = Arc::new(perimeter.cors().clone());
    let perimeter = PerimeterState {
        app: state.app.clone(),
        perimeter: Arc::new(perimeter),
    };

    let routes = route_table(&config.limits)
        .into_iter()
        .fold(Router::new(), |router, mount| mount.mount_on(router));

    routes
        .route_layer(from_fn(crate::metrics::label_route))
        .layer(DefaultBodyLimit::max(config.limits.body_bytes))
        .layer(from_fn_with_state(perimeter, guard_request))
        .layer(from_fn_with_state(state.app.clone(), limit_requests))
        .layer(from_fn_with_state(cors, apply_cors))
        .layer(from_fn_with_state(request_time, limit_request_time))
        .layer(from_fn(normalize_errors))
        .layer(from_fn(crate::unread_body::close_on_unread_body))
        .layer(from_fn_with_state(security_headers, add_security_headers))
        .layer(from_fn(crate::metrics::track_requests))
        .with_state(state)
}
