//! Opaque random tokens (refresh tokens, second-factor challenges, CSRF tokens) and their
//! stored form.
//!
//! A token is 256 random bits, written as URL-safe base64 behind a short prefix that says what
//! it is for. Only its SHA-256 is stored, so a database dump yields no usable token.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::secret::constant_time_eq;

/// A freshly generated or presented token, in the form the client holds.
pub struct OpaqueToken(Zeroizing<String>);

impl OpaqueToken {
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self(Zeroizing::new(format!(
            "{prefix}{}",
            URL_SAFE_NO_PAD.encode(bytes.as_ref())
        )))
    }

    /// Wraps a token a client presented.
    pub fn from_presented(raw: &str) -> Self {
        Self(Zeroizing::new(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken(***)")
    }
}

/// SHA-256 of a token: the only form that is stored or used as a lookup key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex_lower(&self.0)
    }

    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_unique_and_prefixed() {
        let a = OpaqueToken::generate("rt_");
        let b = OpaqueToken::generate("rt_");
        assert!(a.expose().starts_with("rt_"));
        assert_eq!(a.expose().len(), 3 + 43);
        assert_ne!(a.expose(), b.expose());
        assert!(!a.hash().ct_eq(&b.hash()));
    }

    #[test]
    fn token_debug_shows_no_secret() {
        let token = OpaqueToken::generate("rt_");
        let shown = format!("{token:?} {:?}", token.hash());
        assert!(!shown.contains(&token.expose()[3..]));
    }
}
