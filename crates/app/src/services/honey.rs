//! Honey accounts: decoy names whose login appears to succeed and opens a sandbox.
//!
//! A login on a name in `honey.usernames` (any letter case) runs the same Argon2 work as any
//! other login. When the configuration accepts the password, the login returns a token
//! pair like a real one. The access token is signed like every other, for an account
//! id that exists nowhere, and its session id is recorded in the ephemeral store as a honey
//! session; the HTTP layer sends every request carrying it to the sandbox
//! (`spiritus_server::honey`), which never reaches the stores of real data.
//!
//! The login is audited, raises `honey_account_used` (a critical alert and the
//! `spiritus_honey_token_triggered` counter) and blocks the client address at once, so it
//! reaches no real account any more while its honey session goes on. Each later request of
//! the session is audited with address, user agent and time and counted in the same metric.

use std::time::Duration;

use serde_json::json;
use spiritus_auth::{OpaqueToken, Password};
use spiritus_core::events::SecurityEvent;
use spiritus_store::AuditRecordExt;
use uuid::Uuid;

use super::rate_limits::window_error;
use crate::actor::{Actor, RequestContext};
use crate::config::{HoneyAccept, network_canonical_ip};
use crate::error::AppError;
use crate::metrics;
use crate::services::auth::TokenPair;
use crate::state::App;

/// Prefix of the ephemeral-store marks of honey sessions.
const SESSION_PREFIX: &str = "honey:session:";

/// A request of a honey session, as the sandbox reports it for the audit trail.
#[derive(Debug, Clone, Copy)]
pub struct HoneyRequest<'a> {
    pub session_id: Uuid,
    pub method: &'a str,
    pub path: &'a str,
}

impl App {
    /// Logs in on a decoy name: the normal hashing delay, then a sandbox token pair.
    pub(crate) async fn honey_login(
        &self,
        username: &str,
        password: Password,
        request: &RequestContext,
    ) -> Result<TokenPair, AppError> {
        let bait = self.honey_bait().map(str::to_owned);
        let accepted = self
            .with_hasher(move |hasher| {
                hasher.verify_dummy(&password);
                match bait {
                    None => true,
                    Some(bait) => password.expose() == bait,
                }
            })
            .await?;
        let shown_name: String = username.chars().take(64).collect();
        if !accepted {
            self.reject_login(
                &shown_name,
                spiritus_core::events::LoginFailure::WrongPassword,
                request,
            )
            .await;
            return Err(AppError::InvalidCredentials);
        }
        let pair = self.open_honey_session(&shown_name, request).await?;
        self.block_honey_address(request).await;
        Ok(pair)
    }

    /// The bait password when only it is accepted.
    ///
    /// NOTE: `honey.bait_password` is compared as written; a secret reference in it is not
    /// resolved yet, so with `accept = "bait"` use the literal bait.
    fn honey_bait(&self) -> Option<&str> {
        let honey = &self.config().honey;
        match honey.accept {
            HoneyAccept::Any => None,
            HoneyAccept::Bait => Some(honey.bait_password.as_deref().unwrap_or_default()),
        }
    }

    async fn open_honey_session(
        &self,
        username: &str,
        request: &RequestContext,
    ) -> Result<TokenPair, AppError> {
        let now = self.now();
        let session_id = Uuid::new_v4();
        let access = self
            .jwt()
            .issue(Uuid::new_v4(), session_id, now)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let ttl = self.jwt().settings().access_ttl;
        self.ephemeral()
            .hit_window(
                &format!("{SESSION_PREFIX}{session_id}"),
                ttl.to_std().unwrap_or(Duration::from_secs(1800)),
                1,
                now,
            )
            .await
            .map_err(window_error)?;
        let record = Actor::Anonymous {
            request: request.clone(),
        }
        .audit(now, "honey.login", "session")
        .with_resource_id(session_id)
        .with_context(json!({
            "username": username,
            "user_agent": clipped_agent(request),
        }));
        self.store().record_audit(record, now).await?;
        self.events().emit(SecurityEvent::HoneyAccountUsed {
            username: username.to_owned(),
            ip: request.ip,
            first_hit: true,
        });
        tracing::warn!(
            target: "spiritus::honey",
            client_ip = %request.ip,
            username,
            "login on a honey account; the session is sandboxed"
        );
        Ok(TokenPair {
            access_token: access.token,
            refresh_token: OpaqueToken::generate("spr_"),
            expires_in: ttl.num_seconds(),
            access_expires_at: access.expires_at,
            refresh_expires_at: now + self.jwt().settings().refresh_ttl,
            must_change_password: false,
        })
    }

    /// Blocks the address from every real account; its honey session is not affected.
    async fn block_honey_address(&self, request: &RequestContext) {
        let ip = network_canonical_ip(request.ip);
        if self.config().responses.exempt.contains(ip) {
            return;
        }
        let seconds = self.config().rate_limits.block_seconds;
        if let Err(error) = self
            .block_ip(
                &Actor::System,
                ip,
                Duration::from_secs(seconds),
                "automatic: honey account used",
            )
            .await
        {
            tracing::error!(%error, "cannot block the address of a honey login");
        }
    }

    /// The honey session an access token belongs to, if it is one.
    pub async fn honey_session(&self, token: &str) -> Option<Uuid> {
        let now = self.now();
        let claims = self.jwt().verify(token, now).ok()?;
        let session_id = claims.session_id()?;
        let ttl = self.jwt().settings().access_ttl.to_std().ok()?;
        let marks = self
            .ephemeral()
            .window_count(&format!("{SESSION_PREFIX}{session_id}"), ttl, now)
            .await
            .ok()?;
        (marks > 0).then_some(session_id)
    }

    /// Audits one request of a honey session and counts it as a honey hit.
    pub async fn record_honey_request(&self, honey: HoneyRequest<'_>, request: &RequestContext) {
        let now = self.now();
        let record = Actor::Anonymous {
            request: request.clone(),
        }
        .audit(now, "honey.request", "session")
        .with_resource_id(honey.session_id)
        .with_context(json!({
            "method": honey.method,
            "path": honey.path.chars().take(256).collect::<String>(),
            "user_agent": clipped_agent(request),
        }));
        if let Err(error) = self.store().record_audit(record, now).await {
            tracing::error!(%error, "cannot audit a honey-session request");
        }
        metrics::honey_request();
    }
}

fn clipped_agent(request: &RequestContext) -> Option<String> {
    request
        .user_agent
        .as_deref()
        .map(|agent| agent.chars().take(256).collect())
}
