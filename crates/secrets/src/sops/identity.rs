//! age identities (X25519 secret keys) and the recovery of a sops data key from the
//! `sops.age[]` stanzas.
//!
//! Only native X25519 identities (`AGE-SECRET-KEY-1…`) are accepted. Plugin identities are
//! refused: the `age` crate is built without its `plugin` feature, which also keeps the
//! plugin-name advisory (RUSTSEC-2024-0433) out of reach.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use age::armor::ArmoredReader;
use age::x25519;

use crate::secret::{SecretBytes, SecretString};

/// Largest identity file read.
const MAX_IDENTITY_FILE: u64 = 64 * 1024;

/// A set of age X25519 identities. `Debug` shows only how many there are.
#[derive(Clone, Default)]
pub struct AgeIdentities {
    identities: Vec<x25519::Identity>,
}

/// Errors from loading identities. Messages never include key material.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The identity file could not be read.
    #[error("cannot read the age identity file {path}: {source}; check SOPS_AGE_KEY_FILE")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The identity file is too large to be a key file.
    #[error("the age identity file {path} is larger than 64 KiB; point at a keys.txt file")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// A line that is neither a comment nor an X25519 identity.
    #[error(
        "line {line} of the age identities is not an AGE-SECRET-KEY-1… identity \
         (plugin and SSH identities are not supported)"
    )]
    InvalidLine {
        /// 1-based line number.
        line: usize,
    },
    /// Only comments and blank lines.
    #[error("no age identity found; expected lines starting with AGE-SECRET-KEY-1")]
    Empty,
}

impl AgeIdentities {
    /// Parses age's key-file format: `#` comment lines, blank lines and one
    /// `AGE-SECRET-KEY-1…` per line. This is also the form of `SOPS_AGE_KEY`.
    pub fn parse(text: &str) -> Result<Self, IdentityError> {
        let mut identities = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let identity = x25519::Identity::from_str(line)
                .map_err(|_| IdentityError::InvalidLine { line: index + 1 })?;
            identities.push(identity);
        }

        if identities.is_empty() {
            return Err(IdentityError::Empty);
        }
        Ok(Self { identities })
    }

    /// Reads and parses an identity file (e.g. the file named by `SOPS_AGE_KEY_FILE`).
    pub fn from_file(path: &Path) -> Result<Self, IdentityError> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| IdentityError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut bytes = Vec::new();
        file.take(MAX_IDENTITY_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| IdentityError::Read {
                path: shown.clone(),
                source,
            })?;
        let bytes = SecretBytes::new(bytes);

        if bytes.len() as u64 > MAX_IDENTITY_FILE {
            return Err(IdentityError::TooLarge { path: shown });
        }
        let text = String::from_utf8_lossy(bytes.expose());
        let text = SecretString::new(text.into_owned());
        Self::parse(text.expose())
    }

    /// Adds the identities of `other`.
    pub fn extend(&mut self, other: AgeIdentities) {
        self.identities.extend(other.identities);
    }

    /// Returns the public keys (`age1…`) of these identities, which are safe to log.
    pub fn recipients(&self) -> Vec<String> {
        self.identities
            .iter()
            .map(|identity| identity.to_public().to_string())
            .collect()
    }

    /// Returns the number of identities.
    pub fn len(&self) -> usize {
        self.identities.len()
    }

    /// Returns whether there are no identities.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    /// Tries every identity on one armored age file and returns its payload, the data key.
    /// `Ok(None)` when no identity matches; `Err` when the stanza is malformed.
    pub(crate) fn open_stanza(&self, armored: &str) -> Result<Option<SecretBytes>, String> {
        let reader = ArmoredReader::new(armored.as_bytes());
        let decryptor = age::Decryptor::new(reader).map_err(|error| error.to_string())?;
        let identities = self.identities.iter().map(|i| i as &dyn age::Identity);

        let mut payload = match decryptor.decrypt(identities) {
            Ok(payload) => payload,
            Err(age::DecryptError::NoMatchingKeys) => return Ok(None),
            Err(error) => return Err(error.to_string()),
        };
        let mut data_key = Vec::with_capacity(32);
        let read = payload.by_ref().take(1024).read_to_end(&mut data_key);
        let data_key = SecretBytes::new(data_key);

        read.map_err(|error| error.to_string())?;
        Ok(Some(data_key))
    }
}

impl fmt::Debug for AgeIdentities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgeIdentities({} identities)", self.identities.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: &str =
        "AGE-SECRET-KEY-1NJT5YCS2LWU4V4QAJQ6R4JNU7LXPDX602DZ9NUFANVU5GDTGUWCQ5T59M6";
    const FIRST_PUBLIC: &str = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";

    #[test]
    fn parse_reads_the_key_file_format() {
        let text = format!("# created: 2020-07-18\n# public key: x\n\n{FIRST}\n");

        let identities = AgeIdentities::parse(&text).unwrap();

        assert_eq!(identities.recipients(), [FIRST_PUBLIC]);
    }

    #[test]
    fn parse_rejects_bad_lines_by_number() {
        // (text, expected message part)
        let rows = [
            ("# only a comment\n", "no age identity"), // nothing usable
            ("AGE-SECRET-KEY-1NOTVALID\n", "line 1"),  // bad checksum
            ("# c\nAGE-PLUGIN-YUBIKEY-1ABCDEF\n", "line 2"), // plugin identity
            ("ssh-ed25519 AAAA\n", "line 1"),          // SSH key
        ];
        for (text, expected) in rows {
            let message = AgeIdentities::parse(text).unwrap_err().to_string();
            assert!(message.contains(expected), "{text}: {message}");
            assert!(!message.contains("AGE-SECRET-KEY-1N"), "{message}");
        }
    }

    #[test]
    fn debug_shows_only_the_count() {
        let identities = AgeIdentities::parse(FIRST).unwrap();

        assert_eq!(format!("{identities:?}"), "AgeIdentities(1 identities)");
    }
}
