//! The denial roll-up: one entry per address, reason and window, then one summary.

use std::net::IpAddr;

use chrono::Duration;
use spiritus_app::RequestContext;
use spiritus_app::services::audit::AuditFilter;
use spiritus_audit::AuditEntry;
use spiritus_core::events::{DenialReason, SecurityEvent};

use crate::support::{default_config, sqlite_app};

async fn denial_entries(app: &spiritus_app::App, ip: &str) -> Vec<AuditEntry> {
    app.query_audit_log(&AuditFilter {
        ip: Some(ip.into()),
        limit: 1000,
        ..AuditFilter::default()
    })
    .await
    .unwrap()
    .items
}

#[tokio::test]
async fn hundred_denials_in_a_window_make_at_most_two_entries_with_the_count() {
    let test = sqlite_app(default_config()).await;
    let app = &test.app;
    let mut events = test.events.subscribe();
    let request = RequestContext::new("198.51.100.4".parse::<IpAddr>().unwrap());
    // Start at the beginning of a window so all hundred fall inside it.
    let window = 300;
    let offset = test.clock_offset_to_window_start(window);
    test.clock.advance(offset);

    for _ in 0..100 {
        app.record_denial(&request, DenialReason::AdminAllowlist, "/api/admin/users")
            .await
            .unwrap();
        test.clock.advance(Duration::seconds(2));
    }
    test.clock.advance(Duration::seconds(window));
    assert_eq!(app.flush_denial_windows().await.unwrap(), 1);

    let entries = denial_entries(app, "198.51.100.4").await;
    assert!(entries.len() <= 2, "{entries:#?}");
    let summary = entries
        .iter()
        .find(|entry| entry.action == "access.denied.summary")
        .expect("a summary entry");
    assert_eq!(summary.context.as_ref().unwrap()["count"], 100);
    assert!(!summary.success);

    let denied_events = std::iter::from_fn(|| events.try_recv().ok())
        .filter(|event| matches!(**event, SecurityEvent::AccessDenied { .. }))
        .count();
    assert_eq!(denied_events, 1, "one event per window, not per request");
}

#[tokio::test]
async fn next_denial_after_the_window_writes_the_summary() {
    let test = sqlite_app(default_config()).await;
    let app = &test.app;
    let request = RequestContext::new("2001:db8::5".parse::<IpAddr>().unwrap());
    let offset = test.clock_offset_to_window_start(300);
    test.clock.advance(offset);

    for _ in 0..5 {
        app.record_denial(&request, DenialReason::GeoBlocked, "/sub/secret-token?x=1")
            .await
            .unwrap();
    }
    test.clock.advance(Duration::seconds(400));
    app.record_denial(&request, DenialReason::GeoBlocked, "/api/admin/users")
        .await
        .unwrap();

    let entries = denial_entries(app, "2001:db8::5").await;
    let actions: Vec<&str> = entries.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(
        actions,
        ["access.denied", "access.denied.summary", "access.denied"],
        "newest first"
    );
    assert_eq!(entries[1].context.as_ref().unwrap()["count"], 5);
    let text = serde_json::to_string(&entries).unwrap();
    assert!(
        !text.contains("secret-token"),
        "a subscription token reached the log: {text}"
    );

    // The flush finds nothing left to summarise for the first window.
    test.clock.advance(Duration::seconds(400));
    assert_eq!(app.flush_denial_windows().await.unwrap(), 0);
}

#[tokio::test]
async fn each_reason_and_address_has_its_own_window() {
    let test = sqlite_app(default_config()).await;
    let app = &test.app;
    let first = RequestContext::new("203.0.113.1".parse::<IpAddr>().unwrap());
    let second = RequestContext::new("203.0.113.2".parse::<IpAddr>().unwrap());
    for _ in 0..3 {
        app.record_denial(&first, DenialReason::Csrf, "/api/admin/users")
            .await
            .unwrap();
        app.record_denial(&first, DenialReason::Role, "/api/admin/audit")
            .await
            .unwrap();
        app.record_denial(&second, DenialReason::Csrf, "/api/admin/users")
            .await
            .unwrap();
    }
    assert_eq!(denial_entries(app, "203.0.113.1").await.len(), 2);
    assert_eq!(denial_entries(app, "203.0.113.2").await.len(), 1);
}
