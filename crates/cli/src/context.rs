//! Opening a data directory: configuration, secrets, database and the application.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use spiritus_app::bootstrap::{DataDir, prepare};
use spiritus_app::config::Config;
use spiritus_app::keys::load_keys;
use spiritus_app::{App, AppParts, EventBus};
use spiritus_core::{Clock, SystemClock};
use spiritus_secrets::{ResolveContext, resolve_setting};
use spiritus_store::{
    EphemeralStore, FallbackWindows, MemoryStore, RedisSettings, RedisStore, SqlStore,
};

use crate::cli::GlobalArgs;

/// An opened data directory with a ready application.
pub struct Opened {
    pub app: App,
    pub data_dir: DataDir,
    /// Secret files created by this start.
    pub generated: Vec<PathBuf>,
}

/// A prepared data directory and its configuration, before anything connects.
pub struct Loaded {
    pub config: Config,
    pub data_dir: DataDir,
    pub generated: Vec<PathBuf>,
}

/// Prepares the data directory and loads the configuration.
pub fn load(global: &GlobalArgs) -> anyhow::Result<Loaded> {
    let data_dir = DataDir::new(absolute(&global.data_dir)?);
    let prepared = prepare(&data_dir, global.config.as_deref(), std::env::vars())?;
    Ok(Loaded {
        config: prepared.config,
        data_dir,
        generated: prepared.generated,
    })
}

/// Prepares the data directory, resolves secrets, connects and migrates the database, and
/// builds the application.
pub async fn open(global: &GlobalArgs) -> anyhow::Result<Opened> {
    build(global, load(global)?).await
}

/// Resolves secrets, connects and migrates the database, and builds the application.
pub async fn build(global: &GlobalArgs, loaded: Loaded) -> anyhow::Result<Opened> {
    let Loaded {
        config,
        data_dir,
        generated,
    } = loaded;
    let resolve = resolve_context(global, &data_dir);
    let database_ref = config
        .database_url
        .clone()
        .unwrap_or_else(|| data_dir.database_url());
    let database_url = resolve_setting("database_url", &database_ref, &resolve).await?;
    let store = SqlStore::connect(database_url.expose()).await?;
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate the database at {}", store.display_url()))?;

    let keys = load_keys(&config, &resolve).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ephemeral = connect_ephemeral(&config, &resolve, &clock).await?;
    let app = App::new(AppParts {
        config,
        clock,
        store,
        ephemeral,
        keys,
        events: EventBus::new(),
    })?;
    Ok(Opened {
        app,
        data_dir,
        generated,
    })
}

/// Redis when `redis_url` is set (its sliding windows falling back to in-process counters
/// while it is down), the in-process store otherwise.
async fn connect_ephemeral(
    config: &Config,
    resolve: &ResolveContext,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<Arc<dyn EphemeralStore>> {
    let Some(reference) = &config.redis_url else {
        return Ok(Arc::new(MemoryStore::new(Arc::clone(clock))));
    };
    let url = resolve_setting("redis_url", reference, resolve).await?;
    let mut settings = RedisSettings::new(url.expose());
    if let Some(prefix) = &config.redis_key_prefix {
        settings = settings.with_key_prefix(prefix);
    }
    let redis = RedisStore::connect(settings).await?;
    Ok(Arc::new(FallbackWindows::new(
        Arc::new(redis),
        Arc::clone(clock),
    )))
}

/// Secret references with relative paths resolve against the configuration file's folder.
pub fn resolve_context(global: &GlobalArgs, data_dir: &DataDir) -> ResolveContext {
    let base = global
        .config
        .as_ref()
        .and_then(|path| path.parent().map(|parent| parent.to_path_buf()))
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or_else(|| data_dir.root.clone());
    ResolveContext::from_process_env().with_base_dir(base)
}

fn absolute(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_owned());
    }
    Ok(std::env::current_dir()
        .context("cannot read the current directory")?
        .join(path))
}
