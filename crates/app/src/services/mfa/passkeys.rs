//! Passkeys: registration and management by the logged-in account, and the passkey step of
//! the login.
//!
//! Ceremony state lives in the ephemeral store under a single-use key and is deleted by its
//! first use, because the WebAuthn library itself would accept one assertion twice. After a
//! login the credential's new counter is stored by a compare-and-set, so an assertion with a
//! counter that did not grow is refused by the library and two logins racing on one
//! credential cannot both succeed. The first passkey of an account without backup codes
//! brings ten, so a passkey-only account can still prove itself when removing a passkey.

use chrono::{DateTime, Utc};
use serde_json::Value;
use spiritus_auth::Password;
use spiritus_auth::codes::generate_backup_codes;
use spiritus_auth::passkey::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PasskeySetup, PublicKeyCredential,
    RegisterPublicKeyCredential, RelyingParty, WebauthnError,
};
use spiritus_core::events::LoginFailure;
use spiritus_store::{NewPasskey, StoreError, StoredPasskey};
use uuid::Uuid;

use super::challenge::Stage;
use super::proof::{FactorChecked, FactorMethod, LoginProof};
use super::totp::BackupCodes;
use crate::actor::{Actor, Principal, RequestContext};
use crate::error::AppError;
use crate::services::auth::TokenPair;
use crate::state::App;

/// Seconds a registration ceremony may take.
const REGISTRATION_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// Maximum passkey name length in characters.
const MAX_NAME_CHARS: usize = 64;

/// A passkey as listed, without key material.
#[derive(Debug, Clone)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&StoredPasskey> for PasskeyView {
    fn from(stored: &StoredPasskey) -> Self {
        Self {
            id: stored.id,
            name: stored.name.clone(),
            created_at: stored.created_at,
            last_used_at: stored.last_used_at,
        }
    }
}

/// A registered passkey, and the backup codes it brought when the account had none.
#[derive(Debug)]
pub struct PasskeyRegistered {
    pub passkey: PasskeyView,
    pub backup_codes: Option<BackupCodes>,
}

impl App {
    /// Returns the relying party, or 404 `passkeys_disabled` with the reason.
    pub(crate) fn relying_party(&self) -> Result<&RelyingParty, AppError> {
        match self.passkeys() {
            PasskeySetup::On(party) => Ok(party),
            PasskeySetup::Off { reason } => Err(AppError::PasskeysDisabled(reason.clone())),
        }
    }

    /// Starts registering a passkey; returns the options for `navigator.credentials.create`.
    pub async fn passkey_register_start(&self, principal: &Principal) -> Result<Value, AppError> {
        principal.require_password_changed()?;
        let party = self.relying_party()?;
        let existing = self.stored_passkeys(principal.id()).await?;
        let exclude = existing
            .iter()
            .map(|(_, key)| key.cred_id().clone())
            .collect();
        let name = principal.account.name.as_str();
        let (options, state) = party
            .webauthn()
            .start_passkey_registration(principal.id(), name, name, Some(exclude))
            .map_err(|error| AppError::Internal(format!("passkey registration: {error}")))?;
        let state = encode(&state)?;
        self.ephemeral()
            .put_challenge(&registration_key(principal.id()), &state, REGISTRATION_TTL)
            .await
            .map_err(|error| AppError::Unavailable(error.to_string()))?;
        encode_value(&options)
    }

    /// Finishes a registration started by the same account.
    pub async fn passkey_register_finish(
        &self,
        principal: &Principal,
        name: &str,
        credential: Value,
        request: &RequestContext,
    ) -> Result<PasskeyRegistered, AppError> {
        principal.require_password_changed()?;
        let name = passkey_name(name)?;
        let party = self.relying_party()?;
        let credential: RegisterPublicKeyCredential = parse_credential(credential)?;
        let state: PasskeyRegistration = self
            .take_ceremony(&registration_key(principal.id()))
            .await?
            .ok_or_else(|| AppError::Conflict {
                field: None,
                message: "no passkey registration is in progress (or it expired); call \
                          POST /api/auth/webauthn/register/start first"
                    .into(),
            })?;
        let passkey = party
            .webauthn()
            .finish_passkey_registration(&credential, &state)
            .map_err(|error| {
                tracing::info!(%error, account_id = %principal.id(), "passkey registration rejected");
                AppError::validation("credential", "the authenticator's response failed verification; register again")
            })?;
        self.store_new_passkey(principal, name, &passkey, request)
            .await
    }

    async fn store_new_passkey(
        &self,
        principal: &Principal,
        name: String,
        passkey: &Passkey,
        request: &RequestContext,
    ) -> Result<PasskeyRegistered, AppError> {
        let codes = generate_backup_codes();
        let backup_hashes = codes
            .iter()
            .map(|code| code.keyed_hash(self.backup_code_key(), principal.id()))
            .collect();
        let now = self.now();
        let id = Uuid::new_v4();
        let record = Actor::account(principal, request).audit(now, "passkey.register", "passkey");
        let new = NewPasskey {
            id,
            account_id: principal.id(),
            name: name.clone(),
            credential_id: credential_id_text(passkey)?,
            credential: encode_text(passkey)?,
            backup_hashes,
        };
        let issued = match self.store().add_passkey(new, now, record).await {
            Err(StoreError::Conflict { .. }) => {
                return Err(AppError::Conflict {
                    field: Some("credential"),
                    message: "this passkey is already registered".into(),
                });
            }
            other => other?,
        };
        Ok(PasskeyRegistered {
            passkey: PasskeyView {
                id,
                name,
                created_at: now,
                last_used_at: None,
            },
            backup_codes: issued
                .then(|| BackupCodes(codes.iter().map(|code| code.display()).collect())),
        })
    }

    pub async fn passkey_list(&self, principal: &Principal) -> Result<Vec<PasskeyView>, AppError> {
        principal.require_password_changed()?;
        self.passkey_views(principal.id()).await
    }

    pub(super) async fn passkey_views(
        &self,
        account_id: Uuid,
    ) -> Result<Vec<PasskeyView>, AppError> {
        let stored = self.store().passkeys_of(account_id).await?;
        Ok(stored.iter().map(PasskeyView::from).collect())
    }

    /// Renames one of the caller's own passkeys.
    pub async fn passkey_rename(
        &self,
        principal: &Principal,
        id: Uuid,
        name: &str,
        request: &RequestContext,
    ) -> Result<(), AppError> {
        principal.require_password_changed()?;
        let name = passkey_name(name)?;
        let now = self.now();
        let record = Actor::account(principal, request).audit(now, "passkey.rename", "passkey");
        if !self
            .store()
            .rename_passkey(principal.id(), id, &name, now, record)
            .await?
        {
            return Err(AppError::NotFound("passkey"));
        }
        Ok(())
    }

    /// Removes one of the caller's own passkeys after the password and a second factor.
    pub async fn passkey_remove(
        &self,
        principal: &Principal,
        id: Uuid,
        password: Password,
        code: &str,
        request: &RequestContext,
    ) -> Result<(), AppError> {
        let owned = self.store().passkeys_of(principal.id()).await?;
        if !owned.iter().any(|passkey| passkey.id == id) {
            return Err(AppError::NotFound("passkey"));
        }
        self.reauthenticate(principal, password, code, request)
            .await?;
        let now = self.now();
        let record = Actor::account(principal, request).audit(now, "passkey.remove", "passkey");
        if !self
            .store()
            .remove_passkey(principal.id(), id, true, now, record)
            .await?
        {
            return Err(AppError::NotFound("passkey"));
        }
        Ok(())
    }

    /// Turns a login challenge into a passkey ceremony; returns the options for
    /// `navigator.credentials.get`.
    pub async fn passkey_login_start(
        &self,
        challenge: &str,
        request: &RequestContext,
    ) -> Result<Value, AppError> {
        let party = self.relying_party()?;
        let (pending, mut record) = self
            .take_challenge_record(Stage::Login, challenge, request)
            .await?;
        let account = pending.account();
        let passkeys: Vec<Passkey> = self
            .stored_passkeys(account.id)
            .await?
            .into_iter()
            .map(|(_, passkey)| passkey)
            .collect();
        if passkeys.is_empty() {
            self.reject_second_factor(
                account.name.as_str(),
                "no_passkey",
                LoginFailure::WrongSecondFactor,
                request,
            )
            .await;
            return Err(AppError::InvalidCredentials);
        }
        let (options, state) = party
            .webauthn()
            .start_passkey_authentication(&passkeys)
            .map_err(|error| AppError::Internal(format!("passkey login: {error}")))?;
        record.passkey_state = Some(encode_value(&state)?);
        self.put_challenge_record(Stage::PasskeyLogin, challenge, &record)
            .await?;
        encode_value(&options)
    }

    /// Checks the assertion for the ceremony of `challenge` and opens the session.
    pub async fn passkey_login_finish(
        &self,
        challenge: &str,
        credential: Value,
        request: &RequestContext,
    ) -> Result<TokenPair, AppError> {
        let party = self.relying_party()?;
        let credential: PublicKeyCredential = parse_credential(credential)?;
        let (pending, record) = self
            .take_challenge_record(Stage::PasskeyLogin, challenge, request)
            .await?;
        let account = pending.account().clone();
        self.count_second_factor_attempt(&account, request).await?;
        let state: PasskeyAuthentication = record
            .passkey_state
            .ok_or_else(|| AppError::Internal("passkey ceremony without state".into()))
            .and_then(|state| {
                serde_json::from_value(state)
                    .map_err(|error| AppError::Internal(format!("ceremony state: {error}")))
            })?;
        let verified = party
            .webauthn()
            .finish_passkey_authentication(&credential, &state);
        let outcome = match verified {
            Ok(result) => self.record_passkey_use(account.id, &result).await?,
            Err(error) => Err(assertion_failure(&error)),
        };
        let factor = match outcome {
            Ok(factor) => factor,
            Err(reason) => {
                self.reject_second_factor(
                    account.name.as_str(),
                    reason,
                    LoginFailure::WrongSecondFactor,
                    request,
                )
                .await;
                return Err(AppError::InvalidCredentials);
            }
        };
        self.clear_second_factor_attempts(&account).await;
        let proof = LoginProof::with_factor(pending, factor)?;
        self.open_session(proof, request).await
    }

    /// Stores the credential's new counter; `Ok(Err(reason))` when the credential is not the
    /// account's or another login moved its counter first.
    async fn record_passkey_use(
        &self,
        account_id: Uuid,
        result: &spiritus_auth::passkey::AuthenticationResult,
    ) -> Result<Result<FactorChecked, &'static str>, AppError> {
        let stored = self.stored_passkeys(account_id).await?;
        let Some((row, mut passkey)) = stored
            .into_iter()
            .find(|(_, passkey)| passkey.cred_id() == result.cred_id())
        else {
            return Ok(Err("passkey_unknown_credential"));
        };
        // The library compares the counter with the copy taken when the ceremony started;
        // another login may have moved it since, so compare with the stored one too.
        let stored_counter = stored_counter(&row.credential)?;
        let counter = result.counter();
        if (counter > 0 || stored_counter > 0) && counter <= stored_counter {
            return Ok(Err("passkey_counter_not_increased"));
        }
        passkey.update_credential(result);
        let updated = encode_text(&passkey)?;
        let now = self.now();
        if !self
            .store()
            .update_passkey_credential(row.id, &row.credential, &updated, now)
            .await?
        {
            return Ok(Err("passkey_counter_race"));
        }
        Ok(Ok(FactorChecked::new(account_id, FactorMethod::Passkey)))
    }

    /// Loads and decodes the account's passkeys; an undecodable row is logged and skipped.
    async fn stored_passkeys(
        &self,
        account_id: Uuid,
    ) -> Result<Vec<(StoredPasskey, Passkey)>, AppError> {
        let rows = self.store().passkeys_of(account_id).await?;
        let mut decoded = Vec::with_capacity(rows.len());
        for row in rows {
            match serde_json::from_str::<Passkey>(&row.credential) {
                Ok(passkey) => decoded.push((row, passkey)),
                Err(error) => {
                    tracing::error!(passkey_id = %row.id, %error, "stored passkey is unreadable");
                }
            }
        }
        Ok(decoded)
    }

    async fn take_ceremony<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, AppError> {
        let taken = self
            .ephemeral()
            .take_challenge(key)
            .await
            .map_err(|error| AppError::Unavailable(error.to_string()))?;
        taken
            .map(|bytes| {
                serde_json::from_slice(&bytes)
                    .map_err(|error| AppError::Internal(format!("ceremony state: {error}")))
            })
            .transpose()
    }
}

/// Maps an assertion the library rejected to its audit reason.
fn assertion_failure(error: &WebauthnError) -> &'static str {
    match error {
        WebauthnError::InvalidRPOrigin => "passkey_wrong_origin",
        WebauthnError::InvalidRPIDHash => "passkey_wrong_rp_id",
        WebauthnError::CredentialPossibleCompromise => "passkey_counter_not_increased",
        WebauthnError::MismatchedChallenge => "passkey_wrong_challenge",
        WebauthnError::CredentialNotFound => "passkey_unknown_credential",
        _ => "passkey_assertion_invalid",
    }
}

/// Reads the signature counter inside a stored credential.
fn stored_counter(credential: &str) -> Result<u32, AppError> {
    let value: Value = serde_json::from_str(credential)
        .map_err(|error| AppError::Internal(format!("stored passkey: {error}")))?;
    value["cred"]["counter"]
        .as_u64()
        .and_then(|counter| u32::try_from(counter).ok())
        .ok_or_else(|| AppError::Internal("stored passkey has no counter".into()))
}

fn registration_key(account_id: Uuid) -> String {
    format!("passkey-register:{account_id}")
}

fn passkey_name(raw: &str) -> Result<String, AppError> {
    let trimmed = raw.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > MAX_NAME_CHARS {
        return Err(AppError::validation(
            "name",
            "must be 1 to 64 characters long",
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(AppError::validation(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

fn parse_credential<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, AppError> {
    serde_json::from_value(value).map_err(|_| {
        AppError::validation(
            "credential",
            "must be the PublicKeyCredential JSON the browser's WebAuthn call returned",
        )
    })
}

fn credential_id_text(passkey: &Passkey) -> Result<String, AppError> {
    match encode_value(passkey.cred_id())? {
        Value::String(text) => Ok(text),
        other => Ok(other.to_string()),
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, AppError> {
    serde_json::to_vec(value).map_err(|error| AppError::Internal(format!("encoding: {error}")))
}

fn encode_text<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|error| AppError::Internal(format!("encoding: {error}")))
}

fn encode_value<T: serde::Serialize>(value: &T) -> Result<Value, AppError> {
    serde_json::to_value(value).map_err(|error| AppError::Internal(format!("encoding: {error}")))
}
