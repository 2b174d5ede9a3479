//! Encrypted backups of a data directory and their verified restore.
//!
//! A backup is a tar archive encrypted with age to the configured recipients (public keys),
//! so the machine that writes backups cannot read them. It holds a manifest (format, time,
//! schema version, SHA-256 of every file), a consistent snapshot of the SQLite database
//! (`VACUUM INTO`, safe while the panel runs), the configuration, the secret files kept in the
//! data directory, and the TLS files. Secrets kept elsewhere (Vault, sops, environment) are
//! not copied, and a PostgreSQL database is backed up with `pg_dump`; the manifest says which.
//!
//! Restoring decrypts with an age identity, accepts only the files the manifest names (no
//! path outside the target, no link), checks every hash, writes them with mode 0600 into a new
//! data directory, and opens the database to run its integrity check.

mod archive;
mod schedule;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use archive::{check_restored_database, create_backup, read_identities, restore_backup};
pub use schedule::{latest_backup, spawn_backup_job};

/// The format tag of the manifest.
pub const FORMAT: &str = "spiritus-backup-v1";
/// File name of the manifest inside the archive.
pub const MANIFEST: &str = "manifest.json";

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub created_at: DateTime<Utc>,
    pub spiritus_version: String,
    /// `sqlite` when the database is inside, or why it is not.
    pub database: String,
    pub schema_version: Option<i64>,
    pub files: Vec<ManifestFile>,
    /// Secret settings whose values are not in the archive (kept outside the data directory).
    pub secrets_not_included: Vec<String>,
}

/// One file of the archive, relative to the data directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Why a backup could not be written, read or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no age recipient is configured; set backup.recipients or pass --recipient age1…")]
    NoRecipients,
    #[error("{value:?} is not an age recipient (expected age1…)")]
    BadRecipient { value: String },
    #[error("cannot read the age identity file {path}: {detail}")]
    BadIdentity { path: PathBuf, detail: String },
    #[error(
        "cannot decrypt {path}: {detail}; check that the identity matches a recipient of the backup"
    )]
    Decrypt { path: PathBuf, detail: String },
    #[error("the backup is damaged: {0}")]
    Damaged(String),
    #[error("{path} already exists and is not empty; restore into a new data directory")]
    TargetNotEmpty { path: PathBuf },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Database(#[from] spiritus_store::StoreError),
    #[error("cannot encrypt the backup: {0}")]
    Encrypt(String),
}

impl BackupError {
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |source| BackupError::Io {
            action,
            path,
            source,
        }
    }
}
