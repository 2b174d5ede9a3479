//! TOTP enrolment for the logged-in account, backup-code regeneration, and the overview of
//! an account's second factors.
//!
//! Setup stores a new secret sealed and pending; only a valid code turns it on, and that
//! code's step counts as used. The secret is shown once, at setup. Turning TOTP off and
//! regenerating backup codes need the current password and a valid second factor.

use spiritus_auth::Password;
use spiritus_auth::PasswordVerification;
use spiritus_auth::codes::{SecondFactorCode, generate_backup_codes, parse_code};
use spiritus_auth::totp::{TotpSecret, otpauth_uri};
use spiritus_core::events::LoginFailure;
use spiritus_store::StoreError;
use zeroize::Zeroizing;

use super::passkeys::PasskeyView;
use super::proof::FactorChecked;
use super::qr;
use crate::actor::{Actor, Principal, RequestContext};
use crate::error::AppError;
use crate::state::App;

/// Name of the panel in authenticator apps.
const ISSUER: &str = "Spiritus";

/// Enrolment data shown once at setup: the secret, its URI and the URI as QR codes.
pub struct TotpEnrolment {
    pub secret: Zeroizing<String>,
    pub otpauth_uri: Zeroizing<String>,
    pub qr_svg: String,
    pub qr_png: Vec<u8>,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment(***)")
    }
}

/// Freshly issued backup codes, as shown once to their owner.
pub struct BackupCodes(pub Vec<Zeroizing<String>>);

impl std::fmt::Debug for BackupCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupCodes({} codes, ***)", self.0.len())
    }
}

/// The second factors of an account, without any secret.
#[derive(Debug, Clone)]
pub struct FactorOverview {
    pub totp: bool,
    pub totp_pending: bool,
    pub backup_codes_left: u64,
    pub passkeys: Vec<PasskeyView>,
    pub passkeys_available: bool,
    pub enrolment_required: bool,
}

impl App {
    /// Starts TOTP enrolment with a fresh 160-bit secret; refused while TOTP is on.
    pub async fn totp_setup(
        &self,
        principal: &Principal,
        request: &RequestContext,
    ) -> Result<TotpEnrolment, AppError> {
        principal.require_password_changed()?;
        let secret = TotpSecret::generate();
        let sealed = self
            .totp_cipher()
            .seal(&secret, principal.id())
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let now = self.now();
        let record = Actor::account(principal, request).audit(now, "totp.setup", "account");
        match self
            .store()
            .set_pending_totp(principal.id(), &sealed, now, record)
            .await
        {
            Err(StoreError::Conflict { .. }) => {
                return Err(AppError::Conflict {
                    field: None,
                    message: "TOTP is already on; turn it off first to enrol a new device".into(),
                });
            }
            other => other?,
        }
        let uri = otpauth_uri(&secret, ISSUER, principal.account.name.as_str());
        let (qr_svg, qr_png) = qr::render(&uri)?;
        Ok(TotpEnrolment {
            secret: secret.to_base32(),
            otpauth_uri: uri,
            qr_svg,
            qr_png,
        })
    }

    /// Turns the pending secret on with a valid code and issues ten backup codes.
    pub async fn totp_confirm(
        &self,
        principal: &Principal,
        code: &str,
        request: &RequestContext,
    ) -> Result<BackupCodes, AppError> {
        principal.require_password_changed()?;
        let account = &principal.account;
        let pending = self
            .store()
            .totp_record(account.id)
            .await?
            .and_then(|record| record.pending_secret)
            .ok_or_else(|| AppError::Conflict {
                field: None,
                message: "no TOTP setup waits for confirmation; call POST /api/auth/totp/setup"
                    .into(),
            })?;
        self.count_second_factor_attempt(account, request).await?;
        let code = match parse_code(code) {
            Ok(SecondFactorCode::Totp(code)) => code,
            Ok(SecondFactorCode::Backup(_)) => {
                return Err(AppError::validation(
                    "code",
                    "enter the 6-digit code the authenticator app shows",
                ));
            }
            Err(error) => return Err(AppError::validation("code", error.to_string())),
        };
        let secret = self
            .totp_cipher()
            .open(&pending, account.id)
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let Some(step) = secret.verify(&code, self.now().timestamp()) else {
            return Err(AppError::validation(
                "code",
                "the code does not match; check the device's clock and enter the current code",
            ));
        };
        let codes = generate_backup_codes();
        let hashes: Vec<[u8; 32]> = codes
            .iter()
            .map(|code| code.keyed_hash(self.backup_code_key(), account.id))
            .collect();
        let now = self.now();
        let record = Actor::account(principal, request).audit(now, "totp.confirm", "account");
        let confirmed = self
            .store()
            .confirm_totp(account.id, &pending, step, &hashes, now, record)
            .await?;
        if !confirmed {
            return Err(AppError::Conflict {
                field: None,
                message: "the TOTP setup changed meanwhile; start again".into(),
            });
        }
        self.clear_second_factor_attempts(account).await;
        Ok(BackupCodes(
            codes.iter().map(|code| code.display()).collect(),
        ))
    }

    /// Turns TOTP off. Without passkeys the backup codes go too.
    pub async fn totp_disable(
        &self,
        principal: &Principal,
        password: Password,
        code: &str,
        request: &RequestContext,
    ) -> Result<(), AppError> {
        let summary = self.store().factor_summary(principal.id()).await?;
        if !summary.totp {
            return Err(AppError::Conflict {
                field: None,
                message: "TOTP is not on".into(),
            });
        }
        self.reauthenticate(principal, password, code, request)
            .await?;
        let now = self.now();
        let record = Actor::account(principal, request).audit(now, "totp.disable", "account");
        self.store()
            .disable_totp(principal.id(), summary.passkeys == 0, now, record)
            .await?;
        Ok(())
    }

    /// Voids the backup codes and issues ten new ones.
    pub async fn regenerate_backup_codes(
        &self,
        principal: &Principal,
        password: Password,
        code: &str,
        request: &RequestContext,
    ) -> Result<BackupCodes, AppError> {
        let summary = self.store().factor_summary(principal.id()).await?;
        if !summary.has_second_factor() {
            return Err(AppError::Conflict {
                field: None,
                message: "backup codes need TOTP or a passkey first".into(),
            });
        }
        self.reauthenticate(principal, password, code, request)
            .await?;
        let codes = generate_backup_codes();
        let hashes: Vec<[u8; 32]> = codes
            .iter()
            .map(|code| code.keyed_hash(self.backup_code_key(), principal.id()))
            .collect();
        let now = self.now();
        let record =
            Actor::account(principal, request).audit(now, "backup_codes.regenerate", "account");
        self.store()
            .replace_backup_codes(principal.id(), &hashes, now, record)
            .await?;
        Ok(BackupCodes(
            codes.iter().map(|code| code.display()).collect(),
        ))
    }

    /// Lists the second factors of the caller.
    pub async fn second_factor_overview(
        &self,
        principal: &Principal,
    ) -> Result<FactorOverview, AppError> {
        let summary = self.store().factor_summary(principal.id()).await?;
        let totp_pending = self
            .store()
            .totp_record(principal.id())
            .await?
            .is_some_and(|record| record.pending_secret.is_some());
        Ok(FactorOverview {
            totp: summary.totp,
            totp_pending,
            backup_codes_left: summary.backup_codes_left,
            passkeys: self.passkey_views(principal.id()).await?,
            passkeys_available: self.relying_party().is_ok(),
            enrolment_required: principal.enrolment_required,
        })
    }

    /// Checks the current password and then a TOTP or backup code, for changes to the
    /// account's own second factors. Counts toward the second-factor limit.
    pub(in crate::services) async fn reauthenticate(
        &self,
        principal: &Principal,
        password: Password,
        code: &str,
        request: &RequestContext,
    ) -> Result<FactorChecked, AppError> {
        principal.require_password_changed()?;
        let account = &principal.account;
        self.count_second_factor_attempt(account, request).await?;
        let stored = account.password_hash.clone();
        let verification = self
            .with_hasher(move |hasher| hasher.verify(&password, &stored))
            .await?;
        if !matches!(verification, Ok(PasswordVerification::Valid { .. })) {
            self.reject_login(account.name.as_str(), LoginFailure::WrongPassword, request)
                .await;
            return Err(AppError::InvalidCredentials);
        }
        let checked = self.check_code(account, code, request).await?;
        self.clear_second_factor_attempts(account).await;
        Ok(checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolment_and_codes_debug_show_no_secret() {
        let enrolment = TotpEnrolment {
            secret: Zeroizing::new("JBSWY3DPEHPK3PXP".into()),
            otpauth_uri: Zeroizing::new("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP".into()),
            qr_svg: String::new(),
            qr_png: Vec::new(),
        };
        let codes = BackupCodes(vec![Zeroizing::new("abcde-fghjk".into())]);
        let shown = format!("{enrolment:?} {codes:?}");
        assert!(!shown.contains("JBSWY3DPEHPK3PXP"), "{shown}");
        assert!(!shown.contains("abcde"), "{shown}");
    }
}
