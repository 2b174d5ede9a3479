//! Checking a typed second-factor code (TOTP or backup code) for an account, and the
//! per-account limit on such attempts.
//!
//! A code is normalised and classified first; a malformed one is refused with a message
//! saying what a code looks like. A TOTP code must match a step within one step of now that
//! is later than every step the account used before, recorded by one conditional update; a
//! backup code must delete its own row. Every refusal is audited with its reason, raised as a
//! failed login, and counted toward the account's limit.

use std::time::Duration;

use spiritus_auth::codes::{BackupCode, SecondFactorCode, TotpCode, parse_code};
use spiritus_core::account::Account;
use spiritus_core::events::LoginFailure;

use super::proof::{FactorChecked, FactorMethod};
use crate::actor::{Actor, RequestContext};
use crate::error::AppError;
use crate::state::App;

/// The window of the second-factor attempt limit.
const ATTEMPT_WINDOW: Duration = Duration::from_secs(300);

impl App {
    /// Counts one second-factor attempt for the account; past the limit the attempt is
    /// refused with 429 before any code is looked at.
    pub(in crate::services) async fn count_second_factor_attempt(
        &self,
        account: &Account,
        request: &RequestContext,
    ) -> Result<(), AppError> {
        let limits = &self.config().rate_limits;
        if !limits.enabled {
            return Ok(());
        }
        let decision = self
            .ephemeral()
            .hit_window(
                &attempt_key(account),
                ATTEMPT_WINDOW,
                limits.second_factor_attempts,
                self.now(),
            )
            .await
            .map_err(|error| AppError::Unavailable(error.to_string()))?;
        if decision.allowed {
            return Ok(());
        }
        self.reject_second_factor(
            account.name.as_str(),
            "rate_limited",
            LoginFailure::RateLimited,
            request,
        )
        .await;
        Err(AppError::RateLimited {
            retry_after: decision.retry_after,
            limit: decision.limit,
            window: ATTEMPT_WINDOW,
        })
    }

    /// Forgets the account's attempts after a successful second factor.
    pub(in crate::services) async fn clear_second_factor_attempts(&self, account: &Account) {
        if let Err(error) = self.ephemeral().clear_window(&attempt_key(account)).await {
            tracing::warn!(%error, "cannot reset the second-factor attempt counter");
        }
    }

    /// Checks a typed code and records its single use.
    pub(in crate::services) async fn check_code(
        &self,
        account: &Account,
        raw: &str,
        request: &RequestContext,
    ) -> Result<FactorChecked, AppError> {
        let code = match parse_code(raw) {
            Ok(code) => code,
            Err(error) => {
                self.reject_code(account, error.as_str(), request).await;
                return Err(AppError::validation("code", error.to_string()));
            }
        };
        let accepted = match &code {
            SecondFactorCode::Totp(code) => self.check_totp(account, code).await?,
            SecondFactorCode::Backup(code) => self.use_backup_code(account, code, request).await?,
        };
        match accepted {
            Ok(method) => Ok(FactorChecked::new(account.id, method)),
            Err(reason) => {
                self.reject_code(account, reason, request).await;
                Err(AppError::InvalidCredentials)
            }
        }
    }

    async fn reject_code(&self, account: &Account, reason: &str, request: &RequestContext) {
        self.reject_second_factor(
            account.name.as_str(),
            reason,
            LoginFailure::WrongSecondFactor,
            request,
        )
        .await;
    }

    /// `Ok(Err(reason))` for a wrong or reused code.
    async fn check_totp(
        &self,
        account: &Account,
        code: &TotpCode,
    ) -> Result<Result<FactorMethod, &'static str>, AppError> {
        let record = self.store().totp_record(account.id).await?;
        let Some(sealed) = record.and_then(|record| record.secret) else {
            return Ok(Err("totp_not_enrolled"));
        };
        let secret = self
            .totp_cipher()
            .open(&sealed, account.id)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let Some(step) = secret.verify(code, self.now().timestamp()) else {
            return Ok(Err("wrong_code"));
        };
        if !self.store().accept_totp_step(account.id, step).await? {
            return Ok(Err("reused_code"));
        }
        Ok(Ok(FactorMethod::Totp))
    }

    async fn use_backup_code(
        &self,
        account: &Account,
        code: &BackupCode,
        request: &RequestContext,
    ) -> Result<Result<FactorMethod, &'static str>, AppError> {
        let now = self.now();
        let hash = code.keyed_hash(self.backup_code_key(), account.id);
        let mut record = Actor::Anonymous {
            request: request.clone(),
        }
        .audit(now, "backup_code.use", "account");
        record.actor_id = account.id.to_string();
        record.actor_role = account.role.as_str().into();
        if self
            .store()
            .use_backup_code(account.id, &hash, now, record)
            .await?
        {
            Ok(Ok(FactorMethod::BackupCode))
        } else {
            Ok(Err("wrong_backup_code"))
        }
    }
}

fn attempt_key(account: &Account) -> String {
    format!("second-factor:{}", account.id)
}
