//! Key material types: no `Debug` that shows bytes, zeroed on drop, compared in constant time.

use std::fmt;

use rand::RngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Raw key bytes (JWT signing key, pepper, subscription key).
#[derive(Clone)]
pub struct SecretKey(Zeroizing<Vec<u8>>);

impl SecretKey {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Generates `len` random bytes from the operating system's generator.
    pub fn generate(len: usize) -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({} bytes, ***)", self.0.len())
    }
}

/// Compares two secrets without revealing through timing where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
