//! Credentials and tokens: password hashing with Argon2id and a pepper, JWT access tokens,
//! opaque refresh tokens and other random tokens, second factors (TOTP, backup codes, the
//! sealing of TOTP secrets, the passkey relying party), and the secret types that hold them.
//!
//! This crate knows nothing about HTTP or SQL. Every function that depends on time takes the
//! current time as an argument, so callers pass the injected clock's reading.
#![forbid(unsafe_code)]

pub mod codes;
pub mod error;
pub mod jwt;
pub mod passkey;
pub mod password;
pub mod sealed;
pub mod secret;
pub mod token;
pub mod totp;

pub use error::{AuthError, TokenError};
pub use jwt::{AccessClaims, IssuedAccessToken, JwtKeys, TokenSettings};
pub use password::{Password, PasswordHasher, PasswordVerification};
pub use secret::{SecretKey, constant_time_eq};
pub use token::{OpaqueToken, TokenHash};
