//! Subscription tokens.
//!
//! A user's token is HMAC-SHA256 under a server key over the user id and a rotation counter,
//! written as URL-safe base64 (256 bits). It is never stored: the database holds only its
//! SHA-256 for lookup, and the token can be derived again to show the link. Rotating bumps the
//! counter, which makes the old link unknown.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use spiritus_auth::{SecretKey, TokenHash};
use uuid::Uuid;

use crate::error::AppError;

/// Longest token accepted from a client before any work is done.
pub const MAX_TOKEN_LEN: usize = 64;

/// Derives the subscription token of a user at a rotation revision.
pub fn derive_token(key: &SecretKey, user_id: Uuid, revision: u32) -> Result<String, AppError> {
    // HMAC takes keys of any length, so this error cannot occur.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose())
        .map_err(|_| AppError::Internal("subscription key unusable".into()))?;
    mac.update(b"spiritus-subscription-v1");
    mac.update(user_id.as_bytes());
    mac.update(&revision.to_be_bytes());
    Ok(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The stored lookup key of a token.
pub fn token_hash(token: &str) -> TokenHash {
    TokenHash::of(token.as_bytes())
}

/// Whether a presented token has the shape of one of ours; anything else is answered 404
/// without a database lookup.
pub fn looks_like_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_stable_and_changes_with_revision() {
        let key = SecretKey::from_bytes(vec![9; 32]);
        let id = Uuid::from_u128(7);
        let first = derive_token(&key, id, 0).unwrap();
        assert_eq!(first, derive_token(&key, id, 0).unwrap());
        assert_ne!(first, derive_token(&key, id, 1).unwrap());
        assert_ne!(first, derive_token(&key, Uuid::from_u128(8), 0).unwrap());
        assert!(looks_like_token(&first));
    }

    #[test]
    fn odd_tokens_are_rejected_by_shape() {
        for token in [
            "",
            "short",
            "../../etc/passwd",
            &"a".repeat(44),
            &"%".repeat(43),
        ] {
            assert!(!looks_like_token(token), "{token}");
        }
    }
}
