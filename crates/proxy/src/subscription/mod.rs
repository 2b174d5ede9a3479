//! Renders a user's subscription: plain links, base64 links (the default answer), a sing-box
//! client document and a Clash Meta (mihomo) document, and picks the format a client wants
//! from its `User-Agent` or the `format` query. The HTML page belongs to the server.

mod clash;
mod singbox;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

use crate::links::ClientProfile;

/// Shapes a subscription can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionFormat {
    /// Share links, one per line.
    Links,
    /// The links, newline-joined, as standard base64.
    Base64,
    /// sing-box client JSON.
    SingBox,
    /// Clash Meta / mihomo YAML.
    Clash,
    /// A page for people in a browser (rendered by the server).
    Html,
}

impl SubscriptionFormat {
    /// `Content-Type` of the rendered document.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Links | Self::Base64 => "text/plain; charset=utf-8",
            Self::SingBox => "application/json",
            Self::Clash => "application/yaml; charset=utf-8",
            Self::Html => "text/html; charset=utf-8",
        }
    }

    /// File extension for `Content-Disposition`.
    pub fn file_extension(self) -> &'static str {
        match self {
            Self::Links | Self::Base64 => "txt",
            Self::SingBox => "json",
            Self::Clash => "yaml",
            Self::Html => "html",
        }
    }
}

/// Errors while rendering a subscription.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SubscriptionError {
    #[error("unknown subscription format {0:?}; use links, base64, singbox, clash or html")]
    UnknownFormat(String),
    #[error("html subscriptions are rendered by the server, not by the proxy crate")]
    HtmlNotRendered,
    #[error("could not write the sing-box document")]
    Json(#[from] serde_json::Error),
    #[error("could not write the clash document")]
    Yaml(#[from] serde_yaml_ng::Error),
}

/// Picks the format: an explicit `format` query wins, else the client's `User-Agent`,
/// else base64 links (what most apps import).
pub fn detect_format(
    user_agent: Option<&str>,
    format_query: Option<&str>,
) -> Result<SubscriptionFormat, SubscriptionError> {
    if let Some(query) = format_query.filter(|query| !query.is_empty()) {
        return format_from_query(query);
    }

    Ok(user_agent.map_or(SubscriptionFormat::Base64, format_from_user_agent))
}

fn format_from_query(query: &str) -> Result<SubscriptionFormat, SubscriptionError> {
    match query.to_ascii_lowercase().as_str() {
        "links" | "plain" => Ok(SubscriptionFormat::Links),
        "base64" | "v2ray" => Ok(SubscriptionFormat::Base64),
        "singbox" | "sing-box" => Ok(SubscriptionFormat::SingBox),
        "clash" | "clash-meta" | "mihomo" => Ok(SubscriptionFormat::Clash),
        "html" => Ok(SubscriptionFormat::Html),
        _ => Err(SubscriptionError::UnknownFormat(
            query.chars().take(32).collect(),
        )),
    }
}

/// Client words are matched against whole User-Agent tokens, so `sfa` inside another word
/// does not count.
fn format_from_user_agent(user_agent: &str) -> SubscriptionFormat {
    let lower = user_agent.to_ascii_lowercase();
    let tokens: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'))
        .filter(|token| !token.is_empty())
        .collect();
    let has = |test: &dyn Fn(&str) -> bool| tokens.iter().any(|token| test(token));

    let clash = |t: &str| t.starts_with("clash") || t.starts_with("mihomo") || t == "stash";
    let sing_box = |t: &str| t == "sing-box" || matches!(t, "sfa" | "sfi" | "sfm" | "sft");
    let link_app = |t: &str| {
        t.starts_with("v2rayn")
            || t.starts_with("hiddify")
            || t.starts_with("nekobox")
            || t.starts_with("nekoray")
            || t.starts_with("streisand")
            || t.starts_with("v2box")
    };

    if has(&link_app) {
        SubscriptionFormat::Base64
    } else if has(&clash) {
        SubscriptionFormat::Clash
    } else if has(&sing_box) {
        SubscriptionFormat::SingBox
    } else if tokens.first() == Some(&"mozilla") {
        SubscriptionFormat::Html
    } else {
        SubscriptionFormat::Base64
    }
}

/// Formats the `Subscription-Userinfo` header value. A `total` of 0 means unlimited, and an
/// unknown expiry is left out.
pub fn userinfo_header(upload: u64, download: u64, total: u64, expire_unix: Option<i64>) -> String {
    let head = format!("upload={upload}; download={download}; total={total}");

    match expire_unix {
        Some(expire) => format!("{head}; expire={expire}"),
        None => head,
    }
}

/// Renders the profiles in `format`. Html is refused: the server renders that page.
pub fn render(
    profiles: &[ClientProfile],
    format: SubscriptionFormat,
) -> Result<String, SubscriptionError> {
    match format {
        SubscriptionFormat::Links => Ok(links_text(profiles)),
        SubscriptionFormat::Base64 => Ok(STANDARD.encode(links_text(profiles))),
        SubscriptionFormat::SingBox => singbox::render(profiles),
        SubscriptionFormat::Clash => clash::render(profiles),
        SubscriptionFormat::Html => Err(SubscriptionError::HtmlNotRendered),
    }
}

fn links_text(profiles: &[ClientProfile]) -> String {
    let mut text = profiles
        .iter()
        .map(ClientProfile::to_link)
        .collect::<Vec<_>>()
        .join("\n");
    text.push('\n');
    text
}

/// Profile names made unique (clients key proxies by name): repeats get ` #2`, ` #3`…
fn unique_names(profiles: &[ClientProfile]) -> Vec<String> {
    let mut seen = std::collections::HashMap::<String, usize>::new();

    profiles
        .iter()
        .map(|profile| {
            let base = if profile.remark.is_empty() {
                profile.protocol.as_str().to_owned()
            } else {
                profile.remark.clone()
            };
            let count = seen.entry(base.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                base
            } else {
                format!("{base} #{count}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
