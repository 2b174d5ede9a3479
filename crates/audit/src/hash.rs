//! SHA-256 digests as values: [`Hash`](struct@Hash) for any 32-byte digest and [`PrevHash`]
//! for an entry's link to the entry before it.
//!
//! Both serialise to lower-case hex in JSON and parse hex in either case. Every parse demands
//! exactly 32 bytes, so a truncated or padded digest never reaches a comparison.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Number of bytes in a SHA-256 digest.
pub const HASH_LEN: usize = 32;

/// A SHA-256 digest: an entry hash, a Merkle node, a root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; HASH_LEN]);

/// A digest that could not be read from hex or from raw bytes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HashParseError {
    #[error("invalid hash length: expected 32 bytes, found {found}")]
    Length { found: usize },
    #[error("invalid hash hex: {0}; expected 64 hex digits")]
    Hex(#[from] hex::FromHexError),
    #[error("invalid previous hash {found:?}: expected \"genesis\" or 64 hex digits")]
    PrevHash { found: String },
}

impl Hash {
    /// SHA-256 of `bytes`.
    pub fn digest(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Returns the digest as raw bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Lower-case hex, 64 digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, HashParseError> {
        let bytes = hex::decode(text)?;
        Self::try_from(bytes.as_slice())
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = HashParseError;

    /// Accepts exactly 32 bytes: a shorter or longer value is never a SHA-256 digest.
    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        let array: [u8; HASH_LEN] = bytes
            .try_into()
            .map_err(|_| HashParseError::Length { found: bytes.len() })?;
        Ok(Self(array))
    }
}

impl From<[u8; HASH_LEN]> for Hash {
    fn from(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = HashParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_hex(text)
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// The link from an entry to the entry before it.
///
/// The first entry of a log links to [`PrevHash::Genesis`]; every later entry contains the
/// previous entry's hash. JSON form: the string `"genesis"` or 64 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PrevHash {
    #[default]
    Genesis,
    Entry(Hash),
}

/// JSON spelling of [`PrevHash::Genesis`].
pub const GENESIS: &str = "genesis";

impl PrevHash {
    /// Returns the previous entry's hash, or `None` for the first entry.
    pub fn entry_hash(&self) -> Option<&Hash> {
        match self {
            Self::Genesis => None,
            Self::Entry(hash) => Some(hash),
        }
    }
}

impl From<Hash> for PrevHash {
    fn from(hash: Hash) -> Self {
        Self::Entry(hash)
    }
}

impl fmt::Display for PrevHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Genesis => f.write_str(GENESIS),
            Self::Entry(hash) => fmt::Display::fmt(hash, f),
        }
    }
}

impl FromStr for PrevHash {
    type Err = HashParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == GENESIS {
            return Ok(Self::Genesis);
        }
        Hash::from_hex(text)
            .map(Self::Entry)
            .map_err(|_| HashParseError::PrevHash {
                found: text.chars().take(80).collect(),
            })
    }
}

impl Serialize for PrevHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PrevHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_rejects_wrong_lengths() {
        for length in [0, 1, 31, 33, 64] {
            let bytes = vec![7u8; length];
            assert_eq!(
                Hash::try_from(bytes.as_slice()),
                Err(HashParseError::Length { found: length })
            );
        }
    }

    #[test]
    fn hash_hex_round_trips_in_lower_case() {
        let hash = Hash::digest(b"abc");
        let upper = hash.to_hex().to_uppercase();

        assert_eq!(Hash::from_hex(&upper), Ok(hash));
        assert_eq!(
            hash.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn prev_hash_json_uses_genesis_or_hex() {
        let genesis = serde_json::to_string(&PrevHash::Genesis).unwrap();
        let linked = PrevHash::Entry(Hash([0xab; 32]));
        let linked_json = serde_json::to_string(&linked).unwrap();

        assert_eq!(genesis, "\"genesis\"");
        assert_eq!(linked_json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(
            serde_json::from_str::<PrevHash>(&linked_json).unwrap(),
            linked
        );
        assert!(serde_json::from_str::<PrevHash>("\"Genesis\"").is_err());
        assert!(serde_json::from_str::<PrevHash>("\"abcd\"").is_err());
    }
}
