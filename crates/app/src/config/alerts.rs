//! The `alerts` section: where security events are sent, and how hard the router tries.
//!
//! ```toml
//! [alerts]
//! dedup_window_seconds = 300
//!
//! [[alerts.channels]]
//! type = "slack"
//! name = "ops"
//! min_severity = "warning"
//! url = "env:SLACK_WEBHOOK_URL"
//! ```
//!
//! Every credential of a channel (SMTP password, webhook URL or secret, bot token, routing
//! key) is a secret reference, resolved once at start.

use std::path::PathBuf;

use serde::Deserialize;
use spiritus_core::Severity;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Destinations; several of each type are allowed.
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    /// Seconds during which further events of one kind about one key (address, account)
    /// raise no new alert.
    #[serde(default = "default_dedup_window")]
    pub dedup_window_seconds: u64,
    /// Alerts waiting per channel; past this, new alerts for the channel are dropped.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// Delivery attempts per alert, the first included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry, in milliseconds; it doubles at every further retry.
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// Longest wait between two attempts, in seconds.
    #[serde(default = "default_retry_max_seconds")]
    pub retry_max_seconds: u64,
    /// Seconds one delivery attempt may take (connection and answer).
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
}

fn default_dedup_window() -> u64 {
    300
}

fn default_queue_capacity() -> usize {
    1000
}

fn default_max_attempts() -> u32 {
    5
}

fn default_retry_initial_ms() -> u64 {
    1000
}

fn default_retry_max_seconds() -> u64 {
    60
}

fn default_timeout_seconds() -> u64 {
    10
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            channels: Vec::new(),
            dedup_window_seconds: default_dedup_window(),
            queue_capacity: default_queue_capacity(),
            max_attempts: default_max_attempts(),
            retry_initial_ms: default_retry_initial_ms(),
            retry_max_seconds: default_retry_max_seconds(),
            timeout_seconds: default_timeout_seconds(),
        }
    }
}

/// One alert destination, chosen by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChannelConfig {
    Email(EmailChannel),
    Slack(SlackChannel),
    Telegram(TelegramChannel),
    Webhook(WebhookChannel),
    Pagerduty(PagerDutyChannel),
}

impl ChannelConfig {
    /// The type name, as written in the configuration.
    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelConfig::Email(_) => "email",
            ChannelConfig::Slack(_) => "slack",
            ChannelConfig::Telegram(_) => "telegram",
            ChannelConfig::Webhook(_) => "webhook",
            ChannelConfig::Pagerduty(_) => "pagerduty",
        }
    }

    /// The configured name, or the type name.
    pub fn name(&self) -> String {
        let name = match self {
            ChannelConfig::Email(channel) => &channel.name,
            ChannelConfig::Slack(channel) => &channel.name,
            ChannelConfig::Telegram(channel) => &channel.name,
            ChannelConfig::Webhook(channel) => &channel.name,
            ChannelConfig::Pagerduty(channel) => &channel.name,
        };
        name.clone().unwrap_or_else(|| self.type_name().to_owned())
    }

    /// The least severe event this channel receives.
    pub fn min_severity(&self) -> Severity {
        match self {
            ChannelConfig::Email(channel) => channel.min_severity,
            ChannelConfig::Slack(channel) => channel.min_severity,
            ChannelConfig::Telegram(channel) => channel.min_severity,
            ChannelConfig::Webhook(channel) => channel.min_severity,
            ChannelConfig::Pagerduty(channel) => channel.min_severity,
        }
    }
}

fn default_min_severity() -> Severity {
    Severity::Warning
}

/// How the SMTP connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    pub name: Option<String>,
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// SMTP server name; the certificate must be valid for it.
    pub host: String,
    /// Defaults to 587 with STARTTLS and 465 with implicit TLS.
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// Secret reference to the SMTP password.
    pub password: Option<String>,
    /// Sender address, for example `Spiritus <alerts@example.com>`.
    pub from: String,
    /// Recipient addresses.
    pub to: Vec<String>,
    /// PEM file of an extra certificate authority to trust (a private relay).
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackChannel {
    pub name: Option<String>,
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Secret reference to the incoming-webhook URL (the URL itself is the credential).
    pub url: String,
}

/// A Telegram chat: a numeric id or an `@channelname`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ChatId {
    Number(i64),
    Name(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramChannel {
    pub name: Option<String>,
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Secret reference to the bot token.
    pub bot_token: String,
    pub chat_ids: Vec<ChatId>,
    #[serde(default = "default_telegram_api")]
    pub api_base_url: String,
}

fn default_telegram_api() -> String {
    "https://api.telegram.org".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    pub name: Option<String>,
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Secret reference to the receiver's URL.
    pub url: String,
    /// Secret reference to the HMAC-SHA256 key that signs each request.
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyChannel {
    pub name: Option<String>,
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Secret reference to the Events API v2 integration (routing) key.
    pub routing_key: String,
    #[serde(default = "default_pagerduty_api")]
    pub base_url: String,
}

fn default_pagerduty_api() -> String {
    "https://events.pagerduty.com".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_by_type_and_reject_unknown_keys() {
        let text = r#"
            dedup_window_seconds = 60
            [[channels]]
            type = "slack"
            url = "env:SLACK"
            [[channels]]
            type = "telegram"
            name = "phones"
            min_severity = "critical"
            bot_token = "file:/run/bot"
            chat_ids = [12345, "@ops"]
        "#;
        let config: AlertsConfig = toml::from_str(text).unwrap();
        assert_eq!(config.channels.len(), 2);
        assert_eq!(config.channels[0].name(), "slack");
        assert_eq!(config.channels[1].name(), "phones");
        assert_eq!(config.channels[1].min_severity(), Severity::Critical);

        let typo = "[[channels]]\ntype = \"slack\"\nurl = \"x\"\nurll = \"y\"\n";
        let error = toml::from_str::<AlertsConfig>(typo)
            .unwrap_err()
            .to_string();
        assert!(error.contains("urll"), "{error}");
        let unknown = "[[channels]]\ntype = \"carrier_pigeon\"\n";
        assert!(toml::from_str::<AlertsConfig>(unknown).is_err());
    }
}
