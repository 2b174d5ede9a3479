//! The witness file: every published tree head, one JSON line each, in a file outside the data
//! directory.
//!
//! An intruder who can rewrite the database can usually rewrite anything else in the data
//! directory too, so the file must live elsewhere (another disk, a log directory shipped off the host).
//! [`check_location`] refuses a path inside the data directory when the configuration is
//! loaded. Lines are appended with `O_APPEND` and synced, so a crash never leaves half a head
//! in the middle of the file.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use spiritus_audit::{SignedTreeHead, parse_witness, witness_line};

use crate::config::Config;
use crate::error::AppError;

/// Refuses a witness file inside `data_dir` (symbolic links and `..` resolved).
pub fn check_location(witness: &Path, data_dir: &Path) -> Result<(), String> {
    let data_dir = resolve(data_dir);
    let witness = resolve(witness);
    if witness.starts_with(&data_dir) {
        return Err(format!(
            "{} is inside the data directory {}; keep the witness file outside it (for example /var/log/spiritus/witness.jsonl), so that whoever can rewrite the database cannot rewrite the witness too",
            witness.display(),
            data_dir.display()
        ));
    }
    Ok(())
}

/// The absolute form of `path` with links resolved as far as the path exists.
///
/// The longest existing ancestor is resolved by the file system; the components after it do
/// not exist, hold no links, and are applied to it by name (`..` steps back).
fn resolve(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_owned())
    };
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        if let Ok(mut resolved) = existing.canonicalize() {
            for component in missing.iter().rev() {
                match component {
                    Component::ParentDir => {
                        resolved.pop();
                    }
                    Component::Normal(name) => resolved.push(name),
                    _ => {}
                }
            }
            return resolved;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                missing.push(last);
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

/// Appends one head to the configured witness file, creating it (mode 0600) when missing.
pub fn append(config: &Config, head: &SignedTreeHead) -> std::io::Result<()> {
    let Some(path) = &config.audit.witness_file else {
        return Ok(());
    };
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(witness_line(head).as_bytes())?;
    file.sync_data()
}

/// Reads every head in the configured witness file, in file order. Returns none when no file
/// is configured or it does not exist yet.
pub fn read_heads(config: &Config) -> Result<Vec<SignedTreeHead>, AppError> {
    let Some(path) = &config.audit.witness_file else {
        return Ok(Vec::new());
    };
    read_file(path)
}

/// Reads every head in the witness file at `path`. Returns none when the file does not exist.
pub fn read_file(path: &Path) -> Result<Vec<SignedTreeHead>, AppError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(AppError::Internal(format!(
                "cannot read the witness file {}: {error}",
                path.display()
            )));
        }
    };
    parse_witness(std::io::BufReader::new(file))
        .map_err(|error| AppError::Internal(format!("{}: {error}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn witness_inside_data_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();

        let cases: &[(PathBuf, bool)] = &[
            // A file directly inside the data directory.
            (data.join("witness.jsonl"), false),
            // A file in a subfolder that does not exist yet.
            (data.join("new/witness.jsonl"), false),
            // A path that walks out and back in with `..`.
            (dir.path().join("other/../data/sub/w.jsonl"), false),
            // A sibling folder is fine.
            (dir.path().join("witness/w.jsonl"), true),
        ];
        for (path, allowed) in cases {
            assert_eq!(
                check_location(path, &data).is_ok(),
                *allowed,
                "{}",
                path.display()
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn witness_through_a_link_into_data_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&data, &link).unwrap();

        assert!(check_location(&link.join("w.jsonl"), &data).is_err());
    }
}
