//! The login flow as types. A session opens only with a [`LoginProof`], and a proof can be
//! built only from what the checks themselves produce:
//!
//! * [`PasswordChecked`]: the password check passed (built by the password check alone);
//! * [`PendingLogin`]: a second-factor challenge was taken and matched its account, address
//!   and lifetime (built by the challenge check alone);
//! * [`FactorChecked`]: a TOTP code, backup code or passkey assertion was verified and its
//!   single use recorded (built by the factor checks alone);
//! * [`NoFactorEnrolled`] and [`RecentlyVerifiedAddress`]: the policy decided that this login
//!   needs no second factor.
//!
//! Every constructor is visible only inside `services`, so no handler or other module can
//! open a session without going through the checks.

use spiritus_core::account::Account;
use spiritus_store::FactorSummary;
use uuid::Uuid;

use crate::error::AppError;

/// Second factor that proved a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorMethod {
    Totp,
    BackupCode,
    Passkey,
}

impl FactorMethod {
    /// Returns the name used in the API (`methods`) and in audit entries.
    pub fn as_str(self) -> &'static str {
        match self {
            FactorMethod::Totp => "totp",
            FactorMethod::BackupCode => "backup_code",
            FactorMethod::Passkey => "webauthn",
        }
    }
}

/// The password of this account was verified just now.
#[derive(Debug)]
pub struct PasswordChecked {
    account: Account,
}

impl PasswordChecked {
    pub(in crate::services) fn new(account: Account) -> Self {
        Self { account }
    }

    pub fn account(&self) -> &Account {
        &self.account
    }
}

/// A login whose password was verified in an earlier request and whose challenge was just
/// taken from the store and matched.
#[derive(Debug)]
pub struct PendingLogin {
    account: Account,
}

impl PendingLogin {
    pub(in crate::services) fn new(account: Account) -> Self {
        Self { account }
    }

    pub fn account(&self) -> &Account {
        &self.account
    }
}

/// A second factor of `account_id` was verified and its single use recorded.
#[derive(Debug)]
pub struct FactorChecked {
    account_id: Uuid,
    method: FactorMethod,
}

impl FactorChecked {
    pub(in crate::services) fn new(account_id: Uuid, method: FactorMethod) -> Self {
        Self { account_id, method }
    }

    pub fn method(&self) -> FactorMethod {
        self.method
    }

    pub fn account_id(&self) -> Uuid {
        self.account_id
    }
}

/// The account has no second factor to ask for.
#[derive(Debug)]
pub struct NoFactorEnrolled(());

impl NoFactorEnrolled {
    pub(in crate::services) fn check(summary: &FactorSummary) -> Option<Self> {
        (!summary.has_second_factor()).then_some(Self(()))
    }
}

/// The login comes from an address where this account passed a second factor recently
/// enough for the configured `mfa.skip_on_known_ips_hours`.
#[derive(Debug)]
pub struct RecentlyVerifiedAddress(());

impl RecentlyVerifiedAddress {
    pub(in crate::services) fn new() -> Self {
        Self(())
    }
}

/// Proof that every factor this login needs was checked: the only way to open a session.
#[derive(Debug)]
pub struct LoginProof {
    account: Account,
    second_factor: Option<FactorMethod>,
}

impl LoginProof {
    pub(in crate::services) fn without_factors(
        checked: PasswordChecked,
        _none: NoFactorEnrolled,
    ) -> Self {
        Self {
            account: checked.account,
            second_factor: None,
        }
    }

    pub(in crate::services) fn from_known_address(
        checked: PasswordChecked,
        _address: RecentlyVerifiedAddress,
    ) -> Self {
        Self {
            account: checked.account,
            second_factor: None,
        }
    }

    /// Joins a pending login with the factor that proves it; a factor of another account is
    /// refused.
    pub(in crate::services) fn with_factor(
        pending: PendingLogin,
        factor: FactorChecked,
    ) -> Result<Self, AppError> {
        if factor.account_id != pending.account.id {
            return Err(AppError::InvalidCredentials);
        }
        Ok(Self {
            account: pending.account,
            second_factor: Some(factor.method),
        })
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Returns the second factor that was checked, if the login needed one.
    pub fn second_factor(&self) -> Option<FactorMethod> {
        self.second_factor
    }
}
