//! Panel accounts as the owner manages them through the API: the list (with each account's
//! second factors, never a secret), creating admins and agents, and the recovery reset of
//! another account's second factors.

use chrono::{DateTime, Utc};
use spiritus_auth::Password;
use spiritus_core::account::{Account, Role};
use spiritus_store::FactorSummary;

use crate::actor::{Actor, Principal, RequestContext};
use crate::error::AppError;
use crate::state::App;

/// An account as listed.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub id: uuid::Uuid,
    pub name: String,
    pub role: Role,
    pub must_change_password: bool,
    pub suspended: bool,
    pub created_at: DateTime<Utc>,
    pub factors: FactorSummary,
}

impl App {
    /// Lists every panel account (for the owner and admins).
    pub async fn admin_list_accounts(
        &self,
        principal: &Principal,
    ) -> Result<Vec<AccountView>, AppError> {
        principal.require_ready()?;
        if !principal.role().sees_all_users() {
            return Err(AppError::Forbidden(
                "only the owner and admins may list accounts".into(),
            ));
        }
        let mut views = Vec::new();
        for account in self.store().list_accounts().await? {
            views.push(self.account_view(account).await?);
        }
        Ok(views)
    }

    /// Creates an admin or agent (owner only). The new account must change the password the
    /// owner chose at its first login.
    pub async fn admin_create_account(
        &self,
        principal: &Principal,
        name: &str,
        role: &str,
        password: Password,
        request: &RequestContext,
    ) -> Result<AccountView, AppError> {
        principal.require_ready()?;
        principal.require_owner()?;
        let role = match Role::parse(role) {
            Some(role @ (Role::Admin | Role::Agent)) => role,
            _ => {
                return Err(AppError::validation(
                    "role",
                    "must be \"admin\" or \"agent\"",
                ));
            }
        };
        let actor = Actor::account(principal, request);
        let account = self
            .create_account(&actor, name, role, password, true)
            .await?;
        self.account_view(account).await
    }

    /// Removes every second factor of the account `name` and ends its sessions. The owner may
    /// reset another account this way, never its own; the console may reset any account.
    pub async fn reset_second_factors(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<FactorSummary, AppError> {
        let account = self
            .store()
            .account_by_name(name)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        match actor {
            Actor::Account { principal, .. } => {
                principal.require_ready()?;
                principal.require_owner()?;
                if principal.id() == account.id {
                    return Err(AppError::Forbidden(
                        "the owner cannot reset its own second factors here; use \
                         `spiritus admin reset-2fa` on the server"
                            .into(),
                    ));
                }
            }
            Actor::Console | Actor::System => {}
            Actor::Anonymous { .. } => return Err(AppError::Unauthorized),
        }
        let now = self.now();
        let record = actor.audit(now, "account.reset_2fa", "account");
        let before = self
            .store()
            .reset_second_factors(account.id, now, record)
            .await?;
        self.revoke_all_sessions(account.id, "second_factor_reset", now)
            .await?;
        tracing::info!(account_id = %account.id, "second factors reset");
        Ok(before)
    }

    async fn account_view(&self, account: Account) -> Result<AccountView, AppError> {
        let factors = self.store().factor_summary(account.id).await?;
        Ok(AccountView {
            id: account.id,
            name: account.name.to_string(),
            role: account.role,
            must_change_password: account.must_change_password,
            suspended: account.suspension.is_some(),
            created_at: account.created_at,
            factors,
        })
    }
}
