//! JWT access tokens: HS256 only, 30 minutes, with `sub`, `exp`, `iat`, `iss`, `aud`, `jti`,
//! the session id `sid` and `type` = `access`.
//!
//! Several signing keys may be configured, each with an id (`kid`); the active one signs and
//! the others still verify, so keys rotate without logging everyone out. Expiry is checked
//! here against the caller's clock, not the library's, and every claim is decoded into a
//! strictly typed struct, so a claim of the wrong JSON type is rejected rather than treated
//! as absent.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AuthError, TokenError};
use crate::secret::SecretKey;

/// The only value of `type` an access token may carry.
pub const ACCESS_TOKEN_TYPE: &str = "access";
/// Shortest signing key accepted, in bytes (256 bits).
pub const MIN_KEY_BYTES: usize = 32;

/// Issuer, audience and lifetimes of the tokens this panel issues.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: "spiritus".into(),
            audience: "spiritus-api".into(),
            access_ttl: Duration::minutes(30),
            refresh_ttl: Duration::days(7),
        }
    }
}

/// The claims of an access token, decoded strictly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    pub sid: String,
    #[serde(rename = "type")]
    pub token_type: String,
}

impl AccessClaims {
    pub fn account_id(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.sub).ok()
    }

    pub fn session_id(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.sid).ok()
    }

    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.exp, 0)
    }
}

/// A signed token and the facts the caller stores about it.
pub struct IssuedAccessToken {
    pub token: String,
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for IssuedAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedAccessToken")
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The configured signing keys; the first one signs.
pub struct JwtKeys {
    keys: Vec<SigningKey>,
    settings: TokenSettings,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|key| key.kid.as_str()).collect();
        f.debug_struct("JwtKeys")
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// Builds the key set from `(kid, key)` pairs; the first pair is the active signing key.
    pub fn new(keys: Vec<(String, SecretKey)>, settings: TokenSettings) -> Result<Self, AuthError> {
        if keys.is_empty() {
            return Err(AuthError::InvalidKey(
                "at least one JWT signing key is required",
            ));
        }
        let mut seen = HashSet::new();
        let mut signing = Vec::with_capacity(keys.len());
        for (kid, secret) in keys {
            if secret.len() < MIN_KEY_BYTES {
                return Err(AuthError::InvalidKey(
                    "a JWT signing key must be at least 32 bytes",
                ));
            }
            if kid.is_empty() || !seen.insert(kid.clone()) {
                return Err(AuthError::InvalidKey(
                    "JWT key ids must be unique and non-empty",
                ));
            }
            signing.push(SigningKey {
                kid,
                encoding: EncodingKey::from_secret(secret.expose()),
                decoding: DecodingKey::from_secret(secret.expose()),
            });
        }
        Ok(Self {
            keys: signing,
            settings,
        })
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    pub fn active_kid(&self) -> &str {
        self.keys
            .first()
            .map(|key| key.kid.as_str())
            .unwrap_or_default()
    }

    /// Signs a new access token for an account and session.
    pub fn issue(
        &self,
        account_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<IssuedAccessToken, AuthError> {
        let Some(active) = self.keys.first() else {
            return Err(AuthError::InvalidKey("no JWT signing key"));
        };
        let jti = Uuid::new_v4();
        let expires_at = now + self.settings.access_ttl;
        let claims = AccessClaims {
            sub: account_id.to_string(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            nbf: None,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            jti: jti.to_string(),
            sid: session_id.to_string(),
            token_type: ACCESS_TOKEN_TYPE.into(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(active.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &active.encoding)
            .map_err(|error| AuthError::Hashing(error.to_string()))?;
        Ok(IssuedAccessToken {
            token,
            jti,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(expires_at),
        })
    }

    /// Verifies signature, algorithm, key id, claim types, expiry, issuer, audience and type.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.kid == kid)
            .ok_or(TokenError::UnknownKey)?;

        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &self.validation())
            .map_err(map_decode_error)?;
        self.check_claims(data.claims, now)
    }

    fn validation(&self) -> Validation {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = HashSet::new();
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_audience(&[self.settings.audience.as_str()]);
        validation
    }

    fn check_claims(
        &self,
        claims: AccessClaims,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, TokenError> {
        if claims.token_type != ACCESS_TOKEN_TYPE {
            return Err(TokenError::WrongType);
        }
        if claims.iss != self.settings.issuer || claims.aud != self.settings.audience {
            return Err(TokenError::WrongIssuerOrAudience);
        }
        if claims.account_id().is_none() || claims.session_id().is_none() || claims.jti.is_empty() {
            return Err(TokenError::BadClaims);
        }
        let now = now.timestamp();
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf > now) || claims.iat > now + 60 {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

fn map_decode_error(error: jsonwebtoken::errors::Error) -> TokenError {
    match error.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenError::WrongAlgorithm,
        ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => TokenError::WrongIssuerOrAudience,
        ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => TokenError::BadClaims,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests;
