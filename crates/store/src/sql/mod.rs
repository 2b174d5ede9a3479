//! The SQL store: one pool, SQLite or PostgreSQL, chosen by the URL scheme.
//!
//! SQLite allows one writer at a time and fails a transaction that upgrades from reading to
//! writing while another one writes, so write transactions on SQLite take an in-process lock
//! first. PostgreSQL needs no such lock; operations that must be serialised across replicas
//! (audit appends) take a transaction-scoped advisory lock instead.

mod accounts;
mod audit;
mod cutoff;
mod fetches;
mod incident;
mod known_ips;
mod passkeys;
mod rows;
mod second_factors;
mod sessions;
mod settings;
mod traffic;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::StoreError;

pub use accounts::NewAccount;
pub use audit::{AuditQuery, AuditRecord, AuditRecordExt};
pub use cutoff::{CutoffOutcome, CutoffReason};
pub use known_ips::{KnownIp, LoginLocation};
pub use passkeys::{NewPasskey, StoredPasskey};
pub use second_factors::{FactorSummary, TotpRecord};
pub use sessions::{LiveSession, NewSession, RotateOutcome};
pub use traffic::{CoreCounter, UsageDelta};
pub use users::{NewVpnUser, UserListQuery, UserPage, UserPatch, UserSort};

/// The bound on opening a connection (and on waiting for a free one in the pool).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// The durable store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// Serialises write transactions on SQLite; `None` on PostgreSQL.
    write_lock: Option<std::sync::Arc<Mutex<()>>>,
    /// The URL with any password replaced, for messages.
    display_url: String,
}

/// A write transaction, holding the SQLite writer lock while it lives.
pub(crate) struct WriteTx<'a> {
    pub(crate) tx: Transaction<'static, Any>,
    _writer: Option<MutexGuard<'a, ()>>,
}

impl WriteTx<'_> {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl SqlStore {
    /// Connects to `sqlite://PATH` or `postgres://…`. A SQLite file is created (mode 0600) if
    /// missing; no migration runs here.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let display_url = redact_url(url);
        let backend = backend_of(url).ok_or_else(|| StoreError::InvalidUrl {
            url: display_url.clone(),
            reason: "the scheme must be sqlite:// or postgres://".into(),
        })?;
        if backend == Backend::Sqlite {
            prepare_sqlite_file(url, &display_url)?;
        }

        let options = AnyConnectOptions::from_str(url).map_err(|error| StoreError::InvalidUrl {
            url: display_url.clone(),
            reason: error.to_string(),
        })?;
        let unavailable = |error: String| {
            StoreError::Unavailable(format!("cannot connect to {display_url}: {error}"))
        };
        if backend == Backend::Postgres {
            probe_connection(&options).await.map_err(unavailable)?;
        }
        let pool = pool_options(backend)
            .connect_with(options)
            .await
            .map_err(|error| unavailable(error.to_string()))?;

        Ok(Self {
            pool,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| std::sync::Arc::new(Mutex::new(()))),
            display_url,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection URL with its password hidden.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// Applies pending migrations under the backend's migration lock.
    ///
    /// A database that holds a migration this binary does not know was migrated by a newer
    /// version, and is refused rather than touched.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.check_schema_not_newer().await?;
        self.backend
            .migrator()
            .run(&self.pool)
            .await
            .map_err(|error| StoreError::Backend(format!("migration failed: {error}")))?;
        Ok(())
    }

    /// Fails when the database holds migrations newer than this binary knows.
    pub async fn check_schema_not_newer(&self) -> Result<(), StoreError> {
        let known = self
            .backend
            .migrator()
            .iter()
            .map(|migration| migration.version)
            .max()
            .unwrap_or(0);
        let found = self.applied_schema_version().await?;
        match found {
            Some(found) if found > known => Err(StoreError::SchemaTooNew { found, known }),
            _ => Ok(()),
        }
    }

    /// The newest applied migration, or `None` for an empty database.
    pub async fn applied_schema_version(&self) -> Result<Option<i64>, StoreError> {
        let exists_query = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let exists: i64 = sqlx::query_scalar(exists_query)
            .fetch_one(&self.pool)
            .await?;
        if exists == 0 {
            return Ok(None);
        }
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await?;
        Ok(version)
    }

    /// The newest migration this binary knows.
    pub fn known_schema_version(&self) -> i64 {
        self.backend
            .migrator()
            .iter()
            .map(|migration| migration.version)
            .max()
            .unwrap_or(0)
    }

    /// Whether the connected PostgreSQL role is a superuser; always `false` on SQLite.
    pub async fn database_role_is_superuser(&self) -> Result<bool, StoreError> {
        if self.backend == Backend::Sqlite {
            return Ok(false);
        }
        let superuser: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN rolsuper THEN 1 ELSE 0 END FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(superuser == 1)
    }

    /// Writes a consistent copy of a SQLite database to `target` (which must not exist), even
    /// while the panel runs, with `VACUUM INTO`. Not available on PostgreSQL, whose own dump
    /// tool does this job.
    pub async fn snapshot_sqlite(&self, target: &Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Backend(
                "database snapshots are only built in for SQLite; use pg_dump for PostgreSQL"
                    .into(),
            ));
        }
        let path = target
            .to_str()
            .ok_or_else(|| StoreError::Backend("the snapshot path is not valid UTF-8".into()))?;
        // VACUUM INTO takes the file name as a string literal; quotes are doubled.
        let literal = path.replace('\'', "''");
        sqlx::query(&format!("VACUUM INTO '{literal}'"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Runs SQLite's integrity check; `Ok(())` on PostgreSQL.
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(());
        }
        let result: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                table: "*",
                id: "-".into(),
                detail: result,
            })
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) async fn write(&self) -> Result<WriteTx<'_>, StoreError> {
        let writer = match &self.write_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        };
        // On SQLite the transaction takes the write lock at BEGIN, where SQLite waits for
        // busy_timeout. A deferred transaction that reads first fails at once with "database
        // is locked" when it upgrades while another connection still holds the lock (a
        // rollback of a dropped transaction that the pool has not run yet, for example).
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }
}

/// Opens and closes one connection, so a start-up failure names its cause (refused, unknown
/// host, wrong password) rather than the pool's "timed out while waiting".
async fn probe_connection(options: &AnyConnectOptions) -> Result<(), String> {
    let connecting = AnyConnection::connect_with(options);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Backend::Postgres)
    } else {
        None
    }
}

fn pool_options(backend: Backend) -> AnyPoolOptions {
    let options = AnyPoolOptions::new().acquire_timeout(CONNECT_TIMEOUT);
    match backend {
        Backend::Sqlite => options
            .max_connections(8)
            .after_connect(|connection, _meta| {
                Box::pin(async move {
                    connection
                        .execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                        )
                        .await?;
                    Ok(())
                })
            }),
        Backend::Postgres => options.max_connections(16),
    }
}

/// Creates the SQLite file with mode 0600 before the driver opens it, so the database (and the
/// WAL files SQLite creates with the same mode) is never readable by other users.
fn prepare_sqlite_file(url: &str, display_url: &str) -> Result<(), StoreError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::InvalidUrl {
            url: display_url.to_owned(),
            reason: "a file path is required (sqlite://PATH)".into(),
        });
    }
    let path = Path::new(path);
    if path.exists() {
        return Ok(());
    }
    create_private_file(path).map_err(|error| StoreError::InvalidUrl {
        url: display_url.to_owned(),
        reason: format!("cannot create the database file: {error}"),
    })
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(|_| ())
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map(|_| ())
}

/// Replaces the password of a URL with `***` so it can appear in messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((credentials, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = credentials.split(':').next().unwrap_or_default();
    let shown = if credentials.contains(':') {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    format!("{scheme}://{shown}@{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_password_only() {
        let cases = [
            (
                "postgres://spiritus:s3cret@db.internal:5432/panel",
                "postgres://spiritus:***@db.internal:5432/panel",
            ),
            ("postgres://user@host/db", "postgres://user@host/db"),
            (
                "sqlite:///var/lib/spiritus/x.db",
                "sqlite:///var/lib/spiritus/x.db",
            ),
            (
                "postgres://u:p%40ss@h/db?sslmode=require",
                "postgres://u:***@h/db?sslmode=require",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(redact_url(raw), expected);
        }
    }
}
