//! Automatic responses: the event-bus consumer that blocks addresses, suspends accounts,
//! ends sessions or tightens rate limits when the `responses` rules say so.
//!
//! A rule with a threshold above one counts events per (rule, key) in a sliding window of
//! the ephemeral store, so replicas count together. Every response is audited with the actor
//! `system`; blocks and suspensions raise their own events, which no rule may react to.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use spiritus_core::account::Account;
use spiritus_core::events::SecurityEvent;
use spiritus_store::AuditRecordExt;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::actor::Actor;
use crate::config::{ResponseAction, ResponseRule};
use crate::error::AppError;
use crate::metrics;
use crate::monitoring::consume_events;
use crate::state::App;

/// Starts the consumer that carries out the configured responses.
pub fn spawn_responses(app: &App) -> JoinHandle<()> {
    let events = app.events().subscribe();
    let app = app.clone();
    tokio::spawn(consume_events(events, "responses", move |event| {
        let app = app.clone();
        async move { app.respond(event).await }
    }))
}

impl App {
    /// Applies every rule that matches `event`.
    pub async fn respond(&self, event: Arc<SecurityEvent>) {
        let rules = &self.config().responses.rules;
        for rule in rules
            .iter()
            .filter(|rule| rule.event.as_str() == event.kind())
        {
            if let Err(error) = self.apply_rule(rule, &event).await {
                tracing::warn!(
                    event = event.kind(),
                    action = rule.action.as_str(),
                    %error,
                    "an automatic response failed"
                );
            }
        }
    }

    async fn apply_rule(&self, rule: &ResponseRule, event: &SecurityEvent) -> Result<(), AppError> {
        match rule.action {
            ResponseAction::BlockIp | ResponseAction::TightenRateLimit => {
                let Some(ip) = event.ip() else { return Ok(()) };
                if self.config().responses.exempt.contains(ip) {
                    tracing::info!(%ip, event = event.kind(), "address exempt from automatic responses");
                    return Ok(());
                }
                if self.threshold_reached(rule, &ip.to_string()).await? {
                    self.respond_on_address(rule, event, ip).await?;
                    metrics::automatic_response(rule.action.as_str());
                }
            }
            ResponseAction::SuspendAccount | ResponseAction::RevokeSessions => {
                let Some(account) = self.account_of(event).await? else {
                    return Ok(());
                };
                if self
                    .threshold_reached(rule, &account.id.to_string())
                    .await?
                {
                    self.respond_on_account(rule, event, &account).await?;
                    metrics::automatic_response(rule.action.as_str());
                }
            }
        }
        Ok(())
    }

    async fn respond_on_address(
        &self,
        rule: &ResponseRule,
        event: &SecurityEvent,
        ip: IpAddr,
    ) -> Result<(), AppError> {
        let reason = format!("automatic: {}", event.kind());
        if rule.action == ResponseAction::TightenRateLimit {
            let ttl = Duration::from_secs(self.config().responses.tighten_seconds);
            self.tighten_rate_limit(ip).await?;
            let now = self.now();
            let record = Actor::System
                .audit(now, "incident.tighten_rate_limit", "ip")
                .with_resource_id(ip)
                .with_after(serde_json::json!({ "reason": reason, "seconds": ttl.as_secs() }));
            self.store().record_audit(record, now).await?;
            return Ok(());
        }
        let seconds = rule
            .block_seconds
            .unwrap_or(self.config().rate_limits.block_seconds);
        self.block_ip(&Actor::System, ip, Duration::from_secs(seconds), &reason)
            .await?;
        Ok(())
    }

    async fn respond_on_account(
        &self,
        rule: &ResponseRule,
        event: &SecurityEvent,
        account: &Account,
    ) -> Result<(), AppError> {
        if rule.action == ResponseAction::SuspendAccount {
            let reason = format!("automatic: {}", event.kind());
            self.suspend(&Actor::System, account, &reason).await?;
        } else {
            self.revoke_sessions_audited(&Actor::System, account, "incident.revoke_sessions")
                .await?;
        }
        Ok(())
    }

    /// Counts the event for the rule and key; true when the rule's threshold is reached, in
    /// which case the count starts over.
    async fn threshold_reached(&self, rule: &ResponseRule, key: &str) -> Result<bool, AppError> {
        if rule.threshold <= 1 {
            return Ok(true);
        }
        let window_key = format!(
            "response:{}:{}:{key}",
            rule.event.as_str(),
            rule.action.as_str()
        );
        let unavailable =
            |error: spiritus_store::StoreError| AppError::Unavailable(error.to_string());
        let decision = self
            .ephemeral()
            .hit_window(
                &window_key,
                Duration::from_secs(rule.window_seconds),
                u64::MAX,
                self.now(),
            )
            .await
            .map_err(unavailable)?;
        if decision.count < rule.threshold {
            return Ok(false);
        }
        self.ephemeral()
            .clear_window(&window_key)
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    /// The panel account an event concerns, if any.
    async fn account_of(&self, event: &SecurityEvent) -> Result<Option<Account>, AppError> {
        let id: Option<Uuid> = match event {
            SecurityEvent::LoginSucceeded { account_id, .. }
            | SecurityEvent::SecondFactorChallenged { account_id, .. }
            | SecurityEvent::TokenRefreshed { account_id, .. }
            | SecurityEvent::RefreshTokenReused { account_id, .. }
            | SecurityEvent::LoggedOut { account_id, .. }
            | SecurityEvent::PasswordChanged { account_id, .. }
            | SecurityEvent::NewLocation { account_id, .. }
            | SecurityEvent::OwnerWithoutSecondFactor { account_id } => Some(*account_id),
            SecurityEvent::LoginFailed { username, .. } => {
                return Ok(self.store().account_by_name(username).await?);
            }
            _ => None,
        };
        match id {
            Some(id) => Ok(self.store().account_by_id(id).await?),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use spiritus_auth::SecretKey;
    use spiritus_core::events::{LoginFailure, SecurityEvent};
    use spiritus_core::{Clock, ManualClock};
    use spiritus_store::{MemoryStore, SqlStore};

    use crate::config::Config;
    use crate::keys::PanelKeys;
    use crate::{App, AppParts, EventBus};

    async fn app(config: &str, dir: &tempfile::TempDir) -> App {
        let url = format!("sqlite://{}", dir.path().join("panel.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
            chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        ));
        let config: Config = toml::from_str(config).unwrap();
        App::new(AppParts {
            config,
            ephemeral: Arc::new(MemoryStore::new(Arc::clone(&clock))),
            clock,
            store,
            keys: PanelKeys {
                jwt: vec![("k1".into(), SecretKey::generate(32))],
                pepper: SecretKey::generate(32),
                audit: spiritus_audit::keys::AuditSigningKey::generate(),
                subscription: SecretKey::generate(32),
                totp_encryption: SecretKey::generate(32),
                core_password: SecretKey::generate(32),
            },
            events: EventBus::new(),
        })
        .unwrap()
    }

    fn failed_login(ip: [u8; 4]) -> Arc<SecurityEvent> {
        Arc::new(SecurityEvent::LoginFailed {
            username: "nobody".into(),
            ip: ip.into(),
            reason: LoginFailure::UnknownAccount,
        })
    }

    #[tokio::test]
    async fn threshold_rules_act_on_the_nth_event_and_are_audited_as_system() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(
            "[[responses.rules]]\nevent = \"login_failed\"\naction = \"block_ip\"\nthreshold = 3\n",
            &dir,
        )
        .await;
        for _ in 0..2 {
            app.respond(failed_login([203, 0, 113, 5])).await;
        }
        let now = app.now();
        assert!(app.store().live_ip_blocks(now).await.unwrap().is_empty());
        app.respond(failed_login([203, 0, 113, 5])).await;
        let blocks = app.store().live_ip_blocks(now).await.unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].reason, "automatic: login_failed");
        assert!(
            app.ephemeral()
                .ip_block("203.0.113.5", now)
                .await
                .unwrap()
                .is_some()
        );

        let entries = app.store().audit_entries(0, 10).await.unwrap();
        let block = entries
            .iter()
            .find(|entry| entry.action == "incident.block_ip")
            .unwrap();
        assert_eq!(block.actor_id, "system");
    }

    #[tokio::test]
    async fn exempt_addresses_are_never_blocked_or_throttled() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(
            "[responses]\nexempt = [\"203.0.113.0/24\"]\n\
             [[responses.rules]]\nevent = \"login_failed\"\naction = \"block_ip\"\n\
             [[responses.rules]]\nevent = \"login_failed\"\naction = \"tighten_rate_limit\"\n",
            &dir,
        )
        .await;
        app.respond(failed_login([203, 0, 113, 9])).await;
        app.respond(failed_login([198, 51, 100, 9])).await;
        let now = app.now();
        let blocks = app.store().live_ip_blocks(now).await.unwrap();
        let ips: Vec<&str> = blocks.iter().map(|block| block.ip.as_str()).collect();
        assert_eq!(ips, vec!["198.51.100.9"]);
        let tightened = |ip: [u8; 4]| app.rate_limit_tightened(ip.into());
        assert!(tightened([198, 51, 100, 9]).await.unwrap());
        assert!(!tightened([203, 0, 113, 9]).await.unwrap());
    }
}
