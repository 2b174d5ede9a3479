//! Errors of the credential and token code.

/// A failure while hashing or checking a password. The message never carries the password.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("stored password hash is not a valid PHC string")]
    MalformedHash,
    #[error("key material is invalid: {0}")]
    InvalidKey(&'static str),
    #[error("{0}")]
    Sealing(&'static str),
}

/// Why an access token was not accepted. The client only ever learns `401 unauthorized`;
/// the variant goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a well-formed JWT")]
    Malformed,
    #[error("token algorithm is not HS256")]
    WrongAlgorithm,
    #[error("token names an unknown signing key")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token claims are missing or have the wrong type")]
    BadClaims,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer or audience does not match")]
    WrongIssuerOrAudience,
    #[error("token is not an access token")]
    WrongType,
}
