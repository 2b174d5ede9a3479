//! When a login needs a second factor, and who must enrol one.
//!
//! After the password, a login goes straight to a session only when the account has no
//! second factor, or when `mfa.skip_on_known_ips_hours` is set and the client address passed
//! a second factor for this account within that many hours. Otherwise it gets a challenge.
//! Every session records its address; an address the account never used before (when it has
//! used any) raises a new-location event and audit entry.
//!
//! The owner can require every admin (and the owner) to enrol a second factor; the runtime
//! setting overrides `mfa.required_for_admins`. Such an account still logs in, but every call
//! except enrolment, the second-factor listing, the password change and logout is refused
//! until it has one.

use chrono::Duration;
use serde_json::{Value, json};
use spiritus_core::account::{Account, Role};
use spiritus_core::events::SecurityEvent;
use spiritus_store::{FactorSummary, LoginLocation};

use super::challenge::SecondFactorChallenge;
use super::proof::{
    FactorMethod, LoginProof, NoFactorEnrolled, PasswordChecked, RecentlyVerifiedAddress,
};
use crate::actor::{Actor, Principal, RequestContext};
use crate::error::AppError;
use crate::services::auth::LoginOutcome;
use crate::services::login_limits::LoginGate;
use crate::state::App;

/// Settings key of the runtime policy.
pub const MFA_POLICY_SETTING: &str = "security.mfa_required_for_admins";

/// Source of the effective policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    /// Set by the owner at run time.
    Setting,
    /// `mfa.required_for_admins` in the configuration.
    Config,
}

impl PolicySource {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::Setting => "setting",
            PolicySource::Config => "config",
        }
    }
}

/// The security settings the owner can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityPolicy {
    pub mfa_required_for_admins: bool,
    pub source: PolicySource,
}

impl App {
    pub async fn security_policy(&self) -> Result<SecurityPolicy, AppError> {
        match self.store().setting(MFA_POLICY_SETTING).await? {
            Some(Value::Bool(required)) => Ok(SecurityPolicy {
                mfa_required_for_admins: required,
                source: PolicySource::Setting,
            }),
            _ => Ok(SecurityPolicy {
                mfa_required_for_admins: self.config().mfa.required_for_admins,
                source: PolicySource::Config,
            }),
        }
    }

    /// Sets the policy (owner only); the change and the old value are audited.
    pub async fn set_security_policy(
        &self,
        principal: &Principal,
        mfa_required_for_admins: bool,
        request: &RequestContext,
    ) -> Result<SecurityPolicy, AppError> {
        principal.require_ready()?;
        principal.require_owner()?;
        let now = self.now();
        let record = Actor::account(principal, request).audit(now, "settings.update", "setting");
        self.store()
            .put_setting(
                MFA_POLICY_SETTING,
                &json!(mfa_required_for_admins),
                now,
                record,
            )
            .await?;
        self.security_policy().await
    }

    /// Returns whether the policy requires this account to enrol a second factor it lacks.
    pub async fn enrolment_required(&self, account: &Account) -> Result<bool, AppError> {
        if !matches!(account.role, Role::Owner | Role::Admin) {
            return Ok(false);
        }
        if !self.security_policy().await?.mfa_required_for_admins {
            return Ok(false);
        }
        Ok(!self
            .store()
            .factor_summary(account.id)
            .await?
            .has_second_factor())
    }

    /// Decides what a verified password leads to: a session, or a challenge.
    ///
    /// With [`LoginGate::SecondFactorRequired`] a known address does not spare the challenge,
    /// and an owner without a second factor is let in with an alert urging enrolment.
    pub(in crate::services) async fn after_password(
        &self,
        checked: PasswordChecked,
        gate: LoginGate,
        request: &RequestContext,
    ) -> Result<LoginOutcome, AppError> {
        let summary = self.store().factor_summary(checked.account().id).await?;
        if let Some(none) = NoFactorEnrolled::check(&summary) {
            if gate == LoginGate::SecondFactorRequired {
                self.events().emit(SecurityEvent::OwnerWithoutSecondFactor {
                    account_id: checked.account().id,
                });
            }
            let proof = LoginProof::without_factors(checked, none);
            return Ok(LoginOutcome::Tokens(
                self.open_session(proof, request).await?,
            ));
        }
        let known_address = match gate {
            LoginGate::Open => {
                self.recently_verified_address(checked.account(), request)
                    .await?
            }
            LoginGate::SecondFactorRequired => None,
        };
        if let Some(recent) = known_address {
            let proof = LoginProof::from_known_address(checked, recent);
            return Ok(LoginOutcome::Tokens(
                self.open_session(proof, request).await?,
            ));
        }
        let methods = self.challenge_methods(&summary);
        let challenge: SecondFactorChallenge = self
            .issue_login_challenge(&checked, methods, request)
            .await?;
        Ok(LoginOutcome::SecondFactor(challenge))
    }

    fn challenge_methods(&self, summary: &FactorSummary) -> Vec<FactorMethod> {
        let mut methods = Vec::new();
        if summary.totp {
            methods.push(FactorMethod::Totp);
        }
        if summary.backup_codes_left > 0 {
            methods.push(FactorMethod::BackupCode);
        }
        if summary.passkeys > 0 && self.relying_party().is_ok() {
            methods.push(FactorMethod::Passkey);
        }
        methods
    }

    async fn recently_verified_address(
        &self,
        account: &Account,
        request: &RequestContext,
    ) -> Result<Option<RecentlyVerifiedAddress>, AppError> {
        let hours = self.config().mfa.skip_on_known_ips_hours;
        if hours == 0 {
            return Ok(None);
        }
        let known = self
            .store()
            .known_ip(account.id, &request.ip.to_string())
            .await?;
        let cutoff = self.now() - Duration::hours(i64::from(hours));
        let recent = known
            .and_then(|known| known.last_second_factor_at)
            .is_some_and(|verified_at| verified_at >= cutoff);
        Ok(recent.then(RecentlyVerifiedAddress::new))
    }

    /// Records the address of a new session; a new one is audited and raised as an event.
    pub(in crate::services) async fn note_login_address(
        &self,
        account: &Account,
        second_factor: bool,
        request: &RequestContext,
    ) -> Result<(), AppError> {
        let now = self.now();
        let mut record = Actor::Anonymous {
            request: request.clone(),
        }
        .audit(now, "login.new_location", "account");
        record.actor_id = account.id.to_string();
        record.actor_role = account.role.as_str().into();
        let location = self
            .store()
            .record_login_ip(
                account.id,
                &request.ip.to_string(),
                second_factor,
                now,
                record,
            )
            .await?;
        if location == LoginLocation::New {
            self.events().emit(SecurityEvent::NewLocation {
                account_id: account.id,
                username: account.name.to_string(),
                ip: request.ip,
            });
        }
        Ok(())
    }
}
