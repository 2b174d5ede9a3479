//! Panel accounts: the owner created at first start, admins and agents.

use rand::Rng;
use spiritus_auth::Password;
use spiritus_auth::password::check_new_password;
use spiritus_core::account::{Account, AccountName, Role};
use spiritus_store::NewAccount;
use zeroize::Zeroizing;

use crate::actor::Actor;
use crate::error::AppError;
use crate::state::App;

/// Name of the owner account created at first start.
pub const FIRST_OWNER_NAME: &str = "admin";

/// Characters of generated one-time passwords: no look-alikes (0/O, 1/l/I).
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Generates a random one-time password of 24 characters (about 140 bits).
pub fn generate_password() -> Zeroizing<String> {
    let mut rng = rand::rngs::OsRng;
    Zeroizing::new(
        (0..24)
            .map(|_| PASSWORD_ALPHABET[rng.gen_range(0..PASSWORD_ALPHABET.len())] as char)
            .collect(),
    )
}

impl App {
    /// Creates the owner with a one-time password when no owner exists yet. Returns the
    /// password, which the caller shows once; `None` when an owner already exists.
    pub async fn ensure_owner(&self) -> Result<Option<(String, Zeroizing<String>)>, AppError> {
        if self.store().owner_exists().await? {
            return Ok(None);
        }
        let password = generate_password();
        let result = self
            .create_account(
                &Actor::System,
                FIRST_OWNER_NAME,
                Role::Owner,
                Password::new(password.to_string()),
                true,
            )
            .await;
        match result {
            Ok(_) => Ok(Some((FIRST_OWNER_NAME.to_owned(), password))),
            // Another replica created the owner at the same moment.
            Err(AppError::Conflict { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates an account. Only one owner may exist; decoy names are reserved.
    pub async fn create_account(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        password: Password,
        must_change_password: bool,
    ) -> Result<Account, AppError> {
        let name = AccountName::parse("name", name)?;
        if self.config().honey.is_honey_name(name.as_str()) {
            return Err(AppError::validation("name", "this name is reserved"));
        }
        check_new_password(password.expose())
            .map_err(|message| AppError::validation("password", message))?;
        if role == Role::Owner && self.store().owner_exists().await? {
            return Err(AppError::Conflict {
                field: Some("role"),
                message: "an owner already exists".into(),
            });
        }
        let password_hash = self
            .with_hasher(move |hasher| hasher.hash(&password))
            .await?
            .map_err(|error| AppError::Internal(error.to_string()))?;

        let now = self.now();
        let record = actor.audit(now, "account.create", "account");
        let account = self
            .store()
            .create_account(
                NewAccount {
                    name,
                    role,
                    password_hash,
                    must_change_password,
                },
                now,
                record,
            )
            .await?;
        Ok(account)
    }

    pub async fn list_accounts(&self) -> Result<Vec<Account>, AppError> {
        Ok(self.store().list_accounts().await?)
    }

    /// Sets an account's password from the console or by the owner, and ends its sessions.
    pub async fn set_account_password(
        &self,
        actor: &Actor,
        name: &str,
        password: Password,
        must_change_password: bool,
    ) -> Result<(), AppError> {
        check_new_password(password.expose())
            .map_err(|message| AppError::validation("password", message))?;
        let account = self
            .store()
            .account_by_name(name)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        let password_hash = self
            .with_hasher(move |hasher| hasher.hash(&password))
            .await?
            .map_err(|error| AppError::Internal(error.to_string()))?;
        let now = self.now();
        let record = actor.audit(now, "account.set_password", "account");
        self.store()
            .set_password(
                account.id,
                &password_hash,
                must_change_password,
                now,
                record,
            )
            .await?;
        self.revoke_all_sessions(account.id, "password_reset", now)
            .await?;
        Ok(())
    }
}
