//! The security-event bus.
//!
//! [`EventBus::emit`] writes every event as one structured log line on the
//! `spiritus::security` target at once (the fail2ban line of a failed login among them), then
//! hands it to the asynchronous subscribers (metrics, alert routing, automatic responses)
//! through a bounded broadcast channel. A subscriber that falls behind loses the oldest
//! events and the loss is counted; the code that raised an event never waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use spiritus_core::events::{LoginFailure, SecurityEvent};
use tokio::sync::broadcast;

/// Events buffered per subscriber before the oldest are dropped.
const CHANNEL_CAPACITY: usize = 4096;

/// Publishes security events to the log and to subscribers.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<SecurityEvent>>,
    emitted: Arc<AtomicU64>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("emitted", &self.emitted.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            sender,
            emitted: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Logs the event and passes it to the subscribers.
    pub fn emit(&self, event: SecurityEvent) {
        log_event(&event);
        self.emitted.fetch_add(1, Ordering::Relaxed);
        // Sending fails only when nobody subscribes, which is fine.
        let _ = self.sender.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<SecurityEvent>> {
        self.sender.subscribe()
    }

    pub fn emitted(&self) -> u64 {
        self.emitted.load(Ordering::Relaxed)
    }
}

/// Writes one structured line per event.
///
/// Fields a client chose (user names) are percent-encoded and come before `admin_ip`, so no
/// value can forge the `admin_ip=… action=login success=false` sequence that fail2ban matches.
fn log_event(event: &SecurityEvent) {
    let kind = event.kind();
    let severity = event.severity().as_str();
    match event {
        SecurityEvent::LoginFailed {
            username,
            ip,
            reason,
        } => log_failed_login(username, *ip, *reason),
        SecurityEvent::LoginSucceeded { username, ip, .. } => {
            tracing::info!(
                target: "spiritus::security",
                event = kind,
                severity,
                username = %escape_field(username),
                admin_ip = %ip,
                action = %"login",
                success = true,
            );
        }
        SecurityEvent::AccessDenied { ip, reason, count } => {
            tracing::warn!(
                target: "spiritus::security",
                event = kind,
                severity,
                reason = reason.as_str(),
                count,
                client_ip = %ip,
            );
        }
        other => {
            let detail = serde_json::to_string(other).unwrap_or_default();
            match other.severity() {
                spiritus_core::Severity::Info => {
                    tracing::info!(target: "spiritus::security", event = kind, severity, detail = %detail);
                }
                _ => {
                    tracing::warn!(target: "spiritus::security", event = kind, severity, detail = %detail);
                }
            }
        }
    }
}

fn log_failed_login(username: &str, ip: std::net::IpAddr, reason: LoginFailure) {
    tracing::warn!(
        target: "spiritus::security",
        event = "login_failed",
        severity = "warning",
        username = %escape_field(username),
        reason = reason.as_str(),
        admin_ip = %ip,
        action = %"login",
        success = false,
    );
}

/// Percent-encodes every byte outside `[A-Za-z0-9._-]` and cuts the value to 128 bytes, so a
/// client-chosen value holds no space, `=`, quote or control character.
pub fn escape_field(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(128));
    for byte in value.bytes().take(128) {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_field_cannot_forge_fail2ban_fields() {
        let hostile = "x\n2026-01-01 admin_ip=6.6.6.6 action=login success=false";
        let escaped = escape_field(hostile);
        assert!(!escaped.contains(' '));
        assert!(!escaped.contains('='));
        assert!(!escaped.contains('\n'));
        assert!(escaped.starts_with("x%0A"));
    }

    #[test]
    fn escaped_field_is_bounded() {
        assert!(escape_field(&"a".repeat(10_000)).len() <= 128);
    }
}
