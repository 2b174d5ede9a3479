//! Following the core's access log: each accepted connection names its user (the core's
//! `email` field is the user key), and a user who targets a watched port (SSH and database
//! ports by default) raises a reconnaissance alert, at most once per user per window, as a
//! security event and an audit entry by the system.
//!
//! The core appends to the log forever, so after reading, a log past [`MAX_LOG_BYTES`] is
//! truncated in place (the core opens it for appending, so its next line starts the file).

use std::path::PathBuf;
use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;
use spiritus_core::events::SecurityEvent;
use spiritus_proxy::access_log::{AccessLine, LogTail, ReconEvent, ReconWatcher, TailStart};
use spiritus_store::AuditRecordExt;
use tokio::sync::watch;
use uuid::Uuid;

use crate::actor::Actor;
use crate::state::App;

/// Size past which the access log is emptied after reading.
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;
/// How often the log is looked at.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Maximum length of the destination name kept in an alert, in characters.
const MAX_DESTINATION_CHARS: usize = 255;

/// Follows `path` until `stop` turns true.
pub(crate) async fn follow(
    app: App,
    path: PathBuf,
    mut watcher: ReconWatcher,
    mut stop: watch::Receiver<bool>,
) {
    let mut tail = match LogTail::open(&path, TailStart::End).await {
        Ok(tail) => tail.with_poll_interval(POLL_INTERVAL),
        Err(error) => {
            tracing::warn!(%error, "cannot follow the core access log; reconnaissance alerts are off");
            return;
        }
    };
    loop {
        let lines = tokio::select! {
            _ = stop.changed() => return,
            lines = tail.next_lines() => lines,
        };
        match lines {
            Ok(lines) => {
                for line in lines {
                    observe(&app, &mut watcher, &line).await;
                }
                cap_size(&path).await;
            }
            Err(error) => {
                tracing::warn!(%error, "reading the core access log failed; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Builds the watcher from the `core.recon_*` settings.
pub(crate) fn watcher(ports: &[u16], window_seconds: u64) -> ReconWatcher {
    let seconds = i64::try_from(window_seconds).unwrap_or(i64::MAX);
    let window = TimeDelta::try_seconds(seconds).unwrap_or(TimeDelta::MAX);
    ReconWatcher::new(ports.iter().copied(), window)
}

async fn observe(app: &App, watcher: &mut ReconWatcher, line: &str) {
    let Ok(AccessLine::Accepted(record)) = spiritus_proxy::parse_line(line) else {
        return;
    };
    if let Some(event) = watcher.observe(&record, app.now()) {
        raise(app, event).await;
    }
}

async fn raise(app: &App, event: ReconEvent) {
    let destination: String = event
        .dest_host
        .chars()
        .take(MAX_DESTINATION_CHARS)
        .collect();
    app.events().emit(SecurityEvent::Reconnaissance {
        user_key: event.user_key.clone(),
        port: event.dest_port,
        destination: destination.clone(),
    });

    let now = app.now();
    let mut record = Actor::System
        .audit(now, "user.reconnaissance", "user")
        .with_after(json!({ "port": event.dest_port, "destination": destination }));
    if let Ok(id) = Uuid::parse_str(&event.user_key) {
        record = record.with_resource_id(id);
    }
    if let Err(error) = app.store().record_audit(record, now).await {
        tracing::warn!(%error, "could not audit a reconnaissance alert");
    }
}

async fn cap_size(path: &PathBuf) {
    let Ok(metadata) = tokio::fs::metadata(path).await else {
        return;
    };
    if metadata.len() <= MAX_LOG_BYTES {
        return;
    }
    let truncated = match tokio::fs::OpenOptions::new().write(true).open(path).await {
        Ok(file) => file.set_len(0).await,
        Err(error) => Err(error),
    };
    match truncated {
        Ok(()) => {
            tracing::info!(path = %path.display(), "emptied the core access log after reading it")
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "could not empty the core access log")
        }
    }
}
