//! Writes the core's config file atomically with mode 0600. A temporary file in the same
//! folder is written, flushed and renamed over the old one, so the core never reads half a
//! config. The mode keeps other local users from reading the passwords in it.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// A config written next to its final place, not yet in use.
pub struct StagedConfig {
    pub temporary: PathBuf,
    pub target: PathBuf,
}

impl StagedConfig {
    /// Moves the staged file into place.
    pub async fn commit(self) -> std::io::Result<()> {
        tokio::fs::rename(&self.temporary, &self.target).await
    }

    /// Removes the staged file (after the core refused it).
    pub async fn discard(self) {
        if let Err(error) = tokio::fs::remove_file(&self.temporary).await {
            tracing::warn!(path = %self.temporary.display(), %error, "failed to remove a rejected core config");
        }
    }
}

/// Writes `bytes` to a 0600 temporary file beside `target`.
pub async fn stage(target: &Path, bytes: &[u8]) -> std::io::Result<StagedConfig> {
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.json".to_owned());
    let temporary = target.with_file_name(format!(".{name}.{}.tmp", Uuid::new_v4().simple()));

    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .await?;
    file.write_all(bytes).await?;
    file.sync_all().await?;

    Ok(StagedConfig {
        temporary,
        target: target.to_path_buf(),
    })
}

/// Writes `bytes` to `target` atomically with mode 0600.
pub async fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    stage(target, bytes).await?.commit().await
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn config_file_is_replaced_whole_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("core.json");
        std::fs::write(&path, "old").unwrap();

        write_atomically(&path, b"{\"new\":true}").await.unwrap();

        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"new\":true}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }
}
