//! Alert channels: one [`Notifier`] per configured destination.
//!
//! HTTP channels share one client with connection and request timeouts that follows no
//! redirect: a receiver that answers 3xx has moved or is being hijacked, and the alert fails
//! with a logged error instead of going somewhere else. URLs must be `https://`, or
//! `http://` to a loopback address (a local relay or a test receiver). Channel credentials
//! live in their URLs, paths and headers, so no error text ever includes a URL.

mod email;
mod pagerduty;
mod slack;
mod telegram;
mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use spiritus_app::config::ChannelConfig;
use spiritus_core::Severity;
use spiritus_secrets::{ResolveContext, SecretString, resolve_setting};

use crate::alert::{Alert, AlertAction};

pub use webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};

/// The failure of one delivery attempt.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct SendError {
    /// Whether a later attempt may succeed (timeouts, 5xx, 429).
    pub retryable: bool,
    pub detail: String,
}

impl SendError {
    pub fn retryable(detail: impl Into<String>) -> Self {
        Self {
            retryable: true,
            detail: detail.into(),
        }
    }

    pub fn permanent(detail: impl Into<String>) -> Self {
        Self {
            retryable: false,
            detail: detail.into(),
        }
    }
}

/// An error that stops a channel from being set up at start.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("alert channel {channel}: {message}")]
    Invalid { channel: String, message: String },
    #[error("alert channel {channel}: {source}")]
    Secret {
        channel: String,
        source: spiritus_secrets::SecretError,
    },
}

/// A destination of alerts.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers one alert. Called again for the same alert when a retryable error came back.
    async fn send(&self, alert: &Alert) -> Result<(), SendError>;

    /// Returns whether this channel takes resolutions regardless of its severity threshold.
    fn takes_resolutions(&self) -> bool {
        false
    }
}

/// A configured channel, ready to send.
pub struct Channel {
    pub name: String,
    pub min_severity: Severity,
    pub notifier: Box<dyn Notifier>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("min_severity", &self.min_severity)
            .finish_non_exhaustive()
    }
}

impl Channel {
    /// Whether this channel should receive `alert`.
    pub fn wants(&self, alert: &Alert) -> bool {
        if alert.action == AlertAction::Resolve && self.notifier.takes_resolutions() {
            return true;
        }
        alert.severity >= self.min_severity
    }
}

/// Builds every configured channel, resolving its secrets.
pub async fn build_channels(
    configs: &[ChannelConfig],
    timeout: Duration,
    resolve: &ResolveContext,
) -> Result<Vec<Channel>, ChannelError> {
    let http = http_client(timeout)?;
    let mut channels = Vec::with_capacity(configs.len());
    for config in configs {
        let name = config.name();
        let notifier: Box<dyn Notifier> = match config {
            ChannelConfig::Email(settings) => {
                Box::new(email::EmailNotifier::new(&name, settings, timeout, resolve).await?)
            }
            ChannelConfig::Slack(settings) => {
                Box::new(slack::SlackNotifier::new(&name, settings, http.clone(), resolve).await?)
            }
            ChannelConfig::Telegram(settings) => Box::new(
                telegram::TelegramNotifier::new(&name, settings, http.clone(), resolve).await?,
            ),
            ChannelConfig::Webhook(settings) => Box::new(
                webhook::WebhookNotifier::new(&name, settings, http.clone(), resolve).await?,
            ),
            ChannelConfig::Pagerduty(settings) => Box::new(
                pagerduty::PagerDutyNotifier::new(&name, settings, http.clone(), resolve).await?,
            ),
        };
        channels.push(Channel {
            name,
            min_severity: config.min_severity(),
            notifier,
        });
    }
    Ok(channels)
}

fn http_client(timeout: Duration) -> Result<reqwest::Client, ChannelError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(concat!("spiritus/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| ChannelError::Invalid {
            channel: "(all)".into(),
            message: format!("cannot build the HTTP client: {error}"),
        })
}

/// Resolves a channel's secret setting.
pub(crate) async fn secret(
    channel: &str,
    setting: &str,
    text: &str,
    resolve: &ResolveContext,
) -> Result<SecretString, ChannelError> {
    resolve_setting(setting, text, resolve)
        .await
        .map_err(|source| ChannelError::Secret {
            channel: channel.to_owned(),
            source,
        })
}

/// Parses a receiver URL: `https://`, or `http://` to a loopback address. The message never
/// repeats the URL, which may be the credential.
pub(crate) fn receiver_url(channel: &str, setting: &str, raw: &str) -> Result<Url, ChannelError> {
    let invalid = |message: String| ChannelError::Invalid {
        channel: channel.to_owned(),
        message: format!("{setting}: {message}"),
    };
    let url = Url::parse(raw.trim()).map_err(|error| invalid(format!("not a URL ({error})")))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(invalid(
            "plain http is allowed only to a loopback address; use https".into(),
        )),
        _ => Err(invalid("the scheme must be https".into())),
    }
}

/// Sends a prepared request and classifies the response. The error never contains the URL.
pub(crate) async fn post(request: reqwest::RequestBuilder) -> Result<String, SendError> {
    let response = request.send().await.map_err(|error| {
        let error = error.without_url();
        if error.is_timeout() || error.is_connect() {
            SendError::retryable(format!("cannot reach the receiver: {error}"))
        } else {
            SendError::retryable(format!("request failed: {error}"))
        }
    })?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    classify(status)?;
    Ok(body)
}

fn classify(status: StatusCode) -> Result<(), SendError> {
    if status.is_success() {
        Ok(())
    } else if status.is_redirection() {
        Err(SendError::permanent(format!(
            "the receiver returned {status}, a redirect; alerts never follow redirects, so \
             configure the final URL"
        )))
    } else if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Err(SendError::retryable(format!(
            "the receiver returned {status}"
        )))
    } else {
        Err(SendError::permanent(format!(
            "the receiver rejected the alert with {status}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_urls_need_https_unless_loopback() {
        let cases = [
            ("https://hooks.example.com/T0/B0/secret", true),
            ("http://127.0.0.1:8080/hook", true),
            ("http://[::1]:8080/hook", true),
            ("http://localhost/hook", true),
            ("http://hooks.example.com/secret", false),
            ("ftp://127.0.0.1/x", false),
            ("not a url", false),
        ];
        for (raw, ok) in cases {
            let result = receiver_url("test", "url", raw);
            assert_eq!(result.is_ok(), ok, "{raw}");
            if let Err(error) = result {
                assert!(!error.to_string().contains("secret"), "{error}");
            }
        }
    }

    #[test]
    fn answers_are_classified_by_status() {
        assert!(classify(StatusCode::ACCEPTED).is_ok());
        assert!(
            classify(StatusCode::INTERNAL_SERVER_ERROR)
                .unwrap_err()
                .retryable
        );
        assert!(
            classify(StatusCode::TOO_MANY_REQUESTS)
                .unwrap_err()
                .retryable
        );
        assert!(!classify(StatusCode::FOUND).unwrap_err().retryable);
        assert!(!classify(StatusCode::BAD_REQUEST).unwrap_err().retryable);
    }
}
