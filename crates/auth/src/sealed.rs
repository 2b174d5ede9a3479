//! TOTP secrets at rest: AES-256-GCM under a key derived from the pepper, with the account id
//! as associated data, so a sealed secret copied onto another account's row does not open.
//!
//! Layout: one version byte (1), a random 96-bit nonce, then the ciphertext with its tag.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use uuid::Uuid;

use crate::error::AuthError;
use crate::secret::SecretKey;
use crate::totp::TotpSecret;

const VERSION: u8 = 1;
const NONCE_BYTES: usize = 12;

/// Seals and opens TOTP secrets.
pub struct TotpCipher {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for TotpCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpCipher(***)")
    }
}

impl TotpCipher {
    /// Takes a 32-byte key.
    pub fn new(key: &SecretKey) -> Result<Self, AuthError> {
        let cipher = Aes256Gcm::new_from_slice(key.expose())
            .map_err(|_| AuthError::InvalidKey("the TOTP encryption key must be 32 bytes"))?;
        Ok(Self { cipher })
    }

    pub fn seal(&self, secret: &TotpSecret, account_id: Uuid) -> Result<Vec<u8>, AuthError> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret.expose(),
            aad: account_id.as_bytes(),
        };
        let ciphertext = self
            .cipher
            .encrypt(&Nonce::from(nonce), payload)
            .map_err(|_| AuthError::Sealing("cannot encrypt the TOTP secret"))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_BYTES + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a sealed secret of `account_id`; fails for another account's secret, a changed
    /// byte or another key.
    pub fn open(&self, sealed: &[u8], account_id: Uuid) -> Result<TotpSecret, AuthError> {
        let unusable = || AuthError::Sealing("the stored TOTP secret cannot be opened");
        let Some((&VERSION, rest)) = sealed.split_first() else {
            return Err(unusable());
        };
        if rest.len() <= NONCE_BYTES {
            return Err(unusable());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| unusable())?;
        let payload = Payload {
            msg: ciphertext,
            aad: account_id.as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| unusable())?;
        Ok(TotpSecret::from_bytes(plain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(byte: u8) -> TotpCipher {
        TotpCipher::new(&SecretKey::from_bytes(vec![byte; 32])).unwrap()
    }

    #[test]
    fn sealed_secret_binding() {
        let secret = TotpSecret::generate();
        let account = Uuid::new_v4();
        let sealed = cipher(1).seal(&secret, account).unwrap();
        assert!(
            !sealed
                .windows(secret.expose().len())
                .any(|window| window == secret.expose()),
            "the secret is not stored in clear"
        );
        let opened = cipher(1).open(&sealed, account).unwrap();
        assert_eq!(opened.expose(), secret.expose());

        assert!(
            cipher(1).open(&sealed, Uuid::new_v4()).is_err(),
            "other account"
        );
        assert!(cipher(2).open(&sealed, account).is_err(), "other key");
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(cipher(1).open(&flipped, account).is_err(), "changed byte");
        assert!(cipher(1).open(&sealed[..5], account).is_err(), "truncated");
        assert!(cipher(1).open(&[], account).is_err(), "empty");
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        let secret = TotpSecret::generate();
        let account = Uuid::new_v4();
        assert_ne!(
            cipher(1).seal(&secret, account).unwrap(),
            cipher(1).seal(&secret, account).unwrap()
        );
    }
}
