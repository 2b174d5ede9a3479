//! Runs the proxy core as a child process and keeps it running.
//!
//! [`CoreSupervisor`] writes the config file (atomically, mode 0600), starts the core with
//! `-config FILE`, restarts it with capped exponential backoff when it exits, applies new
//! configs (checked with `-test` first, then a restart) or live user changes through the
//! HandlerService, and reports its [`CoreStatus`]. A missing or unusable binary gives the
//! state `unavailable` with the reason; nothing here panics.
//!
//! The child is started with `kill_on_drop`, so it dies when the supervisor is dropped or the
//! panel's runtime shuts down. There is no safe way to ask Linux to kill it when the panel is
//! killed outright (`PR_SET_PDEATHSIG` must be set between fork and exec, which needs unsafe
//! code); a new panel start then finds the API port taken and reports the start failure.

mod binary;
mod config_file;
mod output;
mod run;
mod users;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

pub use binary::{SEARCHED_NAMES, check_config, locate, version};
pub use config_file::write_atomically;
pub use users::RefusedChange;

use crate::config::{generate, live_user_inbounds};
use crate::grpc::{ApiError, CoreApi, UserCounters};
use crate::settings::{CoreKind, CoreSettings, CoreUser};
use crate::validate::{SettingsError, validate_user_key};
use run::{Control, Runner};

/// Supervisor options: the config file path and the timings.
#[derive(Debug, Clone)]
pub struct SupervisorOptions {
    /// The core's config file. Relative log paths resolve in its folder.
    pub config_path: PathBuf,
    /// First wait before restarting a core that exited.
    pub backoff_initial: Duration,
    /// Maximum wait between restarts.
    pub backoff_max: Duration,
    /// A run this long resets the backoff to its first value.
    pub stable_after: Duration,
    /// Time between SIGTERM and SIGKILL when stopping.
    pub stop_timeout: Duration,
    /// Time allowed for one gRPC call.
    pub api_timeout: Duration,
}

impl SupervisorOptions {
    pub fn new(config_path: impl Into<PathBuf>) -> Self {
        Self {
            config_path: config_path.into(),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(60),
            stop_timeout: Duration::from_secs(5),
            api_timeout: crate::grpc::DEFAULT_CALL_TIMEOUT,
        }
    }
}

/// Life-cycle state of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CoreState {
    /// Process started, API port not accepting connections yet.
    Starting,
    /// API port accepts connections.
    Running,
    /// Exited; waiting out the backoff before the next start.
    Restarting,
    /// Stopped on request.
    Stopped,
    /// No usable binary; see `last_error`.
    Unavailable,
}

/// Snapshot of the core's state for the panel.
#[derive(Debug, Clone, Serialize)]
pub struct CoreStatus {
    pub state: CoreState,
    pub binary: Option<PathBuf>,
    pub kind: Option<CoreKind>,
    /// First line of `binary -version`.
    pub version: Option<String>,
    pub pid: Option<u32>,
    /// Time since the current process started.
    pub uptime: Option<Duration>,
    /// Starts after the first one (after crashes and requested restarts).
    pub restarts: u64,
    pub last_error: Option<String>,
    /// New random id per process start: counters of one run never mix with the next.
    pub run_id: Option<Uuid>,
}

/// Failures of supervisor operations.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SupervisorError {
    #[error("proxy core is unavailable: {0}")]
    Unavailable(String),
    #[error("proxy core settings are invalid")]
    Settings(#[from] SettingsError),
    #[error("could not write the core config {path}; check the folder exists and is writable")]
    WriteConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the core refused the new config, the old one stays: {0}")]
    ConfigRefused(String),
    #[error("proxy core supervisor has stopped")]
    Stopped,
    #[error("proxy core did not reach the running state within {0:?}")]
    NotReady(Duration),
    #[error("no user of key {0:?} is configured")]
    UnknownUser(String),
    #[error("live user change through the core API failed; the config file has the change")]
    Api(#[from] ApiError),
}

/// State shared between the handle and the runner task.
struct Shared {
    status: Mutex<StatusRecord>,
    desired: Mutex<Desired>,
    options: SupervisorOptions,
}

struct StatusRecord {
    state: CoreState,
    binary: Option<PathBuf>,
    kind: Option<CoreKind>,
    version: Option<String>,
    pid: Option<u32>,
    started_at: Option<Instant>,
    restarts: u64,
    last_error: Option<String>,
    run_id: Option<Uuid>,
}

#[derive(Clone)]
struct Desired {
    settings: CoreSettings,
    users: Vec<CoreUser>,
}

impl Shared {
    fn status(&self) -> MutexGuard<'_, StatusRecord> {
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn desired(&self) -> MutexGuard<'_, Desired> {
        self.desired
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut StatusRecord)) {
        change(&mut self.status());
    }
}

/// Owner of the core process. Dropping it kills the core.
pub struct CoreSupervisor {
    shared: Arc<Shared>,
    controls: Option<mpsc::Sender<Control>>,
    binary: Option<PathBuf>,
}

impl CoreSupervisor {
    /// Finds the binary, writes the config and starts the core. A missing or unusable binary
    /// gives a supervisor in state `unavailable`; invalid settings or an unwritable config
    /// file are errors.
    pub async fn start(
        mut settings: CoreSettings,
        users: Vec<CoreUser>,
        options: SupervisorOptions,
    ) -> Result<Self, SupervisorError> {
        let found = match binary::locate(settings.binary.as_deref()) {
            Ok(path) => binary::version(&path)
                .await
                .map(|(version, kind)| (path, version, kind)),
            Err(reason) => Err(reason),
        };

        let (path, version, kind) = match found {
            Ok(found) => found,
            Err(reason) => return Ok(Self::unavailable(settings, users, options, reason)),
        };

        settings.kind = Some(settings.kind.unwrap_or(kind));
        let config = generate(&settings, &users)?;
        let bytes = config
            .to_bytes()
            .map_err(|error| SupervisorError::ConfigRefused(error.to_string()))?;
        write_config(&options.config_path, &bytes).await?;

        let api_port = settings.api_port;
        let shared = Arc::new(Shared {
            status: Mutex::new(StatusRecord {
                state: CoreState::Starting,
                binary: Some(path.clone()),
                kind: settings.kind,
                version: Some(version),
                pid: None,
                started_at: None,
                restarts: 0,
                last_error: None,
                run_id: None,
            }),
            desired: Mutex::new(Desired { settings, users }),
            options: options.clone(),
        });

        let (controls, receiver) = mpsc::channel(8);
        let runner = Runner {
            shared: Arc::clone(&shared),
            binary: path.clone(),
            config_path: options.config_path,
            api_port,
            controls: receiver,
        };
        tokio::spawn(runner.run());

        Ok(Self {
            shared,
            controls: Some(controls),
            binary: Some(path),
        })
    }

    fn unavailable(
        settings: CoreSettings,
        users: Vec<CoreUser>,
        options: SupervisorOptions,
        reason: String,
    ) -> Self {
        tracing::warn!(%reason, "no proxy core will run");
        let status = StatusRecord {
            state: CoreState::Unavailable,
            binary: settings.binary.clone(),
            kind: settings.kind,
            version: None,
            pid: None,
            started_at: None,
            restarts: 0,
            last_error: Some(reason),
            run_id: None,
        };

        Self {
            shared: Arc::new(Shared {
                status: Mutex::new(status),
                desired: Mutex::new(Desired { settings, users }),
                options,
            }),
            controls: None,
            binary: None,
        }
    }

    /// Returns a snapshot of the core's state.
    pub fn status(&self) -> CoreStatus {
        let record = self.shared.status();

        CoreStatus {
            state: record.state,
            binary: record.binary.clone(),
            kind: record.kind,
            version: record.version.clone(),
            pid: record.pid,
            uptime: record.started_at.map(|started| started.elapsed()),
            restarts: record.restarts,
            last_error: record.last_error.clone(),
            run_id: record.run_id,
        }
    }

    /// Waits until the core's API port accepts connections.
    pub async fn wait_until_running(&self, timeout: Duration) -> Result<(), SupervisorError> {
        let deadline = Instant::now() + timeout;

        loop {
            match self.status().state {
                CoreState::Running => return Ok(()),
                CoreState::Unavailable => return Err(self.unavailable_error()),
                CoreState::Stopped => return Err(SupervisorError::Stopped),
                CoreState::Starting | CoreState::Restarting => {}
            }
            if Instant::now() >= deadline {
                return Err(SupervisorError::NotReady(timeout));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Returns a client for the core's API.
    pub fn api(&self) -> Result<CoreApi, SupervisorError> {
        if self.controls.is_none() {
            return Err(self.unavailable_error());
        }

        let desired = self.shared.desired();
        let kind = desired.settings.kind_or_default();
        Ok(CoreApi::with_address(
            kind,
            &format!("http://127.0.0.1:{}", desired.settings.api_port),
            self.shared.options.api_timeout,
        )?)
    }

    /// Per-user counters of the current run (see `status().run_id`).
    pub async fn user_counters(
        &self,
        reset: bool,
    ) -> Result<HashMap<String, UserCounters>, SupervisorError> {
        Ok(self.api()?.user_counters(reset).await?)
    }

    /// Replaces settings and users: the new config is checked with the core's `-test`, written
    /// in place of the old one, and the core restarted. A refused config changes nothing.
    pub async fn apply_config(
        &self,
        mut settings: CoreSettings,
        users: Vec<CoreUser>,
    ) -> Result<(), SupervisorError> {
        let binary = self
            .binary
            .clone()
            .ok_or_else(|| self.unavailable_error())?;
        settings.kind = settings.kind.or(self.status().kind);

        let config = generate(&settings, &users)?;
        let bytes = config
            .to_bytes()
            .map_err(|error| SupervisorError::ConfigRefused(error.to_string()))?;
        let target = &self.shared.options.config_path;
        let staged = config_file::stage(target, &bytes)
            .await
            .map_err(|source| write_error(target, source))?;

        if let Err(reason) = binary::check_config(&binary, &staged.temporary).await {
            staged.discard().await;
            return Err(SupervisorError::ConfigRefused(reason));
        }

        staged
            .commit()
            .await
            .map_err(|source| write_error(target, source))?;
        *self.shared.desired() = Desired { settings, users };
        self.restart().await
    }

    /// Restarts the core with the config file as it is.
    pub async fn restart(&self) -> Result<(), SupervisorError> {
        let (reply, done) = oneshot::channel();
        self.send(Control::Restart(reply)).await?;
        done.await.map_err(|_| SupervisorError::Stopped)
    }

    /// Adds a user to every inbound while the core runs, and to the config file so the next
    /// start keeps it.
    pub async fn add_user(&self, user: CoreUser) -> Result<(), SupervisorError> {
        validate_user_key(&user.key)?;
        let settings = self.change_users(|users| {
            users.retain(|existing| existing.key != user.key);
            users.push(user.clone());
            Ok(())
        })?;
        self.rewrite_config().await?;

        let api = self.api()?;
        for inbound in live_user_inbounds(&settings) {
            api.add_user(&inbound, &user).await?;
        }
        Ok(())
    }

    /// Removes a user from every inbound while the core runs, and from the config file. Open
    /// connections of the user end when idle for `conn_idle_seconds`.
    pub async fn remove_user(&self, key: &str) -> Result<(), SupervisorError> {
        let settings = self.change_users(|users| {
            let before = users.len();
            users.retain(|existing| existing.key != key);
            if users.len() == before {
                return Err(SupervisorError::UnknownUser(key.to_owned()));
            }
            Ok(())
        })?;
        self.rewrite_config().await?;

        let api = self.api()?;
        for inbound in live_user_inbounds(&settings) {
            api.remove_user(&inbound.tag(), key).await?;
        }
        Ok(())
    }

    fn change_users(
        &self,
        change: impl FnOnce(&mut Vec<CoreUser>) -> Result<(), SupervisorError>,
    ) -> Result<CoreSettings, SupervisorError> {
        if self.controls.is_none() {
            return Err(self.unavailable_error());
        }

        let mut desired = self.shared.desired();
        change(&mut desired.users)?;
        Ok(desired.settings.clone())
    }

    async fn rewrite_config(&self) -> Result<(), SupervisorError> {
        let desired = self.shared.desired().clone();
        let config = generate(&desired.settings, &desired.users)?;
        let bytes = config
            .to_bytes()
            .map_err(|error| SupervisorError::ConfigRefused(error.to_string()))?;
        write_config(&self.shared.options.config_path, &bytes).await
    }

    /// Stops the core (SIGTERM, then SIGKILL after the stop timeout). Stopping twice is fine.
    pub async fn stop(&self) -> Result<(), SupervisorError> {
        let (reply, done) = oneshot::channel();
        match self.send(Control::Stop(reply)).await {
            Ok(()) => {
                let _ = done.await;
                Ok(())
            }
            Err(SupervisorError::Stopped) => Ok(()),
            Err(other) => Err(other),
        }
    }

    async fn send(&self, control: Control) -> Result<(), SupervisorError> {
        let controls = self
            .controls
            .as_ref()
            .ok_or_else(|| self.unavailable_error())?;
        controls
            .send(control)
            .await
            .map_err(|_| SupervisorError::Stopped)
    }

    fn unavailable_error(&self) -> SupervisorError {
        let reason = self.shared.status().last_error.clone().unwrap_or_default();
        SupervisorError::Unavailable(reason)
    }
}

async fn write_config(path: &std::path::Path, bytes: &[u8]) -> Result<(), SupervisorError> {
    write_atomically(path, bytes)
        .await
        .map_err(|source| write_error(path, source))
}

fn write_error(path: &std::path::Path, source: std::io::Error) -> SupervisorError {
    SupervisorError::WriteConfig {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_binary_gives_unavailable_status_with_reason() {
        let dir = tempfile::tempdir().unwrap();
        let settings = CoreSettings {
            binary: Some(PathBuf::from("/nonexistent/v2ray")),
            ..CoreSettings::default()
        };

        let supervisor = CoreSupervisor::start(
            settings,
            Vec::new(),
            SupervisorOptions::new(dir.path().join("c.json")),
        )
        .await
        .unwrap();
        let status = supervisor.status();

        assert_eq!(status.state, CoreState::Unavailable);
        assert!(status.last_error.unwrap().contains("/nonexistent/v2ray"));
        assert!(status.pid.is_none());
        assert!(matches!(
            supervisor.restart().await,
            Err(SupervisorError::Unavailable(_))
        ));
        assert!(matches!(
            supervisor.api(),
            Err(SupervisorError::Unavailable(_))
        ));
    }
}
