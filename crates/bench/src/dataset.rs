//! The data set: a fresh data directory holding synthetic VPN users, generated from a seed.
//!
//! Users are written through the store crate (the same `create_users` transaction the bulk
//! API uses, 1 000 users at a time) and their usage through `apply_core_counters`, the path
//! the stats poller takes. Names, quotas, expiry dates and usage all come from one seeded
//! generator, so a seed always gives the same users, ids and subscription tokens' inputs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use spiritus_app::bootstrap::{DataDir, prepare};
use spiritus_app::keys::load_keys;
use spiritus_app::{Actor, App, AppParts, EventBus};
use spiritus_auth::{Password, SecretKey};
use spiritus_core::account::Role;
use spiritus_core::user::{BYTES_PER_GB, Note, TrafficLimit, UserName, VpnUser};
use spiritus_core::{Clock, SystemClock};
use spiritus_secrets::ResolveContext;
use spiritus_store::sql::CoreCounter;
use spiritus_store::{MemoryStore, NewVpnUser, SqlStore};
use uuid::Uuid;

/// The admin account the benchmark logs in with.
pub const ADMIN_NAME: &str = "bench_admin";
/// Its password: long enough for the panel's password policy, used nowhere else.
pub const ADMIN_PASSWORD: &str = "a long benchmark passphrase for loopback only";
/// Users written per transaction, the bulk API's own maximum.
const BATCH: usize = 1000;

const FIRST_NAMES: [&str; 32] = [
    "sara", "ali", "maryam", "reza", "zahra", "hossein", "fatemeh", "mehdi", "niloofar", "amir",
    "leila", "kaveh", "shirin", "dariush", "yasmin", "omid", "anna", "lukas", "elena", "mateo",
    "chloe", "noah", "aiko", "kenji", "priya", "arjun", "amina", "yusuf", "olga", "ivan", "lina",
    "tomas",
];
const LAST_NAMES: [&str; 32] = [
    "karimi", "rahimi", "hosseini", "moradi", "ahmadi", "jafari", "rostami", "sadeghi", "tehrani",
    "kazemi", "bagheri", "nazari", "schmidt", "novak", "rossi", "garcia", "dubois", "tanaka",
    "sato", "sharma", "patel", "okafor", "haddad", "petrov", "ivanova", "silva", "jensen",
    "kowalski", "yilmaz", "nguyen", "fischer", "costa",
];
/// Quotas in GB with their weight out of 100; 0 is unlimited.
const QUOTAS_GB: [(u64, u32); 6] = [(10, 15), (30, 25), (50, 25), (100, 20), (200, 10), (0, 5)];

/// One generated user, before it is stored.
#[derive(Debug, Clone)]
pub struct SyntheticUser {
    pub id: Uuid,
    pub proxy_uuid: Uuid,
    pub name: String,
    pub quota_gb: u64,
    /// Days from now to the expiry; negative for users already expired.
    pub expires_in_days: i64,
    pub upload_bytes: u64,
    pub download_bytes: u64,
}

/// Generates `count` users from `seed`: the same seed always gives the same users.
pub fn synthetic_users(seed: u64, count: u32) -> Vec<SyntheticUser> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut taken = HashSet::with_capacity(count as usize);
    (0..count)
        .map(|_| {
            let name = unique_name(&mut rng, &mut taken);
            synthetic_user(&mut rng, name)
        })
        .collect()
}

fn unique_name(rng: &mut StdRng, taken: &mut HashSet<String>) -> String {
    let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
    let separator = if rng.gen_bool(0.5) { "_" } else { "-" };
    let mut name = format!("{first}{separator}{last}");
    while !taken.insert(name.clone()) {
        name = format!("{first}{separator}{last}{}", rng.gen_range(1..100_000));
    }
    name
}

fn synthetic_user(rng: &mut StdRng, name: String) -> SyntheticUser {
    let quota_gb = weighted_quota(rng.gen_range(0..100));
    // About one user in twenty has expired; the rest run for up to a year.
    let expires_in_days = if rng.gen_bool(0.05) {
        -rng.gen_range(1..60)
    } else {
        rng.gen_range(1..=365)
    };
    // Usage up to 110% of the quota (some users are over it), up to 400 GB when unlimited.
    let cap_bytes = if quota_gb == 0 {
        400 * BYTES_PER_GB
    } else {
        quota_gb * BYTES_PER_GB * 11 / 10
    };
    let used = rng.gen_range(0..cap_bytes);
    let upload_bytes = used / rng.gen_range(5..12);
    SyntheticUser {
        id: random_uuid(rng),
        proxy_uuid: random_uuid(rng),
        name,
        quota_gb,
        expires_in_days,
        upload_bytes,
        download_bytes: used - upload_bytes,
    }
}

fn weighted_quota(mut roll: u32) -> u64 {
    for (gb, weight) in QUOTAS_GB {
        if roll < weight {
            return gb;
        }
        roll -= weight;
    }
    0
}

fn random_uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.r#gen()).into_uuid()
}

/// A prepared data directory and what the benchmark needs to know about its users.
pub struct DataSet {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    /// `/sub/{token}` of every stored user.
    pub subscription_paths: Vec<String>,
    /// The stored users, as the store returned them.
    pub users: Vec<VpnUser>,
    pub prepare_seconds: f64,
}

/// Renders the benchmark configuration: no proxy core, no metrics listener, and request
/// limits off and raised, so the figures measure the request path, not the limiter, whether
/// or not `enabled` still exists as a switch.
fn bench_config() -> String {
    let huge = 1_000_000_000u64;
    format!(
        "listen = \"127.0.0.1:0\"\n\
         environment = \"development\"\n\
         [secrets]\n\
         jwt_keys = [\"file:secrets/jwt.key\"]\n\
         pepper = \"file:secrets/pepper.key\"\n\
         audit_key = \"file:secrets/audit.key\"\n\
         [metrics]\nlisten = \"off\"\n\
         [core]\nenabled = false\n\
         [log]\nlevel = \"warn\"\n\
         [rate_limits]\n\
         enabled = false\n\
         per_ip_per_minute = {huge}\n\
         per_user_per_hour = {huge}\n\
         login_attempts = {huge}\n\
         login_username_per_hour = {huge}\n\
         second_factor_attempts = {huge}\n\
         suspend_after_failures = {huge}\n\
         block_after_trips = {huge}\n\
         block_seconds = 1\n"
    )
}

/// Opens the data directory the way `spiritus` does: configuration, secrets (generated when
/// missing), database (migrated) and keys, with the in-process ephemeral store.
pub async fn open_app(root: &Path) -> anyhow::Result<App> {
    Ok(open_app_with_key(root).await?.0)
}

/// [`open_app`], also returning the key subscription tokens are derived with.
async fn open_app_with_key(root: &Path) -> anyhow::Result<(App, SecretKey)> {
    let data_dir = DataDir::new(root);
    let prepared = prepare(&data_dir, None, Vec::new())?;
    let config = prepared.config;
    let url = config
        .database_url
        .clone()
        .unwrap_or_else(|| data_dir.database_url());
    let store = SqlStore::connect(&url).await?;
    store.migrate().await?;
    let resolve = ResolveContext::from_process_env().with_base_dir(root);
    let keys = load_keys(&config, &resolve).await?;
    let subscription_key = keys.subscription.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = App::new(AppParts {
        config,
        clock: Arc::clone(&clock),
        store,
        ephemeral: Arc::new(MemoryStore::new(clock)),
        keys,
        events: EventBus::new(),
    })?;
    Ok((app, subscription_key))
}

/// Creates a fresh data directory with the benchmark configuration, a self-signed
/// certificate, the admin account and `count` users from `seed`.
pub async fn prepare_data_set(seed: u64, count: u32) -> anyhow::Result<DataSet> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("spiritus-bench")
        .tempdir()?;
    let root = dir.path().to_owned();
    std::fs::write(root.join("spiritus.toml"), bench_config())?;
    let (app, key) = open_app_with_key(&root).await?;
    spiritus_server::tls::ensure_self_signed(&DataDir::new(&root).tls(), &[])
        .context("cannot create the benchmark certificate")?;

    app.create_account(
        &Actor::Console,
        ADMIN_NAME,
        Role::Admin,
        Password::new(ADMIN_PASSWORD.into()),
        false,
    )
    .await?;
    let synthetic = synthetic_users(seed, count);
    let users = store_users(&app, &key, &synthetic).await?;
    store_usage(&app, &synthetic).await?;
    let subscription_paths = users
        .iter()
        .map(|user| subscription_path(&app, user))
        .collect::<anyhow::Result<Vec<_>>>()?;
    app.store().close().await;
    Ok(DataSet {
        _dir: dir,
        root,
        subscription_paths,
        users,
        prepare_seconds: started.elapsed().as_secs_f64(),
    })
}

async fn store_users(
    app: &App,
    key: &SecretKey,
    synthetic: &[SyntheticUser],
) -> anyhow::Result<Vec<VpnUser>> {
    let now = app.now();
    let mut stored = Vec::with_capacity(synthetic.len());
    for batch in synthetic.chunks(BATCH) {
        let news = batch
            .iter()
            .map(|user| new_user(key, user, now))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let record = Actor::Console.audit(now, "user.bulk_create", "user");
        stored.extend(app.store().create_users(news, now, record).await?);
    }
    Ok(stored)
}

fn new_user(
    key: &SecretKey,
    user: &SyntheticUser,
    now: DateTime<Utc>,
) -> anyhow::Result<NewVpnUser> {
    let token = spiritus_app::subscription::derive_token(key, user.id, 0)?;
    Ok(NewVpnUser {
        id: user.id,
        name: UserName::parse("name", &user.name)?,
        owner_id: None,
        traffic_limit: TrafficLimit::from_bytes(user.quota_gb * BYTES_PER_GB),
        expire_at: now + Duration::days(user.expires_in_days),
        note: Note::default(),
        subscription_hash: spiritus_app::subscription::token_hash(&token),
        proxy_uuid: user.proxy_uuid,
    })
}

/// Gives every user its generated usage, as one counter reading of a past core run.
async fn store_usage(app: &App, synthetic: &[SyntheticUser]) -> anyhow::Result<()> {
    let counters: Vec<CoreCounter> = synthetic
        .iter()
        .map(|user| CoreCounter {
            user_key: user.id.simple().to_string(),
            uplink: user.upload_bytes,
            downlink: user.download_bytes,
        })
        .collect();
    app.store()
        .apply_core_counters("bench-seed", &counters, app.now())
        .await?;
    Ok(())
}

fn subscription_path(app: &App, user: &VpnUser) -> anyhow::Result<String> {
    let url = app.subscription_url(user)?;
    let token = url.rsplit('/').next().unwrap_or_default();
    Ok(format!("/sub/{token}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_users_repeat_per_seed() {
        let first = synthetic_users(7, 500);
        let again = synthetic_users(7, 500);
        let other = synthetic_users(8, 500);

        let names =
            |users: &[SyntheticUser]| users.iter().map(|u| u.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&first), names(&again));
        assert_eq!(first[10].id, again[10].id);
        assert_ne!(names(&first), names(&other));
    }

    #[test]
    fn synthetic_users_valid_and_unique() {
        let users = synthetic_users(1, 5000);
        let unique: HashSet<&str> = users.iter().map(|user| user.name.as_str()).collect();

        assert_eq!(unique.len(), users.len());
        for user in &users {
            assert!(UserName::parse("name", &user.name).is_ok(), "{}", user.name);
            assert!(user.upload_bytes + user.download_bytes <= 400 * BYTES_PER_GB);
        }
        assert!(users.iter().any(|user| user.expires_in_days < 0));
        assert!(users.iter().any(|user| user.quota_gb == 0));
    }
}
