//! Two `spiritus serve` processes on different ports against one PostgreSQL database and one
//! Redis prefix, as two replicas behind a load balancer.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use spiritus_audit::entry::AuditEntry;
use spiritus_audit::keys::AuditSigningKey;
use spiritus_audit::log_state::LogState;
use spiritus_audit::verify::verify_log;
use spiritus_core::Role;
use spiritus_core::{Clock, SystemClock};
use spiritus_store::{EphemeralStore, RedisSettings, RedisStore, SqlStore};
use spiritus_test_support::{ServerOptions, TestDatabase, TestRedisPrefix, TestServer};

use crate::{BINARY, OWNER_PASSWORD};

/// The shared backends of one deployment.
struct Deployment {
    database: TestDatabase,
    redis: TestRedisPrefix,
}

impl Deployment {
    async fn create() -> Option<Self> {
        let database = TestDatabase::create().await?;
        let redis = TestRedisPrefix::create()?;
        Some(Self { database, redis })
    }

    fn options(&self) -> ServerOptions {
        ServerOptions::default()
            .with_env("SPIRITUS_DATABASE_URL", self.database.url())
            .with_env("SPIRITUS_REDIS_URL", self.redis.url())
            .with_env("SPIRITUS_REDIS_KEY_PREFIX", self.redis.prefix())
    }

    async fn store(&self) -> SqlStore {
        SqlStore::connect(self.database.url()).await.unwrap()
    }

    async fn redis_handle(&self) -> RedisStore {
        RedisStore::connect(
            RedisSettings::new(self.redis.url()).with_key_prefix(self.redis.prefix()),
        )
        .await
        .unwrap()
    }
}

async fn list_user_names(server: &TestServer, token: &str) -> Vec<String> {
    let (status, body) = server
        .call(Method::GET, "/api/admin/users?limit=500", Some(token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_user(server: &TestServer, token: &str, name: &str) {
    let (status, body) = server
        .call(
            Method::POST,
            "/api/admin/users",
            Some(token),
            Some(json!({"name": name, "traffic_limit_gb": 1, "expire_days": 30})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn two_replicas_share_one_postgres_and_one_redis() {
    let Some(deployment) = Deployment::create().await else {
        return;
    };
    let a = TestServer::start_with(BINARY, deployment.options()).await;
    assert!(
        a.owner_password.is_some(),
        "the first replica creates the owner"
    );
    let b = a.replica(deployment.options()).await;
    assert_ne!(a.base_url, b.base_url);

    // The owner exists once, and the second replica printed no password.
    assert!(b.owner_password.is_none(), "{:?}", b.stdout);
    assert!(
        !b.stdout.join("\n").contains("one-time password"),
        "{:?}",
        b.stdout
    );
    let store = deployment.store().await;
    let owners = store
        .list_accounts()
        .await
        .unwrap()
        .into_iter()
        .filter(|account| account.role == Role::Owner)
        .count();
    assert_eq!(owners, 1);

    // A token issued by A is good on B, and a password changed on A holds on B.
    let token_a = a.owner_token(OWNER_PASSWORD).await;
    let token_b = b.login("admin", OWNER_PASSWORD).await;
    assert!(list_user_names(&b, &token_a).await.is_empty());

    // A user created on A is listed on B.
    create_user(&a, &token_a, "made-on-a").await;
    assert_eq!(list_user_names(&b, &token_b).await, ["made-on-a"]);

    // A session logged out on A is rejected on B at once.
    let (status, _) = a
        .call(Method::POST, "/api/auth/logout", Some(&token_a), None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = b
        .call(Method::GET, "/api/admin/users", Some(&token_a), None)
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = b
        .call(Method::GET, "/api/admin/users", Some(&token_b), None)
        .await;
    assert_eq!(status, 200);

    let token_a = a.login("admin", OWNER_PASSWORD).await;
    windows_are_shared_under_the_deployment_prefix(&deployment).await;
    concurrent_writes_leave_one_chain(&deployment, &a, &token_a, &b, &token_b).await;
    store.close().await;
}

/// Both replicas keep their state under the deployment's prefix (the revocation marker they
/// restored is there), and two handles on that prefix count one window.
async fn windows_are_shared_under_the_deployment_prefix(deployment: &Deployment) {
    let first = deployment.redis_handle().await;
    let second = deployment.redis_handle().await;
    assert!(
        !first.needs_revocation_restore().await.unwrap(),
        "the replicas restored revocations under this prefix"
    );
    let now = SystemClock.now();
    let minute = Duration::from_secs(60);
    for handle in [&first, &second, &first] {
        assert!(
            handle
                .hit_window("ip:198.51.100.9", minute, 3, now)
                .await
                .unwrap()
                .allowed
        );
    }
    let fourth = second
        .hit_window("ip:198.51.100.9", minute, 3, now)
        .await
        .unwrap();
    assert!(!fourth.allowed);
    assert_eq!(
        first
            .window_count("ip:198.51.100.9", minute, now)
            .await
            .unwrap(),
        3
    );
}

/// Audited writes sent to both replicas at once build one hash chain that verifies.
async fn concurrent_writes_leave_one_chain(
    deployment: &Deployment,
    a: &TestServer,
    token_a: &str,
    b: &TestServer,
    token_b: &str,
) {
    const PER_REPLICA: usize = 15;
    let store = deployment.store().await;
    let (size_before, _) = store.audit_head().await.unwrap();
    let writes = (0..PER_REPLICA).flat_map(|i| {
        [
            (a, token_a, format!("a-user-{i:02}")),
            (b, token_b, format!("b-user-{i:02}")),
        ]
    });
    futures::future::join_all(writes.map(|(server, token, name)| async move {
        create_user(server, token, &name).await;
    }))
    .await;

    let (size, last) = store.audit_head().await.unwrap();
    assert!(size >= size_before + 2 * PER_REPLICA as u64);
    let entries = store.audit_entries(0, size).await.unwrap();
    assert_eq!(entries.len() as u64, size, "no index is missing");
    assert_eq!(last.entry_hash(), entries.last().map(|entry| &entry.hash));
    let created = entries
        .iter()
        .filter(|entry| entry.resource_id.as_deref().is_some() && entry.action == "user.create")
        .count();
    assert_eq!(created, 2 * PER_REPLICA + 1);
    verify_chain(a, &entries);
    store.close().await;
}

/// Replays the entries and checks them with the audit verifier against a head signed with the
/// panel's own audit key.
fn verify_chain(server: &TestServer, entries: &[AuditEntry]) {
    let seed_hex = std::fs::read_to_string(server.data_dir().join("secrets/audit.key")).unwrap();
    let seed = hex::decode(seed_hex.trim()).unwrap();
    let key = AuditSigningKey::from_seed_slice(&seed).unwrap();
    let mut log = LogState::new();
    for entry in entries {
        log.replay(entry)
            .unwrap_or_else(|error| panic!("entry {} breaks the chain: {error:?}", entry.index));
    }
    let head = log.sign_head(&key, SystemClock.now());
    let report = verify_log(&key.verifying_key(), None, entries, &head, &[]);
    assert!(report.is_valid(), "{:?}", report.first_failure);
}
