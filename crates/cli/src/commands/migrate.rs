//! `spiritus migrate`: apply pending migrations and report the schema version.

use crate::cli::GlobalArgs;
use crate::context::open;

pub async fn run(global: &GlobalArgs) -> anyhow::Result<()> {
    let opened = open(global).await?;
    let store = opened.app.store();
    let version = store.applied_schema_version().await?.unwrap_or(0);
    println!(
        "database {} is at schema version {version} (this binary knows {})",
        store.display_url(),
        store.known_schema_version()
    );
    store.close().await;
    Ok(())
}
