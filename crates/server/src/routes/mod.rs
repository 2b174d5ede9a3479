//! The HTTP routes and the middleware stack around them.
//!
//! Layers run outermost first: security headers (so every response has them, errors
//! included), then error-body normalisation, then the body limit, then the handlers.

pub mod auth;
pub mod subscription;
pub mod subscription_page;
pub mod system;
pub mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};

use crate::error::normalize_errors;
use crate::headers::{SecurityHeaders, add_security_headers};
use crate::state::ServerState;

/// Builds the full application router.
pub fn router(state: ServerState) -> Router {
    let config = state.app.config().clone();
    let security_headers = SecurityHeaders::new(config.tls.hsts_preload, "cross-origin");

    let auth = Router::new()
        .route("/login", post(auth::login))
        .route("/refresh", post(auth::refresh))
        .route("/logout", post(auth::logout))
        .route("/password", post(auth::change_password));

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
        .merge(bulk);

    Router::new()
        .route("/healthz", get(system::health))
        .route("/sub/{token}", get(subscription::subscription))
        .route(
            subscription::PAGE_STYLESHEET_PATH,
            get(subscription::stylesheet),
        )
        .nest("/api/auth", auth)
        .nest("/api/admin", admin)
        .layer(DefaultBodyLimit::max(config.limits.body_bytes))
        .layer(from_fn(normalize_errors))
        .layer(from_fn_with_state(security_headers, add_security_headers))
        .with_state(state)
}
