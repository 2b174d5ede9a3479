//! Incident response: the remediation commands an operator runs (revoke sessions, force a
//! password reset, suspend or reinstate an account, block or unblock an address) and the
//! mechanisms the automatic responses share with them.
//!
//! Owners act on every account; admins on agents and on themselves; agents on nothing. A
//! refused caller gets 403 and raises an `access_denied` event. IP blocks live in the
//! ephemeral store (shared across replicas through Redis) and in the SQL store, so a block
//! survives restarts and the firewall export and the command line see every block.

use std::net::IpAddr;
use std::time::Duration;

use spiritus_core::account::{Account, Role};
use spiritus_core::events::{DenialReason, SecurityEvent};
use spiritus_store::{AuditRecordExt, IpBlock};

use crate::actor::Actor;
use crate::config::network_canonical_ip;
use crate::error::AppError;
use crate::state::App;

/// Longest block an operator may set: one year.
pub const MAX_BLOCK_SECONDS: u64 = 365 * 24 * 3600;

/// Ephemeral-store key prefix of tightened rate limits.
const TIGHTENED_PREFIX: &str = "tighten:";

/// Parses an address given by an operator, folding IPv4-mapped IPv6 into IPv4.
pub fn parse_ip(field: &'static str, raw: &str) -> Result<IpAddr, AppError> {
    raw.trim()
        .parse::<IpAddr>()
        .map(network_canonical_ip)
        .map_err(|_| AppError::validation(field, "must be an IPv4 or IPv6 address"))
}

impl App {
    /// Ends every session of the named account.
    pub async fn revoke_account_sessions(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<usize, AppError> {
        let account = self.incident_target(actor, name).await?;
        let revoked = self
            .revoke_sessions_audited(actor, &account, "incident.revoke_sessions")
            .await?;
        self.note_admin_action(actor, "incident.revoke_sessions");
        Ok(revoked)
    }

    /// Makes the named account change its password at its next login and ends its sessions.
    pub async fn force_password_reset(&self, actor: &Actor, name: &str) -> Result<usize, AppError> {
        let account = self.incident_target(actor, name).await?;
        let now = self.now();
        let record = actor.audit(now, "incident.force_password_reset", "account");
        self.store()
            .require_password_change(account.id, now, record)
            .await?;
        let revoked = self
            .revoke_all_sessions(account.id, "password_reset_forced", now)
            .await?;
        self.note_admin_action(actor, "incident.force_password_reset");
        Ok(revoked)
    }

    /// Suspends the named account and ends its sessions; `false` if it already was.
    pub async fn suspend_account(
        &self,
        actor: &Actor,
        name: &str,
        reason: &str,
    ) -> Result<bool, AppError> {
        let account = self.incident_target(actor, name).await?;
        if let Actor::Account { principal, .. } = actor
            && principal.id() == account.id
        {
            return Err(AppError::Forbidden(
                "you cannot suspend your own account".into(),
            ));
        }
        let suspended = self.suspend(actor, &account, reason).await?;
        self.note_admin_action(actor, "incident.suspend");
        Ok(suspended)
    }

    /// Suspends an account and ends its sessions, raising `account_suspended`.
    pub(crate) async fn suspend(
        &self,
        actor: &Actor,
        account: &Account,
        reason: &str,
    ) -> Result<bool, AppError> {
        let now = self.now();
        let reason: String = reason.chars().take(200).collect();
        let record = actor.audit(now, "incident.suspend", "account");
        let suspended = self
            .store()
            .suspend_account(account.id, &reason, now, record)
            .await?;
        if suspended {
            self.revoke_all_sessions(account.id, "suspended", now)
                .await?;
            self.events().emit(SecurityEvent::AccountSuspended {
                account_id: account.id,
                username: account.name.to_string(),
                reason,
            });
        }
        Ok(suspended)
    }

    /// Lifts the suspension of the named account; `false` if it was not suspended.
    pub async fn lift_suspension(&self, actor: &Actor, name: &str) -> Result<bool, AppError> {
        let account = self.incident_target(actor, name).await?;
        let now = self.now();
        let record = actor.audit(now, "incident.unsuspend", "account");
        let lifted = self
            .store()
            .lift_suspension(account.id, now, record)
            .await?;
        if lifted {
            self.events().emit(SecurityEvent::AccountReinstated {
                account_id: account.id,
                username: account.name.to_string(),
                actor: actor.id(),
            });
        }
        self.note_admin_action(actor, "incident.unsuspend");
        Ok(lifted)
    }

    /// Blocks an address for `ttl` in both stores, raising `ip_blocked`.
    pub async fn block_ip(
        &self,
        actor: &Actor,
        ip: IpAddr,
        ttl: Duration,
        reason: &str,
    ) -> Result<IpBlock, AppError> {
        self.require_incident_role(actor)?;
        let seconds = ttl.as_secs();
        if seconds == 0 || seconds > MAX_BLOCK_SECONDS {
            return Err(AppError::validation(
                "seconds",
                format!("must be from 1 to {MAX_BLOCK_SECONDS}"),
            ));
        }
        let now = self.now();
        let ip = network_canonical_ip(ip);
        let block = IpBlock {
            ip: ip.to_string(),
            reason: reason.chars().take(200).collect(),
            expires_at: now + chrono::Duration::seconds(seconds as i64),
        };
        let record = actor.audit(now, "incident.block_ip", "ip");
        self.store().record_ip_block(&block, now, record).await?;
        self.ephemeral()
            .block_ip(&block.ip, &block.reason, ttl, now)
            .await
            .map_err(|error| AppError::Unavailable(error.to_string()))?;
        self.events().emit(SecurityEvent::IpBlocked {
            ip,
            reason: block.reason.clone(),
            seconds,
        });
        self.note_admin_action(actor, "incident.block_ip");
        Ok(block)
    }

    /// Lifts the block of an address in both stores; returns whether one was in force.
    pub async fn unblock_ip(&self, actor: &Actor, ip: IpAddr) -> Result<bool, AppError> {
        self.require_incident_role(actor)?;
        let now = self.now();
        let ip = network_canonical_ip(ip);
        let key = ip.to_string();
        let record = actor.audit(now, "incident.unblock_ip", "ip");
        let durable = self.store().remove_ip_block(&key, now, record).await?;
        let ephemeral = self
            .ephemeral()
            .unblock_ip(&key)
            .await
            .map_err(|error| AppError::Unavailable(error.to_string()))?;
        let lifted = durable || ephemeral;
        if lifted {
            self.events().emit(SecurityEvent::IpUnblocked {
                ip,
                actor: actor.id(),
            });
        }
        self.note_admin_action(actor, "incident.unblock_ip");
        Ok(lifted)
    }

    /// Every block in force: the durable ones and any the ephemeral store holds alone.
    pub async fn list_ip_blocks(&self, actor: &Actor) -> Result<Vec<IpBlock>, AppError> {
        self.require_incident_role(actor)?;
        let now = self.now();
        let mut blocks = self.store().live_ip_blocks(now).await?;
        let ephemeral = self
            .ephemeral()
            .list_ip_blocks(now)
            .await
            .map_err(|error| AppError::Unavailable(error.to_string()))?;
        for block in ephemeral {
            if !blocks.iter().any(|known| known.ip == block.ip) {
                blocks.push(block);
            }
        }
        blocks.sort_by(|a, b| a.ip.cmp(&b.ip));
        Ok(blocks)
    }

    /// Copies the durable blocks into the ephemeral store, at start, so a restart of the
    /// panel or of Redis never lifts a block.
    pub async fn restore_ip_blocks(&self) -> Result<usize, AppError> {
        let now = self.now();
        let blocks = self.store().live_ip_blocks(now).await?;
        for block in &blocks {
            let ttl = (block.expires_at - now).to_std().unwrap_or_default();
            self.ephemeral()
                .block_ip(&block.ip, &block.reason, ttl, now)
                .await
                .map_err(|error| AppError::Unavailable(error.to_string()))?;
        }
        Ok(blocks.len())
    }

    /// Marks an address's rate limits as tightened for `responses.tighten_seconds`. The rate
    /// limiter reads the mark with [`App::rate_limit_tightened`]. The mark lives in the
    /// ephemeral store, so replicas share it.
    pub async fn tighten_rate_limit(&self, ip: IpAddr) -> Result<(), AppError> {
        let key = format!("{TIGHTENED_PREFIX}{}", network_canonical_ip(ip));
        let ttl = self.tighten_period();
        let unavailable =
            |error: spiritus_store::StoreError| AppError::Unavailable(error.to_string());
        self.ephemeral()
            .clear_window(&key)
            .await
            .map_err(unavailable)?;
        self.ephemeral()
            .hit_window(&key, ttl, 1, self.now())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Returns whether an address's rate limits are tightened now.
    pub async fn rate_limit_tightened(&self, ip: IpAddr) -> Result<bool, AppError> {
        let key = format!("{TIGHTENED_PREFIX}{}", network_canonical_ip(ip));
        self.ephemeral()
            .window_count(&key, self.tighten_period(), self.now())
            .await
            .map(|count| count > 0)
            .map_err(|error| AppError::Unavailable(error.to_string()))
    }

    fn tighten_period(&self) -> Duration {
        Duration::from_secs(self.config().responses.tighten_seconds)
    }

    /// Ends every session of an account with an audit entry naming the actor.
    pub(crate) async fn revoke_sessions_audited(
        &self,
        actor: &Actor,
        account: &Account,
        action: &str,
    ) -> Result<usize, AppError> {
        let now = self.now();
        let revoked = self.revoke_all_sessions(account.id, action, now).await?;
        let record = actor
            .audit(now, action, "account")
            .with_resource_id(account.id)
            .with_after(serde_json::json!({ "sessions_revoked": revoked }));
        self.store().record_audit(record, now).await?;
        Ok(revoked)
    }

    /// Loads the account an incident command names, if the actor may act on it.
    async fn incident_target(&self, actor: &Actor, name: &str) -> Result<Account, AppError> {
        self.require_incident_role(actor)?;
        let account = self
            .store()
            .account_by_name(name)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        if let Actor::Account { principal, .. } = actor {
            let allowed = match principal.role() {
                Role::Owner => true,
                Role::Admin => account.role == Role::Agent || account.id == principal.id(),
                Role::Agent => false,
            };
            if !allowed {
                return Err(self.deny_role(actor, "only the owner may act on this account"));
            }
        }
        Ok(account)
    }

    /// Owners and admins may run incident commands; agents may not.
    fn require_incident_role(&self, actor: &Actor) -> Result<(), AppError> {
        actor.require_ready()?;
        if let Actor::Account { principal, .. } = actor
            && principal.role() == Role::Agent
        {
            return Err(self.deny_role(actor, "only owners and admins may do this"));
        }
        Ok(())
    }

    /// Raises `access_denied` for a caller whose role does not allow the call.
    ///
    /// NOTE: `count` is always 1 here: role denials are not counted per window, so every
    /// denial is its own event (and the alert router deduplicates them per address).
    fn deny_role(&self, actor: &Actor, message: &str) -> AppError {
        if let Some(request) = actor.request() {
            self.events().emit(SecurityEvent::AccessDenied {
                ip: request.ip,
                reason: DenialReason::Role,
                count: 1,
            });
        }
        AppError::Forbidden(message.to_owned())
    }
}
