//! PagerDuty Events API v2: `POST {base_url}/v2/enqueue`.
//!
//! A trigger opens (or adds to) the incident named by the alert's deduplication key; a
//! resolution (an address unblocked, a suspension lifted) closes the incident its trigger
//! opened. Spiritus severities map to PagerDuty's: critical, warning, info.

use async_trait::async_trait;
use reqwest::Url;
use serde_json::{Value, json};
use spiritus_app::config::PagerDutyChannel;
use spiritus_core::Severity;
use spiritus_secrets::{ResolveContext, SecretString};

use super::{ChannelError, Notifier, SendError, post, receiver_url, secret};
use crate::alert::{Alert, AlertAction};

pub struct PagerDutyNotifier {
    client: reqwest::Client,
    endpoint: Url,
    routing_key: SecretString,
}

impl PagerDutyNotifier {
    pub async fn new(
        name: &str,
        settings: &PagerDutyChannel,
        client: reqwest::Client,
        resolve: &ResolveContext,
    ) -> Result<Self, ChannelError> {
        let routing_key = secret(name, "routing_key", &settings.routing_key, resolve).await?;
        let base = settings.base_url.trim_end_matches('/');
        let endpoint = receiver_url(name, "base_url", &format!("{base}/v2/enqueue"))?;
        Ok(Self {
            client,
            endpoint,
            routing_key,
        })
    }

    fn body(&self, alert: &Alert) -> Value {
        match alert.action {
            AlertAction::Resolve => json!({
                "routing_key": self.routing_key.expose(),
                "event_action": "resolve",
                "dedup_key": alert.dedup_key(),
            }),
            AlertAction::Trigger => json!({
                "routing_key": self.routing_key.expose(),
                "event_action": "trigger",
                "dedup_key": alert.dedup_key(),
                "payload": {
                    "summary": truncate(&alert.title(), 1024),
                    "source": "spiritus",
                    "severity": severity(alert.severity),
                    "timestamp": alert.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "component": "panel",
                    "class": alert.kind,
                    "custom_details": alert.details,
                },
            }),
        }
    }
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[async_trait]
impl Notifier for PagerDutyNotifier {
    async fn send(&self, alert: &Alert) -> Result<(), SendError> {
        post(
            self.client
                .post(self.endpoint.clone())
                .json(&self.body(alert)),
        )
        .await
        .map(|_| ())
    }

    fn takes_resolutions(&self) -> bool {
        true
    }
}
