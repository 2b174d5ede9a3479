//! The alert: what a channel sends about one security event.
//!
//! An alert is built only from the event's own fields, and events never carry a typed
//! password, token or one-time code, so no alert can hold one. Values a client chose (a typed
//! user name) are cut short and stripped of control characters before they reach a message.

use chrono::{DateTime, Utc};
use serde_json::Value;
use spiritus_core::Severity;
use spiritus_core::events::SecurityEvent;

/// Whether an alert opens an incident or closes the one with the same deduplication key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertAction {
    Trigger,
    Resolve,
}

/// One message about one event.
#[derive(Debug, Clone)]
pub struct Alert {
    pub kind: &'static str,
    pub severity: Severity,
    pub action: AlertAction,
    /// The subject of the event (an address, an account id), for deduplication.
    pub key: String,
    /// One line for humans.
    pub summary: String,
    /// The event's fields.
    pub details: Value,
    pub time: DateTime<Utc>,
}

impl Alert {
    pub fn from_event(event: &SecurityEvent, time: DateTime<Utc>) -> Self {
        let action = match event {
            SecurityEvent::IpUnblocked { .. } | SecurityEvent::AccountReinstated { .. } => {
                AlertAction::Resolve
            }
            _ => AlertAction::Trigger,
        };
        Self {
            kind: event.kind(),
            severity: event.severity(),
            action,
            key: key_of(event),
            summary: summary_of(event),
            details: serde_json::to_value(event).unwrap_or(Value::Null),
            time,
        }
    }

    /// Returns the kind whose incident this alert opens or closes: a resolution names the kind of
    /// the alert it resolves.
    pub fn incident_kind(&self) -> &'static str {
        match (self.action, self.kind) {
            (AlertAction::Resolve, "ip_unblocked") => "ip_blocked",
            (AlertAction::Resolve, "account_reinstated") => "account_suspended",
            (_, kind) => kind,
        }
    }

    /// Returns a stable key naming the incident, shared by its trigger and its resolution.
    pub fn dedup_key(&self) -> String {
        format!("spiritus/{}/{}", self.incident_kind(), self.key)
    }

    /// Returns the subject line: severity and summary.
    pub fn title(&self) -> String {
        format!("[Spiritus {}] {}", self.severity.as_str(), self.summary)
    }

    /// Returns a plain-text body: the summary, then one `field: value` line per detail.
    pub fn text(&self) -> String {
        let mut text = format!("{}\n\nevent: {}\n", self.title(), self.kind);
        text.push_str(&format!(
            "time: {}\n",
            self.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
        if let Value::Object(fields) = &self.details {
            for (name, value) in fields.iter().filter(|(name, _)| *name != "kind") {
                let shown = match value {
                    Value::String(text) => clean(text, 200),
                    other => other.to_string(),
                };
                text.push_str(&format!("{name}: {shown}\n"));
            }
        }
        text
    }
}

/// Returns the key deduplication groups events by: the address or account they concern.
fn key_of(event: &SecurityEvent) -> String {
    match event {
        SecurityEvent::RefreshTokenReused { account_id, .. }
        | SecurityEvent::AccountSuspended { account_id, .. }
        | SecurityEvent::AccountReinstated { account_id, .. }
        | SecurityEvent::OwnerWithoutSecondFactor { account_id }
        | SecurityEvent::PasswordChanged { account_id, .. } => account_id.to_string(),
        SecurityEvent::NewLocation { account_id, ip, .. } => format!("{account_id}/{ip}"),
        SecurityEvent::AccessDenied { ip, reason, .. } => format!("{ip}/{}", reason.as_str()),
        SecurityEvent::Reconnaissance { user_key, port, .. } => {
            format!("{}/{port}", clean(user_key, 64))
        }
        SecurityEvent::AdminAction { actor_id, action } => {
            format!("{actor_id}/{}", clean(action, 64))
        }
        SecurityEvent::CoreCrashed { .. } => "core".into(),
        SecurityEvent::AuditVerificationFailed { .. } => "audit".into(),
        other => other.ip().map(|ip| ip.to_string()).unwrap_or_default(),
    }
}

fn summary_of(event: &SecurityEvent) -> String {
    match event {
        SecurityEvent::LoginFailed {
            username,
            ip,
            reason,
        } => format!(
            "failed login for {:?} from {ip} ({})",
            clean(username, 64),
            reason.as_str()
        ),
        SecurityEvent::HoneyAccountUsed { username, ip, .. } => format!(
            "login attempt on decoy account {:?} from {ip}",
            clean(username, 64)
        ),
        SecurityEvent::RefreshTokenReused { account_id, ip, .. } => format!(
            "a retired refresh token of account {account_id} was presented again from {ip}; the session was revoked"
        ),
        SecurityEvent::AccessDenied { ip, reason, count } => format!(
            "request from {ip} refused ({}), {count} in the current window",
            reason.as_str()
        ),
        SecurityEvent::NewLocation { username, ip, .. } => {
            format!(
                "account {:?} logged in from a new address {ip}",
                clean(username, 64)
            )
        }
        SecurityEvent::AccountSuspended {
            username, reason, ..
        } => format!(
            "account {:?} suspended: {}",
            clean(username, 64),
            clean(reason, 200)
        ),
        SecurityEvent::AccountReinstated { username, .. } => {
            format!("suspension of account {:?} lifted", clean(username, 64))
        }
        SecurityEvent::IpBlocked {
            ip,
            reason,
            seconds,
        } => format!(
            "address {ip} blocked for {seconds} s: {}",
            clean(reason, 200)
        ),
        SecurityEvent::IpUnblocked { ip, .. } => format!("block of address {ip} lifted"),
        SecurityEvent::Reconnaissance { user_key, port, .. } => format!(
            "VPN user {} reached for port {port} (reconnaissance)",
            clean(user_key, 64)
        ),
        SecurityEvent::CoreCrashed { restarts, reason } => format!(
            "the proxy core stopped ({}); restarts so far: {restarts}",
            clean(reason, 200)
        ),
        SecurityEvent::AuditVerificationFailed { detail } => {
            format!("audit log verification failed: {}", clean(detail, 200))
        }
        SecurityEvent::OwnerWithoutSecondFactor { .. } => {
            "the owner account has no second factor".into()
        }
        other => match other.ip() {
            Some(ip) => format!("{} from {ip}", other.kind()),
            None => other.kind().to_owned(),
        },
    }
}

/// Cuts a value to `max` characters and replaces control characters, so a client-chosen
/// value cannot add lines or formatting to a message.
pub fn clean(value: &str, max: usize) -> String {
    value
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use spiritus_core::events::LoginFailure;

    use super::*;

    fn time() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn client_chosen_names_cannot_add_lines() {
        let event = SecurityEvent::LoginFailed {
            username: "eve\nSeverity: none\r\n".into(),
            ip: IpAddr::from([203, 0, 113, 9]),
            reason: LoginFailure::UnknownAccount,
        };
        let alert = Alert::from_event(&event, time());
        assert!(!alert.summary.contains('\n'));
        assert!(!alert.text().contains("\nSeverity: none"));
        assert_eq!(alert.key, "203.0.113.9");
    }

    #[test]
    fn unblock_resolves_the_block_incident() {
        let ip = IpAddr::from([203, 0, 113, 9]);
        let block = Alert::from_event(
            &SecurityEvent::IpBlocked {
                ip,
                reason: "x".into(),
                seconds: 60,
            },
            time(),
        );
        let unblock = Alert::from_event(
            &SecurityEvent::IpUnblocked {
                ip,
                actor: "console".into(),
            },
            time(),
        );
        assert_eq!(block.action, AlertAction::Trigger);
        assert_eq!(unblock.action, AlertAction::Resolve);
        assert_eq!(block.dedup_key(), unblock.dedup_key());
    }
}
