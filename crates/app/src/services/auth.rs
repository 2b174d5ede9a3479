//! Logging in, refreshing, logging out, changing a password, and authenticating a token.
//!
//! An unknown account name and a wrong password lead to the same answer after the same work:
//! the unknown name runs one Argon2 verification against a dummy hash. A verified password
//! goes to the second-factor policy (`services::mfa`), which opens a session or answers with
//! a challenge; a session opens only with a [`LoginProof`].

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use spiritus_auth::password::{MAX_PASSWORD_BYTES, check_new_password};
use spiritus_auth::{OpaqueToken, Password, PasswordVerification};
use spiritus_core::account::{Account, Role};
use spiritus_core::events::{LoginFailure, SecurityEvent};
use spiritus_store::{AuditRecordExt, NewSession, RotateOutcome};
use uuid::Uuid;

use crate::actor::{Actor, Principal, RequestContext};
use crate::error::AppError;
use crate::services::login_limits::{LoginGate, USERNAME_WINDOW};
use crate::services::mfa::{LoginProof, PasswordChecked, SecondFactorChallenge};
use crate::state::App;

/// Prefix of refresh tokens, so a leaked one is recognisable in scanners.
const REFRESH_PREFIX: &str = "spr_";

/// A freshly issued access and refresh token.
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: OpaqueToken,
    pub expires_in: i64,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_expires_at: DateTime<Utc>,
    pub must_change_password: bool,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// What a password login led to.
#[derive(Debug)]
pub enum LoginOutcome {
    Tokens(TokenPair),
    /// The password was right; a second factor must follow.
    SecondFactor(SecondFactorChallenge),
}

impl App {
    /// Checks a username and password and opens a session.
    pub async fn login(
        &self,
        username: &str,
        password: Password,
        request: &RequestContext,
    ) -> Result<LoginOutcome, AppError> {
        if password.expose().len() > MAX_PASSWORD_BYTES {
            return Err(AppError::validation(
                "password",
                "must be at most 4096 bytes",
            ));
        }
        let gate = self.gate_password_attempt(username, request).await?;
        if self.config().honey.is_honey_name(username) {
            let pair = self.honey_login(username, password, request).await?;
            return Ok(LoginOutcome::Tokens(pair));
        }
        let account = if username.len() <= 64 {
            self.store().account_by_name(username).await?
        } else {
            None
        };
        if gate == LoginGate::SecondFactorRequired {
            self.refuse_without_second_factor(username, account.as_ref(), request)
                .await?;
        }

        let Some(account) = account else {
            self.with_hasher(move |hasher| hasher.verify_dummy(&password))
                .await?;
            self.reject_login(username, LoginFailure::UnknownAccount, request)
                .await;
            return Err(AppError::InvalidCredentials);
        };

        let stored = account.password_hash.clone();
        let verification = self
            .with_hasher(move |hasher| {
                let verification = hasher.verify(&password, &stored);
                let rehash = match verification {
                    Ok(PasswordVerification::Valid { needs_rehash: true }) => {
                        hasher.hash(&password).ok()
                    }
                    _ => None,
                };
                (verification, rehash)
            })
            .await?;
        match verification {
            (Ok(PasswordVerification::Valid { .. }), rehash) => {
                if let Some(new_hash) = rehash {
                    self.store()
                        .rehash_password(account.id, &account.password_hash, &new_hash)
                        .await?;
                }
            }
            (Ok(PasswordVerification::Invalid), _) => {
                self.reject_login(username, LoginFailure::WrongPassword, request)
                    .await;
                self.count_password_failure(&account).await?;
                return Err(AppError::InvalidCredentials);
            }
            (Err(error), _) => {
                tracing::error!(account_id = %account.id, %error, "stored password hash is unusable");
                self.reject_login(username, LoginFailure::WrongPassword, request)
                    .await;
                return Err(AppError::InvalidCredentials);
            }
        }

        if self.suspension_bars(&account).await? {
            self.reject_login(username, LoginFailure::AccountSuspended, request)
                .await;
            return Err(AppError::InvalidCredentials);
        }
        let gate = if account.suspension.is_some() {
            LoginGate::SecondFactorRequired
        } else {
            gate
        };
        self.after_password(PasswordChecked::new(account), gate, request)
            .await
    }

    /// Rejects a login past the username's limit across all addresses unless it can complete
    /// a second factor or is the owner's. The rejection comes before any hash runs and is the
    /// same for an unknown name, so it reveals nothing about the password or the account.
    async fn refuse_without_second_factor(
        &self,
        username: &str,
        account: Option<&Account>,
        request: &RequestContext,
    ) -> Result<(), AppError> {
        if let Some(account) = account {
            if account.role == Role::Owner {
                return Ok(());
            }
            let summary = self.store().factor_summary(account.id).await?;
            if summary.has_second_factor() {
                return Ok(());
            }
        }
        self.reject_login(username, LoginFailure::SecondFactorRequired, request)
            .await;
        Err(AppError::RateLimited {
            retry_after: USERNAME_WINDOW,
            limit: self.config().rate_limits.login_username_per_hour,
            window: USERNAME_WINDOW,
        })
    }

    /// Records a failed login: one audit entry and one security event (the fail2ban line).
    pub(crate) async fn reject_login(
        &self,
        username: &str,
        reason: LoginFailure,
        request: &RequestContext,
    ) {
        let now = self.now();
        let shown_name: String = username.chars().take(64).collect();
        let record = Actor::Anonymous {
            request: request.clone(),
        }
        .audit(now, "login", "session")
        .with_after(json!({ "username": shown_name }))
        .failed(reason.as_str());
        if let Err(error) = self.store().record_audit(record, now).await {
            tracing::error!(%error, "cannot write the audit entry of a failed login");
        }
        self.events().emit(SecurityEvent::LoginFailed {
            username: shown_name,
            ip: request.ip,
            reason,
        });
    }

    /// Creates a session for a login whose every required factor was checked, records its
    /// address, and issues its first tokens.
    pub(crate) async fn open_session(
        &self,
        proof: LoginProof,
        request: &RequestContext,
    ) -> Result<TokenPair, AppError> {
        let account = proof.account();
        let now = self.now();
        let session_id = Uuid::new_v4();
        let refresh = OpaqueToken::generate(REFRESH_PREFIX);
        let refresh_expires_at = now + self.jwt().settings().refresh_ttl;

        let record = Actor::Anonymous {
            request: request.clone(),
        }
        .audit(now, "login", "session")
        .with_resource_id(session_id)
        .with_after(json!({
            "account_id": account.id,
            "username": account.name.as_str(),
            "second_factor": proof.second_factor().map(|method| method.as_str()),
        }));
        let mut record = record;
        record.actor_id = account.id.to_string();
        record.actor_role = account.role.as_str().into();

        self.store()
            .create_session(
                NewSession {
                    id: session_id,
                    account_id: account.id,
                    ip: Some(request.ip.to_string()),
                    user_agent: request.user_agent.clone(),
                    refresh_hash: refresh.hash(),
                    refresh_expires_at,
                },
                now,
                record,
            )
            .await?;
        self.events().emit(SecurityEvent::LoginSucceeded {
            account_id: account.id,
            username: account.name.to_string(),
            ip: request.ip,
        });
        self.note_login_address(account, proof.second_factor().is_some(), request)
            .await?;
        self.issue_pair(account, session_id, refresh, refresh_expires_at, now)
    }

    fn issue_pair(
        &self,
        account: &Account,
        session_id: Uuid,
        refresh: OpaqueToken,
        refresh_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<TokenPair, AppError> {
        let access = self
            .jwt()
            .issue(account.id, session_id, now)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        Ok(TokenPair {
            access_token: access.token,
            refresh_token: refresh,
            expires_in: self.jwt().settings().access_ttl.num_seconds(),
            access_expires_at: access.expires_at,
            refresh_expires_at,
            must_change_password: account.must_change_password,
        })
    }

    /// Exchanges a live refresh token for a new pair; a reused one revokes its session.
    pub async fn refresh(
        &self,
        presented: &str,
        request: &RequestContext,
    ) -> Result<TokenPair, AppError> {
        let now = self.now();
        let presented = OpaqueToken::from_presented(presented);
        let successor = OpaqueToken::generate(REFRESH_PREFIX);
        let successor_expires_at = now + self.jwt().settings().refresh_ttl;
        let actor = Actor::Anonymous {
            request: request.clone(),
        };

        let outcome = self
            .store()
            .rotate_refresh(
                &presented.hash(),
                &successor.hash(),
                successor_expires_at,
                now,
                |session_id, account_id| {
                    let mut record = actor
                        .audit(now, "token.refresh", "session")
                        .with_resource_id(session_id);
                    record.actor_id = account_id.to_string();
                    record
                },
            )
            .await?;

        match outcome {
            RotateOutcome::Rotated {
                session_id,
                account_id,
            } => {
                let account = self
                    .store()
                    .account_by_id(account_id)
                    .await?
                    .ok_or(AppError::Unauthorized)?;
                if self.suspension_bars(&account).await? {
                    return Err(AppError::Unauthorized);
                }
                self.events().emit(SecurityEvent::TokenRefreshed {
                    account_id,
                    session_id,
                    ip: request.ip,
                });
                self.issue_pair(&account, session_id, successor, successor_expires_at, now)
            }
            RotateOutcome::Reused {
                session_id,
                account_id,
            } => {
                self.revoke_session_tokens(session_id, now).await?;
                let mut record = actor
                    .audit(now, "token.refresh_reuse", "session")
                    .with_resource_id(session_id)
                    .failed("refresh token reused; session revoked");
                record.actor_id = account_id.to_string();
                self.store().record_audit(record, now).await?;
                self.events().emit(SecurityEvent::RefreshTokenReused {
                    account_id,
                    session_id,
                    ip: request.ip,
                });
                Err(AppError::Unauthorized)
            }
            RotateOutcome::Dead | RotateOutcome::Unknown => Err(AppError::Unauthorized),
        }
    }

    /// Ends the caller's session: its access token and every other token of the session.
    pub async fn logout(
        &self,
        principal: &Principal,
        request: &RequestContext,
    ) -> Result<(), AppError> {
        let now = self.now();
        self.revoke_token(principal.token_id, principal.token_expires_at, now)
            .await?;
        self.store()
            .revoke_session(principal.session_id, "logout", now)
            .await?;
        self.revoke_session_tokens(principal.session_id, now)
            .await?;
        let record = Actor::account(principal, request)
            .audit(now, "logout", "session")
            .with_resource_id(principal.session_id);
        self.store().record_audit(record, now).await?;
        self.events().emit(SecurityEvent::LoggedOut {
            account_id: principal.id(),
            session_id: principal.session_id,
            ip: request.ip,
        });
        Ok(())
    }

    /// Changes the caller's password and ends every session of the account.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: Password,
        new: Password,
        request: &RequestContext,
    ) -> Result<(), AppError> {
        check_new_password(new.expose()).map_err(|message| AppError::validation("new", message))?;
        if current.expose() == new.expose() {
            return Err(AppError::validation(
                "new",
                "must differ from the current password",
            ));
        }
        self.gate_password_attempt(principal.account.name.as_str(), request)
            .await?;
        let stored = principal.account.password_hash.clone();
        let (verification, new_hash) = self
            .with_hasher(move |hasher| {
                let verification = hasher.verify(&current, &stored);
                let new_hash = match verification {
                    Ok(PasswordVerification::Valid { .. }) => Some(hasher.hash(&new)),
                    _ => None,
                };
                (verification, new_hash)
            })
            .await?;
        if !matches!(verification, Ok(PasswordVerification::Valid { .. })) {
            self.reject_login(
                principal.account.name.as_str(),
                LoginFailure::WrongPassword,
                request,
            )
            .await;
            return Err(AppError::InvalidCredentials);
        }
        let new_hash = new_hash
            .ok_or_else(|| AppError::Internal("no new hash".into()))?
            .map_err(|error| AppError::Internal(error.to_string()))?;

        let now = self.now();
        let record = Actor::account(principal, request).audit(now, "password.change", "account");
        self.store()
            .set_password(principal.id(), &new_hash, false, now, record)
            .await?;
        self.revoke_all_sessions(principal.id(), "password_change", now)
            .await?;
        self.events().emit(SecurityEvent::PasswordChanged {
            account_id: principal.id(),
            ip: Some(request.ip),
        });
        Ok(())
    }

    /// Revokes every session of an account and the access tokens issued under them.
    pub async fn revoke_all_sessions(
        &self,
        account_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let sessions = self
            .store()
            .revoke_account_sessions(account_id, reason, now)
            .await?;
        for session_id in &sessions {
            self.revoke_session_tokens(*session_id, now).await?;
        }
        Ok(sessions.len())
    }

    /// Marks a session id revoked for as long as any access token of it can live.
    pub(crate) async fn revoke_session_tokens(
        &self,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let expires_at = now + self.jwt().settings().access_ttl + Duration::minutes(1);
        self.revoke_id(&format!("sid:{session_id}"), expires_at, now)
            .await
    }

    async fn revoke_token(
        &self,
        token_id: Uuid,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.revoke_id(&format!("jti:{token_id}"), expires_at, now)
            .await
    }

    /// Writes a revocation to the durable store first, then to the ephemeral store.
    async fn revoke_id(
        &self,
        token_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.store().record_revocation(token_id, expires_at).await?;
        let ttl = (expires_at - now).to_std().unwrap_or_default();
        self.ephemeral()
            .revoke(token_id, ttl)
            .await
            .map_err(|error| AppError::Unavailable(error.to_string()))
    }

    /// Verifies an access token and loads its account. Fails closed: when the revocation
    /// store cannot answer, the call is refused with 503.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AppError> {
        let now = self.now();
        let claims = self.jwt().verify(token, now).map_err(|error| {
            tracing::debug!(target: "spiritus::auth", %error, "access token rejected");
            AppError::Unauthorized
        })?;
        let (Some(account_id), Some(session_id), Some(expires_at)) = (
            claims.account_id(),
            claims.session_id(),
            claims.expires_at(),
        ) else {
            return Err(AppError::Unauthorized);
        };
        let token_id = Uuid::parse_str(&claims.jti).map_err(|_| AppError::Unauthorized)?;

        if self.is_revoked(token_id, session_id).await? {
            return Err(AppError::Unauthorized);
        }
        let account = self
            .store()
            .account_by_id(account_id)
            .await?
            .ok_or(AppError::Unauthorized)?;
        if self.suspension_bars(&account).await? {
            return Err(AppError::Unauthorized);
        }
        let enrolment_required = self.enrolment_required(&account).await?;
        Ok(Principal {
            enrolment_required,
            account,
            session_id,
            token_id,
            token_expires_at: expires_at,
        })
    }

    async fn is_revoked(&self, token_id: Uuid, session_id: Uuid) -> Result<bool, AppError> {
        let ids = [format!("jti:{token_id}"), format!("sid:{session_id}")];
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let unavailable = |error: spiritus_store::StoreError| {
            tracing::warn!(%error, "revocation store unavailable; refusing authenticated calls");
            AppError::Unavailable("the revocation store is unavailable".into())
        };
        let status = self
            .ephemeral()
            .revocation_status(&ids)
            .await
            .map_err(unavailable)?;
        if !status.needs_restore {
            return Ok(status.revoked);
        }
        self.restore_revocations().await?;
        let status = self
            .ephemeral()
            .revocation_status(&ids)
            .await
            .map_err(unavailable)?;
        Ok(status.revoked)
    }

    /// Refills the ephemeral store with the durable record of revocations still in force.
    pub async fn restore_revocations(&self) -> Result<usize, AppError> {
        let now = self.now();
        let live: Vec<(String, std::time::Duration)> = self
            .store()
            .live_revocations(now)
            .await?
            .into_iter()
            .map(|(token_id, expires_at)| {
                (token_id, (expires_at - now).to_std().unwrap_or_default())
            })
            .collect();
        self.ephemeral()
            .restore_revocations(&live)
            .await
            .map_err(|error| AppError::Unavailable(error.to_string()))?;
        tracing::info!(
            count = live.len(),
            "restored token revocations into the ephemeral store"
        );
        Ok(live.len())
    }
}
