//! Owned secret values: [`SecretString`] and [`SecretBytes`].
//!
//! Both types keep their bytes out of `Debug` output, zero their memory when dropped and
//! offer no `PartialEq`: the only comparison is [`SecretString::ct_eq`] /
//! [`SecretBytes::ct_eq`], which runs in constant time for inputs of equal length. The value
//! is reached only through an explicit `expose()` call, so every place that reads a secret is
//! easy to find.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A UTF-8 secret (a password, a key in text form, a URL that contains a password).
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    /// Takes ownership of `value`; the string's buffer is zeroed when this value is dropped.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// Returns the secret text. Keep the borrow short and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Returns the length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares in constant time (the running time depends only on the lengths).
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// A binary secret (a raw key, a data key).
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `value`; the buffer is zeroed when this value is dropped.
    pub fn new(value: Vec<u8>) -> Self {
        Self(value)
    }

    /// Returns the secret bytes. Keep the borrow short and never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Returns the length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares in constant time (the running time depends only on the lengths).
    pub fn ct_eq(&self, other: &Self) -> bool {
        self.0.as_slice().ct_eq(other.0.as_slice()).into()
    }

    /// Converts into a [`SecretString`] when the bytes are UTF-8. On failure the bytes are
    /// zeroed and dropped, and only the position of the first bad byte is returned.
    pub fn into_secret_string(mut self) -> Result<SecretString, usize> {
        let bytes = std::mem::take(&mut self.0);
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SecretString::new(text)),
            Err(error) => {
                let position = error.utf8_error().valid_up_to();
                let mut bytes = error.into_bytes();
                bytes.zeroize();
                Err(position)
            }
        }
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(value: Vec<u8>) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_secret_string() {
        let secret = SecretString::from("hunter2-pepper");

        let shown = format!("{secret:?} {:#?}", secret);

        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.starts_with("SecretString(***)"));
    }

    #[test]
    fn debug_output_hides_the_secret_bytes() {
        let secret = SecretBytes::from(b"raw-key-material".to_vec());

        let shown = format!("{secret:?} {:#?}", secret);

        assert!(!shown.contains("raw-key"), "{shown}");
        assert!(!shown.contains("114"), "bytes must not be listed: {shown}");
        assert!(shown.starts_with("SecretBytes(***)"));
    }

    #[test]
    fn ct_eq_compares_contents() {
        // (left, right, equal)
        let rows = [
            ("same", "same", true),   // identical text
            ("same", "Same", false),  // one bit differs
            ("same", "same ", false), // different length
            ("", "", true),           // both empty
        ];
        for (left, right, equal) in rows {
            assert_eq!(
                SecretString::from(left).ct_eq(&SecretString::from(right)),
                equal
            );
            let (left, right) = (left.as_bytes().to_vec(), right.as_bytes().to_vec());
            assert_eq!(
                SecretBytes::from(left).ct_eq(&SecretBytes::from(right)),
                equal
            );
        }
    }

    #[test]
    fn into_secret_string_rejects_invalid_utf8() {
        let bytes = SecretBytes::from(vec![b'o', b'k', 0xff, b'x']);

        assert_eq!(bytes.into_secret_string().err(), Some(2));
    }

    #[test]
    fn zeroize_clears_the_buffer() {
        let mut secret = SecretString::from("wipe me");

        secret.zeroize();

        assert!(secret.is_empty());
    }
}
