//! Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat…): `POST {"text": …}`.

use async_trait::async_trait;
use reqwest::Url;
use serde_json::json;
use spiritus_app::config::SlackChannel;
use spiritus_secrets::ResolveContext;

use super::{ChannelError, Notifier, SendError, post, receiver_url, secret};
use crate::alert::Alert;

pub struct SlackNotifier {
    client: reqwest::Client,
    url: Url,
}

impl SlackNotifier {
    pub async fn new(
        name: &str,
        settings: &SlackChannel,
        client: reqwest::Client,
        resolve: &ResolveContext,
    ) -> Result<Self, ChannelError> {
        let raw = secret(name, "url", &settings.url, resolve).await?;
        let url = receiver_url(name, "url", raw.expose())?;
        Ok(Self { client, url })
    }
}

/// Escapes the three characters Slack reads as markup, so a value can never mention
/// `<!channel>` or forge a link.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[async_trait]
impl Notifier for SlackNotifier {
    async fn send(&self, alert: &Alert) -> Result<(), SendError> {
        let body = json!({ "text": escape(&alert.text()) });
        post(self.client.post(self.url.clone()).json(&body))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<!channel> & <x|y>"),
            "&lt;!channel&gt; &amp; &lt;x|y&gt;"
        );
    }
}
