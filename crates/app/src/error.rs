//! The errors application services return, each with the stable code the API shows.
//!
//! Client faults carry a message meant for the client. Server faults carry detail for the
//! log only; the HTTP layer shows the client a generic message for them.

use std::time::Duration;

use spiritus_core::validation::FieldError;
use spiritus_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// One field failed validation (422 `validation_failed`).
    #[error("{}", .0.message)]
    Validation(FieldError),
    /// The request body or query cannot be understood (400 `malformed_request`).
    #[error("{0}")]
    Malformed(String),
    /// A name is taken (409 `conflict`).
    #[error("{message}")]
    Conflict {
        field: Option<&'static str>,
        message: String,
    },
    /// Missing, bad, expired or revoked token (401 `unauthorized`).
    #[error("authentication required")]
    Unauthorized,
    /// Wrong username, password or second factor (401 `invalid_credentials`).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The caller may not do this (403 `forbidden`).
    #[error("{0}")]
    Forbidden(String),
    /// The account must change its password first (403 `password_change_required`).
    #[error("the password must be changed before anything else")]
    PasswordChangeRequired,
    /// The account must enrol a second factor first (403 `second_factor_enrolment_required`).
    #[error("a second factor must be enrolled before anything else")]
    EnrolmentRequired,
    /// A second-factor login challenge that is unknown, used, expired, or presented from
    /// another address (401 `challenge_invalid`): log in with the password again.
    #[error("the login challenge is unknown, used or expired; log in with the password again")]
    ChallengeInvalid,
    /// Passkeys are off on this panel (404 `passkeys_disabled`); the message says why.
    #[error("{0}")]
    PasskeysDisabled(String),
    /// Nothing by that name (404 `not_found`).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Too many requests (429 `rate_limited`).
    #[error("too many requests; retry after {} seconds", retry_after.as_secs().max(1))]
    RateLimited {
        retry_after: Duration,
        limit: u64,
        window: Duration,
    },
    /// A backend needed for a safe answer is down, or the server is saturated (503).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A fault of ours (500); the detail is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation_failed",
            AppError::Malformed(_) => "malformed_request",
            AppError::Conflict { .. } => "conflict",
            AppError::Unauthorized => "unauthorized",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::Forbidden(_) => "forbidden",
            AppError::PasswordChangeRequired => "password_change_required",
            AppError::EnrolmentRequired => "second_factor_enrolment_required",
            AppError::ChallengeInvalid => "challenge_invalid",
            AppError::PasskeysDisabled(_) => "passkeys_disabled",
            AppError::NotFound(_) => "not_found",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            AppError::Validation(error) => Some(error.field),
            AppError::Conflict { field, .. } => *field,
            _ => None,
        }
    }

    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        AppError::Validation(FieldError::new(field, message))
    }
}

impl From<FieldError> for AppError {
    fn from(error: FieldError) -> Self {
        AppError::Validation(error)
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { what } => AppError::NotFound(what),
            StoreError::Conflict { what } => AppError::Conflict {
                field: Some("name"),
                message: format!("a {what} with this name already exists"),
            },
            StoreError::InvalidCursor => AppError::validation(
                "cursor",
                "the cursor is invalid; pass next_cursor from the previous page unchanged",
            ),
            StoreError::Unavailable(detail) => AppError::Unavailable(detail),
            other => AppError::Internal(other.to_string()),
        }
    }
}
