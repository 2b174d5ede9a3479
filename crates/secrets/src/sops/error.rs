//! Errors of the sops reader. No message contains a decrypted value or key material; paths
//! and key names are shown because they are plaintext in a sops file anyway.

use crate::sops::cipher::CipherError;
use crate::sops::identity::IdentityError;
use crate::sops::tree::LookupError;

/// Errors from reading, decrypting or verifying a sops file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SopsError {
    /// The file could not be read.
    #[error("cannot read the sops file: {0}")]
    Read(std::io::Error),
    /// The file is larger than any secrets file should be.
    #[error("the sops file is larger than {limit} bytes; refusing to parse it")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A store (file format) that is not implemented.
    #[error("sops {format} files are not supported; use a YAML, JSON, INI or binary sops file")]
    UnsupportedFormat {
        /// The format's name.
        format: &'static str,
    },
    /// The YAML, JSON or INI text does not parse.
    #[error("the sops file does not parse as {format}: {reason}")]
    Syntax {
        /// The format's name.
        format: &'static str,
        /// Position and description, without file content.
        reason: String,
    },
    /// A top-level `sops` key is missing: not an encrypted file.
    #[error("no sops metadata found; the file is not sops-encrypted (encrypt it with `sops -e`)")]
    NoMetadata,
    /// The metadata is incomplete or inconsistent.
    #[error("invalid sops metadata: {reason}")]
    Metadata {
        /// The problem.
        reason: String,
    },
    /// A sops feature this reader does not implement.
    #[error("the sops file uses {feature}, which this reader does not support; {hint}")]
    Unsupported {
        /// The feature.
        feature: &'static str,
        /// The suggested fix.
        hint: &'static str,
    },
    /// The file's data key is not encrypted to any age recipient.
    #[error(
        "the sops file has no age recipient (its data key is encrypted only to: {other_sources}); \
         add an age recipient with `sops updatekeys` or `sops -r -i --add-age`"
    )]
    NoAgeRecipient {
        /// The other key sources present.
        other_sources: String,
    },
    /// No identity is configured.
    #[error(
        "no age identity configured; set SOPS_AGE_KEY_FILE to a keys.txt file or SOPS_AGE_KEY to the identity"
    )]
    NoIdentity,
    /// The configured identities could not be loaded.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// None of the identities opens any age stanza.
    #[error(
        "none of the configured age identities ({ours}) can decrypt the data key; the file is \
         encrypted to {theirs}; configure the matching identity in SOPS_AGE_KEY_FILE or SOPS_AGE_KEY"
    )]
    NoMatchingIdentity {
        /// Public keys of the configured identities.
        ours: String,
        /// Recipients named in the file.
        theirs: String,
    },
    /// An age stanza is malformed and no other stanza could be opened.
    #[error("an age stanza of the sops file is malformed: {reason}")]
    BadAgeStanza {
        /// The age error.
        reason: String,
    },
    /// A value or the MAC could not be decrypted.
    #[error("cannot decrypt the value at {path}: {source}")]
    Value {
        /// The key path, `a:b:` as sops writes it.
        path: String,
        /// What failed.
        source: CipherError,
    },
    /// A leaf that should be encrypted is not an encrypted string.
    #[error(
        "the value at {path} should be encrypted but is {found}; the file was edited without sops"
    )]
    NotEncrypted {
        /// The key path.
        path: String,
        /// The type found.
        found: &'static str,
    },
    /// The stored MAC does not decrypt: `lastmodified` or `mac` was changed.
    #[error(
        "the sops MAC cannot be decrypted ({source}); sops.lastmodified or sops.mac was changed, \
         so the file cannot be trusted"
    )]
    MacUndecryptable {
        /// The cipher error.
        source: CipherError,
    },
    /// The recomputed MAC differs from the stored one.
    #[error(
        "MAC mismatch: the file's content was changed after it was encrypted; re-create it with sops"
    )]
    MacMismatch,
    /// The key path does not lead to a value.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The value is binary and not text.
    #[error("the value at {path} is not UTF-8 text")]
    NotText {
        /// The key path.
        path: String,
    },
}
