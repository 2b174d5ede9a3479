//! The proxy core in the running panel: its config comes from the database, its process is
//! supervised, its counters become stored usage, and users past their quota or expiry leave
//! it within one stats interval.
//!
//! [`App::start_core`] starts a [`CoreManager`], owned by the [`App`], when `core.enabled` is
//! set and a binary is found (`core.binary`, else `xray`, then `v2ray` on `PATH`). Without a
//! binary, or with settings the core cannot run, the panel serves its API anyway and the
//! reason is logged and shown by `GET /api/admin/system`.
//!
//! The manager's task (`driver`) is the only writer of the core's users; the user service
//! just signals that users changed ([`App::note_user_change`]). Stats rounds (`stats`) rely on
//! the store's per-run counters, so crashes of the core or the panel neither lose counted
//! traffic nor count it twice; a core left by a killed panel is counted and stopped at the
//! next start (`orphan`). Removed users' open connections end within a bound (`disconnect`).
//! The access log is followed for reconnaissance alerts (`access`). Files live in the core
//! folder of the data directory: `config.json` (0600), `access.log`, `core.run`.

mod access;
mod desired;
mod disconnect;
mod driver;
mod orphan;
pub mod stats;
mod status;
mod sync;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use spiritus_proxy::{CoreSettings, CoreState, CoreSupervisor, SupervisorError, SupervisorOptions};
use spiritus_store::StoreError;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub use desired::{core_password, core_user};

use crate::error::AppError;
use crate::files::ensure_private_dir;
use crate::state::App;
use desired::Tracked;
use disconnect::DisconnectPolicy;
use driver::{Command, Driver};
use status::{ManagerFigures, status_json};

/// Time the tasks get to finish when the panel stops.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// Failures of manager operations.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ManagerError {
    #[error("the proxy core is not running under this panel")]
    NotRunning,
    #[error("{0}")]
    Supervisor(#[from] SupervisorError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    App(#[from] AppError),
    #[error("the proxy core manager has stopped")]
    Stopped,
}

/// Paths of the core's files.
#[derive(Debug, Clone)]
pub struct CorePaths {
    pub config_file: PathBuf,
    pub access_log: PathBuf,
    pub run_record: PathBuf,
}

impl CorePaths {
    /// `core.config_file` (default `core/config.json` in the data directory); the access log
    /// and the run record sit beside it unless the access log path is absolute.
    pub fn resolve(settings: &CoreSettings, data_dir: &Path) -> Self {
        let config_file = match &settings.config_file {
            Some(path) if path.is_absolute() => path.clone(),
            Some(path) => data_dir.join(path),
            None => data_dir.join("core").join("config.json"),
        };
        let folder = config_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| data_dir.to_path_buf());
        let access_log = if settings.access_log.is_absolute() {
            settings.access_log.clone()
        } else {
            folder.join(&settings.access_log)
        };
        Self {
            run_record: folder.join("core.run"),
            config_file,
            access_log,
        }
    }

    fn folder(&self) -> Option<&Path> {
        self.config_file.parent()
    }
}

/// The running proxy core and the tasks around it.
pub struct CoreManager {
    settings: CoreSettings,
    supervisor: Option<Arc<CoreSupervisor>>,
    /// Reason no supervisor could be made (invalid settings, unwritable config).
    failure: Option<String>,
    figures: Arc<ManagerFigures>,
    stop: watch::Sender<bool>,
    commands: Option<mpsc::Sender<Command>>,
    tasks: tokio::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for CoreManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreManager").finish_non_exhaustive()
    }
}

impl CoreManager {
    fn failed(settings: CoreSettings, reason: String) -> Self {
        tracing::error!(%reason, "the proxy core cannot run; the panel serves its API without it");
        Self {
            settings,
            supervisor: None,
            failure: Some(reason),
            figures: Arc::default(),
            stop: watch::channel(false).0,
            commands: None,
            tasks: tokio::sync::Mutex::new(Vec::new()),
        }
    }

    /// The state for the system page: process, version, uptime, restarts, users, polls.
    pub fn status(&self) -> Value {
        match &self.supervisor {
            Some(supervisor) => status_json(
                &supervisor.status(),
                supervisor.configured_users(),
                &self.figures,
                self.settings.stats_interval,
                self.settings.disconnect_after_seconds,
            ),
            None => json!({ "state": "unavailable", "last_error": self.failure }),
        }
    }

    /// Returns the supervisor, for tests and tools that inspect the process.
    pub fn supervisor(&self) -> Option<&Arc<CoreSupervisor>> {
        self.supervisor.as_ref()
    }

    /// Replaces the core settings (checked by the core first; a refused config changes
    /// nothing) and restarts the core with the current users.
    pub async fn apply_settings(&self, settings: CoreSettings) -> Result<(), ManagerError> {
        let commands = self.commands.as_ref().ok_or(ManagerError::NotRunning)?;
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::ApplySettings(Box::new(settings), reply))
            .await
            .map_err(|_| ManagerError::Stopped)?;
        answer.await.map_err(|_| ManagerError::Stopped)?
    }

    /// Counts the last traffic, stops the core and ends the tasks.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock().await);
        for task in tasks {
            if tokio::time::timeout(STOP_TIMEOUT, task).await.is_err() {
                tracing::warn!("a proxy core task did not stop in time");
            }
        }
        if let Some(supervisor) = &self.supervisor
            && let Err(error) = supervisor.stop().await
        {
            tracing::warn!(%error, "could not stop the proxy core");
        }
    }
}

impl App {
    /// Starts the proxy core under this app when `core.enabled` is set. Returns the manager,
    /// or `None` when the core is switched off. A missing binary or settings the core cannot
    /// run give a manager that only reports why.
    pub async fn start_core(&self, data_dir: &Path) -> Option<Arc<CoreManager>> {
        let settings = self.config().core.clone();
        if !settings.enabled {
            tracing::info!("core.enabled is false: no proxy core runs under this panel");
            return None;
        }
        let manager = Arc::new(self.build_manager(settings, data_dir).await);
        if self.inner().core.set(Arc::clone(&manager)).is_err() {
            tracing::warn!("the proxy core was started twice; keeping the first");
        }
        Some(manager)
    }

    async fn build_manager(&self, settings: CoreSettings, data_dir: &Path) -> CoreManager {
        for warning in settings.warnings() {
            tracing::warn!(%warning, "proxy core settings");
        }
        let paths = CorePaths::resolve(&settings, data_dir);
        if let Some(folder) = paths.folder()
            && let Err(error) = ensure_private_dir(folder)
        {
            let reason = format!("cannot create {}: {error}", folder.display());
            return CoreManager::failed(settings, reason);
        }
        orphan::adopt(self, &paths.run_record, &paths.config_file).await;

        let plan = match sync::load(self).await {
            Ok(plan) => plan,
            Err(error) => {
                return CoreManager::failed(
                    settings,
                    format!("cannot load the VPN users: {error}"),
                );
            }
        };
        let newly = sync::apply_markers(self, &plan).await;
        let (users, in_core) = self.initial_users(&plan);
        let mut logged_unreadable = HashSet::new();
        for (id, error) in &plan.skipped {
            tracing::warn!(user_id = %id, %error, "skipping a VPN user whose stored row cannot be read; fix or delete the row");
            logged_unreadable.insert(id.clone());
        }

        let options = SupervisorOptions::new(&paths.config_file);
        let supervisor = match CoreSupervisor::start(settings.clone(), users, options).await {
            Ok(supervisor) => Arc::new(supervisor),
            Err(error) => return CoreManager::failed(settings, error.to_string()),
        };
        let figures = Arc::new(ManagerFigures::default());
        let (skipped, now) = (plan.skipped.len(), self.now());
        figures.update_enforcement(|e| {
            e.cutoffs = newly;
            e.skipped_rows = skipped;
            e.last_sync_at = Some(now);
        });
        let (stop, stopped) = watch::channel(false);
        let mut manager = CoreManager {
            settings: settings.clone(),
            supervisor: Some(Arc::clone(&supervisor)),
            failure: None,
            figures: Arc::clone(&figures),
            stop,
            commands: None,
            tasks: tokio::sync::Mutex::new(Vec::new()),
        };
        if supervisor.status().state == CoreState::Unavailable {
            return manager;
        }

        let (commands, receiver) = mpsc::channel(4);
        let driver = Driver {
            app: self.clone(),
            supervisor,
            figures,
            disconnects: DisconnectPolicy::new(
                Duration::from_secs(settings.disconnect_after_seconds),
                Duration::from_secs(u64::from(settings.conn_idle_seconds)),
                Instant::now(),
            ),
            settings: settings.clone(),
            paths: paths.clone(),
            in_core,
            needs_restart: false,
            known_run: None,
            seen_restarts: 0,
            last_poll: None,
            logged_unreadable,
        };
        let watcher = access::watcher(&settings.recon_ports, settings.recon_window_seconds);
        let tasks = vec![
            tokio::spawn(driver.run(stopped.clone(), receiver)),
            tokio::spawn(access::follow(
                self.clone(),
                paths.access_log,
                watcher,
                stopped,
            )),
        ];
        manager.commands = Some(commands);
        manager.tasks = tokio::sync::Mutex::new(tasks);
        tracing::info!(config = %paths.config_file.display(), "proxy core manager started");
        manager
    }

    /// Builds the core users and tracked figures the core starts with.
    fn initial_users(
        &self,
        plan: &sync::SyncPlan,
    ) -> (Vec<spiritus_proxy::CoreUser>, HashMap<String, Tracked>) {
        let mut users = Vec::with_capacity(plan.active.len());
        let mut tracked = HashMap::with_capacity(plan.active.len());
        for (key, user) in &plan.active {
            match core_user(&self.inner().core_password_key, user) {
                Ok(core) => {
                    users.push(core);
                    tracked.insert(key.clone(), Tracked::of(user));
                }
                Err(error) => {
                    tracing::warn!(%error, user = %user.name, "cannot derive a user's core credentials")
                }
            }
        }
        (users, tracked)
    }

    /// Returns the manager started by [`App::start_core`], if any.
    pub fn core_manager(&self) -> Option<&Arc<CoreManager>> {
        self.inner().core.get()
    }

    /// Returns the proxy core's state for the system page.
    pub fn core_status(&self) -> Value {
        match self.core_manager() {
            Some(manager) => manager.status(),
            None if !self.config().core.enabled => {
                json!({ "state": "disabled", "last_error": "core.enabled is false" })
            }
            None => {
                json!({ "state": "unavailable", "last_error": "the proxy core was not started" })
            }
        }
    }

    /// Stops the proxy core, counting its last traffic first.
    pub async fn stop_core(&self) {
        if let Some(manager) = self.core_manager() {
            manager.stop().await;
        }
    }
}
