//! Public subscriptions: what the holder of a subscription token gets.
//!
//! A token of the wrong shape is refused without any work (its shape is no secret). Any token
//! of the right shape is hashed and looked up, and the answer is built the same way whether
//! the token is known or not: an unknown token gets the view of a stand-in user (same
//! inbounds, same derivations) that the caller renders and throws away, so the time taken
//! does not tell known tokens from unknown ones. Users who may not connect (switched off,
//! over quota, expired) get their usage figures and an empty list of configs.
//!
//! The view holds only what the user may see: their name, status, usage, quota, expiry and
//! configs; never the note, ids or other internal fields. Fetch times are kept in memory
//! ([`FetchLog`]) and written in batches.

mod fetches;

use chrono::{DateTime, Utc};
use spiritus_core::user::{TrafficLimit, UserName, UserStatus, VpnUser};
use spiritus_proxy::links::ClientProfile;
use spiritus_proxy::subscription::SubscriptionError;
use spiritus_proxy::{ClientEndpoint, SubscriptionFormat, profiles_for, render, userinfo_header};
use uuid::Uuid;

pub use fetches::FetchLog;

use super::core::core_user;
use crate::error::AppError;
use crate::state::App;
use crate::subscription::{looks_like_token, token_hash};

/// Name shown by the stand-in view built for unknown tokens.
const STAND_IN_NAME: &str = "subscription";

/// What a subscription shows.
#[derive(Debug, Clone)]
pub struct SubscriptionView {
    /// The user's name, shown by client apps as the profile name.
    pub name: String,
    pub status: UserStatus,
    pub upload_bytes: u64,
    pub download_bytes: u64,
    /// Quota in bytes; 0 = unlimited.
    pub total_bytes: u64,
    pub expire_at: DateTime<Utc>,
    /// The configs; empty unless the user may connect.
    pub profiles: Vec<ClientProfile>,
    /// Hours between client refreshes.
    pub update_interval_hours: u32,
}

/// A looked-up subscription: the view, and whether the token belongs to a user. For an
/// unknown token the view is a stand-in to render and discard.
#[derive(Debug, Clone)]
pub struct SubscriptionLookup {
    pub known: bool,
    pub view: SubscriptionView,
}

impl SubscriptionView {
    /// The `Subscription-Userinfo` header value.
    pub fn userinfo(&self) -> String {
        userinfo_header(
            self.upload_bytes,
            self.download_bytes,
            self.total_bytes,
            Some(self.expire_at.timestamp()),
        )
    }

    /// Renders the configs as links, base64 links, sing-box or Clash (not HTML).
    pub fn render(&self, format: SubscriptionFormat) -> Result<String, SubscriptionError> {
        render(&self.profiles, format)
    }

    /// The file name offered for `format`.
    pub fn filename(&self, format: SubscriptionFormat) -> String {
        format!("{}.{}", self.name, format.file_extension())
    }
}

impl App {
    /// Looks a subscription token up. `None` when the token cannot be one of ours by its shape;
    /// otherwise a view, known or stand-in. A known token's fetch time is recorded in memory.
    pub async fn subscription(&self, token: &str) -> Result<Option<SubscriptionLookup>, AppError> {
        if !looks_like_token(token) {
            return Ok(None);
        }
        let found = self
            .store()
            .user_by_subscription(&token_hash(token))
            .await?;
        let now = self.now();
        let lookup = match found {
            Some(user) => {
                self.inner().subscription_fetches.record(user.id, now);
                SubscriptionLookup {
                    known: true,
                    view: self.subscription_view(&user, now)?,
                }
            }
            None => SubscriptionLookup {
                known: false,
                view: self.subscription_view(&stand_in_user(now)?, now)?,
            },
        };
        Ok(Some(lookup))
    }

    fn subscription_view(
        &self,
        user: &VpnUser,
        now: DateTime<Utc>,
    ) -> Result<SubscriptionView, AppError> {
        let core = core_user(&self.inner().core_password_key, user)?;
        let endpoint = ClientEndpoint {
            host: self.proxy_host(),
            remark: user.name.to_string(),
        };
        // Built for every user, so users who may not connect take the same time.
        let profiles = profiles_for(&self.config().core, &core, &endpoint);
        let status = user.status(now);
        Ok(SubscriptionView {
            name: user.name.to_string(),
            status,
            upload_bytes: user.upload_bytes,
            download_bytes: user.download_bytes,
            total_bytes: user.traffic_limit.bytes(),
            expire_at: user.expire_at,
            profiles: if status == UserStatus::Active {
                profiles
            } else {
                Vec::new()
            },
            update_interval_hours: self.config().subscription.update_interval_hours,
        })
    }

    /// The host clients dial: `subscription.proxy_host`, else the host of `public_url`.
    pub fn proxy_host(&self) -> String {
        if let Some(host) = &self.config().subscription.proxy_host {
            return host.clone();
        }
        host_of(&self.config().public_url())
    }
}

/// The host part of a URL (IPv6 without brackets); the whole text when it cannot be parsed.
fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => match parsed.host() {
            Some(url::Host::Ipv6(address)) => address.to_string(),
            Some(host) => host.to_string(),
            None => url.to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

/// The stand-in user whose view unknown tokens get.
fn stand_in_user(now: DateTime<Utc>) -> Result<VpnUser, AppError> {
    Ok(VpnUser {
        id: Uuid::nil(),
        name: UserName::parse("name", STAND_IN_NAME)?,
        owner_id: None,
        enabled: true,
        traffic_limit: TrafficLimit::UNLIMITED,
        upload_bytes: 0,
        download_bytes: 0,
        expire_at: now + chrono::Duration::days(30),
        created_at: now,
        updated_at: now,
        note: spiritus_core::user::Note::default(),
        subscription_revision: 0,
        proxy_uuid: Uuid::nil(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_comes_from_the_url() {
        let cases = [
            // a domain with a port
            ("https://panel.example.com:8443", "panel.example.com"),
            // an IPv4 address
            ("https://127.0.0.1:8443/base", "127.0.0.1"),
            // an IPv6 address loses its brackets
            ("https://[2001:db8::1]:443", "2001:db8::1"),
            // not a URL at all
            ("panel", "panel"),
        ];
        for (url, host) in cases {
            assert_eq!(host_of(url), host, "{url}");
        }
    }
}
