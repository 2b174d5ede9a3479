//! The OpenAPI 3.1 document of the HTTP API, generated from the code and served at
//! `GET /api/openapi.json`.
//!
//! Each route group has a file here with its path declarations (`#[utoipa::path]` on an empty
//! function) and an `Api` struct listing them. [`document`] merges the groups and adds the
//! security schemes and the error body. Request and response schemas come from the real types
//! where the handlers have them (`ToSchema` derived in `crate::routes`). Responses that the
//! handlers build as JSON values are described by the schema types in these files.
//!
//! Adding a route: mount it in `crate::routes::route_table`, declare its path in the group's
//! file here and list it in that file's `Api`. The test `openapi_covers_every_route` fails
//! until both sides agree.

mod accounts;
mod audit;
mod auth;
mod mfa;
mod public;
mod sessions;
mod users;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, OpenApi as Document, RefOr, ResponseBuilder, SecurityRequirement,
};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

use crate::cookies::{ACCESS_COOKIE, CSRF_HEADER};
use crate::error::ErrorBody;

/// Path of the served document.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";

/// Security scheme names used in the document.
pub const BEARER: &str = "bearer";
pub const COOKIE: &str = "cookie";
pub const CSRF: &str = "csrf";

/// The document's frame: title, version, the error body and the security schemes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Spiritus",
        description = "Administration API of the Spiritus VPN/proxy panel. Every error answers \
                       with the `ErrorBody` shape.",
    ),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes),
)]
struct Frame;

/// Adds the bearer, cookie and CSRF schemes, and requires bearer or cookie+CSRF by default.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The access token from a login."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                ACCESS_COOKIE,
                "The browser session from `POST /api/auth/login?cookie=true`.",
            ))),
        );
        components.add_security_scheme(
            CSRF,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The `csrf_token` cookie echoed; required with the session cookie.",
            ))),
        );
        openapi.security = Some(vec![
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            SecurityRequirement::new(COOKIE, Vec::<String>::new()).add(CSRF, Vec::<String>::new()),
        ]);
    }
}

/// Builds the whole document.
pub fn document() -> Document {
    debug_assert_eq!(CSRF_HEADER, "x-csrf-token");
    let mut document = Frame::openapi();
    for group in [
        public::Api::openapi(),
        auth::Api::openapi(),
        mfa::Api::openapi(),
        users::Api::openapi(),
        audit::Api::openapi(),
        accounts::Api::openapi(),
        sessions::Api::openapi(),
    ] {
        document.merge(group);
    }
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document
}

/// Encodes the document as JSON once and returns the cached text.
fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| match document().to_json() {
        Ok(json) => json,
        Err(error) => {
            tracing::error!(%error, "cannot encode the OpenAPI document");
            String::from("{}")
        }
    })
}

/// `GET /api/openapi.json` (public).
pub async fn serve() -> Response {
    let mut response = document_json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Error response of every operation: any status without its own entry carries the
/// standard error body.
pub struct ApiErrors;

impl IntoResponses for ApiErrors {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        let body = ContentBuilder::new()
            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                ErrorBody::name(),
            ))))
            .build();
        let response = ResponseBuilder::new()
            .description(
                "An error: `{\"error\": {\"code\", \"message\", \"field\"?}}`. Codes and \
                 statuses are listed in the API contract (400 malformed_request, 401 \
                 unauthorized, 403 forbidden, 404 not_found, 409 conflict, 413 \
                 payload_too_large, 415 unsupported_media_type, 422 validation_failed, 429 \
                 rate_limited, 503 unavailable).",
            )
            .content("application/json", body)
            .build();
        BTreeMap::from([("default".to_owned(), RefOr::T(response))])
    }
}

#[cfg(test)]
mod tests;
