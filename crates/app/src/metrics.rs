//! The panel's Prometheus metrics: one function per metric, so callers never spell a metric
//! name, and [`describe`] gives each its help text.
//!
//! Values go to whichever `metrics` recorder the process installed (`spiritus serve` installs
//! the Prometheus one); without a recorder every call is a no-op, which is what the one-shot
//! commands want. Labels only ever hold values from small fixed sets (event kinds, reasons,
//! route templates, status codes, admin action names): never a user name, an address or a
//! raw path, which may hold a subscription token.
//!
//! Counters are registered without the `_total` suffix; the exporter adds it, so
//! `spiritus_honey_token_triggered` is exposed as `spiritus_honey_token_triggered_total`.

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use spiritus_core::events::SecurityEvent;

const FAILED_LOGINS: &str = "spiritus_failed_logins";
const HONEY_TOKEN_TRIGGERED: &str = "spiritus_honey_token_triggered";
const UNAUTHORIZED_ACCESS: &str = "spiritus_unauthorized_access";
const ADMIN_ACTIONS: &str = "spiritus_admin_actions";
const SECURITY_EVENTS: &str = "spiritus_security_events";
const EVENTS_LOST: &str = "spiritus_security_events_lost";
const HTTP_REQUESTS: &str = "spiritus_http_requests";
const HTTP_DURATION: &str = "spiritus_http_request_duration_seconds";
const ACTIVE_SESSIONS: &str = "spiritus_active_sessions";
const USERS: &str = "spiritus_users";
const CORE_UP: &str = "spiritus_proxy_core_up";
const CORE_RESTARTS: &str = "spiritus_proxy_core_restarts";
const STATS_LAG: &str = "spiritus_stats_poll_lag_seconds";
const AUDIT_LENGTH: &str = "spiritus_audit_chain_length";
const AUDIT_VERIFIED: &str = "spiritus_audit_last_verification_success";
const AUDIT_VERIFIED_AT: &str = "spiritus_audit_last_verification_timestamp_seconds";
const PASSWORD_HASHES: &str = "spiritus_password_hashes";
const ALERTS_SENT: &str = "spiritus_alerts_sent";
const ALERTS_FAILED: &str = "spiritus_alerts_failed";
const ALERTS_RETRIED: &str = "spiritus_alerts_retried";
const ALERTS_DROPPED: &str = "spiritus_alerts_dropped";
const ALERTS_DEDUPLICATED: &str = "spiritus_alerts_deduplicated";
const AUTOMATIC_RESPONSES: &str = "spiritus_automatic_responses";

/// Buckets of the request-latency histogram, in seconds.
pub const HTTP_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Name of the request-latency histogram, for the exporter's bucket configuration.
pub fn http_duration_metric_name() -> &'static str {
    HTTP_DURATION
}

/// Registers the help text of every metric and creates the unlabelled ones at zero, so a
/// scrape shows them before anything happened.
pub fn describe() {
    describe_counter!(FAILED_LOGINS, "Failed login attempts, by reason.");
    describe_counter!(
        HONEY_TOKEN_TRIGGERED,
        "Logins on a decoy (honey) account and requests of their sandboxed sessions."
    );
    describe_counter!(
        UNAUTHORIZED_ACCESS,
        "Requests refused by an access check (allowlist, geo, role, CSRF, IP block), by reason."
    );
    describe_counter!(ADMIN_ACTIONS, "Changes made by panel accounts, by action.");
    describe_counter!(SECURITY_EVENTS, "Security events raised, by kind.");
    describe_counter!(
        EVENTS_LOST,
        "Security events a slow consumer skipped, by consumer."
    );
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route template."
    );
    describe_gauge!(
        ACTIVE_SESSIONS,
        "Panel sessions neither revoked nor expired."
    );
    describe_gauge!(USERS, "VPN users, by status.");
    describe_gauge!(CORE_UP, "1 while the proxy core runs, 0 otherwise.");
    describe_counter!(
        CORE_RESTARTS,
        "Restarts of the proxy core after it stopped."
    );
    describe_gauge!(
        STATS_LAG,
        Unit::Seconds,
        "Seconds since the proxy core's traffic statistics were last read."
    );
    describe_gauge!(AUDIT_LENGTH, "Entries in the audit log's hash chain.");
    describe_gauge!(
        AUDIT_VERIFIED,
        "1 if the last audit-log verification passed, 0 if it failed."
    );
    describe_gauge!(
        AUDIT_VERIFIED_AT,
        Unit::Seconds,
        "Unix time of the last audit-log verification."
    );
    describe_counter!(
        PASSWORD_HASHES,
        "Argon2 computations run, the dummy ones for unknown accounts included."
    );
    describe_counter!(ALERTS_SENT, "Alerts delivered, by channel.");
    describe_counter!(
        ALERTS_FAILED,
        "Alerts given up after the last attempt or a permanent error, by channel."
    );
    describe_counter!(
        ALERTS_RETRIED,
        "Alert deliveries attempted again, by channel."
    );
    describe_counter!(
        ALERTS_DROPPED,
        "Alerts dropped because a channel's queue was full, by channel."
    );
    describe_counter!(
        ALERTS_DEDUPLICATED,
        "Events not alerted because an alert for the same kind and key was sent recently."
    );
    describe_counter!(
        AUTOMATIC_RESPONSES,
        "Automatic responses carried out, by action."
    );

    // Labelled families appear with their first event; an unlabelled zero beside them
    // would be a second series of the same family.
    for name in [HONEY_TOKEN_TRIGGERED, ALERTS_DEDUPLICATED] {
        counter!(name).increment(0);
    }
}

/// Counts one security event under its kind, and under the dedicated counter it feeds.
pub fn security_event(event: &SecurityEvent) {
    counter!(SECURITY_EVENTS, "kind" => event.kind()).increment(1);
    match event {
        SecurityEvent::LoginFailed { reason, .. } => {
            counter!(FAILED_LOGINS, "reason" => reason.as_str()).increment(1);
        }
        SecurityEvent::HoneyAccountUsed { .. } => counter!(HONEY_TOKEN_TRIGGERED).increment(1),
        SecurityEvent::AccessDenied { reason, .. } => {
            counter!(UNAUTHORIZED_ACCESS, "reason" => reason.as_str()).increment(1);
        }
        SecurityEvent::AdminAction { action, .. } => {
            counter!(ADMIN_ACTIONS, "action" => action_label(action)).increment(1);
        }
        SecurityEvent::CoreCrashed { restarts, .. } => proxy_core_restarts(*restarts),
        SecurityEvent::AuditVerificationFailed { .. } => {
            gauge!(AUDIT_VERIFIED).set(0.0);
        }
        _ => {}
    }
}

/// Keeps an action label to the shape of the panel's action names (`user.create`), so a
/// label can never carry free text.
fn action_label(action: &str) -> String {
    let shaped = action.len() <= 48
        && action
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || matches!(byte, b'.' | b'_' | b'-'));
    if shaped {
        action.to_owned()
    } else {
        "other".to_owned()
    }
}

/// Counts events a consumer of the event bus skipped because it fell behind.
pub fn security_events_lost(consumer: &'static str, count: u64) {
    counter!(EVENTS_LOST, "consumer" => consumer).increment(count);
}

/// Records one answered HTTP request. `route` is the matched route template
/// (`/api/admin/users/{name}`), never the request path.
pub fn http_request(method: &str, route: &str, status: u16, seconds: f64) {
    let method = match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method.to_owned(),
        _ => "other".to_owned(),
    };
    counter!(
        HTTP_REQUESTS,
        "method" => method.clone(),
        "route" => route.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route.to_owned()).record(seconds);
}

pub fn active_sessions(count: i64) {
    gauge!(ACTIVE_SESSIONS).set(count as f64);
}

pub fn users_with_status(status: &'static str, count: i64) {
    gauge!(USERS, "status" => status).set(count as f64);
}

/// Sets whether the proxy core runs.
pub fn proxy_core_up(up: bool) {
    gauge!(CORE_UP).set(if up { 1.0 } else { 0.0 });
}

/// Sets the number of core restarts since the panel started.
pub fn proxy_core_restarts(total: u64) {
    counter!(CORE_RESTARTS).absolute(total);
}

/// Sets the seconds since the core's statistics were last read successfully.
pub fn stats_poll_lag(seconds: f64) {
    gauge!(STATS_LAG).set(seconds);
}

/// Sets the number of entries in the audit chain.
pub fn audit_chain_length(entries: u64) {
    gauge!(AUDIT_LENGTH).set(entries as f64);
}

/// Records the outcome and unix time of an audit-log verification.
pub fn audit_verification(passed: bool, unix_seconds: i64) {
    gauge!(AUDIT_VERIFIED).set(if passed { 1.0 } else { 0.0 });
    gauge!(AUDIT_VERIFIED_AT).set(unix_seconds as f64);
}

/// Sets the number of Argon2 computations run since start.
pub fn password_hashes(total: u64) {
    counter!(PASSWORD_HASHES).absolute(total);
}

pub fn alert_sent(channel: &str) {
    counter!(ALERTS_SENT, "channel" => channel.to_owned()).increment(1);
}

pub fn alert_failed(channel: &str) {
    counter!(ALERTS_FAILED, "channel" => channel.to_owned()).increment(1);
}

pub fn alert_retried(channel: &str) {
    counter!(ALERTS_RETRIED, "channel" => channel.to_owned()).increment(1);
}

pub fn alert_dropped(channel: &str) {
    counter!(ALERTS_DROPPED, "channel" => channel.to_owned()).increment(1);
}

pub fn alert_deduplicated() {
    counter!(ALERTS_DEDUPLICATED).increment(1);
}

pub fn automatic_response(action: &'static str) {
    counter!(AUTOMATIC_RESPONSES, "action" => action).increment(1);
}

/// Counts one request of a honey session (its login is counted through its event).
pub fn honey_request() {
    counter!(HONEY_TOKEN_TRIGGERED).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_labels_keep_only_action_shaped_names() {
        let cases = [
            ("user.create", "user.create"),
            ("incident.unblock_ip", "incident.unblock_ip"),
            // Free text (a name, an address) never becomes a label.
            ("user alice", "other"),
            ("203.0.113.9", "other"),
            ("User.Create", "other"),
        ];
        for (action, expected) in cases {
            assert_eq!(action_label(action), expected, "{action}");
        }
        assert_eq!(action_label(&"a".repeat(49)), "other");
    }
}
