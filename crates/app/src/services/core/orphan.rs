//! A core left running by a panel that was killed outright.
//!
//! The supervisor kills its core when the panel stops, but not when the panel is killed with
//! SIGKILL (there is no safe way to ask Linux for that). Such a core keeps its ports and, more
//! importantly, counters the panel has not read yet. So the manager writes a run record
//! (`core.run`: process id, core run id, API port) whenever a new core process starts, and the
//! next start reads it: when that process still runs our config, its counters are read once and
//! stored under its own run id (adding only what the last poll had not), and then it is stopped.
//! The process is recognised by its command line naming our config file, so an unrelated
//! process that reused the id is never touched.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use spiritus_proxy::supervisor::write_atomically;
use spiritus_proxy::{CoreApi, CoreKind};
use uuid::Uuid;

use super::stats::poll_round;
use crate::state::App;

/// Time allowed for reading the orphan's counters.
const ORPHAN_API_TIMEOUT: Duration = Duration::from_secs(3);
/// Time between SIGTERM and SIGKILL.
const ORPHAN_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The record of the running core process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub pid: u32,
    pub run_id: Uuid,
    pub api_port: u16,
    pub kind: CoreKind,
}

/// Writes the record of the running core (mode 0600, atomically).
pub(crate) async fn write_record(path: &Path, record: &RunRecord) {
    let written = match serde_json::to_vec(record) {
        Ok(bytes) => write_atomically(path, &bytes).await,
        Err(error) => Err(std::io::Error::other(error)),
    };
    if let Err(error) = written {
        tracing::warn!(path = %path.display(), %error, "could not write the core run record; a core orphaned by a killed panel would not be found");
    }
}

/// Removes the record after a clean stop.
pub(crate) async fn remove_record(path: &Path) {
    if let Err(error) = tokio::fs::remove_file(path).await
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %error, "could not remove the core run record");
    }
}

/// Counts and stops a core left by a killed panel, if there is one.
pub(crate) async fn adopt(app: &App, record_path: &Path, config_path: &Path) {
    let Some(record) = read_record(record_path).await else {
        return;
    };
    if runs_config(record.pid, config_path) {
        tracing::warn!(pid = record.pid, run_id = %record.run_id, "found a core left running by a killed panel; counting its traffic and stopping it");
        count_orphan(app, &record).await;
        stop_orphan(record.pid).await;
    }
    remove_record(record_path).await;
}

async fn read_record(path: &Path) -> Option<RunRecord> {
    let bytes = tokio::fs::read(path).await.ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(record) => Some(record),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "ignoring an unreadable core run record");
            None
        }
    }
}

/// Returns whether process `pid` runs with `config_path` on its command line.
fn runs_config(pid: u32, config_path: &Path) -> bool {
    let cmdline = PathBuf::from(format!("/proc/{pid}/cmdline"));
    let Ok(bytes) = std::fs::read(cmdline) else {
        return false;
    };
    let expected = config_path.as_os_str().as_encoded_bytes();
    bytes
        .split(|byte| *byte == 0)
        .any(|argument| argument == expected)
}

async fn count_orphan(app: &App, record: &RunRecord) {
    let address = format!("http://127.0.0.1:{}", record.api_port);
    let api = match CoreApi::with_address(record.kind, &address, ORPHAN_API_TIMEOUT) {
        Ok(api) => api,
        Err(error) => {
            tracing::warn!(%error, "cannot reach the orphaned core's API");
            return;
        }
    };
    match poll_round(app.store(), &api, record.run_id, app.now()).await {
        Ok(report) => {
            tracing::info!(users = report.deltas.len(), run_id = %record.run_id, "counted the orphaned core's traffic");
        }
        Err(error) => {
            tracing::warn!(%error, run_id = %record.run_id, "could not count the orphaned core's traffic; what it moved since the last poll is lost");
        }
    }
}

async fn stop_orphan(pid: u32) {
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    let pid = Pid::from_raw(raw);
    if kill(pid, Signal::SIGTERM).is_err() {
        return;
    }
    let deadline = Instant::now() + ORPHAN_STOP_TIMEOUT;
    while Instant::now() < deadline {
        if kill(pid, None).is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tracing::warn!(pid = raw, "the orphaned core ignored SIGTERM; killing it");
    let _ = kill(pid, Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_recognised_only_by_its_arguments() {
        let pid = std::process::id();
        let own = std::env::args().next().unwrap();

        assert!(runs_config(pid, Path::new(&own)));
        assert!(!runs_config(
            pid,
            Path::new("/nonexistent/core/config.json")
        ));
        assert!(!runs_config(u32::MAX, Path::new(&own)));
    }
}
