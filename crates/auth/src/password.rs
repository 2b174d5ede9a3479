//! Password hashing: Argon2id (memory 65536 KiB, 3 iterations, parallelism 4, 32-byte output,
//! 16-byte random salt) with a pepper used as Argon2's secret input, stored as PHC strings.
//!
//! The pepper lives outside the database, so a stolen database alone does not allow offline
//! guessing. The parameters are part of every stored hash; a login with a hash made under
//! older parameters reports that it needs a rehash.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::error::AuthError;
use crate::secret::SecretKey;

/// Argon2 memory cost in KiB.
pub const MEMORY_KIB: u32 = 65_536;
/// Argon2 iterations.
pub const ITERATIONS: u32 = 3;
/// Argon2 lanes.
pub const PARALLELISM: u32 = 4;
/// Length of the derived hash in bytes.
pub const OUTPUT_LEN: usize = 32;
/// Length of the random salt in bytes.
pub const SALT_LEN: usize = 16;
/// Longest password accepted, in bytes. Longer input is rejected, never truncated.
pub const MAX_PASSWORD_BYTES: usize = 4096;
/// Shortest password an operator may set, in characters.
pub const MIN_NEW_PASSWORD_CHARS: usize = 12;

/// A password as typed; zeroed when dropped and never shown by `Debug`.
pub struct Password(Zeroizing<String>);

impl Password {
    pub fn new(raw: String) -> Self {
        Self(Zeroizing::new(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordVerification {
    Valid { needs_rehash: bool },
    Invalid,
}

/// Hashes and verifies passwords under one pepper.
pub struct PasswordHasher {
    pepper: SecretKey,
    params: Params,
    /// A hash of a random password, verified against when the account does not exist, so an
    /// unknown name costs the same work as a wrong password.
    dummy_hash: String,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Builds a hasher with the production parameters.
    pub fn new(pepper: SecretKey) -> Result<Self, AuthError> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_LEN))
            .map_err(|error| AuthError::Hashing(error.to_string()))?;
        Self::with_params(pepper, params)
    }

    /// Builds a hasher with other parameters; used to create outdated hashes in tests.
    pub fn with_params(pepper: SecretKey, params: Params) -> Result<Self, AuthError> {
        if pepper.len() < 32 {
            return Err(AuthError::InvalidKey(
                "the pepper must be at least 32 bytes",
            ));
        }
        let mut hasher = Self {
            pepper,
            params,
            dummy_hash: String::new(),
        };
        let filler = SecretKey::generate(24);
        let dummy = Password::new(base64_of(filler.expose()));
        hasher.dummy_hash = hasher.hash(&dummy)?;
        Ok(hasher)
    }

    fn argon2(&self, params: Params) -> Result<Argon2<'_>, AuthError> {
        Argon2::new_with_secret(
            self.pepper.expose(),
            Algorithm::Argon2id,
            Version::V0x13,
            params,
        )
        .map_err(|error| AuthError::Hashing(error.to_string()))
    }

    /// Hashes a password with a fresh random salt into a PHC string.
    pub fn hash(&self, password: &Password) -> Result<String, AuthError> {
        let salt = SaltString::generate(&mut OsRng);
        let hash = self
            .argon2(self.params.clone())?
            .hash_password(password.expose().as_bytes(), &salt)
            .map_err(|error| AuthError::Hashing(error.to_string()))?;
        Ok(hash.to_string())
    }

    /// Checks a password against a stored PHC string, using the parameters stored in it.
    pub fn verify(
        &self,
        password: &Password,
        stored: &str,
    ) -> Result<PasswordVerification, AuthError> {
        let parsed = PasswordHash::new(stored).map_err(|_| AuthError::MalformedHash)?;
        let stored_params = Params::try_from(&parsed).map_err(|_| AuthError::MalformedHash)?;
        let argon2 = self.argon2(stored_params.clone())?;

        match argon2.verify_password(password.expose().as_bytes(), &parsed) {
            Ok(()) => Ok(PasswordVerification::Valid {
                needs_rehash: self.is_outdated(&parsed, &stored_params),
            }),
            Err(argon2::password_hash::Error::Password) => Ok(PasswordVerification::Invalid),
            Err(error) => Err(AuthError::Hashing(error.to_string())),
        }
    }

    /// Runs one full verification against a dummy hash and discards the result.
    pub fn verify_dummy(&self, password: &Password) {
        let _ = self.verify(password, &self.dummy_hash);
    }

    fn is_outdated(&self, parsed: &PasswordHash<'_>, stored: &Params) -> bool {
        parsed.algorithm != argon2::ARGON2ID_IDENT
            || parsed.version != Some(Version::V0x13.into())
            || stored.m_cost() != self.params.m_cost()
            || stored.t_cost() != self.params.t_cost()
            || stored.p_cost() != self.params.p_cost()
            || stored.output_len() != self.params.output_len()
            || parsed.salt.map(|salt| salt.len()).unwrap_or(0) < salt_b64_len()
    }
}

/// Length of a 16-byte salt in the unpadded base64 of PHC strings.
fn salt_b64_len() -> usize {
    SALT_LEN.div_ceil(3) * 4 - (3 - SALT_LEN % 3) % 3
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Checks the rules for a new password: 12 to 4096 bytes of text, not only whitespace.
pub fn check_new_password(raw: &str) -> Result<(), &'static str> {
    if raw.len() > MAX_PASSWORD_BYTES {
        return Err("must be at most 4096 bytes");
    }
    if raw.chars().count() < MIN_NEW_PASSWORD_CHARS {
        return Err("must be at least 12 characters");
    }
    if raw.trim().is_empty() {
        return Err("must not be only whitespace");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pepper(byte: u8) -> SecretKey {
        SecretKey::from_bytes(vec![byte; 32])
    }

    #[test]
    fn hash_uses_production_parameters() {
        let hasher = PasswordHasher::new(pepper(1)).unwrap();
        let hash = hasher.hash(&Password::new("correct horse".into())).unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"),
            "{hash}"
        );
        let parsed = PasswordHash::new(&hash).unwrap();
        assert_eq!(parsed.hash.unwrap().len(), OUTPUT_LEN);
        assert_eq!(parsed.salt.unwrap().len(), salt_b64_len());
    }

    #[test]
    fn verify_accepts_right_and_rejects_wrong_password() {
        let hasher = PasswordHasher::new(pepper(1)).unwrap();
        let hash = hasher.hash(&Password::new("correct horse".into())).unwrap();
        assert_eq!(
            hasher
                .verify(&Password::new("correct horse".into()), &hash)
                .unwrap(),
            PasswordVerification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher
                .verify(&Password::new("correct hors".into()), &hash)
                .unwrap(),
            PasswordVerification::Invalid
        );
    }

    #[test]
    fn verify_fails_under_another_pepper() {
        let hash = PasswordHasher::new(pepper(1))
            .unwrap()
            .hash(&Password::new("correct horse".into()))
            .unwrap();
        let other = PasswordHasher::new(pepper(2)).unwrap();
        assert_eq!(
            other
                .verify(&Password::new("correct horse".into()), &hash)
                .unwrap(),
            PasswordVerification::Invalid
        );
    }

    #[test]
    fn outdated_parameters_ask_for_rehash() {
        let weak = Params::new(8 * 1024, 1, 1, Some(32)).unwrap();
        let old = PasswordHasher::with_params(pepper(1), weak).unwrap();
        let hash = old.hash(&Password::new("correct horse".into())).unwrap();

        let current = PasswordHasher::new(pepper(1)).unwrap();
        assert_eq!(
            current
                .verify(&Password::new("correct horse".into()), &hash)
                .unwrap(),
            PasswordVerification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn long_unicode_password_is_not_truncated() {
        let hasher = PasswordHasher::new(pepper(1)).unwrap();
        let long = "🔑ر".repeat(200);
        assert!(long.len() > 1024);
        let hash = hasher.hash(&Password::new(long.clone())).unwrap();
        let mut shorter = long.clone();
        shorter.pop();
        assert!(matches!(
            hasher.verify(&Password::new(long), &hash).unwrap(),
            PasswordVerification::Valid { .. }
        ));
        assert_eq!(
            hasher.verify(&Password::new(shorter), &hash).unwrap(),
            PasswordVerification::Invalid
        );
    }

    #[test]
    fn short_pepper_is_rejected() {
        assert!(PasswordHasher::new(SecretKey::from_bytes(vec![0; 16])).is_err());
    }

    #[test]
    fn malformed_hash_is_an_error() {
        let hasher = PasswordHasher::new(pepper(1)).unwrap();
        assert!(
            hasher
                .verify(&Password::new("x".into()), "not-a-phc")
                .is_err()
        );
    }

    #[test]
    fn password_debug_hides_value() {
        let shown = format!("{:?}", Password::new("hunter2hunter2".into()));
        assert!(!shown.contains("hunter2"));
    }
}
