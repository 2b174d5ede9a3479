//! Login sessions, their rotating refresh tokens, and the durable record of revoked tokens.
//!
//! A session holds one live refresh token at a time. Refreshing retires the presented token
//! and stores its successor; presenting a retired token again means it was stolen or replayed,
//! so the whole session is revoked. Revocations of access tokens live in the ephemeral store
//! for speed and are also written here, so an empty ephemeral store can be refilled.

use chrono::{DateTime, Utc};
use spiritus_auth::TokenHash;
use sqlx::Row;
use uuid::Uuid;

use super::audit::AuditRecord;
use super::rows::{from_ms, parse_uuid, to_ms};
use super::{SqlStore, WriteTx};
use crate::error::StoreError;

/// A session about to be created, with its first refresh token.
#[derive(Debug)]
pub struct NewSession {
    pub id: Uuid,
    pub account_id: Uuid,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub refresh_hash: TokenHash,
    pub refresh_expires_at: DateTime<Utc>,
}

/// A live session, as the list of an account's own sessions shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was live; it is now retired and its successor stored.
    Rotated { session_id: Uuid, account_id: Uuid },
    /// The token had already been used: the session is now revoked.
    Reused { session_id: Uuid, account_id: Uuid },
    /// The token's session was revoked or the token expired.
    Dead,
    /// No such token.
    Unknown,
}

impl SqlStore {
    pub async fn create_session(
        &self,
        session: NewSession,
        now: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO sessions (id, account_id, created_at, expires_at, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(session.id.to_string())
        .bind(session.account_id.to_string())
        .bind(to_ms(now))
        .bind(to_ms(session.refresh_expires_at))
        .bind(session.ip)
        .bind(session.user_agent)
        .execute(&mut *tx.tx)
        .await?;
        insert_refresh(
            &mut tx,
            session.id,
            &session.refresh_hash,
            now,
            session.refresh_expires_at,
        )
        .await?;
        self.append_audit(&mut tx, audit, now).await?;
        tx.commit().await
    }

    /// Retires a presented refresh token and stores its successor, or detects reuse.
    ///
    /// The audit record is written only when the rotation succeeds; the caller audits the other
    /// outcomes, which it learns from the return value.
    pub async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        successor: &TokenHash,
        successor_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        audit: impl FnOnce(Uuid, Uuid) -> AuditRecord,
    ) -> Result<RotateOutcome, StoreError> {
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "SELECT r.session_id, r.expires_at, r.retired_at, s.account_id, s.revoked_at \
             FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = $1",
        )
        .bind(presented.as_bytes().to_vec())
        .fetch_optional(&mut *tx.tx)
        .await?;
        let Some(row) = row else {
            return Ok(RotateOutcome::Unknown);
        };
        let session_id = parse_uuid("refresh_tokens", &row.try_get::<String, _>("session_id")?)?;
        let account_id = parse_uuid("sessions", &row.try_get::<String, _>("account_id")?)?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let retired_at: Option<i64> = row.try_get("retired_at")?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;

        if revoked_at.is_some() {
            return Ok(RotateOutcome::Dead);
        }
        if retired_at.is_some() {
            revoke_session_in(&mut tx, session_id, "refresh_token_reused", now).await?;
            tx.commit().await?;
            return Ok(RotateOutcome::Reused {
                session_id,
                account_id,
            });
        }
        if expires_at <= to_ms(now) {
            return Ok(RotateOutcome::Dead);
        }

        let retired = sqlx::query(
            "UPDATE refresh_tokens SET retired_at = $1 WHERE token_hash = $2 AND retired_at IS NULL",
        )
        .bind(to_ms(now))
        .bind(presented.as_bytes().to_vec())
        .execute(&mut *tx.tx)
        .await?;
        if retired.rows_affected() != 1 {
            // Another replica retired it between our read and this update: that is a reuse.
            revoke_session_in(&mut tx, session_id, "refresh_token_reused", now).await?;
            tx.commit().await?;
            return Ok(RotateOutcome::Reused {
                session_id,
                account_id,
            });
        }
        insert_refresh(&mut tx, session_id, successor, now, successor_expires_at).await?;
        sqlx::query("UPDATE sessions SET expires_at = $1 WHERE id = $2")
            .bind(to_ms(successor_expires_at))
            .bind(session_id.to_string())
            .execute(&mut *tx.tx)
            .await?;
        self.append_audit(&mut tx, audit(session_id, account_id), now)
            .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated {
            session_id,
            account_id,
        })
    }

    /// Revokes one session; returns its account, or `None` if there is no such live session.
    pub async fn revoke_session(
        &self,
        session_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, StoreError> {
        let mut tx = self.write().await?;
        let account: Option<String> = sqlx::query_scalar(
            "SELECT account_id FROM sessions WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(session_id.to_string())
        .fetch_optional(&mut *tx.tx)
        .await?;
        revoke_session_in(&mut tx, session_id, reason, now).await?;
        tx.commit().await?;
        account.map(|raw| parse_uuid("sessions", &raw)).transpose()
    }

    /// Revokes every live session of an account; returns the session ids.
    pub async fn revoke_account_sessions(
        &self,
        account_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut tx = self.write().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE account_id = $1 AND revoked_at IS NULL",
        )
        .bind(account_id.to_string())
        .fetch_all(&mut *tx.tx)
        .await?;
        for id in &ids {
            revoke_session_in(&mut tx, parse_uuid("sessions", id)?, reason, now).await?;
        }
        tx.commit().await?;
        ids.iter().map(|id| parse_uuid("sessions", id)).collect()
    }

    /// Whether a session exists and has not been revoked or expired.
    pub async fn session_is_live(
        &self,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(session_id.to_string())
        .bind(to_ms(now))
        .fetch_one(self.pool())
        .await?;
        Ok(count > 0)
    }

    /// Lists the account's sessions that are neither revoked nor expired, newest first.
    pub async fn live_account_sessions(
        &self,
        account_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<LiveSession>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, expires_at, ip, user_agent FROM sessions \
             WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC, id",
        )
        .bind(account_id.to_string())
        .bind(to_ms(now))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                Ok(LiveSession {
                    id: parse_uuid("sessions", &id)?,
                    created_at: from_ms("sessions", &id, row.try_get("created_at")?)?,
                    expires_at: from_ms("sessions", &id, row.try_get("expires_at")?)?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                })
            })
            .collect()
    }

    /// Counts sessions that are neither revoked nor expired.
    pub async fn count_live_sessions(&self, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > $1",
        )
        .bind(to_ms(now))
        .fetch_one(self.pool())
        .await?;
        Ok(count)
    }

    /// Records a revoked token id (`jti:…` or `sid:…`) until it would have expired anyway.
    pub async fn record_revocation(
        &self,
        token_id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO revocations (token_id, expires_at) VALUES ($1, $2) \
             ON CONFLICT (token_id) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(token_id)
        .bind(to_ms(expires_at))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// Revocations still in force, for refilling an empty ephemeral store.
    pub async fn live_revocations(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let rows =
            sqlx::query("SELECT token_id, expires_at FROM revocations WHERE expires_at > $1")
                .bind(to_ms(now))
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|row| {
                let token_id: String = row.try_get("token_id")?;
                let expires_at =
                    super::rows::from_ms("revocations", &token_id, row.try_get("expires_at")?)?;
                Ok((token_id, expires_at))
            })
            .collect()
    }

    /// Deletes expired revocations, refresh tokens and sessions.
    pub async fn prune_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let now_ms = to_ms(now);
        let mut removed = 0;
        for statement in [
            "DELETE FROM revocations WHERE expires_at <= $1",
            "DELETE FROM refresh_tokens WHERE expires_at <= $1",
            "DELETE FROM sessions WHERE expires_at <= $1",
        ] {
            removed += sqlx::query(statement)
                .bind(now_ms)
                .execute(&mut *tx.tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }
}

async fn insert_refresh(
    tx: &mut WriteTx<'_>,
    session_id: Uuid,
    hash: &TokenHash,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(hash.as_bytes().to_vec())
    .bind(session_id.to_string())
    .bind(to_ms(now))
    .bind(to_ms(expires_at))
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}

async fn revoke_session_in(
    tx: &mut WriteTx<'_>,
    session_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
         WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(to_ms(now))
    .bind(reason)
    .bind(session_id.to_string())
    .execute(&mut *tx.tx)
    .await?;
    Ok(())
}
