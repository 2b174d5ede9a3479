//! Errors of the store, split by whose fault they are.

/// A store operation that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (a name) is already taken.
    #[error("{what} already exists")]
    Conflict { what: &'static str },
    /// The row the operation needs does not exist.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// The backend cannot be reached or refused the connection.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// A stored row cannot be turned back into a domain value.
    #[error("corrupt row in {table} (id {id}): {detail}")]
    Corrupt {
        table: &'static str,
        id: String,
        detail: String,
    },
    /// The database was migrated by a newer Spiritus.
    #[error(
        "database schema version {found} is newer than this binary supports ({known}); run a newer Spiritus"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// A page cursor that this store did not issue.
    #[error("the cursor is invalid; pass the next_cursor value of the previous page unchanged")]
    InvalidCursor,
    /// The database URL cannot be used.
    #[error("invalid database URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// A backend setting other than the URL cannot be used.
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        setting: &'static str,
        reason: String,
    },
    /// Any other backend failure.
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => StoreError::Unavailable(error.to_string()),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict { what: "record" }
            }
            _ => StoreError::Backend(error.to_string()),
        }
    }
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
