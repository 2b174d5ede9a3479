//! Turning failures into the API's error body `{"error": {"code", "message", "field"?}}`.
//!
//! [`ApiError`] maps every [`AppError`] to its status in one place. Server faults are logged
//! with their detail and shown to the client as a generic message. [`normalize_errors`]
//! rewrites any error response the framework produced by itself (a 405 from routing, a 413
//! from the body limit) into the same body.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use spiritus_app::AppError;
use utoipa::ToSchema;

/// An application error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        Self(error)
    }
}

impl From<spiritus_core::validation::FieldError> for ApiError {
    fn from(error: spiritus_core::validation::FieldError) -> Self {
        Self(AppError::Validation(error))
    }
}

impl From<spiritus_store::StoreError> for ApiError {
    fn from(error: spiritus_store::StoreError) -> Self {
        Self(AppError::from(error))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub fn status_of(error: &AppError) -> StatusCode {
    match error {
        AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Malformed(_) => StatusCode::BAD_REQUEST,
        AppError::Conflict { .. } => StatusCode::CONFLICT,
        AppError::Unauthorized | AppError::InvalidCredentials | AppError::ChallengeInvalid => {
            StatusCode::UNAUTHORIZED
        }
        AppError::Forbidden(_) | AppError::PasswordChangeRequired | AppError::EnrolmentRequired => {
            StatusCode::FORBIDDEN
        }
        AppError::NotFound(_) | AppError::PasskeysDisabled(_) => StatusCode::NOT_FOUND,
        AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let status = status_of(&error);
        let message = match &error {
            AppError::Internal(detail) => {
                tracing::error!(%detail, "request failed with an internal error");
                "internal error; the details are in the server log".to_owned()
            }
            AppError::Unavailable(detail) => {
                tracing::warn!(%detail, "request refused: a backend is unavailable");
                "the service is temporarily unavailable; retry shortly".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = error_response(status, error.code(), &message, error.field());
        match &error {
            AppError::RateLimited {
                retry_after,
                limit,
                window,
            } => add_rate_limit_headers(&mut response, *retry_after, *limit, *window),
            AppError::Unavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            AppError::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

fn add_rate_limit_headers(
    response: &mut Response,
    retry_after: Duration,
    limit: u64,
    window: Duration,
) {
    let seconds = retry_after.as_secs().max(1);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        headers.insert(header::RETRY_AFTER, value);
    }
    let policy = format!("\"default\";q={limit};w={}", window.as_secs());
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert("ratelimit-policy", value);
    }
    let current = format!("\"default\";r=0;t={seconds}");
    if let Ok(value) = HeaderValue::from_str(&current) {
        headers.insert("ratelimit", value);
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

/// Error details: a stable machine-readable code, a human message, and the request field at
/// fault when there is one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable snake_case code, e.g. `validation_failed`.
    pub code: &'a str,
    /// Human text; may change between versions.
    pub message: &'a str,
    /// The one request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

/// Builds the standard error body with a status.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    field: Option<&str>,
) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code,
            message,
            field,
        },
    };
    (status, Json(body)).into_response()
}

/// Gives every error response without a JSON body the standard error body.
pub async fn normalize_errors(request: Request<Body>, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this method is not allowed here"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as application/json",
        ),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
        StatusCode::SERVICE_UNAVAILABLE => {
            ("unavailable", "the service is temporarily unavailable")
        }
        status if status.is_server_error() => ("internal_error", "internal error"),
        _ => ("malformed_request", "the request could not be understood"),
    };
    let (parts, _) = response.into_parts();
    let mut normalized = error_response(status, code, message, None);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            normalized.headers_mut().insert(name.clone(), value.clone());
        }
    }
    normalized
}
