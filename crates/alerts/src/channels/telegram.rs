//! Telegram Bot API: `POST {api_base_url}/bot{token}/sendMessage` once per configured chat.
//!
//! Messages are plain text (no `parse_mode`), so nothing in them is read as markup. The bot
//! token is part of the request path; it never appears in a log line or an error.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use reqwest::Url;
use serde_json::{Value, json};
use spiritus_app::config::{ChatId, TelegramChannel};
use spiritus_secrets::ResolveContext;

use super::{ChannelError, Notifier, SendError, post, receiver_url, secret};
use crate::alert::Alert;

pub struct TelegramNotifier {
    client: reqwest::Client,
    endpoint: Url,
    chats: Vec<Value>,
    /// Chats already served for the alert being retried, so a retry reaches only the rest.
    delivered: Mutex<(String, HashSet<usize>)>,
}

impl TelegramNotifier {
    pub async fn new(
        name: &str,
        settings: &TelegramChannel,
        client: reqwest::Client,
        resolve: &ResolveContext,
    ) -> Result<Self, ChannelError> {
        let token = secret(name, "bot_token", &settings.bot_token, resolve).await?;
        let token_ok = !token.is_empty()
            && token
                .expose()
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b':' | b'_' | b'-'));
        if !token_ok {
            return Err(ChannelError::Invalid {
                channel: name.to_owned(),
                message: "bot_token: a bot token has only letters, digits, ':', '_' and '-'".into(),
            });
        }
        if settings.chat_ids.is_empty() {
            return Err(ChannelError::Invalid {
                channel: name.to_owned(),
                message: "chat_ids: name at least one chat".into(),
            });
        }
        let base = settings.api_base_url.trim_end_matches('/');
        let endpoint = receiver_url(
            name,
            "api_base_url",
            &format!("{base}/bot{}/sendMessage", token.expose()),
        )?;
        let chats = settings
            .chat_ids
            .iter()
            .map(|chat| match chat {
                ChatId::Number(id) => json!(id),
                ChatId::Name(name) => json!(name),
            })
            .collect();
        Ok(Self {
            client,
            endpoint,
            chats,
            delivered: Mutex::new((String::new(), HashSet::new())),
        })
    }
}

#[async_trait]
impl Notifier for TelegramNotifier {
    async fn send(&self, alert: &Alert) -> Result<(), SendError> {
        let identity = format!("{}@{}", alert.dedup_key(), alert.time.timestamp_millis());
        for (index, chat) in self.chats.iter().enumerate() {
            let done = {
                let mut delivered = self
                    .delivered
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if delivered.0 != identity {
                    *delivered = (identity.clone(), HashSet::new());
                }
                delivered.1.contains(&index)
            };
            if done {
                continue;
            }
            let body = json!({
                "chat_id": chat,
                "text": alert.text(),
                "disable_web_page_preview": true,
            });
            post(self.client.post(self.endpoint.clone()).json(&body)).await?;
            self.delivered
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .1
                .insert(index);
        }
        Ok(())
    }
}
