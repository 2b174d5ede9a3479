//! Second-factor login challenges: issued after the password, taken once.
//!
//! A challenge is 256 random bits handed to the client. The ephemeral store keeps, under the
//! token's SHA-256 (a dump of the store yields no usable challenge), the account, the client
//! address and the expiry. Taking it removes it, so it is single-use even across replicas; it
//! is refused from another address, after 5 minutes, or when the account was suspended
//! meanwhile. A passkey login moves the challenge to a second record that also holds the
//! WebAuthn ceremony state, under the same token.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use spiritus_auth::{OpaqueToken, TokenHash};
use spiritus_core::events::{LoginFailure, SecurityEvent};
use spiritus_store::AuditRecordExt;
use uuid::Uuid;

use super::proof::{FactorMethod, PasswordChecked, PendingLogin};
use crate::actor::{Actor, RequestContext};
use crate::error::AppError;
use crate::state::App;

/// How long a challenge lives.
pub const CHALLENGE_TTL_SECONDS: i64 = 300;
/// Prefix of challenge tokens.
const CHALLENGE_PREFIX: &str = "mfa_";
/// Maximum challenge length looked up; a generated one has 47 characters.
const MAX_CHALLENGE_CHARS: usize = 128;

/// The stage a challenge record belongs to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stage {
    /// Waiting for a TOTP code, a backup code or the start of a passkey ceremony.
    Login,
    /// A passkey ceremony was started and waits for the assertion.
    PasskeyLogin,
}

impl Stage {
    fn key(self, presented: &str) -> String {
        let kind = match self {
            Stage::Login => "login-challenge",
            Stage::PasskeyLogin => "passkey-login",
        };
        format!("{kind}:{}", TokenHash::of(presented.as_bytes()).to_hex())
    }
}

/// Stored record of a challenge.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ChallengeRecord {
    pub account_id: Uuid,
    pub ip: String,
    pub expires_at_ms: i64,
    /// The serialised WebAuthn authentication state, at the passkey stage.
    #[serde(default)]
    pub passkey_state: Option<Value>,
}

/// Challenge returned for a password that needs a second factor.
pub struct SecondFactorChallenge {
    pub challenge: OpaqueToken,
    pub methods: Vec<FactorMethod>,
    pub expires_in: i64,
}

impl std::fmt::Debug for SecondFactorChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorChallenge")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Issues the challenge a verified password leads to when a second factor is needed.
    pub(in crate::services) async fn issue_login_challenge(
        &self,
        checked: &PasswordChecked,
        methods: Vec<FactorMethod>,
        request: &RequestContext,
    ) -> Result<SecondFactorChallenge, AppError> {
        let now = self.now();
        let account = checked.account();
        let challenge = OpaqueToken::generate(CHALLENGE_PREFIX);
        let record = ChallengeRecord {
            account_id: account.id,
            ip: request.ip.to_string(),
            expires_at_ms: (now + Duration::seconds(CHALLENGE_TTL_SECONDS)).timestamp_millis(),
            passkey_state: None,
        };
        self.put_challenge_record(Stage::Login, challenge.expose(), &record)
            .await?;
        let names: Vec<&str> = methods.iter().map(|method| method.as_str()).collect();
        let mut audit = Actor::Anonymous {
            request: request.clone(),
        }
        .audit(now, "login.challenge", "session")
        .with_after(json!({ "username": account.name.as_str(), "methods": names }));
        audit.actor_id = account.id.to_string();
        audit.actor_role = account.role.as_str().into();
        self.store().record_audit(audit, now).await?;
        self.events().emit(SecurityEvent::SecondFactorChallenged {
            account_id: account.id,
            ip: request.ip,
        });
        Ok(SecondFactorChallenge {
            challenge,
            methods,
            expires_in: CHALLENGE_TTL_SECONDS,
        })
    }

    pub(super) async fn put_challenge_record(
        &self,
        stage: Stage,
        presented: &str,
        record: &ChallengeRecord,
    ) -> Result<(), AppError> {
        let payload = serde_json::to_vec(record)
            .map_err(|error| AppError::Internal(format!("cannot encode a challenge: {error}")))?;
        let ttl = std::time::Duration::from_secs(CHALLENGE_TTL_SECONDS.unsigned_abs());
        self.ephemeral()
            .put_challenge(&stage.key(presented), &payload, ttl)
            .await
            .map_err(|error| AppError::Unavailable(error.to_string()))
    }

    /// Takes a challenge of `stage` and checks it belongs to this client and is alive. Every
    /// refusal is audited and raised as a failed login before `ChallengeInvalid` is returned.
    pub(super) async fn take_challenge_record(
        &self,
        stage: Stage,
        presented: &str,
        request: &RequestContext,
    ) -> Result<(PendingLogin, ChallengeRecord), AppError> {
        if presented.is_empty() || presented.chars().count() > MAX_CHALLENGE_CHARS {
            return Err(self
                .reject_challenge("", "challenge_malformed", request)
                .await);
        }
        let taken = self
            .ephemeral()
            .take_challenge(&stage.key(presented))
            .await
            .map_err(|error| AppError::Unavailable(error.to_string()))?;
        let Some(payload) = taken else {
            return Err(self
                .reject_challenge("", "challenge_unknown_or_used", request)
                .await);
        };
        let record: ChallengeRecord = serde_json::from_slice(&payload)
            .map_err(|error| AppError::Internal(format!("unreadable challenge: {error}")))?;
        let account = self.store().account_by_id(record.account_id).await?;
        let Some(account) = account else {
            return Err(self
                .reject_challenge("", "challenge_account_gone", request)
                .await);
        };
        let name = account.name.as_str().to_owned();
        if record.expires_at_ms <= self.now().timestamp_millis() {
            return Err(self
                .reject_challenge(&name, "challenge_expired", request)
                .await);
        }
        if record.ip != request.ip.to_string() {
            return Err(self
                .reject_challenge(&name, "challenge_other_address", request)
                .await);
        }
        if self.suspension_bars(&account).await? {
            return Err(self
                .reject_challenge(&name, "account_suspended", request)
                .await);
        }
        Ok((PendingLogin::new(account), record))
    }

    async fn reject_challenge(
        &self,
        username: &str,
        reason: &str,
        request: &RequestContext,
    ) -> AppError {
        self.reject_second_factor(username, reason, LoginFailure::ChallengeInvalid, request)
            .await;
        AppError::ChallengeInvalid
    }

    /// Records a refused second factor: one audit entry with the reason and one security
    /// event (the fail2ban line).
    pub(in crate::services) async fn reject_second_factor(
        &self,
        username: &str,
        reason: &str,
        failure: LoginFailure,
        request: &RequestContext,
    ) {
        let now = self.now();
        let record = Actor::Anonymous {
            request: request.clone(),
        }
        .audit(now, "login.second_factor", "session")
        .with_after(json!({ "username": username }))
        .failed(reason);
        if let Err(error) = self.store().record_audit(record, now).await {
            tracing::error!(%error, "failed to write the audit entry of a rejected second factor");
        }
        self.events().emit(SecurityEvent::LoginFailed {
            username: username.to_owned(),
            ip: request.ip,
            reason: failure,
        });
    }
}
