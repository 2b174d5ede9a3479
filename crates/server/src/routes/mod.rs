//! The HTTP routes and the middleware stack around them.
//!
//! Layers run outermost first:
//! 1. security headers, so every response has them, refusals and errors included;
//! 2. error-body normalisation;
//! 3. the request time limit (503 past it), which covers everything below;
//! 4. CORS, so a refusal sent to an allowed origin is still readable by its page, and so
//!    preflights are answered before anything looks for credentials;
//! 5. the perimeter (allowlist, client certificate, geo, canonical paths), before any
//!    handler reads a credential or a body;
//! 6. the body limit, then the handlers.

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

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, patch, post};

use crate::cors::apply_cors;
use crate::error::normalize_errors;
use crate::headers::{SecurityHeaders, add_security_headers};
use crate::limits::limit_request_time;
use crate::perimeter::{Perimeter, PerimeterState, guard_request};
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

/// Remediation commands under `/api/admin/incident`.
fn incident_routes() -> Router<ServerState> {
    use remediation as r;
    Router::new()
        .route("/accounts/{name}/revoke-sessions", post(r::revoke_sessions))
        .route(
            "/accounts/{name}/force-password-reset",
            post(r::force_password_reset),
        )
        .route("/accounts/{name}/suspend", post(r::suspend))
        .route("/accounts/{name}/unsuspend", post(r::unsuspend))
        .route("/ip-blocks", get(r::list_blocks).post(r::block))
        .route("/ip-blocks/nftables", get(r::nftables))
        .route("/ip-blocks/{ip}", axum::routing::delete(r::unblock))
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

    let auth = Router::new()
        .route("/login", post(auth::login))
        .route("/refresh", post(auth::refresh))
        .route("/logout", post(auth::logout))
        .route("/password", post(auth::change_password))
        .route("/sessions", get(sessions::list))
        .route("/sessions/{id}", axum::routing::delete(sessions::revoke))
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
            "/users/{name}/subscription-qr",
            get(subscription_qr::subscription_qr),
        )
        .route(
            "/users/{name}/rotate-subscription",
            post(users::rotate_subscription),
        )
        .route("/system", get(system::system))
        .route("/audit", get(audit::query))
        .route("/audit/tree-head", get(audit::tree_head))
        .route("/audit/proof/inclusion", get(audit::inclusion_proof))
        .route("/audit/proof/consistency", get(audit::consistency_proof))
        .route("/audit/verify", post(audit::verify))
        .route("/audit/export", get(audit::export))
        .merge(account_routes())
        .merge(bulk)
        .nest("/incident", incident_routes());

    Router::new()
        .route("/healthz", get(system::health))
        .route("/sub/{token}", get(subscription::subscription))
        .route(
            subscription::PAGE_STYLESHEET_PATH,
            get(subscription::stylesheet),
        )
        .route("/", get(dashboard::page))
        .route("/assets/{*file}", get(dashboard::asset))
        .nest("/api/auth", auth)
        .nest("/api/admin", admin)
        .route_layer(from_fn(crate::metrics::label_route))
        .layer(DefaultBodyLimit::max(config.limits.body_bytes))
        .layer(from_fn_with_state(perimeter, guard_request))
        .layer(from_fn_with_state(cors, apply_cors))
        .layer(from_fn_with_state(request_time, limit_request_time))
        .layer(from_fn(normalize_errors))
        .layer(from_fn_with_state(security_headers, add_security_headers))
        .layer(from_fn(crate::metrics::track_requests))
        .with_state(state)
}
