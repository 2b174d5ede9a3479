//! The manager's task. It alone changes the core's users, so its decisions never race:
//!
//! * a user change signalled by the user service (debounced) or a periodic full load brings
//!   the core's users in line with the users that may connect, through live HandlerService
//!   changes;
//! * every stats interval it polls the counters, adds them to stored usage, and removes users
//!   who reached their quota or expiry (marked and audited as cut off by the system);
//! * every second it watches the process: it records each new core run for the next start,
//!   raises an event when the core crashed, and restarts the core when live changes were
//!   refused or when cut-off users may still hold connections (see `disconnect`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spiritus_core::events::SecurityEvent;
use spiritus_core::user::UserStatus;
use spiritus_proxy::{CoreSettings, CoreState, CoreSupervisor, CoreUser};
use spiritus_store::CutoffOutcome;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{MissedTickBehavior, interval, interval_at};
use uuid::Uuid;

use super::desired::{Tracked, core_user};
use super::disconnect::DisconnectPolicy;
use super::orphan::{RunRecord, write_record};
use super::stats::{PollError, poll_supervised};
use super::status::ManagerFigures;
use super::sync::{self, SyncPlan};
use super::{CorePaths, ManagerError};
use crate::state::App;

/// Wait after a user change before applying it, so bursts become one change.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// Period of the full load that also catches changes made by other processes.
const FULL_SYNC_INTERVAL: Duration = Duration::from_secs(60);
/// Period of the process watch.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// Time a restarted core gets to come back before the task carries on.
const RESTART_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest stats interval honoured; larger settings are cut to it.
const MAX_STATS_INTERVAL: Duration = Duration::from_secs(3600);

/// The stats interval of `settings`, kept between one second and an hour.
fn stats_period(settings: &CoreSettings) -> Duration {
    Duration::from_secs(settings.stats_interval.max(1)).min(MAX_STATS_INTERVAL)
}

/// Requests from the manager handle to the task.
pub(crate) enum Command {
    ApplySettings(Box<CoreSettings>, oneshot::Sender<Result<(), ManagerError>>),
}

pub(crate) struct Driver {
    pub app: App,
    pub supervisor: Arc<CoreSupervisor>,
    pub figures: Arc<ManagerFigures>,
    pub settings: CoreSettings,
    pub paths: CorePaths,
    pub in_core: HashMap<String, Tracked>,
    pub disconnects: DisconnectPolicy,
    pub needs_restart: bool,
    pub known_run: Option<Uuid>,
    pub seen_restarts: u64,
    pub last_poll: Option<Instant>,
    pub logged_unreadable: HashSet<String>,
}

impl Driver {
    pub async fn run(
        mut self,
        mut stop: watch::Receiver<bool>,
        mut commands: mpsc::Receiver<Command>,
    ) {
        let changes = Arc::clone(&self.app.inner().user_changes);
        let period = stats_period(&self.settings);
        let mut stats_tick = interval(period);
        stats_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let start = tokio::time::Instant::now();
        let mut sync_tick = interval_at(start + FULL_SYNC_INTERVAL, FULL_SYNC_INTERVAL);
        let mut watch_tick = interval(WATCH_INTERVAL);

        loop {
            tokio::select! {
                _ = stop.changed() => break,
                () = changes.notified() => {
                    tokio::time::sleep(DEBOUNCE).await;
                    self.sync().await;
                }
                _ = stats_tick.tick() => {
                    self.poll().await;
                    self.enforce().await;
                }
                _ = sync_tick.tick() => self.sync().await,
                _ = watch_tick.tick() => self.watch().await,
                Some(command) = commands.recv() => self.handle(command).await,
            }
        }
        self.shutdown().await;
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::ApplySettings(settings, reply) => {
                let result = self.apply_settings(*settings).await;
                let _ = reply.send(result);
            }
        }
    }

    /// Polls the counters and adds them to usage; failures are logged and repeated next round.
    async fn poll(&mut self) {
        let started = Instant::now();
        let result = poll_supervised(self.app.store(), &self.supervisor, self.app.now()).await;
        match result {
            Ok(report) => {
                let period = stats_period(&self.settings);
                let lag = self.last_poll.map(|last| {
                    started
                        .saturating_duration_since(last)
                        .saturating_sub(period)
                });
                self.last_poll = Some(started);
                for delta in &report.deltas {
                    let key = delta.user_id.simple().to_string();
                    self.disconnects.saw_traffic(&key, started);
                    if let Some(tracked) = self.in_core.get_mut(&key) {
                        tracked.used = tracked
                            .used
                            .saturating_add(delta.upload)
                            .saturating_add(delta.download);
                    }
                }
                let now = self.app.now();
                self.figures.update_polls(|polls| {
                    polls.last_success_at = Some(now);
                    polls.last_duration = Some(started.elapsed());
                    polls.lag = lag.or(polls.lag);
                    polls.consecutive_failures = 0;
                    polls.users_with_traffic = report.users_reported;
                });
            }
            Err(PollError::NotRunning) => {}
            Err(error) => self.poll_failed(&error),
        }
    }

    fn poll_failed(&self, error: &PollError) {
        let message = error.to_string();
        let mut consecutive = 0;
        self.figures.update_polls(|polls| {
            polls.consecutive_failures += 1;
            polls.total_failures += 1;
            polls.last_error = Some(message.clone());
            consecutive = polls.consecutive_failures;
        });
        // The first failure and then one in sixty, so a long outage does not flood the log.
        if consecutive % 60 == 1 {
            tracing::warn!(error = %message, consecutive, "stats poll failed; nothing is lost, the next poll reads the counters again");
        }
    }

    /// Removes users who reached their quota or expiry by the figures held in memory; the
    /// store re-checks each one before it is marked.
    async fn enforce(&mut self) {
        let now = self.app.now();
        let due: Vec<(String, Uuid)> = self
            .in_core
            .iter()
            .filter(|(_, tracked)| tracked.is_due(now))
            .map(|(key, tracked)| (key.clone(), tracked.id))
            .collect();
        let mut leaving = Vec::new();
        for (key, id) in due {
            match sync::mark(&self.app, id).await {
                Some(CutoffOutcome::NotDue(user)) if user.status(now) == UserStatus::Active => {
                    self.in_core.insert(key, Tracked::of(&user));
                }
                Some(CutoffOutcome::Cut { newly, .. }) => {
                    if newly {
                        self.figures.update_enforcement(|e| e.cutoffs += 1);
                    }
                    leaving.push(key);
                }
                // Disabled or deleted meanwhile, or the marker could not be written: the user
                // leaves the core anyway, and the next full load marks them.
                _ => leaving.push(key),
            }
        }
        self.change_users(Vec::new(), leaving).await;
    }

    /// Brings the core's users in line with the stored users.
    async fn sync(&mut self) {
        let plan = match sync::load(&self.app).await {
            Ok(plan) => plan,
            Err(error) => {
                tracing::warn!(%error, "could not load the VPN users; the core keeps its users until the next try");
                return;
            }
        };
        self.report_skipped(&plan);
        let newly = sync::apply_markers(&self.app, &plan).await;
        let (added, removed) = self.difference(plan);
        self.change_users(added, removed).await;
        let now = self.app.now();
        self.figures.update_enforcement(|e| {
            e.cutoffs += newly;
            e.last_sync_at = Some(now);
        });
    }

    fn report_skipped(&mut self, plan: &SyncPlan) {
        for (id, error) in &plan.skipped {
            if self.logged_unreadable.insert(id.clone()) {
                tracing::warn!(user_id = %id, %error, "skipping a VPN user whose stored row cannot be read; fix or delete the row");
            }
        }
        let count = plan.skipped.len();
        self.figures.update_enforcement(|e| e.skipped_rows = count);
    }

    /// Computes the users to add and the keys to remove so the core contains exactly the
    /// active users.
    fn difference(&mut self, plan: SyncPlan) -> (Vec<(CoreUser, Tracked)>, Vec<String>) {
        let removed: Vec<String> = self
            .in_core
            .keys()
            .filter(|key| !plan.active.contains_key(*key) && !plan.unreadable.contains(*key))
            .cloned()
            .collect();
        let mut added = Vec::new();
        for (key, user) in plan.active {
            let tracked = Tracked::of(&user);
            if let Some(held) = self.in_core.get_mut(&key) {
                *held = tracked;
                continue;
            }
            match core_user(&self.app.inner().core_password_key, &user) {
                Ok(core) => added.push((core, tracked)),
                Err(error) => {
                    tracing::warn!(%error, user = %user.name, "cannot derive a user's core credentials")
                }
            }
        }
        (added, removed)
    }

    /// Applies additions and removals live, with one config rewrite.
    async fn change_users(&mut self, added: Vec<(CoreUser, Tracked)>, removed: Vec<String>) {
        if added.is_empty() && removed.is_empty() {
            return;
        }
        let before = self.supervisor.status().state;
        let users: Vec<CoreUser> = added.iter().map(|(user, _)| user.clone()).collect();
        match self.supervisor.update_users(users, removed.clone()).await {
            Ok(refused) if !refused.is_empty() => {
                tracing::warn!(refused = refused.len(), first = %refused[0].error, "the core rejected live user changes; restarting it with the new config file");
                self.needs_restart = before != CoreState::Restarting;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(%error, "could not change the core's users; retrying at the next sync");
                return;
            }
        }
        let now = Instant::now();
        for key in removed {
            self.in_core.remove(&key);
            self.disconnects.removed(&key, now);
        }
        for (user, tracked) in added {
            self.disconnects.readded(&user.key);
            self.in_core.insert(user.key, tracked);
        }
        tracing::debug!(users = self.in_core.len(), "core users changed");
        let pending = self.disconnects.pending();
        self.figures
            .update_enforcement(|e| e.pending_disconnects = pending);
    }

    /// Watches the process: new runs, crashes, and the restarts that are due.
    async fn watch(&mut self) {
        let status = self.supervisor.status();
        if status.run_id != self.known_run {
            self.new_run(&status).await;
        }
        if status.state != CoreState::Running {
            return;
        }
        let now = Instant::now();
        if self.needs_restart {
            self.restart("apply refused live user changes").await;
        } else if self.disconnects.restart_due(now) {
            self.restart("end the open connections of removed users")
                .await;
            self.figures
                .update_enforcement(|e| e.disconnect_restarts += 1);
        }
        let pending = self.disconnects.pending();
        self.figures
            .update_enforcement(|e| e.pending_disconnects = pending);
    }

    async fn new_run(&mut self, status: &spiritus_proxy::supervisor::CoreStatus) {
        self.known_run = status.run_id;
        self.disconnects.restarted(Instant::now());
        if status.restarts > self.seen_restarts {
            let reason = status.last_error.clone().unwrap_or_default();
            tracing::warn!(restarts = status.restarts, %reason, "the proxy core exited unexpectedly and was restarted");
            self.app.events().emit(SecurityEvent::CoreCrashed {
                restarts: status.restarts,
                reason,
            });
        }
        self.seen_restarts = status.restarts;
        if let (Some(pid), Some(run_id)) = (status.pid, status.run_id) {
            let record = RunRecord {
                pid,
                run_id,
                api_port: self.settings.api_port,
                kind: status.kind.unwrap_or(spiritus_proxy::CoreKind::V2ray),
            };
            write_record(&self.paths.run_record, &record).await;
        }
    }

    /// Counts what the current run moved, restarts the core and waits for the new run.
    async fn restart(&mut self, reason: &str) {
        tracing::info!(reason, "restarting the proxy core");
        self.poll().await;
        let old_run = self.supervisor.status().run_id;
        // A requested restart is not a crash.
        self.seen_restarts += 1;
        if let Err(error) = self.supervisor.restart().await {
            tracing::warn!(%error, "could not restart the proxy core");
            return;
        }
        self.needs_restart = false;
        self.disconnects.restarted(Instant::now());
        self.wait_for_new_run(old_run).await;
    }

    async fn wait_for_new_run(&mut self, old_run: Option<Uuid>) {
        let deadline = Instant::now() + RESTART_TIMEOUT;
        while Instant::now() < deadline {
            let status = self.supervisor.status();
            if status.state == CoreState::Running && status.run_id != old_run {
                self.new_run(&status).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::warn!(timeout = ?RESTART_TIMEOUT, "the restarted core is not running yet");
    }

    /// Replaces the core settings: counts the current run, then writes and checks the new
    /// config with the current users and restarts the core.
    async fn apply_settings(&mut self, settings: CoreSettings) -> Result<(), ManagerError> {
        self.poll().await;
        let plan = sync::load(&self.app).await.map_err(ManagerError::Store)?;
        let mut users = Vec::with_capacity(plan.active.len());
        let mut tracked = HashMap::with_capacity(plan.active.len());
        for (key, user) in &plan.active {
            users.push(core_user(&self.app.inner().core_password_key, user)?);
            tracked.insert(key.clone(), Tracked::of(user));
        }
        let old_run = self.supervisor.status().run_id;
        self.supervisor
            .apply_config(settings.clone(), users)
            .await
            .map_err(ManagerError::Supervisor)?;
        // A requested restart is not a crash.
        self.seen_restarts += 1;
        self.settings = settings;
        self.in_core = tracked;
        self.disconnects.restarted(Instant::now());
        self.wait_for_new_run(old_run).await;
        Ok(())
    }

    /// Counts the last traffic and stops the core.
    async fn shutdown(&mut self) {
        self.poll().await;
        if let Err(error) = self.supervisor.stop().await {
            tracing::warn!(%error, "could not stop the proxy core cleanly");
        }
        super::orphan::remove_record(&self.paths.run_record).await;
    }
}
