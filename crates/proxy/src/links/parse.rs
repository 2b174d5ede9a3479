//! Reads share links back into profiles: used by tests (round trips, and building a client
//! config from a link) and safe on any input.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::percent_decode_str;
use serde_json::Value;
use thiserror::Error;
use uuid::Uuid;

use super::{ClientProfile, Credential, LinkSecurity};
use crate::settings::{Protocol, ShadowsocksMethod, Transport};

/// Errors for share links that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LinkParseError {
    #[error("share link has no known scheme; expected vmess://, vless://, trojan:// or ss://")]
    UnknownScheme,
    #[error("share link is missing its {0}")]
    Missing(&'static str),
    #[error("share link field {0} is not valid; regenerate the link")]
    Invalid(&'static str),
}

use LinkParseError::{Invalid, Missing};

pub(super) fn link(text: &str) -> Result<ClientProfile, LinkParseError> {
    let text = text.trim();

    if let Some(rest) = text.strip_prefix("vmess://") {
        vmess(rest)
    } else if let Some(rest) = text.strip_prefix("vless://") {
        url_style(Protocol::Vless, rest)
    } else if let Some(rest) = text.strip_prefix("trojan://") {
        url_style(Protocol::Trojan, rest)
    } else if let Some(rest) = text.strip_prefix("ss://") {
        shadowsocks(rest)
    } else {
        Err(LinkParseError::UnknownScheme)
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

fn decode(text: &str, field: &'static str) -> Result<String, LinkParseError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| Invalid(field))
}

fn vmess(encoded: &str) -> Result<ClientProfile, LinkParseError> {
    let bytes = decode_base64(encoded).ok_or(Invalid("base64 body"))?;
    let document: Value = serde_json::from_slice(&bytes).map_err(|_| Invalid("json body"))?;
    let field = |name: &str| {
        document
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };

    let port = match document.get("port") {
        Some(Value::String(text)) => text.parse().ok(),
        Some(Value::Number(number)) => number.as_u64().and_then(|n| u16::try_from(n).ok()),
        _ => None,
    }
    .ok_or(Invalid("port"))?;

    let id = Uuid::parse_str(&field("id")).map_err(|_| Invalid("id"))?;
    let transport = transport(&field("net"), field("path"), field("host"))?;
    let insecure = document
        .get("allowInsecure")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let security = match field("tls").as_str() {
        "tls" => LinkSecurity::Tls {
            sni: field("sni"),
            allow_insecure: insecure,
        },
        "" | "none" => LinkSecurity::None,
        _ => return Err(Invalid("tls")),
    };

    Ok(ClientProfile {
        protocol: Protocol::Vmess,
        remark: field("ps"),
        host: field("add"),
        port,
        credential: Credential::Id(id),
        transport,
        security,
    })
}

fn transport(network: &str, path: String, host: String) -> Result<Transport, LinkParseError> {
    match network {
        "" | "tcp" => Ok(Transport::Tcp),
        "ws" => Ok(Transport::Ws {
            path,
            host: (!host.is_empty()).then_some(host),
        }),
        _ => Err(Invalid("transport type")),
    }
}

/// The parts of `USER@HOST:PORT?QUERY#FRAGMENT`, still percent-encoded.
struct UrlParts<'a> {
    user: &'a str,
    host: &'a str,
    port: &'a str,
    query: &'a str,
    fragment: &'a str,
}

fn split_url(rest: &str) -> Result<UrlParts<'_>, LinkParseError> {
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (user, host_port) = rest.rsplit_once('@').ok_or(Missing("user part"))?;

    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(Invalid("host"))?;
        (host, after.strip_prefix(':').ok_or(Missing("port"))?)
    } else {
        host_port.rsplit_once(':').ok_or(Missing("port"))?
    };

    Ok(UrlParts {
        user,
        host,
        port,
        query,
        fragment,
    })
}

fn query_map(query: &str) -> Result<HashMap<String, String>, LinkParseError> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name, "query")?, decode(value, "query")?))
        })
        .collect()
}

fn url_style(protocol: Protocol, rest: &str) -> Result<ClientProfile, LinkParseError> {
    let parts = split_url(rest)?;
    let query = query_map(parts.query)?;
    let get = |name: &str| query.get(name).cloned().unwrap_or_default();

    let user = decode(parts.user, "user part")?;
    let credential = match protocol {
        Protocol::Vless => Credential::Id(Uuid::parse_str(&user).map_err(|_| Invalid("id"))?),
        _ => Credential::Password(user),
    };

    let transport = transport(&get("type"), get("path"), get("host"))?;
    let security = match get("security").as_str() {
        "" | "none" => LinkSecurity::None,
        "tls" => LinkSecurity::Tls {
            sni: get("sni"),
            allow_insecure: matches!(get("allowInsecure").as_str(), "1" | "true"),
        },
        "reality" => LinkSecurity::Reality {
            sni: get("sni"),
            public_key: get("pbk"),
            short_id: get("sid"),
            fingerprint: get("fp"),
        },
        _ => return Err(Invalid("security")),
    };

    Ok(ClientProfile {
        protocol,
        remark: decode(parts.fragment, "remark")?,
        host: decode(parts.host, "host")?,
        port: parts.port.parse().map_err(|_| Invalid("port"))?,
        credential,
        transport,
        security,
    })
}

fn shadowsocks(rest: &str) -> Result<ClientProfile, LinkParseError> {
    let parts = split_url(rest)?;

    let user_info = match decode_base64(parts.user) {
        Some(bytes) => String::from_utf8(bytes).map_err(|_| Invalid("user part"))?,
        None => decode(parts.user, "user part")?,
    };
    let (method, password) = user_info.split_once(':').ok_or(Invalid("user part"))?;
    let method = ShadowsocksMethod::from_name(method).ok_or(Invalid("cipher"))?;

    Ok(ClientProfile {
        protocol: Protocol::Shadowsocks,
        remark: decode(parts.fragment, "remark")?,
        host: decode(parts.host, "host")?,
        port: parts.port.parse().map_err(|_| Invalid("port"))?,
        credential: Credential::Shadowsocks {
            method,
            password: password.to_owned(),
        },
        transport: Transport::Tcp,
        security: LinkSecurity::None,
    })
}
