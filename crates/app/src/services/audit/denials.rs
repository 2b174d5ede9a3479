//! The roll-up of refused requests, so strangers cannot grow the audit log without bound.
//!
//! Time is cut into fixed windows of `audit.denial_window_seconds`. For each client address
//! and denial reason, the first denial of a window writes an audit entry (`access.denied`) and
//! raises one `AccessDenied` event at once; the denials after it are only counted, in an
//! ephemeral-store window shared by every replica. When the window is over, one summary entry
//! (`access.denied.summary`) records how many denials it saw: written by whichever comes
//! first, the next denial from that address and reason, or the periodic flush of the replica
//! that opened the window. A single-use claim in the ephemeral store makes sure only one of
//! them writes it.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use spiritus_core::events::{DenialReason, SecurityEvent};
use spiritus_store::AuditRecordExt;

use crate::actor::{Actor, RequestContext};
use crate::error::AppError;
use crate::state::App;

/// Maximum denials counted per window. A count at this value means "at least this many".
const MAX_COUNTED: u64 = 100_000;
/// Maximum length, in characters, of a request path kept in an entry.
const MAX_PATH_CHARS: usize = 200;

/// Windows this replica opened and has not summarised yet.
#[derive(Default)]
pub struct DenialWindows {
    open: Mutex<Vec<OpenWindow>>,
}

/// One address, reason and window.
#[derive(Debug, Clone, PartialEq)]
struct OpenWindow {
    ip: IpAddr,
    reason: DenialReason,
    /// Window number: Unix seconds divided by the window length.
    bucket: i64,
}

impl OpenWindow {
    fn counter_key(&self) -> String {
        format!(
            "audit-denials:{}:{}:{}",
            self.reason.as_str(),
            self.ip,
            self.bucket
        )
    }

    fn claim_key(&self) -> String {
        format!(
            "audit-denials-open:{}:{}:{}",
            self.reason.as_str(),
            self.ip,
            self.bucket
        )
    }

    fn latest_key(ip: IpAddr, reason: DenialReason) -> String {
        format!("audit-denials-latest:{}:{ip}", reason.as_str())
    }
}

impl App {
    /// Records a refused request: the first from `request.ip` for `reason` in the current
    /// window is audited at once and raises `AccessDenied`; later ones are only counted.
    pub async fn record_denial(
        &self,
        request: &RequestContext,
        reason: DenialReason,
        path: &str,
    ) -> Result<(), AppError> {
        let now = self.now();
        let seconds = self.denial_window_seconds();
        let window = OpenWindow {
            ip: request.ip,
            reason,
            bucket: now.timestamp().div_euclid(seconds as i64),
        };
        let decision = self
            .ephemeral()
            .hit_window(
                &window.counter_key(),
                self.denial_memory(),
                MAX_COUNTED,
                now,
            )
            .await?;
        if !(decision.allowed && decision.count == 1) {
            return Ok(());
        }

        self.open_denial_window(&window, path).await?;
        let record = Actor::Anonymous {
            request: request.clone(),
        }
        .audit(now, "access.denied", "request")
        .with_context(json!({
            "reason": reason.as_str(),
            "path": shorten_path(path),
            "window_seconds": seconds,
            "user_agent": request.user_agent.as_deref().map(|agent| agent.chars().take(256).collect::<String>()),
        }))
        .failed(format!("forbidden: {}", reason.as_str()));
        self.store().record_audit(record, now).await?;
        self.events().emit(SecurityEvent::AccessDenied {
            ip: request.ip,
            reason,
            count: decision.count,
        });
        Ok(())
    }

    /// Writes the summaries of the windows this replica opened that are over.
    pub async fn flush_denial_windows(&self) -> Result<usize, AppError> {
        let now_bucket = self
            .now()
            .timestamp()
            .div_euclid(self.denial_window_seconds() as i64);
        let due: Vec<OpenWindow> = {
            let mut open = lock(&self.inner().audit.denials.open);
            let (due, pending) = open
                .drain(..)
                .partition(|window| window.bucket < now_bucket);
            *open = pending;
            due
        };
        let mut written = 0;
        for window in &due {
            if self.summarise_denial_window(window).await? {
                written += 1;
            }
        }
        Ok(written)
    }

    /// Claims the new window and summarises the previous one of this address and reason.
    async fn open_denial_window(&self, window: &OpenWindow, path: &str) -> Result<(), AppError> {
        let ephemeral = self.ephemeral();
        let latest = OpenWindow::latest_key(window.ip, window.reason);
        if let Some(bytes) = ephemeral.take_challenge(&latest).await?
            && let Some(bucket) = std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| text.parse::<i64>().ok())
            && bucket < window.bucket
        {
            let previous = OpenWindow {
                bucket,
                ..window.clone()
            };
            self.summarise_denial_window(&previous).await?;
        }
        let bucket = window.bucket.to_string();
        ephemeral
            .put_challenge(&latest, bucket.as_bytes(), self.denial_memory())
            .await?;
        ephemeral
            .put_challenge(
                &window.claim_key(),
                shorten_path(path).as_bytes(),
                self.denial_memory(),
            )
            .await?;
        lock(&self.inner().audit.denials.open).push(window.clone());
        Ok(())
    }

    /// Writes the summary of one window unless another writer claimed it first, and only when the
    /// window saw more than one denial.
    async fn summarise_denial_window(&self, window: &OpenWindow) -> Result<bool, AppError> {
        let Some(first_path) = self.ephemeral().take_challenge(&window.claim_key()).await? else {
            return Ok(false);
        };
        let now = self.now();
        let count = self
            .ephemeral()
            .window_count(&window.counter_key(), self.denial_memory(), now)
            .await?;
        if count <= 1 {
            return Ok(false);
        }
        let seconds = self.denial_window_seconds() as i64;
        let start = chrono::DateTime::from_timestamp(window.bucket.saturating_mul(seconds), 0);
        let end = start.map(|start| start + chrono::Duration::seconds(seconds));
        let record = Actor::Anonymous {
            request: RequestContext::new(window.ip),
        }
        .audit(now, "access.denied.summary", "request")
        .with_context(json!({
            "reason": window.reason.as_str(),
            "count": count,
            "count_capped": count >= MAX_COUNTED,
            "window_start": start.map(|time| time.to_rfc3339()),
            "window_end": end.map(|time| time.to_rfc3339()),
            "first_path": shorten_path(&String::from_utf8_lossy(&first_path)),
        }))
        .failed(format!("forbidden: {}", window.reason.as_str()));
        self.store().record_audit(record, now).await?;
        Ok(true)
    }

    fn denial_window_seconds(&self) -> u64 {
        self.config().audit.denial_window_seconds.max(1)
    }

    /// Returns how long the shared counters and claims are kept: long enough for a summary
    /// written a whole window late.
    fn denial_memory(&self) -> Duration {
        Duration::from_secs(self.denial_window_seconds().saturating_mul(4))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps the shape of a path without anything secret in it: a subscription token becomes
/// `{token}`, the query string is dropped and the length is capped.
fn shorten_path(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = match path.strip_prefix("/sub/") {
        Some(_) => "/sub/{token}",
        None => path,
    };
    path.chars().take(MAX_PATH_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortened_path_hides_tokens_and_queries() {
        let cases: &[(&str, &str)] = &[
            // A subscription token never reaches the log.
            ("/sub/AbCdEf0123456789", "/sub/{token}"),
            // Nor does a query string.
            ("/api/admin/users?name_prefix=x&token=y", "/api/admin/users"),
            // Ordinary paths stay as they are.
            ("/api/admin/audit", "/api/admin/audit"),
        ];
        for (raw, expected) in cases {
            assert_eq!(shorten_path(raw), *expected, "{raw}");
        }
        assert_eq!(
            shorten_path(&"/a".repeat(500)).chars().count(),
            MAX_PATH_CHARS
        );
    }
}
