//! The assembled application: configuration, stores, keys and the services built on them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use spiritus_auth::passkey::{PasskeySetup, passkey_setup};
use spiritus_auth::sealed::TotpCipher;
use spiritus_auth::{JwtKeys, PasswordHasher, SecretKey, TokenSettings};
use spiritus_core::Clock;
use spiritus_store::{EphemeralStore, SqlStore};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::error::AppError;
use crate::events::EventBus;
use crate::keys::PanelKeys;

/// What [`App::new`] is built from.
pub struct AppParts {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub store: SqlStore,
    pub ephemeral: Arc<dyn EphemeralStore>,
    pub keys: PanelKeys,
    pub events: EventBus,
}

/// The application shared by every request handler and background task.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: SqlStore,
    pub(crate) ephemeral: Arc<dyn EphemeralStore>,
    pub(crate) hasher: Arc<PasswordHasher>,
    pub(crate) jwt: JwtKeys,
    pub(crate) subscription_key: SecretKey,
    pub(crate) audit_key: spiritus_audit::keys::AuditSigningKey,
    pub(crate) events: EventBus,
    pub(crate) hashing: HashingGate,
    pub(crate) core_password_key: SecretKey,
    pub(crate) user_changes: Arc<tokio::sync::Notify>,
    pub(crate) core: std::sync::OnceLock<Arc<crate::services::core::CoreManager>>,
    pub(crate) subscription_fetches: crate::services::subscriptions::FetchLog,
    pub(crate) audit: crate::services::audit::AuditRuntime,
    pub(crate) second_factors: SecondFactorKeys,
}

/// Keys and settings of the second factors.
pub(crate) struct SecondFactorKeys {
    pub(crate) totp_cipher: TotpCipher,
    pub(crate) backup_code_key: SecretKey,
    pub(crate) passkeys: PasskeySetup,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    pub fn new(parts: AppParts) -> Result<Self, AppError> {
        let hasher = PasswordHasher::new(parts.keys.pepper.clone())
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let jwt = JwtKeys::new(parts.keys.jwt.clone(), TokenSettings::default())
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let hashing = HashingGate::new(
            parts.config.limits.hash_concurrency,
            Duration::from_secs(parts.config.limits.hash_wait_seconds),
        );
        let second_factors = SecondFactorKeys::new(&parts)?;
        Ok(Self {
            inner: Arc::new(Inner {
                second_factors,
                hasher: Arc::new(hasher),
                jwt,
                subscription_key: parts.keys.subscription,
                audit_key: parts.keys.audit,
                config: parts.config,
                clock: parts.clock,
                store: parts.store,
                ephemeral: parts.ephemeral,
                events: parts.events,
                hashing,
                audit: Default::default(),
                core_password_key: parts.keys.core_password,
                user_changes: Arc::new(tokio::sync::Notify::new()),
                core: std::sync::OnceLock::new(),
                subscription_fetches: Default::default(),
            }),
        })
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    pub fn store(&self) -> &SqlStore {
        &self.inner.store
    }

    pub fn ephemeral(&self) -> &Arc<dyn EphemeralStore> {
        &self.inner.ephemeral
    }

    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    pub fn jwt(&self) -> &JwtKeys {
        &self.inner.jwt
    }

    pub fn audit_key(&self) -> &spiritus_audit::keys::AuditSigningKey {
        &self.inner.audit_key
    }

    pub(crate) fn totp_cipher(&self) -> &TotpCipher {
        &self.inner.second_factors.totp_cipher
    }

    pub(crate) fn backup_code_key(&self) -> &SecretKey {
        &self.inner.second_factors.backup_code_key
    }

    /// The passkey relying party, or why passkeys are off.
    pub fn passkeys(&self) -> &PasskeySetup {
        &self.inner.second_factors.passkeys
    }

    /// Signals that VPN users changed, so whoever mirrors them (the proxy core) catches up.
    pub fn note_user_change(&self) {
        self.inner.user_changes.notify_one();
    }

    /// Argon2 computations run since start, the dummy ones for unknown users included.
    pub fn password_hashes_computed(&self) -> u64 {
        self.inner.hashing.computed.load(Ordering::Relaxed)
    }

    /// Runs one Argon2 computation on the blocking pool, behind the concurrency bound.
    ///
    /// Each computation takes 64 MiB, so at most `hash_concurrency` run at once; callers
    /// beyond that wait up to `hash_wait_seconds` in a queue of bounded length and are then
    /// refused with 503, so a login flood cannot exhaust memory or the runtime.
    pub(crate) async fn with_hasher<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&PasswordHasher) -> T + Send + 'static,
        T: Send + 'static,
    {
        let gate = &self.inner.hashing;
        let busy =
            || AppError::Unavailable("too many password checks at once; retry shortly".into());
        if gate.waiting.fetch_add(1, Ordering::SeqCst) >= gate.max_waiting {
            gate.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let permit = tokio::time::timeout(gate.max_wait, gate.slots.clone().acquire_owned()).await;
        gate.waiting.fetch_sub(1, Ordering::SeqCst);
        let permit = match permit {
            Ok(Ok(permit)) => permit,
            _ => return Err(busy()),
        };

        gate.computed.fetch_add(1, Ordering::Relaxed);
        let hasher = Arc::clone(&self.inner.hasher);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&hasher)
        })
        .await
        .map_err(|error| AppError::Internal(format!("password hashing task failed: {error}")))
    }
}

impl SecondFactorKeys {
    fn new(parts: &AppParts) -> Result<Self, AppError> {
        let totp_cipher = TotpCipher::new(&parts.keys.totp_encryption)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let backup_code_key = crate::keys::derive(&parts.keys.pepper, BACKUP_CODE_KEY_LABEL)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let webauthn = &parts.config.webauthn;
        let passkeys = passkey_setup(
            &parts.config.public_url(),
            webauthn.rp_id.as_deref(),
            webauthn.origin.as_deref(),
        )
        .map_err(|error| AppError::Internal(format!("passkey settings: {error}")))?;
        Ok(Self {
            totp_cipher,
            backup_code_key,
            passkeys,
        })
    }
}

/// Derivation label of the key that hashes backup codes.
const BACKUP_CODE_KEY_LABEL: &[u8] = b"spiritus backup code key v1";

/// The bound on concurrent Argon2 computations.
pub(crate) struct HashingGate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
    computed: AtomicU64,
}

impl HashingGate {
    fn new(concurrency: usize, max_wait: Duration) -> Self {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(2)
        } else {
            concurrency
        };
        Self {
            slots: Arc::new(Semaphore::new(concurrency)),
            waiting: AtomicUsize::new(0),
            max_waiting: concurrency * 8,
            max_wait,
            computed: AtomicU64::new(0),
        }
    }
}
