//! Incident-response storage (suspensions, forced password changes, durable IP blocks), run
//! against SQLite and against PostgreSQL (`SPIRITUS_TEST_POSTGRES_URL`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first broken step"
)]

use chrono::{DateTime, Duration, Utc};
use spiritus_audit::entry::AuditDraft;
use spiritus_core::account::{AccountName, Role};
use spiritus_store::{IpBlock, NewAccount, SqlStore, StoreError};
use spiritus_test_support::TestDatabase;
use uuid::Uuid;

/// Keeps a test's database alive until the test ends.
#[allow(dead_code, reason = "held only for its Drop")]
enum Holder {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

async fn sqlite_store() -> (SqlStore, Holder) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("panel.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (store, Holder::Sqlite(dir))
}

async fn postgres_store() -> Option<(SqlStore, Holder)> {
    let database = TestDatabase::create().await?;
    let store = SqlStore::connect(database.url()).await.unwrap();
    store.migrate().await.unwrap();
    Some((store, Holder::Postgres(database)))
}

macro_rules! conformance {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (store, _holder) = super::sqlite_store().await;
                super::$body(store).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some((store, _holder)) = super::postgres_store().await else {
                    return;
                };
                super::$body(store.clone()).await;
                store.close().await;
            }
        }
    };
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000, 0).unwrap()
}

fn audit(action: &str) -> AuditDraft {
    AuditDraft::new(t0(), "system", "system", action, "account")
}

async fn make_account(store: &SqlStore) -> Uuid {
    store
        .create_account(
            NewAccount {
                name: AccountName::parse("name", "agent1").unwrap(),
                role: Role::Agent,
                password_hash: "$argon2id$x".into(),
                must_change_password: false,
            },
            t0(),
            audit("account.create"),
        )
        .await
        .unwrap()
        .id
}

conformance!(suspension_round_trip, suspension_round_trip_body);
async fn suspension_round_trip_body(store: SqlStore) {
    let id = make_account(&store).await;
    let suspend = |store: SqlStore| async move {
        store
            .suspend_account(
                id,
                "automatic: login_failed",
                t0(),
                audit("incident.suspend"),
            )
            .await
            .unwrap()
    };
    assert!(suspend(store.clone()).await);
    let account = store.account_by_id(id).await.unwrap().unwrap();
    let suspension = account.suspension.unwrap();
    assert_eq!(suspension.reason, "automatic: login_failed");
    // A second suspension changes nothing and is not audited.
    assert!(!suspend(store.clone()).await);

    assert!(
        store
            .lift_suspension(id, t0(), audit("incident.unsuspend"))
            .await
            .unwrap()
    );
    assert!(
        store
            .account_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .suspension
            .is_none()
    );
    assert!(
        !store
            .lift_suspension(id, t0(), audit("incident.unsuspend"))
            .await
            .unwrap()
    );

    let missing = store
        .suspend_account(Uuid::new_v4(), "x", t0(), audit("incident.suspend"))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));

    // create, suspend, lift: three entries, the suspension with its before and after.
    let entries = store.audit_entries(0, 10).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["account.create", "incident.suspend", "incident.unsuspend"]
    );
    assert_eq!(entries[1].actor_id, "system");
    assert_eq!(
        entries[1].after.as_ref().unwrap()["reason"],
        "automatic: login_failed"
    );
}

conformance!(forced_password_change, forced_password_change_body);
async fn forced_password_change_body(store: SqlStore) {
    let id = make_account(&store).await;
    store
        .require_password_change(id, t0(), audit("incident.force_password_reset"))
        .await
        .unwrap();
    assert!(
        store
            .account_by_id(id)
            .await
            .unwrap()
            .unwrap()
            .must_change_password
    );
    let missing = store
        .require_password_change(Uuid::new_v4(), t0(), audit("x"))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
    assert_eq!(store.audit_head().await.unwrap().0, 2);
}

fn block(ip: &str, seconds: i64) -> IpBlock {
    IpBlock {
        ip: ip.into(),
        reason: "test".into(),
        expires_at: t0() + Duration::seconds(seconds),
    }
}

conformance!(ip_blocks_expire_and_lift, ip_blocks_expire_and_lift_body);
async fn ip_blocks_expire_and_lift_body(store: SqlStore) {
    let blocked = |ip: &str| block(ip, 600);
    for ip in ["203.0.113.9", "2001:db8::1"] {
        store
            .record_ip_block(&blocked(ip), t0(), audit("incident.block_ip"))
            .await
            .unwrap();
    }
    store
        .record_ip_block(&block("198.51.100.1", 10), t0(), audit("incident.block_ip"))
        .await
        .unwrap();
    // Blocking again extends the block instead of failing.
    store
        .record_ip_block(
            &block("203.0.113.9", 1200),
            t0(),
            audit("incident.block_ip"),
        )
        .await
        .unwrap();

    let later = t0() + Duration::seconds(60);
    let live = store.live_ip_blocks(later).await.unwrap();
    let ips: Vec<&str> = live.iter().map(|block| block.ip.as_str()).collect();
    assert_eq!(ips, vec!["2001:db8::1", "203.0.113.9"]);
    assert_eq!(live[1].expires_at, t0() + Duration::seconds(1200));

    assert!(
        store
            .remove_ip_block("203.0.113.9", later, audit("incident.unblock_ip"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_ip_block("203.0.113.9", later, audit("incident.unblock_ip"))
            .await
            .unwrap()
    );
    assert_eq!(store.live_ip_blocks(later).await.unwrap().len(), 1);
    // Four blocks and two lifts, each audited.
    assert_eq!(store.audit_head().await.unwrap().0, 6);
}
