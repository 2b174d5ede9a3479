//! The task that owns the core child process: starts it, marks it running once its API port
//! accepts connections, restarts it with capped exponential backoff when it exits, and stops it with
//! SIGTERM, then SIGKILL after a timeout.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::output;
use super::{CoreState, Shared};

/// Control request from the owner to the running task.
pub(super) enum Control {
    Restart(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// Cause that ended one child's run.
enum RunEnd {
    Exited(String),
    Restart(oneshot::Sender<()>),
    Stop(Option<oneshot::Sender<()>>),
}

pub(super) struct Runner {
    pub shared: Arc<Shared>,
    pub binary: PathBuf,
    pub config_path: PathBuf,
    pub api_port: u16,
    pub controls: mpsc::Receiver<Control>,
}

impl Runner {
    pub async fn run(mut self) {
        let options = self.shared.options.clone();
        let mut backoff = options.backoff_initial;
        let mut first = true;

        loop {
            if !first {
                self.shared.update(|status| status.restarts += 1);
            }
            first = false;

            let started = Instant::now();
            let end = match self.spawn() {
                Ok(child) => self.supervise(child).await,
                Err(reason) => RunEnd::Exited(reason),
            };

            match end {
                RunEnd::Restart(reply) => {
                    backoff = options.backoff_initial;
                    let _ = reply.send(());
                }
                RunEnd::Stop(reply) => {
                    self.mark_stopped(reply);
                    return;
                }
                RunEnd::Exited(reason) => {
                    if started.elapsed() >= options.stable_after {
                        backoff = options.backoff_initial;
                    }
                    tracing::warn!(%reason, ?backoff, "proxy core exited; restarting after backoff");
                    self.shared.update(|status| {
                        status.state = CoreState::Restarting;
                        status.pid = None;
                        status.started_at = None;
                        status.last_error = Some(reason);
                    });

                    if let Some(reply) = self.wait_backoff(backoff).await {
                        self.mark_stopped(reply);
                        return;
                    }
                    backoff = (backoff * 2).min(options.backoff_max);
                }
            }
        }
    }

    fn spawn(&self) -> Result<Child, String> {
        let mut command = Command::new(&self.binary);
        command
            .arg("-config")
            .arg(&self.config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);

        if let Some(dir) = self
            .config_path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
        {
            command.current_dir(dir);
        }

        let mut child = command
            .spawn()
            .map_err(|error| format!("could not start {}: {error}", self.binary.display()))?;
        let pid = child.id().unwrap_or(0);

        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(output::forward(stdout, "stdout", pid));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(output::forward(stderr, "stderr", pid));
        }

        let run_id = Uuid::new_v4();
        tracing::info!(pid, %run_id, "proxy core started");
        self.shared.update(|status| {
            status.state = CoreState::Starting;
            status.pid = Some(pid);
            status.run_id = Some(run_id);
            status.started_at = Some(Instant::now());
        });

        Ok(child)
    }

    async fn supervise(&mut self, mut child: Child) -> RunEnd {
        let mut ready = false;

        loop {
            tokio::select! {
                exit = child.wait() => {
                    return RunEnd::Exited(match exit {
                        Ok(status) => format!("core exited with {status}"),
                        Err(error) => format!("could not wait for the core: {error}"),
                    });
                }
                control = self.controls.recv() => {
                    self.terminate(&mut child).await;
                    return match control {
                        Some(Control::Restart(reply)) => RunEnd::Restart(reply),
                        Some(Control::Stop(reply)) => RunEnd::Stop(Some(reply)),
                        None => RunEnd::Stop(None),
                    };
                }
                () = wait_for_port(self.api_port), if !ready => {
                    ready = true;
                    self.shared.update(|status| status.state = CoreState::Running);
                }
            }
        }
    }

    /// Sleeps out the backoff; a restart request cuts it short, a stop ends it.
    async fn wait_backoff(&mut self, backoff: Duration) -> Option<Option<oneshot::Sender<()>>> {
        tokio::select! {
            () = tokio::time::sleep(backoff) => None,
            control = self.controls.recv() => match control {
                Some(Control::Restart(reply)) => {
                    let _ = reply.send(());
                    None
                }
                Some(Control::Stop(reply)) => Some(Some(reply)),
                None => Some(None),
            },
        }
    }

    /// SIGTERM, then SIGKILL when the core has not exited within the stop timeout.
    async fn terminate(&self, child: &mut Child) {
        let pid = child.id().and_then(|pid| i32::try_from(pid).ok());

        if let Some(pid) = pid
            && let Err(error) = kill(Pid::from_raw(pid), Signal::SIGTERM)
        {
            tracing::warn!(pid, %error, "could not send SIGTERM to the core");
        }

        let timeout = self.shared.options.stop_timeout;
        if tokio::time::timeout(timeout, child.wait()).await.is_err() {
            tracing::warn!(?timeout, "core ignored SIGTERM; killing it");
            if let Err(error) = child.kill().await {
                tracing::warn!(%error, "could not kill the core");
            }
        }
    }

    fn mark_stopped(&self, reply: Option<oneshot::Sender<()>>) {
        tracing::info!("proxy core stopped");
        self.shared.update(|status| {
            status.state = CoreState::Stopped;
            status.pid = None;
            status.started_at = None;
        });
        if let Some(reply) = reply {
            let _ = reply.send(());
        }
    }
}

/// Resolves once the API port accepts a TCP connection.
async fn wait_for_port(port: u16) {
    loop {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
