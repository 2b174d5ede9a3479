//! The caller's own sessions: the list the security page shows, and ending one of them.
//!
//! An account lists and ends only its own sessions. A session id that is unknown, already
//! ended or another account's gets the same 404, so the response reveals nothing about
//! sessions that are not the caller's.

use spiritus_store::{AuditRecordExt, LiveSession};
use uuid::Uuid;

use crate::actor::{Actor, Principal, RequestContext};
use crate::error::AppError;
use crate::state::App;

impl App {
    /// Lists the caller's live sessions, newest first.
    pub async fn own_sessions(&self, principal: &Principal) -> Result<Vec<LiveSession>, AppError> {
        Ok(self
            .store()
            .live_account_sessions(principal.id(), self.now())
            .await?)
    }

    /// Ends one of the caller's live sessions and every access token issued under it.
    pub async fn revoke_own_session(
        &self,
        principal: &Principal,
        request: &RequestContext,
        session_id: Uuid,
    ) -> Result<(), AppError> {
        let now = self.now();
        let owned = self
            .store()
            .live_account_sessions(principal.id(), now)
            .await?
            .iter()
            .any(|session| session.id == session_id);
        if !owned {
            return Err(AppError::NotFound("session"));
        }
        self.store()
            .revoke_session(session_id, "revoked_by_account", now)
            .await?;
        self.revoke_session_tokens(session_id, now).await?;
        let record = Actor::account(principal, request)
            .audit(now, "session.revoke", "session")
            .with_resource_id(session_id);
        self.store().record_audit(record, now).await?;
        tracing::info!(account_id = %principal.id(), %session_id, "session revoked by its account");
        Ok(())
    }
}
