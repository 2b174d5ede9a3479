//! Retention behind a signed checkpoint, with the clock moved instead of waited for.

use std::io::BufReader;

use chrono::Duration;
use spiritus_app::AppError;
use spiritus_app::services::audit::AuditFilter;
use spiritus_audit::verify_export;

use crate::support::{assert_verifies, default_config, record, sqlite_app};

#[tokio::test]
async fn pruning_keeps_a_log_that_verifies_and_proves_consistency() {
    let test = sqlite_app(default_config()).await;
    let app = &test.app;
    for i in 0..10 {
        record(app, &format!("old.{i}")).await;
    }
    let old_head = app.sign_tree_head().await.unwrap();
    test.clock.advance(Duration::days(60));
    for i in 0..5 {
        record(app, &format!("recent.{i}")).await;
    }
    let before_prune = app.sign_tree_head().await.unwrap();
    test.clock.advance(Duration::days(40));

    let outcome = app.prune_audit_log().await.unwrap();
    assert_eq!(outcome.pruned_size, Some(10));
    assert_eq!(outcome.removed, 10);
    assert_eq!(
        app.store().first_retained_audit_index().await.unwrap(),
        Some(10)
    );
    assert_verifies(app).await;

    let new_head = app.sign_tree_head().await.unwrap();
    assert_eq!(new_head.tree_size, 16, "the prune audited itself");
    for old in [&old_head, &before_prune] {
        let proof = app
            .audit_consistency_proof(old.tree_size, new_head.tree_size)
            .await
            .unwrap();
        proof.verify(&old.root_hash, &new_head.root_hash).unwrap();
    }
    let error = app.audit_inclusion_proof(3, 16).await.unwrap_err();
    assert!(
        matches!(&error, AppError::Validation(field) if field.field == "index"),
        "{error}"
    );

    let page = app
        .query_audit_log(&AuditFilter {
            action: Some("audit.prune".into()),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].actor_id, "system");

    let mut export = app.start_audit_export(None).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = export.next_chunk().await.unwrap() {
        bytes.extend(chunk);
    }
    let key = app.audit_key().verifying_key();
    let report = verify_export(
        BufReader::new(bytes.as_slice()),
        Some(&key),
        &[old_head, before_prune],
    )
    .unwrap();
    assert_eq!(report.first_failure, None);
    assert_eq!(report.entries, 6, "five recent entries and the prune");

    let again = app.prune_audit_log().await.unwrap();
    assert_eq!(again.pruned_size, None, "nothing else is old enough");
}

#[tokio::test]
async fn a_second_prune_extends_the_first_checkpoint() {
    let test = sqlite_app(default_config()).await;
    let app = &test.app;
    for day in 0..30 {
        record(app, &format!("day.{day}")).await;
        test.clock.advance(Duration::days(5));
    }
    let first = app.prune_audit_log().await.unwrap().pruned_size.unwrap();
    test.clock.advance(Duration::days(30));
    let second = app.prune_audit_log().await.unwrap().pruned_size.unwrap();
    assert!(second > first, "{first} then {second}");
    assert_verifies(app).await;
}

#[tokio::test]
async fn retention_refuses_to_prune_over_a_damaged_entry() {
    let test = sqlite_app(default_config()).await;
    let app = &test.app;
    for i in 0..6 {
        record(app, &format!("old.{i}")).await;
    }
    test.clock.advance(Duration::days(100));
    app.store()
        .execute_raw_for_tests("UPDATE audit_log SET action = 'edited' WHERE idx = 2")
        .await
        .unwrap();
    let mut events = test.events.subscribe();

    assert!(app.prune_audit_log().await.is_err());
    assert_eq!(
        app.store().first_retained_audit_index().await.unwrap(),
        Some(0)
    );
    let event = events.try_recv().unwrap();
    assert_eq!(event.kind(), "audit_verification_failed");
}

#[tokio::test]
async fn pruning_on_postgres_keeps_a_log_that_verifies() {
    let Some(database) = spiritus_test_support::TestDatabase::create().await else {
        return;
    };
    let store = spiritus_store::SqlStore::connect(database.url())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let test = crate::support::app_on(store, default_config(), tempfile::tempdir().unwrap());
    let app = &test.app;
    for i in 0..8 {
        record(app, &format!("old.{i}")).await;
    }
    let old_head = app.sign_tree_head().await.unwrap();
    test.clock.advance(Duration::days(91));
    record(app, "recent").await;

    let outcome = app.prune_audit_log().await.unwrap();
    assert_eq!(outcome.pruned_size, Some(8));
    assert_verifies(app).await;
    let new_head = app.sign_tree_head().await.unwrap();
    app.audit_consistency_proof(old_head.tree_size, new_head.tree_size)
        .await
        .unwrap()
        .verify(&old_head.root_hash, &new_head.root_hash)
        .unwrap();
    app.store().close().await;
}
