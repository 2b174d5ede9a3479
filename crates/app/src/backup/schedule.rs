//! Scheduled backups into `backup.directory`, with pruning of old ones.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::json;
use spiritus_store::AuditRecordExt;
use tokio::sync::watch;

use super::create_backup;
use crate::App;
use crate::actor::Actor;
use crate::bootstrap::DataDir;

/// File-name prefix and suffix of scheduled backups.
const PREFIX: &str = "spiritus-";
const SUFFIX: &str = ".tar.age";

/// The newest scheduled backup in `directory` and when it was written.
pub fn latest_backup(directory: &Path) -> Option<(PathBuf, SystemTime)> {
    std::fs::read_dir(directory)
        .ok()?
        .flatten()
        .filter(|entry| is_backup_name(&entry.file_name().to_string_lossy()))
        .filter_map(|entry| {
            let modified = entry.metadata().and_then(|meta| meta.modified()).ok()?;
            Some((entry.path(), modified))
        })
        .max_by_key(|(_, modified)| *modified)
}

fn is_backup_name(name: &str) -> bool {
    name.starts_with(PREFIX) && name.ends_with(SUFFIX)
}

/// Writes a backup every `backup.interval_hours` until `shutdown` turns true; does nothing
/// when scheduled backups are off.
pub fn spawn_backup_job(
    app: App,
    data_dir: DataDir,
    mut shutdown: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let config = app.config().backup.clone();
    let directory = config.directory.clone()?;
    if config.interval_hours == 0 || config.recipients.is_empty() {
        return None;
    }
    let period = Duration::from_secs(u64::from(config.interval_hours) * 3600);
    Some(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = shutdown.changed() => return,
            }
            if let Err(error) = run_once(&app, &data_dir, &directory, &config.recipients).await {
                tracing::error!(%error, directory = %directory.display(), "scheduled backup failed");
            }
            prune(&directory, config.keep as usize);
        }
    }))
}

async fn run_once(
    app: &App,
    data_dir: &DataDir,
    directory: &Path,
    recipients: &[String],
) -> Result<(), super::BackupError> {
    crate::files::ensure_private_dir(directory)
        .map_err(super::BackupError::io("cannot create", directory))?;
    let name = format!("{PREFIX}{}{SUFFIX}", app.now().format("%Y%m%dT%H%M%SZ"));
    let output = directory.join(&name);
    let manifest = create_backup(app, data_dir, recipients, &output).await?;
    let now = app.now();
    let record = Actor::System
        .audit(now, "backup.create", "backup")
        .with_resource_id(&name)
        .with_after(json!({ "files": manifest.files.len(), "database": manifest.database }));
    app.store().record_audit(record, now).await?;
    tracing::info!(file = %output.display(), "wrote a scheduled backup");
    Ok(())
}

/// Deletes all but the newest `keep` scheduled backups.
fn prune(directory: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    let mut backups: Vec<PathBuf> = entries
        .flatten()
        .filter(|entry| is_backup_name(&entry.file_name().to_string_lossy()))
        .map(|entry| entry.path())
        .collect();
    // Names carry the UTC time, so name order is time order.
    backups.sort();
    let excess = backups.len().saturating_sub(keep.max(1));
    for old in backups.into_iter().take(excess) {
        if let Err(error) = std::fs::remove_file(&old) {
            tracing::warn!(%error, file = %old.display(), "cannot delete an old backup");
        }
    }
}
