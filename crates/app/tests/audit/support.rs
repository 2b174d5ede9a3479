//! Building an [`App`] on a temporary database with a manual clock.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use spiritus_app::config::{Config, load_config};
use spiritus_app::keys::PanelKeys;
use spiritus_app::{App, AppParts, EventBus};
use spiritus_audit::AuditSigningKey;
use spiritus_auth::SecretKey;
use spiritus_core::ManualClock;
use spiritus_store::{AuditRecordExt, MemoryStore, SqlStore};

/// The moment every test starts at.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// A test application and what it was built on.
pub struct TestApp {
    pub app: App,
    pub clock: ManualClock,
    pub events: EventBus,
    _dir: tempfile::TempDir,
}

pub fn default_config() -> Config {
    load_config(Path::new("/nonexistent/spiritus.toml"), Vec::new()).unwrap()
}

fn keys() -> PanelKeys {
    PanelKeys {
        jwt: vec![("test".into(), SecretKey::from_bytes(vec![1; 32]))],
        pepper: SecretKey::from_bytes(vec![2; 32]),
        audit: AuditSigningKey::from_seed(&[3; 32]),
        subscription: SecretKey::from_bytes(vec![4; 32]),
        totp_encryption: SecretKey::from_bytes(vec![5; 32]),
        core_password: SecretKey::generate(32),
    }
}

/// An app on a new SQLite file.
pub async fn sqlite_app(config: Config) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    app_on(store, config, dir)
}

/// An app on an existing (migrated) store, as another replica would be.
pub fn app_on(store: SqlStore, config: Config, dir: tempfile::TempDir) -> TestApp {
    let clock = ManualClock::new(start());
    let shared: Arc<dyn spiritus_core::Clock> = Arc::new(clock.clone());
    let events = EventBus::new();
    let app = App::new(AppParts {
        config,
        clock: Arc::clone(&shared),
        store,
        ephemeral: Arc::new(MemoryStore::new(shared)),
        keys: keys(),
        events: events.clone(),
    })
    .unwrap();
    TestApp {
        app,
        clock,
        events,
        _dir: dir,
    }
}

/// Appends one audited event by the panel itself.
pub async fn record(app: &App, action: &str) {
    let now = app.now();
    let record = spiritus_app::Actor::System
        .audit(now, action, "test")
        .with_context(serde_json::json!({"n": action}));
    app.store().record_audit(record, now).await.unwrap();
}

/// Asserts that the server-side verification passes.
pub async fn assert_verifies(app: &App) {
    let outcome = app.verify_audit_log(&[], &mut |_, _| {}).await.unwrap();
    assert!(outcome.valid, "{:?}", outcome.report.first_failure);
}

impl TestApp {
    /// How far the clock must move to reach the start of the next window of `seconds`.
    pub fn clock_offset_to_window_start(&self, seconds: i64) -> chrono::Duration {
        let now = self.app.now().timestamp();
        chrono::Duration::seconds(seconds - now.rem_euclid(seconds))
    }
}
