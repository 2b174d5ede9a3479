//! Native reader for sops-encrypted files whose data key is encrypted to age recipients.
//!
//! Decryption runs in four steps, each in its own module:
//! 1. the store (`yaml`, `json`, `ini`) parses the file into an ordered tree and
//!    separates the `sops` metadata (`metadata`);
//! 2. an age identity opens one `sops.age[].enc` stanza, giving the 32-byte data key
//!    (`identity`);
//! 3. every encrypted leaf is opened with AES-256-GCM (`cipher`) while a SHA-512 over all
//!    leaves is computed (`walk`);
//! 4. the stored MAC is decrypted with `lastmodified` as additional data and compared with
//!    the computed one; any difference rejects the whole file.
//!
//! Only then can a value be read, by [`KeyPath`], from the [`SopsDocument`].

mod cipher;
mod error;
mod identity;
mod ini;
mod json;
mod metadata;
mod tree;
mod walk;
mod yaml;

use std::fmt;
use std::io::Read;
use std::path::Path;

pub use cipher::CipherError;
pub use error::SopsError;
pub use identity::{AgeIdentities, IdentityError};
pub use tree::{KeyPath, KeyPathError, LookupError};

use crate::secret::{SecretBytes, SecretString};
use cipher::DataKey;
use metadata::Metadata;
use tree::{Node, Scalar};

/// Largest sops file read: secrets files are small, and the limit bounds parser work.
pub const MAX_SOPS_FILE_BYTES: usize = 8 * 1024 * 1024;

/// The sops store a file uses, chosen like sops does: by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SopsFormat {
    /// `.yaml`, `.yml`
    Yaml,
    /// `.json`
    Json,
    /// `.ini`
    Ini,
    /// Any other extension: a JSON document whose `data` key contains the whole file.
    Binary,
}

impl SopsFormat {
    /// Returns the store for `path`. `.env` files (sops's dotenv store) are rejected.
    pub fn from_path(path: &Path) -> Result<Self, SopsError> {
        let extension = path
            .extension()
            .and_then(|extension| extension.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("yaml" | "yml") => Ok(Self::Yaml),
            Some("json") => Ok(Self::Json),
            Some("ini") => Ok(Self::Ini),
            Some("env") => Err(SopsError::UnsupportedFormat { format: "dotenv" }),
            _ => Ok(Self::Binary),
        }
    }
}

/// A decrypted, MAC-verified sops document. Every value is zeroed when it is dropped, and
/// `Debug` shows nothing of the content.
pub struct SopsDocument {
    tree: Node,
}

impl SopsDocument {
    /// Reads, decrypts and verifies the sops file at `path` (store chosen by extension).
    pub fn decrypt_file(path: &Path, identities: &AgeIdentities) -> Result<Self, SopsError> {
        let format = SopsFormat::from_path(path)?;
        let file = std::fs::File::open(path).map_err(SopsError::Read)?;
        let mut bytes = Vec::new();
        let limit = u64::try_from(MAX_SOPS_FILE_BYTES).unwrap_or(u64::MAX);
        let read = file.take(limit + 1).read_to_end(&mut bytes);
        let bytes = SecretBytes::new(bytes);

        read.map_err(SopsError::Read)?;
        Self::decrypt(bytes.expose(), format, identities)
    }

    /// Decrypts and verifies a sops document held in memory. Hostile input gives an error,
    /// not a panic (exercised by the property tests in `tests/it/sops_fuzz.rs`).
    pub fn decrypt(
        content: &[u8],
        format: SopsFormat,
        identities: &AgeIdentities,
    ) -> Result<Self, SopsError> {
        if content.len() > MAX_SOPS_FILE_BYTES {
            return Err(SopsError::TooLarge {
                limit: MAX_SOPS_FILE_BYTES,
            });
        }
        let text = std::str::from_utf8(content).map_err(|error| SopsError::Syntax {
            format: "UTF-8 text",
            reason: format!("invalid byte at offset {}", error.valid_up_to()),
        })?;
        let (mut tree, metadata) = split_document(text, format)?;
        let metadata = Metadata::from_node(&metadata)?;
        let data_key = recover_data_key(&metadata, identities)?;

        let document = Self::verified(&mut tree, &metadata, &data_key);
        if document.is_err() {
            tree.wipe();
        }
        document.map(|()| Self { tree })
    }

    fn verified(tree: &mut Node, metadata: &Metadata, data_key: &DataKey) -> Result<(), SopsError> {
        let computed = walk::decrypt_tree(tree, metadata, data_key)?;
        walk::verify_mac(metadata, data_key, &computed)
    }

    /// Returns the value at `path` as text: strings as they are, integers in decimal, floats in
    /// their shortest form, booleans as `true`/`false`. Mappings, lists and null are errors.
    pub fn get(&self, path: &KeyPath) -> Result<SecretString, SopsError> {
        let scalar = tree::lookup(&self.tree, path)?;
        let text = match scalar {
            Scalar::Text(text) => text.clone(),
            Scalar::Int(number) => number.to_string(),
            Scalar::Float(number) => tree::go_format_float(*number),
            Scalar::Bool(flag) => flag.to_string(),
            Scalar::Bytes(bytes) => SecretBytes::new(bytes.clone())
                .into_secret_string()
                .map_err(|_| SopsError::NotText {
                    path: path.to_string(),
                })?
                .expose()
                .to_owned(),
            Scalar::Null => String::new(),
        };
        Ok(SecretString::new(text))
    }
}

impl Drop for SopsDocument {
    fn drop(&mut self) {
        self.tree.wipe();
    }
}

impl fmt::Debug for SopsDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SopsDocument(***)")
    }
}

/// Parses the file and separates the data tree from the `sops` metadata.
fn split_document(text: &str, format: SopsFormat) -> Result<(Node, Node), SopsError> {
    let root = match format {
        SopsFormat::Yaml => yaml::parse(text)?,
        SopsFormat::Json | SopsFormat::Binary => json::parse(text)?,
        SopsFormat::Ini => {
            let (data, metadata) = ini::parse(text)?;
            return Ok((data, metadata.ok_or(SopsError::NoMetadata)?));
        }
    };

    let Node::Map(mut entries) = root else {
        return Err(SopsError::NoMetadata);
    };
    let position = entries
        .iter()
        .position(|(key, _)| key == "sops")
        .ok_or(SopsError::NoMetadata)?;
    let (_, metadata) = entries.remove(position);
    Ok((Node::Map(entries), metadata))
}

/// Opens the first age stanza that one of `identities` can decrypt.
fn recover_data_key(metadata: &Metadata, identities: &AgeIdentities) -> Result<DataKey, SopsError> {
    if identities.is_empty() {
        return Err(SopsError::NoIdentity);
    }
    let mut malformed = None;

    for stanza in &metadata.age {
        match identities.open_stanza(&stanza.armored) {
            Ok(Some(raw)) => {
                return DataKey::new(raw).map_err(|error| SopsError::BadAgeStanza {
                    reason: error.to_string(),
                });
            }
            Ok(None) => {}
            Err(reason) => malformed = Some(reason),
        }
    }

    if let Some(reason) = malformed {
        return Err(SopsError::BadAgeStanza { reason });
    }
    Err(SopsError::NoMatchingIdentity {
        ours: identities.recipients().join(", "),
        theirs: metadata
            .age
            .iter()
            .map(|stanza| stanza.recipient.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

#[cfg(test)]
mod tests;
