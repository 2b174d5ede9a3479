//! Panel accounts: the owner, admins and agents.

use chrono::{DateTime, Utc};
use serde_json::json;
use spiritus_core::account::{Account, AccountName, Role, Suspension};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::audit::{AuditRecord, AuditRecordExt};
use super::rows::{from_ms, parse_uuid, to_ms};
use super::{SqlStore, WriteTx};
use crate::error::StoreError;

const COLUMNS: &str = "id, name, role, password_hash, must_change_password, suspended_at, \
                       suspension_reason, created_at, updated_at, password_changed_at";

/// An account about to be created.
#[derive(Debug)]
pub struct NewAccount {
    pub name: AccountName,
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
}

impl SqlStore {
    /// Creates an account and records the audit entry in the same transaction.
    pub async fn create_account(
        &self,
        new: NewAccount,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Account, StoreError> {
        let mut tx = self.write().await?;
        let account = Account {
            id: Uuid::new_v4(),
            name: new.name,
            role: new.role,
            password_hash: new.password_hash,
            must_change_password: new.must_change_password,
            suspension: None,
            created_at: now,
            updated_at: now,
            password_changed_at: now,
        };
        insert_account(&mut tx, &account).await?;
        let after = account_state(&account);
        self.append_audit(
            &mut tx,
            audit.with_resource_id(account.id).with_after(after),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(account)
    }

    pub async fn account_by_name(&self, name: &str) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts WHERE name_folded = $1"
        ))
        .bind(name.to_ascii_lowercase())
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| account_from_row(&row)).transpose()
    }

    pub async fn account_by_id(&self, id: Uuid) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| account_from_row(&row)).transpose()
    }

    pub async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM accounts ORDER BY created_at, name_folded"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    pub async fn owner_exists(&self) -> Result<bool, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE role = 'owner'")
            .fetch_one(self.pool())
            .await?;
        Ok(count > 0)
    }

    /// Sets a new password hash and whether it must be changed at the next login.
    pub async fn set_password(
        &self,
        account_id: Uuid,
        password_hash: &str,
        must_change_password: bool,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let updated = sqlx::query(
            "UPDATE accounts SET password_hash = $1, must_change_password = $2, \
             password_changed_at = $3, updated_at = $3 WHERE id = $4",
        )
        .bind(password_hash)
        .bind(i64::from(must_change_password))
        .bind(to_ms(now))
        .bind(account_id.to_string())
        .execute(&mut *tx.tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "account" });
        }
        let after =
            json!({ "password": "[redacted]", "must_change_password": must_change_password });
        self.append_audit(
            &mut tx,
            audit.with_resource_id(account_id).with_after(after),
            now,
        )
        .await?;
        tx.commit().await
    }

    /// Replaces a hash made under outdated Argon2 parameters; the password itself is unchanged,
    /// so this is not an audited change of state.
    pub async fn rehash_password(
        &self,
        account_id: Uuid,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
            .bind(new_hash)
            .bind(account_id.to_string())
            .bind(old_hash)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }
}

async fn insert_account(tx: &mut WriteTx<'_>, account: &Account) -> Result<(), StoreError> {
    let result = sqlx::query(
        "INSERT INTO accounts (id, name, name_folded, role, password_hash, must_change_password, \
         created_at, updated_at, password_changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7)",
    )
    .bind(account.id.to_string())
    .bind(account.name.as_str())
    .bind(account.name.folded())
    .bind(account.role.as_str())
    .bind(&account.password_hash)
    .bind(i64::from(account.must_change_password))
    .bind(to_ms(account.created_at))
    .execute(&mut *tx.tx)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            Err(StoreError::Conflict { what: "account" })
        }
        Err(error) => Err(error.into()),
    }
}

/// The audited view of an account: never the password hash.
pub(crate) fn account_state(account: &Account) -> serde_json::Value {
    json!({
        "id": account.id,
        "name": account.name.as_str(),
        "role": account.role.as_str(),
        "must_change_password": account.must_change_password,
        "suspended": account.suspension.is_some(),
    })
}

fn account_from_row(row: &AnyRow) -> Result<Account, StoreError> {
    let id_text: String = row.try_get("id")?;
    let id = parse_uuid("accounts", &id_text)?;
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "accounts",
        id: id_text.clone(),
        detail,
    };
    let name_raw: String = row.try_get("name")?;
    let name = AccountName::parse("name", &name_raw).map_err(|error| corrupt(error.to_string()))?;
    let role_raw: String = row.try_get("role")?;
    let role = Role::parse(&role_raw).ok_or_else(|| corrupt(format!("unknown role {role_raw}")))?;
    let suspended_at: Option<i64> = row.try_get("suspended_at")?;
    let suspension = match suspended_at {
        Some(ms) => Some(Suspension {
            reason: row
                .try_get::<Option<String>, _>("suspension_reason")?
                .unwrap_or_default(),
            at: from_ms("accounts", &id_text, ms)?,
        }),
        None => None,
    };
    Ok(Account {
        id,
        name,
        role,
        password_hash: row.try_get("password_hash")?,
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        suspension,
        created_at: from_ms("accounts", &id_text, row.try_get("created_at")?)?,
        updated_at: from_ms("accounts", &id_text, row.try_get("updated_at")?)?,
        password_changed_at: from_ms("accounts", &id_text, row.try_get("password_changed_at")?)?,
    })
}
