//! The Ed25519 key pair that signs tree heads and checkpoints.
//!
//! [`AuditSigningKey`] contains the secret: it has no `Debug`, `Clone` or comparison, and the
//! wrapped `ed25519_dalek::SigningKey` zeroizes itself on drop. [`AuditVerifyingKey`] is the
//! public half that verifiers pin. A key is named by its key id: the first 8 bytes of
//! SHA-256 over the 32 public key bytes, as 16 lower-case hex digits.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length of an Ed25519 seed and of a public key.
pub const KEY_LEN: usize = 32;

/// A key that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("invalid audit signing key seed length: expected 32 bytes, found {found}")]
    SeedLength { found: usize },
    #[error("invalid audit public key length: expected 32 bytes, found {found}")]
    PublicKeyLength { found: usize },
    #[error("invalid audit public key hex; expected 64 hex digits")]
    PublicKeyHex,
    #[error("invalid audit public key: not a point on Ed25519")]
    NotAPoint,
    #[error(
        "rejected weak audit public key: it has small order and would accept forged signatures"
    )]
    WeakKey,
}

/// A signature that does not check out against the pinned key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("signed by key {found}, but the expected audit key is {expected}")]
    KeyMismatch { found: String, expected: String },
    #[error("invalid Ed25519 signature for key {key_id}")]
    Invalid { key_id: String },
}

/// The panel's audit signing key.
pub struct AuditSigningKey {
    inner: SigningKey,
}

impl AuditSigningKey {
    /// Builds the key from its 32-byte seed.
    pub fn from_seed(seed: &[u8; KEY_LEN]) -> Self {
        Self {
            inner: SigningKey::from_bytes(seed),
        }
    }

    /// Builds the key from a seed of unchecked length, such as bytes read from a secret file.
    pub fn from_seed_slice(seed: &[u8]) -> Result<Self, KeyError> {
        let seed: Zeroizing<[u8; KEY_LEN]> = Zeroizing::new(
            seed.try_into()
                .map_err(|_| KeyError::SeedLength { found: seed.len() })?,
        );
        Ok(Self::from_seed(&seed))
    }

    /// Generates a new key from the operating system's random number generator.
    pub fn generate() -> Self {
        Self {
            inner: SigningKey::generate(&mut OsRng),
        }
    }

    /// Returns the 32-byte seed for storing the key. The copy is wiped when it is dropped.
    pub fn to_seed(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.inner.to_bytes())
    }

    /// Returns the public half.
    pub fn verifying_key(&self) -> AuditVerifyingKey {
        AuditVerifyingKey {
            inner: self.inner.verifying_key(),
        }
    }

    /// Key id of the public half.
    pub fn key_id(&self) -> String {
        self.verifying_key().key_id()
    }

    /// Signs `payload` (a domain-separated signing payload) with Ed25519.
    pub(crate) fn sign_payload(&self, payload: &[u8]) -> [u8; 64] {
        self.inner.sign(payload).to_bytes()
    }
}

/// The public audit key that verifies tree heads and checkpoints.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuditVerifyingKey {
    inner: VerifyingKey,
}

impl AuditVerifyingKey {
    /// Reads a public key, rejecting bytes that are not a point and small-order (weak) keys.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Result<Self, KeyError> {
        let inner = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotAPoint)?;
        if inner.is_weak() {
            return Err(KeyError::WeakKey);
        }
        Ok(Self { inner })
    }

    /// Reads a public key from 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::PublicKeyHex)?;
        let bytes: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::PublicKeyLength { found: bytes.len() })?;
        Self::from_bytes(&bytes)
    }

    /// Returns the 32 public key bytes.
    pub fn to_bytes(&self) -> [u8; KEY_LEN] {
        self.inner.to_bytes()
    }

    /// Returns the public key as 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// First 8 bytes of SHA-256 over the public key, as 16 lower-case hex digits.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.to_bytes());
        hex::encode(&digest[..8])
    }

    /// Checks a signature made over `payload` by the key named `key_id`.
    ///
    /// Uses Ed25519 strict verification, which also rejects non-canonical signature encodings.
    pub(crate) fn verify_payload(
        &self,
        payload: &[u8],
        key_id: &str,
        signature: &[u8; 64],
    ) -> Result<(), SignatureError> {
        let expected = self.key_id();
        if key_id != expected {
            return Err(SignatureError::KeyMismatch {
                found: key_id.chars().take(64).collect(),
                expected,
            });
        }

        let signature = Signature::from_bytes(signature);
        self.inner
            .verify_strict(payload, &signature)
            .map_err(|_| SignatureError::Invalid { key_id: expected })
    }
}

impl fmt::Debug for AuditVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditVerifyingKey({})", self.to_hex())
    }
}

impl Serialize for AuditVerifyingKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for AuditVerifyingKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}

    #[test]
    fn signing_key_material_zeroizes_on_drop() {
        assert_zeroize_on_drop::<SigningKey>();
    }

    #[test]
    fn seed_round_trips() {
        let key = AuditSigningKey::from_seed(&[7; 32]);
        let again = AuditSigningKey::from_seed_slice(key.to_seed().as_slice()).unwrap();

        assert_eq!(again.verifying_key(), key.verifying_key());
    }

    #[test]
    fn seed_slice_rejects_wrong_length() {
        let error = AuditSigningKey::from_seed_slice(&[1; 31]).err();

        assert_eq!(error, Some(KeyError::SeedLength { found: 31 }));
    }

    #[test]
    fn key_id_is_sha256_prefix_of_public_key() {
        let key = AuditSigningKey::from_seed(&[7; 32]).verifying_key();
        let digest = Sha256::digest(key.to_bytes());

        assert_eq!(key.key_id(), hex::encode(&digest[..8]));
        assert_eq!(key.key_id().len(), 16);
    }

    #[test]
    fn verifying_key_rejects_weak_and_malformed_keys() {
        // The identity point is a valid encoding of a small-order point.
        let mut identity = [0u8; 32];
        identity[0] = 1;

        assert_eq!(
            AuditVerifyingKey::from_bytes(&identity),
            Err(KeyError::WeakKey)
        );
        assert_eq!(
            AuditVerifyingKey::from_hex("abcd"),
            Err(KeyError::PublicKeyLength { found: 2 })
        );
        assert_eq!(
            AuditVerifyingKey::from_hex("zz"),
            Err(KeyError::PublicKeyHex)
        );
    }

    #[test]
    fn verifying_key_hex_round_trips() {
        let key = AuditSigningKey::from_seed(&[9; 32]).verifying_key();

        assert_eq!(AuditVerifyingKey::from_hex(&key.to_hex()), Ok(key));
    }
}
