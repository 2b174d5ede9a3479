//! Generic webhooks: the alert as JSON, signed with HMAC-SHA256.
//!
//! Each request carries two headers:
//!
//! * `X-Spiritus-Timestamp`: unix seconds when the request was signed;
//! * `X-Spiritus-Signature`: `v1=` followed by the lower-case hex HMAC-SHA256, keyed with the
//!   channel's `secret`, of the timestamp, a full stop, and the exact request body bytes.
//!
//! A receiver recomputes the HMAC over `timestamp + "." + body`, compares it in constant time,
//! and refuses timestamps older than a few minutes to stop replays.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use reqwest::Url;
use serde_json::json;
use sha2::Sha256;
use spiritus_app::config::WebhookChannel;
use spiritus_secrets::{ResolveContext, SecretString};

use super::{ChannelError, Notifier, SendError, post, receiver_url, secret};
use crate::alert::{Alert, AlertAction};

pub const TIMESTAMP_HEADER: &str = "X-Spiritus-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Spiritus-Signature";

pub struct WebhookNotifier {
    client: reqwest::Client,
    url: Url,
    key: SecretString,
}

impl WebhookNotifier {
    pub async fn new(
        name: &str,
        settings: &WebhookChannel,
        client: reqwest::Client,
        resolve: &ResolveContext,
    ) -> Result<Self, ChannelError> {
        let raw = secret(name, "url", &settings.url, resolve).await?;
        let url = receiver_url(name, "url", raw.expose())?;
        let key = secret(name, "secret", &settings.secret, resolve).await?;
        if key.len() < 16 {
            return Err(ChannelError::Invalid {
                channel: name.to_owned(),
                message: "secret: use at least 16 characters (for example `openssl rand -hex 32`)"
                    .into(),
            });
        }
        Ok(Self { client, url, key })
    }
}

/// The `X-Spiritus-Signature` value for `body` sent at `timestamp`. (HMAC takes keys of any
/// length, so `None` is never returned in practice.)
pub fn signature(key: &[u8], timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!("v1={}", hex::encode(mac.finalize().into_bytes())))
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn send(&self, alert: &Alert) -> Result<(), SendError> {
        let body = json!({
            "source": "spiritus",
            "event": alert.kind,
            "severity": alert.severity.as_str(),
            "action": match alert.action {
                AlertAction::Trigger => "trigger",
                AlertAction::Resolve => "resolve",
            },
            "dedup_key": alert.dedup_key(),
            "summary": alert.summary,
            "time": alert.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "details": alert.details,
        });
        let bytes = serde_json::to_vec(&body)
            .map_err(|error| SendError::permanent(format!("cannot encode the alert: {error}")))?;
        let timestamp = alert.time.timestamp().max(0);
        let signed = signature(self.key.expose().as_bytes(), timestamp, &bytes)
            .ok_or_else(|| SendError::permanent("cannot sign the alert"))?;
        let request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signed)
            .body(bytes);
        post(request).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_timestamp_and_body() {
        let key = b"0123456789abcdef";
        let sign = |key: &[u8], time, body: &[u8]| signature(key, time, body).unwrap();
        let one = sign(key, 1_700_000_000, b"{}");
        assert!(one.starts_with("v1="));
        assert_eq!(one.len(), 3 + 64);
        assert_ne!(one, sign(key, 1_700_000_001, b"{}"));
        assert_ne!(one, sign(key, 1_700_000_000, b"{ }"));
        assert_ne!(one, sign(b"fedcba9876543210", 1_700_000_000, b"{}"));
    }
}
