//! Every SQL store operation, run against SQLite and against PostgreSQL.
//!
//! Each test body is written once; `conformance!` makes one test per backend. The PostgreSQL
//! variant gets a private database on the test server (`SPIRITUS_TEST_POSTGRES_URL`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first broken step"
)]

use chrono::{DateTime, Duration, Utc};
use spiritus_audit::entry::AuditDraft;
use spiritus_auth::{OpaqueToken, TokenHash};
use spiritus_core::account::{AccountName, Role};
use spiritus_core::user::{Note, TrafficLimit, UserName, UserStatus};
use spiritus_store::sql::CoreCounter;
use spiritus_store::{
    NewAccount, NewSession, NewVpnUser, RotateOutcome, SqlStore, StoreError, UserListQuery,
    UserPatch, UserSort,
};
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
    AuditDraft::new(t0(), "tester", "owner", action, "test")
}

fn new_user(name: &str, limit_gb: f64, days: i64) -> NewVpnUser {
    NewVpnUser {
        id: Uuid::new_v4(),
        name: UserName::parse("name", name).unwrap(),
        owner_id: None,
        traffic_limit: TrafficLimit::from_gb("traffic_limit_gb", limit_gb).unwrap(),
        expire_at: t0() + Duration::days(days),
        note: Note::parse("note", "a note").unwrap(),
        subscription_hash: OpaqueToken::generate("s").hash(),
        proxy_uuid: Uuid::new_v4(),
    }
}

conformance!(
    accounts_create_lookup_and_conflict,
    accounts_create_lookup_and_conflict_body
);
async fn accounts_create_lookup_and_conflict_body(store: SqlStore) {
    let owner = store
        .create_account(
            NewAccount {
                name: AccountName::parse("name", "Owner").unwrap(),
                role: Role::Owner,
                password_hash: "$argon2id$x".into(),
                must_change_password: true,
            },
            t0(),
            audit("account.create"),
        )
        .await
        .unwrap();
    assert!(store.owner_exists().await.unwrap());
    let found = store.account_by_name("OWNER").await.unwrap().unwrap();
    assert_eq!(found.id, owner.id);
    assert!(found.must_change_password);

    let duplicate = store
        .create_account(
            NewAccount {
                name: AccountName::parse("name", "owner").unwrap(),
                role: Role::Admin,
                password_hash: "$argon2id$y".into(),
                must_change_password: false,
            },
            t0(),
            audit("account.create"),
        )
        .await;
    assert!(matches!(duplicate, Err(StoreError::Conflict { .. })));

    let second_owner = store
        .create_account(
            NewAccount {
                name: AccountName::parse("name", "owner2").unwrap(),
                role: Role::Owner,
                password_hash: "$argon2id$z".into(),
                must_change_password: false,
            },
            t0(),
            audit("account.create"),
        )
        .await;
    assert!(matches!(second_owner, Err(StoreError::Conflict { .. })));

    store
        .set_password(
            owner.id,
            "$argon2id$new",
            false,
            t0(),
            audit("password.change"),
        )
        .await
        .unwrap();
    let changed = store.account_by_id(owner.id).await.unwrap().unwrap();
    assert_eq!(changed.password_hash, "$argon2id$new");
    assert!(!changed.must_change_password);

    // Only the successful changes were audited: create, password change.
    assert_eq!(store.audit_head().await.unwrap().0, 2);
}

async fn make_account(store: &SqlStore) -> Uuid {
    store
        .create_account(
            NewAccount {
                name: AccountName::parse("name", "admin1").unwrap(),
                role: Role::Admin,
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

conformance!(refresh_rotation_and_reuse, refresh_rotation_and_reuse_body);
async fn refresh_rotation_and_reuse_body(store: SqlStore) {
    let account_id = make_account(&store).await;
    let session_id = Uuid::new_v4();
    let first = OpaqueToken::generate("rt_");
    store
        .create_session(
            NewSession {
                id: session_id,
                account_id,
                ip: Some("127.0.0.1".into()),
                user_agent: None,
                refresh_hash: first.hash(),
                refresh_expires_at: t0() + Duration::days(7),
            },
            t0(),
            audit("login"),
        )
        .await
        .unwrap();
    assert!(store.session_is_live(session_id, t0()).await.unwrap());

    let second = OpaqueToken::generate("rt_");
    let outcome = store
        .rotate_refresh(
            &first.hash(),
            &second.hash(),
            t0() + Duration::days(7),
            t0(),
            |_, _| audit("refresh"),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RotateOutcome::Rotated {
            session_id,
            account_id
        }
    );

    // Presenting the retired token again revokes the session.
    let third = OpaqueToken::generate("rt_");
    let outcome = store
        .rotate_refresh(
            &first.hash(),
            &third.hash(),
            t0() + Duration::days(7),
            t0(),
            |_, _| audit("refresh"),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RotateOutcome::Reused {
            session_id,
            account_id
        }
    );
    assert!(!store.session_is_live(session_id, t0()).await.unwrap());

    // The successor died with the session.
    let outcome = store
        .rotate_refresh(
            &second.hash(),
            &third.hash(),
            t0() + Duration::days(7),
            t0(),
            |_, _| audit("refresh"),
        )
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Dead);

    let unknown = TokenHash::of(b"nothing");
    let outcome = store
        .rotate_refresh(&unknown, &third.hash(), t0(), t0(), |_, _| audit("refresh"))
        .await
        .unwrap();
    assert_eq!(outcome, RotateOutcome::Unknown);
}

conformance!(
    revocations_survive_and_expire,
    revocations_survive_and_expire_body
);
async fn revocations_survive_and_expire_body(store: SqlStore) {
    store
        .record_revocation("jti:a", t0() + Duration::minutes(10))
        .await
        .unwrap();
    store
        .record_revocation("jti:b", t0() - Duration::minutes(1))
        .await
        .unwrap();
    let live = store.live_revocations(t0()).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].0, "jti:a");
    store.prune_expired_tokens(t0()).await.unwrap();
    assert_eq!(store.live_revocations(t0()).await.unwrap().len(), 1);
}

conformance!(users_crud_and_status, users_crud_and_status_body);
async fn users_crud_and_status_body(store: SqlStore) {
    let created = store
        .create_user(new_user("alice", 1.5, 30), t0(), audit("user.create"))
        .await
        .unwrap();
    assert_eq!(created.traffic_limit.bytes(), 1_500_000_000);
    let duplicate = store
        .create_user(new_user("ALICE", 1.0, 30), t0(), audit("user.create"))
        .await;
    assert!(matches!(duplicate, Err(StoreError::Conflict { .. })));

    let changed = store
        .modify_user("alice", None, t0(), audit("user.update"), |user| {
            user.enabled = false;
            user.note = Note::parse("note", "changed").unwrap();
            Ok(None)
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.status(t0()), UserStatus::Disabled);
    let read = store.user_by_name("Alice", None).await.unwrap().unwrap();
    assert_eq!(read, changed);

    // An agent cannot see a user it does not own.
    assert!(
        store
            .user_by_name("alice", Some(Uuid::new_v4()))
            .await
            .unwrap()
            .is_none()
    );

    let patch = UserPatch::default();
    assert!(patch.note.is_none());
    store
        .delete_user("alice", None, t0(), audit("user.delete"))
        .await
        .unwrap();
    assert!(store.user_by_name("alice", None).await.unwrap().is_none());
    let missing = store
        .delete_user("alice", None, t0(), audit("user.delete"))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
}

conformance!(
    user_list_pages_filters_and_sorts,
    user_list_pages_filters_and_sorts_body
);
async fn user_list_pages_filters_and_sorts_body(store: SqlStore) {
    let batch: Vec<NewVpnUser> = (0..25)
        .map(|i| new_user(&format!("user_{i:03}"), 1.0, 1 + i))
        .collect();
    store
        .create_users(batch, t0(), audit("user.bulk_create"))
        .await
        .unwrap();
    store
        .create_user(new_user("other", 0.0, 1), t0(), audit("user.create"))
        .await
        .unwrap();

    // Walk every page of the prefix filter and see each user exactly once, in order.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_users(
                &UserListQuery {
                    limit: 10,
                    cursor: cursor.clone(),
                    name_prefix: Some("USER_".into()),
                    ..UserListQuery::default()
                },
                t0(),
            )
            .await
            .unwrap();
        assert_eq!(page.total, 25);
        seen.extend(page.items.iter().map(|user| user.name.to_string()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("user_{i:03}")).collect();
    assert_eq!(seen, expected);

    // Descending by expiry, across a cursor.
    let first = store
        .list_users(
            &UserListQuery {
                limit: 3,
                sort: UserSort::ExpireAt,
                descending: true,
                ..UserListQuery::default()
            },
            t0(),
        )
        .await
        .unwrap();
    let names: Vec<String> = first
        .items
        .iter()
        .map(|user| user.name.to_string())
        .collect();
    assert_eq!(names, ["user_024", "user_023", "user_022"]);
    let second = store
        .list_users(
            &UserListQuery {
                limit: 3,
                sort: UserSort::ExpireAt,
                descending: true,
                cursor: first.next_cursor,
                ..UserListQuery::default()
            },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(second.items[0].name.as_str(), "user_021");

    // Status filter: after two days, users expiring within two days are expired.
    let later = t0() + Duration::days(2);
    let expired = store
        .list_users(
            &UserListQuery {
                limit: 100,
                status: Some(UserStatus::Expired),
                ..UserListQuery::default()
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(expired.total, 3, "user_000, user_001 and other");

    let bad_cursor = store
        .list_users(
            &UserListQuery {
                limit: 3,
                cursor: Some("not-a-cursor".into()),
                ..UserListQuery::default()
            },
            t0(),
        )
        .await;
    assert!(matches!(bad_cursor, Err(StoreError::InvalidCursor)));

    let deleted = store
        .delete_users(
            &["user_000".into(), "user_001".into(), "nobody".into()],
            None,
            t0(),
            audit("user.bulk_delete"),
        )
        .await
        .unwrap();
    assert_eq!(deleted, 2);
}

conformance!(
    traffic_counters_never_double_count,
    traffic_counters_never_double_count_body
);
async fn traffic_counters_never_double_count_body(store: SqlStore) {
    let user = store
        .create_user(new_user("bob", 0.0, 30), t0(), audit("user.create"))
        .await
        .unwrap();
    let key = user.core_key();
    let counter = |up: u64, down: u64| CoreCounter {
        user_key: key.clone(),
        uplink: up,
        downlink: down,
    };

    store
        .apply_core_counters("run-1", &[counter(100, 1000)], t0())
        .await
        .unwrap();
    // The same reading again (a poll whose commit we cannot tell happened) adds nothing.
    store
        .apply_core_counters("run-1", &[counter(100, 1000)], t0())
        .await
        .unwrap();
    store
        .apply_core_counters("run-1", &[counter(150, 1500)], t0())
        .await
        .unwrap();
    // The core restarted: counters begin again from zero under a new run.
    store
        .apply_core_counters("run-2", &[counter(10, 20)], t0())
        .await
        .unwrap();
    // A counter below the last one within a run is a reset, never a negative delta.
    store
        .apply_core_counters("run-2", &[counter(5, 5)], t0())
        .await
        .unwrap();

    let stored = store.user_by_name("bob", None).await.unwrap().unwrap();
    assert_eq!(stored.upload_bytes, 150 + 10 + 5);
    assert_eq!(stored.download_bytes, 1500 + 20 + 5);

    // Keys that are not users are ignored.
    let deltas = store
        .apply_core_counters(
            "run-2",
            &[CoreCounter {
                user_key: "not-a-user".into(),
                uplink: 1,
                downlink: 1,
            }],
            t0(),
        )
        .await
        .unwrap();
    assert!(deltas.is_empty());
}

conformance!(audit_chain_links_entries, audit_chain_links_entries_body);
async fn audit_chain_links_entries_body(store: SqlStore) {
    for i in 0..5 {
        store
            .record_audit(audit(&format!("event.{i}")), t0())
            .await
            .unwrap();
    }
    let entries = store.audit_entries(0, 10).await.unwrap();
    assert_eq!(entries.len(), 5);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash.entry_hash(), Some(&pair[0].hash));
    }
    for entry in &entries {
        assert_eq!(entry.hash, entry.computed_hash());
    }
    let (size, _) = store.audit_head().await.unwrap();
    assert_eq!(size, 5);
}

conformance!(schema_newer_than_binary_is_refused, schema_newer_body);
async fn schema_newer_body(store: SqlStore) {
    store
        .execute_raw_for_tests(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             VALUES (99990101000000, 'future', CURRENT_TIMESTAMP, TRUE, X'00', 1)",
        )
        .await
        .ok();
    // PostgreSQL spells a byte string differently; try its form when the first one failed.
    store
        .execute_raw_for_tests(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             VALUES (99990101000000, 'future', CURRENT_TIMESTAMP, TRUE, '\\x00'::bytea, 1) ON CONFLICT DO NOTHING",
        )
        .await
        .ok();
    let result = store.migrate().await;
    assert!(
        matches!(result, Err(StoreError::SchemaTooNew { .. })),
        "{result:?}"
    );
}

conformance!(
    cutoff_markers_follow_the_status,
    cutoff_markers_follow_the_status_body
);
async fn cutoff_markers_follow_the_status_body(store: SqlStore) {
    use spiritus_store::{CutoffOutcome, CutoffReason};

    let user = store
        .create_user(new_user("carol", 1.0, 30), t0(), audit("user.create"))
        .await
        .unwrap();

    // An active user is not due: nothing is written.
    let outcome = store
        .mark_cutoff(user.id, t0(), audit("user.cutoff"))
        .await
        .unwrap();
    assert!(matches!(outcome, CutoffOutcome::NotDue(_)), "{outcome:?}");
    assert!(store.cutoff_markers().await.unwrap().is_empty());

    // Past the expiry the user is marked once, with an audit entry holding both states.
    let later = t0() + Duration::days(31);
    let (entries_before, _) = store.audit_head().await.unwrap();
    let outcome = store
        .mark_cutoff(user.id, later, audit("user.cutoff"))
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            CutoffOutcome::Cut {
                reason: CutoffReason::Expired,
                newly: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    let again = store
        .mark_cutoff(user.id, later, audit("user.cutoff"))
        .await
        .unwrap();
    assert!(matches!(again, CutoffOutcome::Cut { newly: false, .. }));
    let (entries_after, _) = store.audit_head().await.unwrap();
    assert_eq!(
        entries_after,
        entries_before + 1,
        "one audit entry per marking"
    );
    let entry = store
        .audit_entries(entries_before, entries_after)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        entry.before.as_ref().unwrap()["cutoff_reason"],
        serde_json::Value::Null
    );
    assert_eq!(entry.after.as_ref().unwrap()["cutoff_reason"], "expired");
    assert_eq!(
        store
            .cutoff_markers()
            .await
            .unwrap()
            .get(&user.id)
            .map(String::as_str),
        Some("expired")
    );

    // Clearing needs an active user; a renewed one loses the marker.
    assert!(
        !store
            .clear_cutoff(user.id, later, audit("user.reinstate"))
            .await
            .unwrap()
    );
    store
        .modify_user("carol", None, later, audit("user.renew"), |user| {
            user.expire_at = later + Duration::days(30);
            Ok(None)
        })
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .clear_cutoff(user.id, later, audit("user.reinstate"))
            .await
            .unwrap()
    );
    assert!(store.cutoff_markers().await.unwrap().is_empty());

    // An unknown id is gone.
    let gone = store
        .mark_cutoff(Uuid::new_v4(), later, audit("user.cutoff"))
        .await
        .unwrap();
    assert!(matches!(gone, CutoffOutcome::Gone));
}

conformance!(
    subscription_fetches_are_stored_in_batches,
    subscription_fetches_body
);
async fn subscription_fetches_body(store: SqlStore) {
    let mut ids = Vec::new();
    for n in 0..3 {
        let user = store
            .create_user(
                new_user(&format!("fetch{n}"), 1.0, 30),
                t0(),
                audit("user.create"),
            )
            .await
            .unwrap();
        ids.push(user.id);
    }
    // 1,200 rows cross the batch size; unknown ids are ignored.
    let mut fetches: Vec<(Uuid, DateTime<Utc>)> =
        (0..1200).map(|_| (Uuid::new_v4(), t0())).collect();
    fetches.push((ids[0], t0() + Duration::seconds(5)));
    fetches.push((ids[1], t0()));
    let updated = store.record_subscription_fetches(&fetches).await.unwrap();
    assert_eq!(updated, 2);
    assert_eq!(
        store.last_subscription_fetch(ids[0]).await.unwrap(),
        Some(t0() + Duration::seconds(5))
    );
    assert_eq!(store.last_subscription_fetch(ids[2]).await.unwrap(), None);

    // A time never moves backwards.
    store
        .record_subscription_fetches(&[(ids[0], t0())])
        .await
        .unwrap();
    assert_eq!(
        store.last_subscription_fetch(ids[0]).await.unwrap(),
        Some(t0() + Duration::seconds(5))
    );
}
