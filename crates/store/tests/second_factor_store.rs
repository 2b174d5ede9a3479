//! Second-factor storage on SQLite and PostgreSQL: the single-use rules (TOTP steps, backup
//! codes, passkey counters) under simultaneous use, enrolment, reset and known addresses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first broken step"
)]

use chrono::{DateTime, Duration, Utc};
use spiritus_audit::entry::AuditDraft;
use spiritus_core::account::{Account, AccountName, Role};
use spiritus_store::{LoginLocation, NewAccount, NewPasskey, SqlStore, StoreError};
use spiritus_test_support::TestDatabase;
use uuid::Uuid;

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

macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let (store, _holder) = super::sqlite_store().await;
                super::$body(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
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

async fn new_account(store: &SqlStore, name: &str) -> Account {
    store
        .create_account(
            NewAccount {
                name: AccountName::parse("name", name).unwrap(),
                role: Role::Admin,
                password_hash: "$argon2id$x".into(),
                must_change_password: false,
            },
            t0(),
            audit("account.create"),
        )
        .await
        .unwrap()
}

fn hashes(seed: u8) -> Vec<[u8; 32]> {
    (0..10)
        .map(|index| [seed.wrapping_add(index); 32])
        .collect()
}

async fn enrolled(store: &SqlStore, name: &str) -> Account {
    let account = new_account(store, name).await;
    store
        .set_pending_totp(account.id, b"sealed-1", t0(), audit("totp.setup"))
        .await
        .unwrap();
    let confirmed = store
        .confirm_totp(
            account.id,
            b"sealed-1",
            100,
            &hashes(1),
            t0(),
            audit("totp.confirm"),
        )
        .await
        .unwrap();
    assert!(confirmed);
    account
}

both_backends!(totp_enrolment_and_summary, totp_enrolment_and_summary_body);
async fn totp_enrolment_and_summary_body(store: SqlStore) {
    let account = new_account(&store, "alice").await;
    assert!(
        !store
            .factor_summary(account.id)
            .await
            .unwrap()
            .has_second_factor()
    );
    store
        .set_pending_totp(account.id, b"first", t0(), audit("totp.setup"))
        .await
        .unwrap();
    store
        .set_pending_totp(account.id, b"second", t0(), audit("totp.setup"))
        .await
        .unwrap();
    // Confirming a pending secret that was replaced meanwhile changes nothing.
    let stale = store
        .confirm_totp(
            account.id,
            b"first",
            5,
            &hashes(1),
            t0(),
            audit("totp.confirm"),
        )
        .await
        .unwrap();
    assert!(!stale);
    let confirmed = store
        .confirm_totp(
            account.id,
            b"second",
            5,
            &hashes(1),
            t0(),
            audit("totp.confirm"),
        )
        .await
        .unwrap();
    assert!(confirmed);
    let record = store.totp_record(account.id).await.unwrap().unwrap();
    assert_eq!(record.secret.as_deref(), Some(&b"second"[..]));
    assert_eq!(record.last_step, Some(5));
    let summary = store.factor_summary(account.id).await.unwrap();
    assert!(summary.totp);
    assert!(summary.has_second_factor());
    assert_eq!(summary.backup_codes_left, 10);
    // A new setup while TOTP is on is refused.
    let again = store
        .set_pending_totp(account.id, b"third", t0(), audit("totp.setup"))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })));
}

both_backends!(totp_step_is_accepted_once, totp_step_is_accepted_once_body);
async fn totp_step_is_accepted_once_body(store: SqlStore) {
    let account = enrolled(&store, "alice").await;
    // The confirming code's step and anything older are spent.
    assert!(!store.accept_totp_step(account.id, 100).await.unwrap());
    assert!(!store.accept_totp_step(account.id, 99).await.unwrap());
    assert!(store.accept_totp_step(account.id, 101).await.unwrap());
    assert!(!store.accept_totp_step(account.id, 101).await.unwrap());

    // Eight simultaneous submissions of one step: exactly one wins.
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.accept_totp_step(account.id, 102).await.unwrap() })
        })
        .collect();
    let mut accepted = 0;
    for attempt in attempts {
        accepted += usize::from(attempt.await.unwrap());
    }
    assert_eq!(accepted, 1);
    // An account without TOTP accepts nothing.
    let other = new_account(&store, "bob").await;
    assert!(!store.accept_totp_step(other.id, 500).await.unwrap());
}

both_backends!(backup_code_is_used_once, backup_code_is_used_once_body);
async fn backup_code_is_used_once_body(store: SqlStore) {
    let alice = enrolled(&store, "alice").await;
    let bob = enrolled(&store, "bob").await;
    let code = hashes(1)[3];
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .use_backup_code(alice.id, &code, t0(), audit("backup_code.use"))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut accepted = 0;
    for attempt in attempts {
        accepted += usize::from(attempt.await.unwrap());
    }
    assert_eq!(accepted, 1);
    assert_eq!(
        store
            .factor_summary(alice.id)
            .await
            .unwrap()
            .backup_codes_left,
        9
    );
    // Bob's row with the same bytes is his own: Alice's use did not touch it, and a hash
    // that is not Bob's does nothing.
    assert_eq!(
        store
            .factor_summary(bob.id)
            .await
            .unwrap()
            .backup_codes_left,
        10
    );
    assert!(
        !store
            .use_backup_code(bob.id, &[0xEE; 32], t0(), audit("backup_code.use"))
            .await
            .unwrap()
    );

    store
        .replace_backup_codes(
            alice.id,
            &hashes(50),
            t0(),
            audit("backup_codes.regenerate"),
        )
        .await
        .unwrap();
    let old = hashes(1)[4];
    assert!(
        !store
            .use_backup_code(alice.id, &old, t0(), audit("backup_code.use"))
            .await
            .unwrap()
    );
}

both_backends!(passkey_lifecycle, passkey_lifecycle_body);
async fn passkey_lifecycle_body(store: SqlStore) {
    let alice = new_account(&store, "alice").await;
    let bob = new_account(&store, "bob").await;
    let id = Uuid::new_v4();
    let issued = store
        .add_passkey(
            NewPasskey {
                id,
                account_id: alice.id,
                name: "laptop".into(),
                credential_id: "cred-1".into(),
                credential: "{\"counter\":1}".into(),
                backup_hashes: hashes(7),
            },
            t0(),
            audit("passkey.register"),
        )
        .await
        .unwrap();
    assert!(issued, "the first passkey brings backup codes");
    let duplicate = store
        .add_passkey(
            NewPasskey {
                id: Uuid::new_v4(),
                account_id: bob.id,
                name: "stolen".into(),
                credential_id: "cred-1".into(),
                credential: "{}".into(),
                backup_hashes: Vec::new(),
            },
            t0(),
            audit("passkey.register"),
        )
        .await;
    assert!(matches!(duplicate, Err(StoreError::Conflict { .. })));

    // Counter updates are compare-and-set on the stored credential.
    let updated = store
        .update_passkey_credential(id, "{\"counter\":1}", "{\"counter\":2}", t0())
        .await
        .unwrap();
    assert!(updated);
    let stale = store
        .update_passkey_credential(id, "{\"counter\":1}", "{\"counter\":3}", t0())
        .await
        .unwrap();
    assert!(!stale);

    // Another account can neither rename nor remove it.
    assert!(
        !store
            .rename_passkey(bob.id, id, "mine", t0(), audit("passkey.rename"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_passkey(bob.id, id, true, t0(), audit("passkey.remove"))
            .await
            .unwrap()
    );
    assert!(
        store
            .rename_passkey(alice.id, id, "work laptop", t0(), audit("passkey.rename"))
            .await
            .unwrap()
    );
    assert_eq!(
        store.passkeys_of(alice.id).await.unwrap()[0].name,
        "work laptop"
    );
    assert!(
        store
            .remove_passkey(alice.id, id, true, t0(), audit("passkey.remove"))
            .await
            .unwrap()
    );
    let summary = store.factor_summary(alice.id).await.unwrap();
    assert_eq!((summary.passkeys, summary.backup_codes_left), (0, 0));
}

both_backends!(reset_and_known_addresses, reset_and_known_addresses_body);
async fn reset_and_known_addresses_body(store: SqlStore) {
    let alice = enrolled(&store, "alice").await;
    let before = store
        .reset_second_factors(alice.id, t0(), audit("account.reset_2fa"))
        .await
        .unwrap();
    assert!(before.totp);
    assert_eq!(
        store.factor_summary(alice.id).await.unwrap(),
        Default::default()
    );

    let first = store
        .record_login_ip(
            alice.id,
            "192.0.2.1",
            true,
            t0(),
            audit("login.new_location"),
        )
        .await
        .unwrap();
    assert_eq!(first, LoginLocation::First);
    let later = t0() + Duration::hours(1);
    let again = store
        .record_login_ip(
            alice.id,
            "192.0.2.1",
            false,
            later,
            audit("login.new_location"),
        )
        .await
        .unwrap();
    assert_eq!(again, LoginLocation::Known);
    let known = store
        .known_ip(alice.id, "192.0.2.1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(known.last_seen_at, later);
    assert_eq!(
        known.last_second_factor_at,
        Some(t0()),
        "a plain login keeps it"
    );
    let new = store
        .record_login_ip(
            alice.id,
            "198.51.100.7",
            false,
            later,
            audit("login.new_location"),
        )
        .await
        .unwrap();
    assert_eq!(new, LoginLocation::New);
    assert!(
        store
            .known_ip(alice.id, "203.0.113.1")
            .await
            .unwrap()
            .is_none()
    );
}
