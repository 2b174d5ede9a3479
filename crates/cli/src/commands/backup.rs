//! `spiritus backup …`: encrypted backups and their verified restore.

use spiritus_app::backup::{
    check_restored_database, create_backup, read_identities, restore_backup,
};

use crate::cli::{BackupCommand, GlobalArgs};
use crate::context::open;

pub async fn run(global: &GlobalArgs, command: &BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Create { output, recipients } => {
            let opened = open(global).await?;
            let app = opened.app;
            let config = &app.config().backup;
            let recipients = if recipients.is_empty() {
                config.recipients.clone()
            } else {
                recipients.clone()
            };
            let output = match (output, &config.directory) {
                (Some(output), _) => output.clone(),
                (None, Some(directory)) => {
                    spiritus_app::files::ensure_private_dir(directory)?;
                    directory.join(format!(
                        "spiritus-{}.tar.age",
                        app.now().format("%Y%m%dT%H%M%SZ")
                    ))
                }
                (None, None) => anyhow::bail!("give --output FILE or set backup.directory"),
            };
            let manifest = create_backup(&app, &opened.data_dir, &recipients, &output).await?;
            println!(
                "wrote {} ({} files, database: {})",
                output.display(),
                manifest.files.len(),
                manifest.database
            );
            for setting in &manifest.secrets_not_included {
                println!("not included (kept outside the data directory): {setting}");
            }
            app.store().close().await;
        }
        BackupCommand::Restore {
            input,
            identity,
            target,
        } => {
            let identities = read_identities(identity)?;
            let manifest = restore_backup(input, &identities, target)?;
            check_restored_database(target).await?;
            println!(
                "restored {} files from a backup of {} into {}; the database passed its checks",
                manifest.files.len(),
                manifest.created_at.to_rfc3339(),
                target.display()
            );
        }
        BackupCommand::Verify { input, identity } => {
            let identities = read_identities(identity)?;
            let scratch = tempfile::tempdir()?;
            let target = scratch.path().join("restored");
            let manifest = restore_backup(input, &identities, &target)?;
            check_restored_database(&target).await?;
            println!(
                "backup of {} is intact: {} files, database: {}",
                manifest.created_at.to_rfc3339(),
                manifest.files.len(),
                manifest.database
            );
        }
    }
    Ok(())
}
