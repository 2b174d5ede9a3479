//! Writing and reading the encrypted archive.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};
use spiritus_store::SqlStore;

use super::{BackupError, FORMAT, MANIFEST, Manifest, ManifestFile};
use crate::App;
use crate::bootstrap::DataDir;
use crate::doctor::uses_generated_secret;
use crate::files::{ensure_private_dir, write_private_file_new};

/// Largest archive member accepted on restore (the database snapshot included).
const MAX_MEMBER_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// Parses age recipients (`age1…`).
fn parse_recipients(values: &[String]) -> Result<Vec<age::x25519::Recipient>, BackupError> {
    if values.is_empty() {
        return Err(BackupError::NoRecipients);
    }
    values
        .iter()
        .map(|value| {
            age::x25519::Recipient::from_str(value.trim()).map_err(|_| BackupError::BadRecipient {
                value: value.clone(),
            })
        })
        .collect()
}

/// Reads age identities from a key file (`AGE-SECRET-KEY-1…` lines, `#` comments).
pub fn read_identities(path: &Path) -> Result<Vec<age::x25519::Identity>, BackupError> {
    let bad = |detail: String| BackupError::BadIdentity {
        path: path.to_owned(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|error| bad(error.to_string()))?;
    let identities: Vec<age::x25519::Identity> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            age::x25519::Identity::from_str(line)
                .map_err(|_| bad("a line is not an age identity".into()))
        })
        .collect::<Result<_, _>>()?;
    if identities.is_empty() {
        return Err(bad("the file holds no identity".into()));
    }
    Ok(identities)
}

/// The files of the data directory that go into a backup, relative to it.
fn collect_files(data_dir: &DataDir) -> Result<Vec<PathBuf>, BackupError> {
    let mut files = Vec::new();
    if data_dir.config_file().is_file() {
        files.push(PathBuf::from("spiritus.toml"));
    }
    for folder in ["secrets", "tls"] {
        let path = data_dir.root.join(folder);
        if !path.is_dir() {
            continue;
        }
        let entries = std::fs::read_dir(&path).map_err(BackupError::io("cannot read", &path))?;
        let mut names: Vec<PathBuf> = entries
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
            .map(|entry| PathBuf::from(folder).join(entry.file_name()))
            .collect();
        names.sort();
        files.extend(names);
    }
    Ok(files)
}

/// Writes an encrypted backup of the data directory to `output` (which must not exist).
pub async fn create_backup(
    app: &App,
    data_dir: &DataDir,
    recipients: &[String],
    output: &Path,
) -> Result<Manifest, BackupError> {
    let recipients = parse_recipients(recipients)?;
    let staging = tempfile::Builder::new()
        .prefix("spiritus-backup")
        .tempdir()
        .map_err(BackupError::io(
            "cannot create a staging folder in",
            &std::env::temp_dir(),
        ))?;

    let store = app.store();
    let mut contents: Vec<(String, Vec<u8>)> = Vec::new();
    let database = match store.backend() {
        spiritus_store::Backend::Sqlite => {
            let snapshot = staging.path().join("spiritus.db");
            store.snapshot_sqlite(&snapshot).await?;
            let bytes =
                std::fs::read(&snapshot).map_err(BackupError::io("cannot read", &snapshot))?;
            contents.push(("spiritus.db".into(), bytes));
            "sqlite".to_owned()
        }
        spiritus_store::Backend::Postgres => {
            "postgres: not included, back it up with pg_dump".to_owned()
        }
    };
    for relative in collect_files(data_dir)? {
        let path = data_dir.root.join(&relative);
        let bytes = std::fs::read(&path).map_err(BackupError::io("cannot read", &path))?;
        contents.push((relative.to_string_lossy().into_owned(), bytes));
    }

    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: app.now(),
        spiritus_version: env!("CARGO_PKG_VERSION").into(),
        database,
        schema_version: store.applied_schema_version().await?,
        files: contents
            .iter()
            .map(|(path, bytes)| ManifestFile {
                path: path.clone(),
                bytes: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(bytes)),
            })
            .collect(),
        secrets_not_included: secrets_outside(app.config(), data_dir),
    };
    write_encrypted(&recipients, &manifest, &contents, output)?;
    Ok(manifest)
}

/// Secret settings whose values live outside the data directory.
fn secrets_outside(config: &crate::config::Config, data_dir: &DataDir) -> Vec<String> {
    let mut outside = Vec::new();
    for (position, key) in config.secrets.jwt_keys.iter().enumerate() {
        if !uses_generated_secret(key, data_dir) {
            outside.push(format!("secrets.jwt_keys[{position}]"));
        }
    }
    for (name, value) in [
        ("secrets.pepper", &config.secrets.pepper),
        ("secrets.audit_key", &config.secrets.audit_key),
    ] {
        if value
            .as_deref()
            .is_some_and(|value| !uses_generated_secret(value, data_dir))
        {
            outside.push(name.to_owned());
        }
    }
    outside
}

fn write_encrypted(
    recipients: &[age::x25519::Recipient],
    manifest: &Manifest,
    contents: &[(String, Vec<u8>)],
    output: &Path,
) -> Result<(), BackupError> {
    let manifest_bytes = serde_json::to_vec_pretty(manifest)
        .map_err(|error| BackupError::Encrypt(error.to_string()))?;
    let temporary = output.with_extension("partial");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .map_err(BackupError::io("cannot create", &temporary))?;
    crate::files::set_mode(&temporary, 0o600)
        .map_err(BackupError::io("cannot restrict", &temporary))?;

    let result = (|| -> Result<(), BackupError> {
        let encryptor = age::Encryptor::with_recipients(
            recipients
                .iter()
                .map(|recipient| recipient as &dyn age::Recipient),
        )
        .map_err(|error| BackupError::Encrypt(error.to_string()))?;
        let writer = encryptor
            .wrap_output(std::io::BufWriter::new(file))
            .map_err(|error| BackupError::Encrypt(error.to_string()))?;
        let mut archive = tar::Builder::new(writer);
        append(&mut archive, MANIFEST, &manifest_bytes)?;
        for (path, bytes) in contents {
            append(&mut archive, path, bytes)?;
        }
        let writer = archive
            .into_inner()
            .map_err(|error| BackupError::Encrypt(error.to_string()))?;
        let mut buffered = writer
            .finish()
            .map_err(|error| BackupError::Encrypt(error.to_string()))?;
        buffered
            .flush()
            .map_err(|error| BackupError::Encrypt(error.to_string()))?;
        Ok(())
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    if output.exists() {
        let _ = std::fs::remove_file(&temporary);
        return Err(BackupError::Io {
            action: "will not overwrite",
            path: output.to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        });
    }
    std::fs::rename(&temporary, output).map_err(BackupError::io("cannot move into place", output))
}

fn append<W: Write>(
    archive: &mut tar::Builder<W>,
    path: &str,
    bytes: &[u8],
) -> Result<(), BackupError> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    archive
        .append_data(&mut header, path, bytes)
        .map_err(|error| BackupError::Encrypt(error.to_string()))
}

/// Decrypts a backup, checks it and writes its files into `target` (a new data directory).
/// Returns the manifest; the caller then opens the database to check it.
pub fn restore_backup(
    input: &Path,
    identities: &[age::x25519::Identity],
    target: &Path,
) -> Result<Manifest, BackupError> {
    let members = read_members(input, identities)?;
    let manifest = check_manifest(&members)?;

    let target_is_empty = match std::fs::read_dir(target) {
        Ok(mut entries) => entries.next().is_none(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
        Err(error) => return Err(BackupError::io("cannot read", target)(error)),
    };
    if !target_is_empty {
        return Err(BackupError::TargetNotEmpty {
            path: target.to_owned(),
        });
    }
    ensure_private_dir(target).map_err(BackupError::io("cannot create", target))?;
    for file in &manifest.files {
        let destination = target.join(&file.path);
        if let Some(parent) = destination.parent() {
            ensure_private_dir(parent).map_err(BackupError::io("cannot create", parent))?;
        }
        let bytes = members.get(&file.path).ok_or_else(|| {
            BackupError::Damaged(format!(
                "{} is named in the manifest but missing",
                file.path
            ))
        })?;
        write_private_file_new(&destination, bytes)
            .map_err(BackupError::io("cannot write", &destination))?;
    }
    Ok(manifest)
}

fn read_members(
    input: &Path,
    identities: &[age::x25519::Identity],
) -> Result<BTreeMap<String, Vec<u8>>, BackupError> {
    let decrypt_error = |detail: String| BackupError::Decrypt {
        path: input.to_owned(),
        detail,
    };
    let file = std::fs::File::open(input).map_err(BackupError::io("cannot open", input))?;
    let decryptor = age::Decryptor::new(std::io::BufReader::new(file))
        .map_err(|error| decrypt_error(error.to_string()))?;
    let reader = decryptor
        .decrypt(
            identities
                .iter()
                .map(|identity| identity as &dyn age::Identity),
        )
        .map_err(|error| decrypt_error(error.to_string()))?;

    let mut archive = tar::Archive::new(reader);
    let mut members = BTreeMap::new();
    let entries = archive
        .entries()
        .map_err(|error| BackupError::Damaged(error.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| BackupError::Damaged(error.to_string()))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(BackupError::Damaged(
                "the archive holds something other than plain files".into(),
            ));
        }
        let path = entry
            .path()
            .map_err(|error| BackupError::Damaged(error.to_string()))?
            .into_owned();
        let name = safe_member_name(&path)?;
        if entry.size() > MAX_MEMBER_BYTES {
            return Err(BackupError::Damaged(format!("{name} is implausibly large")));
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|error| decrypt_error(error.to_string()))?;
        if members.insert(name.clone(), bytes).is_some() {
            return Err(BackupError::Damaged(format!("{name} appears twice")));
        }
    }
    Ok(members)
}

/// Accepts only relative paths of normal components: no `..`, no root, no prefix.
fn safe_member_name(path: &Path) -> Result<String, BackupError> {
    let normal = path
        .components()
        .all(|component| matches!(component, Component::Normal(_)));
    let text = path.to_str();
    match (normal, text) {
        (true, Some(text)) if !text.is_empty() => Ok(text.to_owned()),
        _ => Err(BackupError::Damaged(format!(
            "member {} would be written outside the data directory",
            path.display()
        ))),
    }
}

fn check_manifest(members: &BTreeMap<String, Vec<u8>>) -> Result<Manifest, BackupError> {
    let raw = members
        .get(MANIFEST)
        .ok_or_else(|| BackupError::Damaged("no manifest".into()))?;
    let manifest: Manifest = serde_json::from_slice(raw)
        .map_err(|error| BackupError::Damaged(format!("manifest: {error}")))?;
    if manifest.format != FORMAT {
        return Err(BackupError::Damaged(format!(
            "unknown format {:?}",
            manifest.format
        )));
    }
    for file in &manifest.files {
        let bytes = members
            .get(&file.path)
            .ok_or_else(|| BackupError::Damaged(format!("{} is missing", file.path)))?;
        if hex::encode(Sha256::digest(bytes)) != file.sha256 || bytes.len() as u64 != file.bytes {
            return Err(BackupError::Damaged(format!(
                "{} does not match its hash",
                file.path
            )));
        }
    }
    let named = manifest.files.len() + 1;
    if members.len() != named {
        return Err(BackupError::Damaged(
            "the archive holds files the manifest does not name".into(),
        ));
    }
    Ok(manifest)
}

/// Opens a restored SQLite database and runs its integrity check and schema check.
pub async fn check_restored_database(target: &Path) -> Result<(), BackupError> {
    let database = target.join("spiritus.db");
    if !database.is_file() {
        return Ok(());
    }
    let store = SqlStore::connect(&format!("sqlite://{}", database.display())).await?;
    let result = async {
        store.integrity_check().await?;
        store.check_schema_not_newer().await?;
        store.audit_head().await?;
        Ok::<(), spiritus_store::StoreError>(())
    }
    .await;
    store.close().await;
    result.map_err(BackupError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_cannot_escape() {
        for bad in ["../evil", "/etc/passwd", "secrets/../../x", ""] {
            assert!(safe_member_name(Path::new(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            safe_member_name(Path::new("secrets/pepper.key")).unwrap(),
            "secrets/pepper.key"
        );
    }
}
