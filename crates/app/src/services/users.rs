//! VPN user operations.
//!
//! Each operation checks that the caller may see the user (agents only their own), validates
//! input into domain values, and hands the store one transaction that holds the change and
//! its audit entry.

use chrono::{DateTime, Utc};
use spiritus_core::events::SecurityEvent;
use spiritus_core::user::{
    BYTES_PER_GB, ExpireDays, MAX_TRAFFIC_LIMIT_GB, Note, TrafficLimit, UserName, VpnUser,
    gigabytes_to_millis,
};
use spiritus_core::validation::FieldError;
use spiritus_store::{NewVpnUser, UserListQuery, UserPage, UserPatch};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::AppError;
use crate::state::App;
use crate::subscription::{derive_token, token_hash};

/// Most users one bulk request may create.
pub const MAX_BULK_COUNT: u32 = 1000;
/// Most names one bulk delete may name.
pub const MAX_BULK_DELETE: usize = 10_000;

/// A validated request to create a user.
#[derive(Debug, Clone)]
pub struct CreateUser {
    pub name: UserName,
    pub traffic_limit: TrafficLimit,
    pub expire_days: ExpireDays,
    pub note: Note,
}

/// A validated bulk-create request: names are `prefix` + number, zero-padded to `pad` digits.
#[derive(Debug, Clone)]
pub struct BulkCreate {
    pub prefix: String,
    pub count: u32,
    pub start: u32,
    pub pad: u8,
    pub traffic_limit: TrafficLimit,
    pub expire_days: ExpireDays,
}

/// The user-changing operations that take no input beyond the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAction {
    Enable,
    Disable,
    ResetUsage,
    RotateSubscription,
}

impl UserAction {
    fn audit_name(self) -> &'static str {
        match self {
            UserAction::Enable => "user.enable",
            UserAction::Disable => "user.disable",
            UserAction::ResetUsage => "user.reset_usage",
            UserAction::RotateSubscription => "user.rotate_subscription",
        }
    }
}

impl App {
    /// The subscription URL of a user, derived, never stored.
    pub fn subscription_url(&self, user: &VpnUser) -> Result<String, AppError> {
        let token = derive_token(
            &self.inner().subscription_key,
            user.id,
            user.subscription_revision,
        )?;
        Ok(format!("{}/sub/{token}", self.config().public_url()))
    }

    fn check_not_reserved(&self, field: &'static str, name: &str) -> Result<(), AppError> {
        if self.config().honey.is_honey_name(name) {
            return Err(AppError::validation(field, "this name is reserved"));
        }
        Ok(())
    }

    fn new_user(
        &self,
        name: UserName,
        owner: Option<Uuid>,
        traffic_limit: TrafficLimit,
        expire_at: DateTime<Utc>,
        note: Note,
    ) -> Result<NewVpnUser, AppError> {
        let id = Uuid::new_v4();
        let token = derive_token(&self.inner().subscription_key, id, 0)?;
        Ok(NewVpnUser {
            id,
            name,
            owner_id: owner,
            traffic_limit,
            expire_at,
            note,
            subscription_hash: token_hash(&token),
            proxy_uuid: Uuid::new_v4(),
        })
    }

    pub async fn create_user(
        &self,
        actor: &Actor,
        create: CreateUser,
    ) -> Result<VpnUser, AppError> {
        actor.require_ready()?;
        self.check_not_reserved("name", create.name.as_str())?;
        let now = self.now();
        let owner = actor.user_scope();
        let new = self.new_user(
            create.name,
            owner,
            create.traffic_limit,
            create.expire_days.expire_at(now),
            create.note,
        )?;
        let record = actor.audit(now, "user.create", "user");
        let user = self.store().create_user(new, now, record).await?;
        self.note_user_change();
        self.note_admin_action(actor, "user.create");
        Ok(user)
    }

    pub async fn bulk_create_users(
        &self,
        actor: &Actor,
        bulk: BulkCreate,
    ) -> Result<Vec<VpnUser>, AppError> {
        actor.require_ready()?;
        let now = self.now();
        let owner = actor.user_scope();
        let expire_at = bulk.expire_days.expire_at(now);
        let mut users = Vec::with_capacity(bulk.count as usize);
        for number in bulk.start..bulk.start.saturating_add(bulk.count) {
            let raw = format!(
                "{}{:0width$}",
                bulk.prefix,
                number,
                width = usize::from(bulk.pad)
            );
            let name = UserName::parse("prefix", &raw).map_err(|error| {
                AppError::Validation(FieldError::new(
                    "prefix",
                    format!("generated name {raw:?} is invalid: {}", error.message),
                ))
            })?;
            self.check_not_reserved("prefix", name.as_str())?;
            users.push(self.new_user(
                name,
                owner,
                bulk.traffic_limit,
                expire_at,
                Note::default(),
            )?);
        }
        let record = actor.audit(now, "user.bulk_create", "user");
        let created = self.store().create_users(users, now, record).await?;
        self.note_user_change();
        self.note_admin_action(actor, "user.bulk_create");
        Ok(created)
    }

    pub async fn get_user(&self, actor: &Actor, name: &str) -> Result<VpnUser, AppError> {
        actor.require_ready()?;
        self.store()
            .user_by_name(name, actor.user_scope())
            .await?
            .ok_or(AppError::NotFound("user"))
    }

    pub async fn list_users(
        &self,
        actor: &Actor,
        mut query: UserListQuery,
    ) -> Result<UserPage, AppError> {
        actor.require_ready()?;
        query.owner = actor.user_scope();
        Ok(self.store().list_users(&query, self.now()).await?)
    }

    pub async fn update_user(
        &self,
        actor: &Actor,
        name: &str,
        patch: UserPatch,
    ) -> Result<VpnUser, AppError> {
        self.change_user(actor, name, "user.update", move |user| {
            if let Some(limit) = patch.traffic_limit {
                user.traffic_limit = limit;
            }
            if let Some(expire_at) = patch.expire_at {
                user.expire_at = expire_at;
            }
            if let Some(note) = patch.note {
                user.note = note;
            }
            Ok(None)
        })
        .await
    }

    pub async fn apply_user_action(
        &self,
        actor: &Actor,
        name: &str,
        action: UserAction,
    ) -> Result<VpnUser, AppError> {
        let key = self.inner().subscription_key.clone();
        self.change_user(actor, name, action.audit_name(), move |user| {
            match action {
                UserAction::Enable => user.enabled = true,
                UserAction::Disable => user.enabled = false,
                UserAction::ResetUsage => {
                    user.upload_bytes = 0;
                    user.download_bytes = 0;
                }
                UserAction::RotateSubscription => {
                    user.subscription_revision = user.subscription_revision.wrapping_add(1);
                    let token =
                        derive_token(&key, user.id, user.subscription_revision).map_err(|_| {
                            FieldError::new("name", "cannot derive a subscription token")
                        })?;
                    return Ok(Some(token_hash(&token)));
                }
            }
            Ok(None)
        })
        .await
    }

    /// Renews a user: new quota, expiry `days` from now, usage reset, switched on.
    pub async fn renew_user(
        &self,
        actor: &Actor,
        name: &str,
        traffic_limit: TrafficLimit,
        days: ExpireDays,
    ) -> Result<VpnUser, AppError> {
        let now = self.now();
        self.change_user(actor, name, "user.renew", move |user| {
            user.traffic_limit = traffic_limit;
            user.expire_at = days.expire_at(now);
            user.upload_bytes = 0;
            user.download_bytes = 0;
            user.enabled = true;
            Ok(None)
        })
        .await
    }

    /// Raises a user's quota by `gb` gigabytes (at most three decimals).
    pub async fn add_traffic(
        &self,
        actor: &Actor,
        name: &str,
        gb: f64,
    ) -> Result<VpnUser, AppError> {
        let millis = gigabytes_to_millis("gb", gb, MAX_TRAFFIC_LIMIT_GB)?;
        if millis == 0 {
            return Err(AppError::validation("gb", "must be greater than 0"));
        }
        let added = millis * (BYTES_PER_GB / 1000);
        self.change_user(actor, name, "user.add_traffic", move |user| {
            if user.traffic_limit.is_unlimited() {
                return Err(FieldError::new("gb", "the user's quota is unlimited"));
            }
            let raised = user.traffic_limit.bytes().saturating_add(added);
            if raised > MAX_TRAFFIC_LIMIT_GB * BYTES_PER_GB {
                return Err(FieldError::new("gb", "the quota would exceed 10000 GB"));
            }
            user.traffic_limit = TrafficLimit::from_bytes(raised);
            Ok(None)
        })
        .await
    }

    pub async fn delete_user(&self, actor: &Actor, name: &str) -> Result<(), AppError> {
        actor.require_ready()?;
        let now = self.now();
        let record = actor.audit(now, "user.delete", "user");
        self.store()
            .delete_user(name, actor.user_scope(), now, record)
            .await?;
        self.note_user_change();
        self.note_admin_action(actor, "user.delete");
        Ok(())
    }

    pub async fn bulk_delete_users(
        &self,
        actor: &Actor,
        names: Vec<String>,
    ) -> Result<u64, AppError> {
        actor.require_ready()?;
        if names.len() > MAX_BULK_DELETE {
            return Err(AppError::validation(
                "names",
                format!("at most {MAX_BULK_DELETE} names per request"),
            ));
        }
        let now = self.now();
        let record = actor.audit(now, "user.bulk_delete", "user");
        let deleted = self
            .store()
            .delete_users(&names, actor.user_scope(), now, record)
            .await?;
        self.note_user_change();
        self.note_admin_action(actor, "user.bulk_delete");
        Ok(deleted)
    }

    async fn change_user<F>(
        &self,
        actor: &Actor,
        name: &str,
        action: &'static str,
        change: F,
    ) -> Result<VpnUser, AppError>
    where
        F: FnOnce(&mut VpnUser) -> Result<Option<spiritus_auth::TokenHash>, FieldError>,
    {
        actor.require_ready()?;
        let now = self.now();
        let record = actor.audit(now, action, "user");
        let user = self
            .store()
            .modify_user(name, actor.user_scope(), now, record, change)
            .await??;
        self.note_user_change();
        self.note_admin_action(actor, action);
        Ok(user)
    }

    pub(crate) fn note_admin_action(&self, actor: &Actor, action: &str) {
        if let Actor::Account { principal, .. } = actor {
            self.events().emit(SecurityEvent::AdminAction {
                actor_id: principal.id(),
                action: action.to_owned(),
            });
        }
    }
}
