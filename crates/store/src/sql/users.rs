//! VPN users: creation, lookup, paged listing, changes and deletion.
//!
//! Every change runs in one write transaction together with its audit entry, so the log
//! holds exactly the changes that happened. On PostgreSQL the changed row is locked
//! (`FOR UPDATE`) while it is read and rewritten, so a concurrent traffic update on another
//! replica is never overwritten.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use spiritus_auth::TokenHash;
use spiritus_core::user::{Note, TrafficLimit, UserName, UserStatus, VpnUser};
use spiritus_core::validation::FieldError;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::audit::{AuditRecord, AuditRecordExt};
use super::rows::{from_ms, parse_uuid, to_i64, to_ms, to_u64};
use super::{Backend, SqlStore, WriteTx};
use crate::error::StoreError;

/// Binds the four filter parameters ($1 to $4) of a [`ListFilter`] to a query.
macro_rules! bind_filter {
    ($statement:expr, $filter:expr) => {{
        let filter = &$filter;
        $statement
            .bind(filter.now)
            .bind(filter.prefix.as_ref().map(|(low, _)| low.clone()))
            .bind(filter.prefix.as_ref().map(|(_, high)| high.clone()))
            .bind(filter.owner.clone())
    }};
}

pub(crate) const COLUMNS: &str = "id, name, owner_id, enabled, traffic_limit_bytes, upload_bytes, \
                       download_bytes, expire_at, created_at, updated_at, note, \
                       subscription_revision, proxy_uuid";

/// A user about to be created.
#[derive(Debug, Clone)]
pub struct NewVpnUser {
    pub id: Uuid,
    pub name: UserName,
    pub owner_id: Option<Uuid>,
    pub traffic_limit: TrafficLimit,
    pub expire_at: DateTime<Utc>,
    pub note: Note,
    pub subscription_hash: TokenHash,
    pub proxy_uuid: Uuid,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub traffic_limit: Option<TrafficLimit>,
    pub expire_at: Option<DateTime<Utc>>,
    pub note: Option<Note>,
}

/// The orders a user list can be sorted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserSort {
    #[default]
    Name,
    CreatedAt,
    ExpireAt,
    UsedBytes,
}

impl UserSort {
    /// Parses `name`, `created_at`, `expire_at` or `used_bytes`, with a leading `-` for
    /// descending order.
    pub fn parse(raw: &str) -> Option<(Self, bool)> {
        let (descending, key) = match raw.strip_prefix('-') {
            Some(key) => (true, key),
            None => (false, raw),
        };
        let sort = match key {
            "name" => UserSort::Name,
            "created_at" => UserSort::CreatedAt,
            "expire_at" => UserSort::ExpireAt,
            "used_bytes" => UserSort::UsedBytes,
            _ => return None,
        };
        Some((sort, descending))
    }

    fn expression(self) -> &'static str {
        match self {
            UserSort::Name => "name_folded",
            UserSort::CreatedAt => "created_at",
            UserSort::ExpireAt => "expire_at",
            UserSort::UsedBytes => "(upload_bytes + download_bytes)",
        }
    }
}

/// A page request for the user list.
#[derive(Debug, Clone, Default)]
pub struct UserListQuery {
    pub limit: u32,
    pub cursor: Option<String>,
    pub status: Option<UserStatus>,
    pub name_prefix: Option<String>,
    pub sort: UserSort,
    pub descending: bool,
    /// Only users owned by this agent.
    pub owner: Option<Uuid>,
}

/// One page of users.
#[derive(Debug, Clone)]
pub struct UserPage {
    pub items: Vec<VpnUser>,
    pub total: i64,
    pub next_cursor: Option<String>,
}

/// The position after the last row of a page: the sort value and the name that breaks ties.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    value: CursorValue,
    name: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum CursorValue {
    Number(i64),
    Text(String),
}

impl SqlStore {
    pub async fn create_user(
        &self,
        new: NewVpnUser,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<VpnUser, StoreError> {
        let mut tx = self.write().await?;
        let user = insert_user(&mut tx, new, now).await?;
        let record = audit
            .with_resource_id(user.id)
            .with_after(user_state(&user));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Creates several users in one transaction: all of them or none.
    pub async fn create_users(
        &self,
        users: Vec<NewVpnUser>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<Vec<VpnUser>, StoreError> {
        let mut tx = self.write().await?;
        let mut created = Vec::with_capacity(users.len());
        for new in users {
            created.push(insert_user(&mut tx, new, now).await?);
        }
        let names: Vec<&str> = created.iter().map(|user| user.name.as_str()).collect();
        let record = audit.with_after(json!({ "count": created.len(), "names": names }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Looks a user up by name (any letter case); `owner` restricts it to an agent's users.
    pub async fn user_by_name(
        &self,
        name: &str,
        owner: Option<Uuid>,
    ) -> Result<Option<VpnUser>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM vpn_users WHERE name_folded = $1 AND ($2 IS NULL OR owner_id = $2)"
        ))
        .bind(name.to_ascii_lowercase())
        .bind(owner.map(|id| id.to_string()))
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| user_from_row(&row)).transpose()
    }

    pub async fn user_by_subscription(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<VpnUser>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM vpn_users WHERE subscription_hash = $1"
        ))
        .bind(hash.as_bytes().to_vec())
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| user_from_row(&row)).transpose()
    }

    /// Lists users a page at a time in a stable order.
    pub async fn list_users(
        &self,
        query: &UserListQuery,
        now: DateTime<Utc>,
    ) -> Result<UserPage, StoreError> {
        let filter = ListFilter::new(query, now);
        let total: i64 = if filter.is_unfiltered() {
            // With no condition SQLite counts the entries of its smallest index; the
            // parameterised filter would make it read every row (about 20 ms at 100 000 users).
            sqlx::query_scalar("SELECT COUNT(*) FROM vpn_users")
                .fetch_one(self.pool())
                .await?
        } else {
            let total_sql = format!("SELECT COUNT(*) FROM vpn_users WHERE {}", filter.sql);
            bind_filter!(sqlx::query_scalar(&total_sql), filter)
                .fetch_one(self.pool())
                .await?
        };

        let order = if query.descending { "DESC" } else { "ASC" };
        let expression = query.sort.expression();
        let mut page_sql = format!("SELECT {COLUMNS} FROM vpn_users WHERE {}", filter.sql);
        let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
        if cursor.is_some() {
            let comparison = if query.descending { "<" } else { ">" };
            page_sql.push_str(&format!(
                " AND ({expression} {comparison} $5 OR ({expression} = $5 AND name_folded {comparison} $6))"
            ));
        }
        page_sql.push_str(&format!(
            " ORDER BY {expression} {order}, name_folded {order} LIMIT {}",
            query.limit.clamp(1, 1000) + 1
        ));

        let mut statement = bind_filter!(sqlx::query(&page_sql), filter);
        if let Some(cursor) = &cursor {
            statement = match &cursor.value {
                CursorValue::Number(value) => statement.bind(*value),
                CursorValue::Text(value) => statement.bind(value.clone()),
            }
            .bind(cursor.name.clone());
        }
        let rows = statement.fetch_all(self.pool()).await?;

        let limit = query.limit.clamp(1, 1000) as usize;
        let mut items = rows
            .iter()
            .map(user_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| encode_cursor(query.sort, last))
        } else {
            None
        };
        Ok(UserPage {
            items,
            total,
            next_cursor,
        })
    }

    /// Loads a user, lets `change` modify it, and writes it back with an audit entry holding
    /// the state before and after. `change` may refuse with a field error; then nothing is
    /// written.
    pub async fn modify_user<F>(
        &self,
        name: &str,
        owner: Option<Uuid>,
        now: DateTime<Utc>,
        audit: AuditRecord,
        change: F,
    ) -> Result<Result<VpnUser, FieldError>, StoreError>
    where
        F: FnOnce(&mut VpnUser) -> Result<Option<TokenHash>, FieldError>,
    {
        let mut tx = self.write().await?;
        let Some(mut user) = self.lock_user(&mut tx, name, owner).await? else {
            return Err(StoreError::NotFound { what: "user" });
        };
        let before = user_state(&user);
        let new_subscription = match change(&mut user) {
            Ok(hash) => hash,
            Err(error) => return Ok(Err(error)),
        };
        user.updated_at = now;
        write_user(&mut tx, &user, new_subscription.as_ref()).await?;

        let record = audit
            .with_resource_id(user.id)
            .with_before(before)
            .with_after(user_state(&user));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(Ok(user))
    }

    pub async fn delete_user(
        &self,
        name: &str,
        owner: Option<Uuid>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let Some(user) = self.lock_user(&mut tx, name, owner).await? else {
            return Err(StoreError::NotFound { what: "user" });
        };
        sqlx::query("DELETE FROM vpn_users WHERE id = $1")
            .bind(user.id.to_string())
            .execute(&mut *tx.tx)
            .await?;
        let record = audit
            .with_resource_id(user.id)
            .with_before(user_state(&user));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await
    }

    /// Deletes the named users that exist (and that `owner` may see); returns how many.
    pub async fn delete_users(
        &self,
        names: &[String],
        owner: Option<Uuid>,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let mut deleted = Vec::new();
        for name in names {
            if let Some(user) = self.lock_user(&mut tx, name, owner).await? {
                sqlx::query("DELETE FROM vpn_users WHERE id = $1")
                    .bind(user.id.to_string())
                    .execute(&mut *tx.tx)
                    .await?;
                deleted.push(user.name.to_string());
            }
        }
        let record = audit.with_before(json!({ "count": deleted.len(), "names": deleted }));
        self.append_audit(&mut tx, record, now).await?;
        tx.commit().await?;
        Ok(deleted.len() as u64)
    }

    /// Counts users per status, for metrics and the system page.
    pub async fn count_users_by_status(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(UserStatus, i64)>, StoreError> {
        let mut counts = Vec::new();
        for status in [
            UserStatus::Active,
            UserStatus::Disabled,
            UserStatus::Limited,
            UserStatus::Expired,
        ] {
            let query = UserListQuery {
                status: Some(status),
                ..UserListQuery::default()
            };
            let filter = ListFilter::new(&query, now);
            let sql = format!("SELECT COUNT(*) FROM vpn_users WHERE {}", filter.sql);
            let count: i64 = bind_filter!(sqlx::query_scalar(&sql), filter)
                .fetch_one(self.pool())
                .await?;
            counts.push((status, count));
        }
        Ok(counts)
    }

    /// Every stored user, in name order. Rows that cannot be decoded are returned as errors
    /// beside the good ones, so one damaged row never hides the rest.
    pub async fn all_users(&self) -> Result<Vec<Result<VpnUser, StoreError>>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM vpn_users ORDER BY name_folded"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    async fn lock_user(
        &self,
        tx: &mut WriteTx<'_>,
        name: &str,
        owner: Option<Uuid>,
    ) -> Result<Option<VpnUser>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM vpn_users WHERE name_folded = $1 \
             AND ($2 IS NULL OR owner_id = $2){lock}"
        ))
        .bind(name.to_ascii_lowercase())
        .bind(owner.map(|id| id.to_string()))
        .fetch_optional(&mut *tx.tx)
        .await?;
        row.map(|row| user_from_row(&row)).transpose()
    }
}

async fn insert_user(
    tx: &mut WriteTx<'_>,
    new: NewVpnUser,
    now: DateTime<Utc>,
) -> Result<VpnUser, StoreError> {
    let result = sqlx::query(
        "INSERT INTO vpn_users (id, name, name_folded, owner_id, enabled, traffic_limit_bytes, \
         expire_at, created_at, updated_at, note, subscription_hash, proxy_uuid) \
         VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $7, $8, $9, $10)",
    )
    .bind(new.id.to_string())
    .bind(new.name.as_str())
    .bind(new.name.folded())
    .bind(new.owner_id.map(|id| id.to_string()))
    .bind(to_i64(new.traffic_limit.bytes()))
    .bind(to_ms(new.expire_at))
    .bind(to_ms(now))
    .bind(new.note.as_str())
    .bind(new.subscription_hash.as_bytes().to_vec())
    .bind(new.proxy_uuid.to_string())
    .execute(&mut *tx.tx)
    .await;
    match result {
        Ok(_) => {}
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            return Err(StoreError::Conflict { what: "user" });
        }
        Err(error) => return Err(error.into()),
    }
    Ok(VpnUser {
        id: new.id,
        name: new.name,
        owner_id: new.owner_id,
        enabled: true,
        traffic_limit: new.traffic_limit,
        upload_bytes: 0,
        download_bytes: 0,
        expire_at: new.expire_at,
        created_at: now,
        updated_at: now,
        note: new.note,
        subscription_revision: 0,
        proxy_uuid: new.proxy_uuid,
    })
}

async fn write_user(
    tx: &mut WriteTx<'_>,
    user: &VpnUser,
    new_subscription: Option<&TokenHash>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE vpn_users SET enabled = $1, traffic_limit_bytes = $2, upload_bytes = $3, \
         download_bytes = $4, expire_at = $5, updated_at = $6, note = $7, \
         subscription_revision = $8, subscription_hash = COALESCE($9, subscription_hash) \
         WHERE id = $10",
    )
    .bind(i64::from(user.enabled))
    .bind(to_i64(user.traffic_limit.bytes()))
    .bind(to_i64(user.upload_bytes))
    .bind(to_i64(user.download_bytes))
    .bind(to_ms(user.expire_at))
    .bind(to_ms(user.updated_at))
    .bind(user.note.as_str())
    .bind(i64::from(user.subscription_revision))
    .bind(new_subscription.map(|hash| hash.as_bytes().to_vec()))
    .bind(user.id.to_string())
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

/// The audited view of a user: every field an operator can change, no credential.
pub(crate) fn user_state(user: &VpnUser) -> serde_json::Value {
    json!({
        "id": user.id,
        "name": user.name.as_str(),
        "enabled": user.enabled,
        "traffic_limit_bytes": user.traffic_limit.bytes(),
        "upload_bytes": user.upload_bytes,
        "download_bytes": user.download_bytes,
        "expire_at": user.expire_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "note": user.note.as_str(),
        "subscription_revision": user.subscription_revision,
        "owner_id": user.owner_id,
    })
}

pub(crate) fn user_from_row(row: &AnyRow) -> Result<VpnUser, StoreError> {
    let id_text: String = row.try_get("id")?;
    let id = parse_uuid("vpn_users", &id_text)?;
    let corrupt = |detail: String| StoreError::Corrupt {
        table: "vpn_users",
        id: id_text.clone(),
        detail,
    };
    let name_raw: String = row.try_get("name")?;
    let name = UserName::parse("name", &name_raw).map_err(|error| corrupt(error.to_string()))?;
    let owner_id = row
        .try_get::<Option<String>, _>("owner_id")?
        .map(|raw| parse_uuid("vpn_users", &raw))
        .transpose()?;
    let revision: i64 = row.try_get("subscription_revision")?;
    let proxy_uuid_raw: String = row.try_get("proxy_uuid")?;
    Ok(VpnUser {
        id,
        name,
        owner_id,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        traffic_limit: TrafficLimit::from_bytes(to_u64(
            "vpn_users",
            &id_text,
            row.try_get("traffic_limit_bytes")?,
        )?),
        upload_bytes: to_u64("vpn_users", &id_text, row.try_get("upload_bytes")?)?,
        download_bytes: to_u64("vpn_users", &id_text, row.try_get("download_bytes")?)?,
        expire_at: from_ms("vpn_users", &id_text, row.try_get("expire_at")?)?,
        created_at: from_ms("vpn_users", &id_text, row.try_get("created_at")?)?,
        updated_at: from_ms("vpn_users", &id_text, row.try_get("updated_at")?)?,
        note: Note::from_stored(row.try_get("note")?),
        subscription_revision: u32::try_from(revision)
            .map_err(|_| corrupt(format!("subscription revision {revision} out of range")))?,
        proxy_uuid: parse_uuid("vpn_users", &proxy_uuid_raw)?,
    })
}

/// The WHERE clause of a list query, with its parameters in order ($1 to $4).
struct ListFilter {
    sql: String,
    now: i64,
    prefix: Option<(String, String)>,
    owner: Option<String>,
    has_status: bool,
}

impl ListFilter {
    fn new(query: &UserListQuery, now: DateTime<Utc>) -> Self {
        let status_sql = match query.status {
            None => "1 = 1",
            Some(UserStatus::Disabled) => "enabled = 0",
            Some(UserStatus::Expired) => "enabled = 1 AND expire_at <= $1",
            Some(UserStatus::Limited) => {
                "enabled = 1 AND expire_at > $1 AND traffic_limit_bytes > 0 \
                 AND upload_bytes + download_bytes >= traffic_limit_bytes"
            }
            Some(UserStatus::Active) => {
                "enabled = 1 AND expire_at > $1 AND (traffic_limit_bytes = 0 \
                 OR upload_bytes + download_bytes < traffic_limit_bytes)"
            }
        };
        let prefix = query.name_prefix.as_ref().map(|prefix| {
            let low = prefix.to_ascii_lowercase();
            // Every character a name may hold sorts below '~', so this bounds the prefix.
            let high = format!("{low}~");
            (low, high)
        });
        let sql = format!(
            "({status_sql}) AND ($2 IS NULL OR (name_folded >= $2 AND name_folded < $3)) \
             AND ($4 IS NULL OR owner_id = $4) AND $1 = $1"
        );
        Self {
            sql,
            now: to_ms(now),
            prefix,
            owner: query.owner.map(|id| id.to_string()),
            has_status: query.status.is_some(),
        }
    }

    /// Whether the filter lets every user through.
    fn is_unfiltered(&self) -> bool {
        !self.has_status && self.prefix.is_none() && self.owner.is_none()
    }
}

fn encode_cursor(sort: UserSort, last: &VpnUser) -> String {
    let value = match sort {
        UserSort::Name => CursorValue::Text(last.name.folded()),
        UserSort::CreatedAt => CursorValue::Number(to_ms(last.created_at)),
        UserSort::ExpireAt => CursorValue::Number(to_ms(last.expire_at)),
        UserSort::UsedBytes => CursorValue::Number(to_i64(last.used_bytes())),
    };
    let cursor = Cursor {
        value,
        name: last.name.folded(),
    };
    let json = serde_json::to_vec(&cursor).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor from a previous page; a damaged one is the caller's input error.
fn decode_cursor(raw: &str) -> Result<Cursor, StoreError> {
    let invalid = || StoreError::InvalidCursor;
    if raw.len() > 1024 {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}
