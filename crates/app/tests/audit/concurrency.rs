//! Many audited writes at once, from one process and from two replicas on one PostgreSQL,
//! leave one chain that verifies and that every replica's signer covers.

use spiritus_store::SqlStore;
use spiritus_test_support::TestDatabase;

use crate::support::{TestApp, app_on, assert_verifies, default_config, record, sqlite_app};

async fn hammer(apps: &[&TestApp], per_app: usize) {
    let mut tasks = Vec::new();
    for (replica, test) in apps.iter().enumerate() {
        for task in 0..per_app {
            let app = test.app.clone();
            tasks.push(tokio::spawn(async move {
                record(&app, &format!("write.{replica}.{task}")).await;
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_on_sqlite_form_one_chain() {
    let test = sqlite_app(default_config()).await;
    hammer(&[&test], 64).await;

    assert_eq!(test.app.store().audit_head().await.unwrap().0, 64);
    assert_verifies(&test.app).await;
    assert_eq!(test.app.sign_tree_head().await.unwrap().tree_size, 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_from_two_replicas_on_postgres_form_one_chain() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = SqlStore::connect(database.url()).await.unwrap();
    store.migrate().await.unwrap();
    let first = app_on(
        store.clone(),
        default_config(),
        tempfile::tempdir().unwrap(),
    );
    let second_store = SqlStore::connect(database.url()).await.unwrap();
    let second = app_on(second_store, default_config(), tempfile::tempdir().unwrap());

    first.app.sign_tree_head().await.unwrap();
    hammer(&[&first, &second], 40).await;

    assert_eq!(store.audit_head().await.unwrap().0, 80);
    assert_verifies(&first.app).await;
    let from_first = first.app.sign_tree_head().await.unwrap();
    let from_second = second.app.sign_tree_head().await.unwrap();
    assert_eq!(
        from_first.tree_size, 80,
        "the signer caught up with the other replica"
    );
    assert_eq!(from_first.root_hash, from_second.root_hash);
    first.app.store().close().await;
    second.app.store().close().await;
}
