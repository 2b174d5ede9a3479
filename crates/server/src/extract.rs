//! Request extractors: strict JSON bodies, the client context, and the authenticated caller
//! (bearer token or browser-session cookies).
//!
//! JSON bodies are read in two steps. First into a struct of raw `serde_json::Value` fields
//! that rejects unknown and duplicate keys (a 400); then each field is validated into a domain
//! value (a 422 naming the field). No serde message ever echoes a submitted value.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;
use spiritus_app::config::CidrList;
use spiritus_app::{AppError, Principal, RequestContext};
use spiritus_core::events::DenialReason;

use crate::client_ip::client_ip;
use crate::cookies::{SessionCookies, csrf_matches, is_unsafe};
use crate::error::{ApiError, error_response};
use crate::state::ServerState;

/// Facts about the connection a request arrived on, set by the listener.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    /// Subject and fingerprint of a verified client certificate.
    pub client_certificate: Option<Value>,
}

/// A JSON body whose raw form `T` rejects unknown fields.
#[derive(Debug)]
pub struct StrictJson<T>(pub T);

impl<T, S> FromRequest<S> for StrictJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = BodyRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(BodyRejection::UnsupportedMediaType);
        }
        let bytes = read_body(request, state).await?;
        parse_strict(&bytes)
            .map(StrictJson)
            .map_err(BodyRejection::Invalid)
    }
}

/// A JSON body that may be left out entirely (no bytes); one that is sent is read like
/// [`StrictJson`].
#[derive(Debug)]
pub struct OptionalStrictJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalStrictJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = BodyRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = is_json(request.headers());
        let bytes = read_body(request, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalStrictJson(None));
        }
        if !is_json {
            return Err(BodyRejection::UnsupportedMediaType);
        }
        parse_strict(&bytes)
            .map(|body| OptionalStrictJson(Some(body)))
            .map_err(BodyRejection::Invalid)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, BodyRejection> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                BodyRejection::PayloadTooLarge
            } else {
                BodyRejection::Invalid(AppError::Malformed("cannot read the request body".into()))
            }
        })
}

/// Why a JSON body was not accepted.
#[derive(Debug)]
pub enum BodyRejection {
    UnsupportedMediaType,
    PayloadTooLarge,
    Invalid(AppError),
}

impl IntoResponse for BodyRejection {
    fn into_response(self) -> Response {
        match self {
            BodyRejection::UnsupportedMediaType => error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body with Content-Type: application/json",
                None,
            ),
            BodyRejection::PayloadTooLarge => error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
                None,
            ),
            BodyRejection::Invalid(error) => ApiError(error).into_response(),
        }
    }
}

/// Parses a body into a raw struct, describing the failure without echoing values.
pub fn parse_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    // serde would also fill a struct from a JSON array; only an object is a request body.
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|byte| *byte != b'{') {
        return Err(AppError::Malformed(
            "the body must be a JSON object with the documented fields".into(),
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        let message = match error.classify() {
            serde_json::error::Category::Syntax => {
                format!(
                    "the body is not valid JSON (line {}, column {})",
                    error.line(),
                    error.column()
                )
            }
            serde_json::error::Category::Eof => {
                "the body ends before the JSON value is complete".into()
            }
            serde_json::error::Category::Io => "cannot read the request body".into(),
            serde_json::error::Category::Data => data_error_message(&error.to_string()),
        };
        AppError::Malformed(message)
    })
}

/// Keeps serde's description of an unknown, duplicate or missing key (names only) and drops
/// anything else, which could quote a submitted value.
fn data_error_message(raw: &str) -> String {
    let head = raw.split(" at line ").next().unwrap_or(raw);
    if head.starts_with("unknown field") || head.starts_with("duplicate field") {
        let field = head.split('`').nth(1).unwrap_or("?");
        let kind = if head.starts_with("unknown") {
            "unknown"
        } else {
            "duplicate"
        };
        return format!("{kind} field {field:?} in the request body");
    }
    "the body must be a JSON object with the documented fields".into()
}

/// Field readers for the raw structs.
pub mod fields {
    use serde_json::Value;
    use spiritus_app::AppError;

    fn missing(field: &'static str) -> AppError {
        AppError::validation(field, "is required")
    }

    pub fn string(field: &'static str, value: Option<Value>) -> Result<String, AppError> {
        match value {
            Some(Value::String(text)) => Ok(text),
            Some(Value::Null) | None => Err(missing(field)),
            Some(_) => Err(AppError::validation(field, "must be a string")),
        }
    }

    pub fn optional_string(
        field: &'static str,
        value: Option<Value>,
    ) -> Result<Option<String>, AppError> {
        match value {
            Some(Value::String(text)) => Ok(Some(text)),
            Some(Value::Null) | None => Ok(None),
            Some(_) => Err(AppError::validation(field, "must be a string")),
        }
    }

    pub fn number(field: &'static str, value: Option<Value>) -> Result<f64, AppError> {
        match value {
            Some(Value::Number(number)) => number
                .as_f64()
                .ok_or_else(|| AppError::validation(field, "must be a number")),
            Some(Value::Null) | None => Err(missing(field)),
            Some(_) => Err(AppError::validation(field, "must be a number")),
        }
    }

    /// A whole number; `30.0` and `30.5` are both refused, as are strings.
    pub fn integer(field: &'static str, value: Option<Value>) -> Result<i64, AppError> {
        match value {
            Some(Value::Number(number)) => number
                .as_i64()
                .ok_or_else(|| AppError::validation(field, "must be a whole number")),
            Some(Value::Null) | None => Err(missing(field)),
            Some(_) => Err(AppError::validation(field, "must be a whole number")),
        }
    }

    pub fn string_list(field: &'static str, value: Option<Value>) -> Result<Vec<String>, AppError> {
        match value {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text),
                    _ => Err(AppError::validation(field, "must be a list of strings")),
                })
                .collect(),
            Some(Value::Null) | None => Err(missing(field)),
            Some(_) => Err(AppError::validation(field, "must be a list of strings")),
        }
    }
}

/// The client context of a request: its client address, user agent and client certificate.
#[derive(Debug, Clone)]
pub struct Ctx(pub RequestContext);

impl FromRequestParts<ServerState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Ctx(request_context(parts, state)))
    }
}

pub fn request_context(parts: &Parts, state: &ServerState) -> RequestContext {
    context_from(
        &parts.headers,
        parts.extensions.get::<ConnectionInfo>(),
        &state.app.config().trusted_proxies,
    )
}

/// The client context of a request from its headers and its connection.
pub fn context_from(
    headers: &HeaderMap,
    connection: Option<&ConnectionInfo>,
    trusted_proxies: &CidrList,
) -> RequestContext {
    let peer = connection
        .map(|info| info.peer)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    RequestContext {
        ip: client_ip(peer, headers, trusted_proxies),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        client_certificate: connection.and_then(|info| info.client_certificate.clone()),
    }
}

/// The authenticated caller.
///
/// A request with an `Authorization` header is authenticated by it alone (`Bearer`).
/// Without one, the access-token cookie of a browser session is used, and an unsafe method
/// must also echo the `csrf_token` cookie in `X-CSRF-Token`; a missing or wrong echo is
/// refused with 403 and recorded as a CSRF denial before the token is even looked at.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<ServerState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Authenticated(principal.clone()));
        }
        let principal = if parts.headers.contains_key(header::AUTHORIZATION) {
            let token = bearer_token(parts).ok_or(ApiError(AppError::Unauthorized))?;
            state.app.authenticate(token).await?
        } else {
            let cookies = SessionCookies::read(&parts.headers);
            let token = cookies
                .access
                .as_deref()
                .ok_or(ApiError(AppError::Unauthorized))?;
            require_csrf(parts, state, &cookies).await?;
            state.app.authenticate(token).await?
        };
        parts.extensions.insert(principal.clone());
        Ok(Authenticated(principal))
    }
}

/// Whether the request authenticates with session cookies rather than a header.
pub fn uses_cookie_auth(headers: &HeaderMap) -> bool {
    !headers.contains_key(header::AUTHORIZATION)
}

/// Refuses an unsafe cookie-authenticated request that does not echo its CSRF token.
pub async fn require_csrf(
    parts: &Parts,
    state: &ServerState,
    cookies: &SessionCookies,
) -> Result<(), ApiError> {
    if !is_unsafe(&parts.method) || csrf_matches(&parts.headers, cookies) {
        return Ok(());
    }
    let context = request_context(parts, state);
    Err(deny_csrf(state, &context, parts.uri.path()).await)
}

/// Records a CSRF denial and returns the 403 for it.
pub async fn deny_csrf(state: &ServerState, context: &RequestContext, path: &str) -> ApiError {
    if let Err(error) = state
        .app
        .record_denial(context, DenialReason::Csrf, path)
        .await
    {
        tracing::error!(%error, "cannot record a CSRF denial in the audit log");
    }
    ApiError(AppError::Forbidden(
        "missing or mismatched CSRF token: echo the csrf_token cookie in X-CSRF-Token".into(),
    ))
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Raw {
        name: Option<Value>,
    }

    #[test]
    fn strict_parse_messages_never_echo_values() {
        let cases: &[(&str, &str)] = &[
            (r#"{"name": "a", "extra": "secret-value"}"#, "unknown field"),
            (
                r#"{"name": "a", "name": "secret-value"}"#,
                "duplicate field",
            ),
            (r#"{"name": "secret-value""#, "ends before"),
            (r#"["secret-value"]"#, "JSON object"),
            ("secret-value", "JSON object"),
            ("{\"name\": secret-value}", "not valid JSON"),
        ];
        for (body, expected) in cases {
            let message = parse_strict::<Raw>(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(message.contains(expected), "{body}: {message}");
            assert!(!message.contains("secret-value"), "{body}: {message}");
        }
    }
}
