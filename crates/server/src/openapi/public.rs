//! Path declarations of the public routes: health, subscriptions, the page stylesheet and
//! this document.

#![allow(dead_code, reason = "the functions only carry path declarations")]

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::ApiErrors;

#[derive(OpenApi)]
#[openapi(paths(health, subscription, stylesheet, document))]
pub struct Api;

/// `{"status": "ok"}`, or `"unavailable"` with 503.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    status: String,
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "public",
    summary = "Whether the panel can serve",
    responses(
        (status = 200, description = "The database responds.", body = Health),
        (status = 503, description = "The database does not respond.", body = Health),
    ),
    security(()),
)]
fn health() {}

#[utoipa::path(
    get,
    path = "/sub/{token}",
    tag = "public",
    summary = "A VPN user's configs in the format the client wants",
    description = "The format comes from `format`, else from the User-Agent (client apps by \
                   name, browsers get the HTML page), else base64 share links. Headers: \
                   `Subscription-Userinfo`, `Profile-Update-Interval`, `Content-Disposition`, \
                   `Profile-Title`. An unknown token answers 404.",
    params(
        ("token" = String, Path, description = "The subscription token from the user's URL."),
        ("format" = Option<String>, Query,
            description = "`links`, `base64`, `singbox`, `clash` or `html`."),
    ),
    responses(
        (status = 200, description = "The configs.",
            content(
                (String = "text/plain"),
                (serde_json::Value = "application/json"),
                (String = "application/yaml"),
                (String = "text/html"),
            ),
            headers(
                ("subscription-userinfo" = String,
                    description = "`upload=U; download=D; total=T; expire=UNIX`"),
                ("profile-update-interval" = String, description = "Hours between updates."),
            ),
        ),
        ApiErrors,
    ),
    security(()),
)]
fn subscription() {}

#[utoipa::path(
    get,
    path = "/assets/subscription.css",
    tag = "public",
    summary = "The stylesheet of the subscription page",
    responses(
        (status = 200, description = "CSS.", content_type = "text/css", body = String),
        ApiErrors,
    ),
    security(()),
)]
fn stylesheet() {}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "public",
    summary = "This OpenAPI document",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", body = serde_json::Value),
        ApiErrors,
    ),
    security(()),
)]
fn document() {}
