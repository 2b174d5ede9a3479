//! The `responses` section: what the panel does by itself when a security event arrives.
//!
//! ```toml
//! [[responses.rules]]
//! event = "login_failed"
//! action = "block_ip"
//! threshold = 20          # events from one address…
//! window_seconds = 600    # …within this many seconds
//! ```
//!
//! Setting `rules` replaces the defaults: a decoy-account login blocks the address, and a
//! reused refresh token ends every session of its account.

use serde::{Deserialize, Deserializer};
use spiritus_core::events::SecurityEvent;

use super::network::CidrList;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponsesConfig {
    #[serde(default = "default_rules")]
    pub rules: Vec<ResponseRule>,
    /// Addresses never blocked or throttled automatically (the operators' own networks).
    #[serde(default)]
    pub exempt: CidrList,
    /// Seconds a tightened rate limit stays tightened.
    #[serde(default = "default_tighten_seconds")]
    pub tighten_seconds: u64,
}

fn default_tighten_seconds() -> u64 {
    900
}

impl Default for ResponsesConfig {
    fn default() -> Self {
        Self {
            rules: default_rules(),
            exempt: CidrList::default(),
            tighten_seconds: default_tighten_seconds(),
        }
    }
}

fn default_rules() -> Vec<ResponseRule> {
    vec![
        ResponseRule::once(EventKind("honey_account_used"), ResponseAction::BlockIp),
        ResponseRule::once(
            EventKind("refresh_token_reused"),
            ResponseAction::RevokeSessions,
        ),
    ]
}

/// The action of an automatic response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseAction {
    /// Blocks the event's client address for `block_seconds` (default `rate_limits.block_seconds`).
    BlockIp,
    /// Suspends the account the event names.
    SuspendAccount,
    /// Ends every session of the account the event names.
    RevokeSessions,
    /// Tightens the rate limits of the event's client address for `tighten_seconds`.
    TightenRateLimit,
}

impl ResponseAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseAction::BlockIp => "block_ip",
            ResponseAction::SuspendAccount => "suspend_account",
            ResponseAction::RevokeSessions => "revoke_sessions",
            ResponseAction::TightenRateLimit => "tighten_rate_limit",
        }
    }
}

/// A security event kind named in the configuration; only known kinds parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKind(&'static str);

impl EventKind {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// Kinds that are themselves the outcome of a response; a rule on them could loop.
const RESPONSE_KINDS: &[&str] = &["ip_blocked", "account_suspended"];

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        if RESPONSE_KINDS.contains(&raw.as_str()) {
            return Err(serde::de::Error::custom(format!(
                "{raw} is raised by automatic responses and cannot trigger one"
            )));
        }
        SecurityEvent::KINDS
            .iter()
            .find(|kind| **kind == raw)
            .map(|kind| EventKind(kind))
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown event kind {raw:?}; known kinds: {}",
                    SecurityEvent::KINDS.join(", ")
                ))
            })
    }
}

/// One automatic response: `action` once `threshold` events of kind `event` about one key
/// (address or account) arrived within `window_seconds`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseRule {
    pub event: EventKind,
    pub action: ResponseAction,
    #[serde(default = "default_threshold")]
    pub threshold: u64,
    #[serde(default = "default_window_seconds")]
    pub window_seconds: u64,
    /// For `block_ip`: how long the block lasts; defaults to `rate_limits.block_seconds`.
    pub block_seconds: Option<u64>,
}

fn default_threshold() -> u64 {
    1
}

fn default_window_seconds() -> u64 {
    3600
}

impl ResponseRule {
    fn once(event: EventKind, action: ResponseAction) -> Self {
        Self {
            event,
            action,
            threshold: 1,
            window_seconds: default_window_seconds(),
            block_seconds: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_block_honey_logins_and_revoke_on_refresh_reuse() {
        let config: ResponsesConfig = toml::from_str("").unwrap();
        let rules: Vec<_> = config
            .rules
            .iter()
            .map(|rule| (rule.event.as_str(), rule.action))
            .collect();
        assert_eq!(
            rules,
            vec![
                ("honey_account_used", ResponseAction::BlockIp),
                ("refresh_token_reused", ResponseAction::RevokeSessions),
            ]
        );
    }

    #[test]
    fn rules_name_only_known_kinds_that_cannot_loop() {
        let rule = |event: &str| format!("[[rules]]\nevent = \"{event}\"\naction = \"block_ip\"\n");
        assert!(toml::from_str::<ResponsesConfig>(&rule("login_failed")).is_ok());
        let unknown = toml::from_str::<ResponsesConfig>(&rule("login_failure"))
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown event kind"), "{unknown}");
        let looping = toml::from_str::<ResponsesConfig>(&rule("ip_blocked"))
            .unwrap_err()
            .to_string();
        assert!(looping.contains("cannot trigger"), "{looping}");
    }
}
