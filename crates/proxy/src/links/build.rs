//! Writes share links. Every outside string (remark, host, path, password) is percent-encoded
//! where it lands, so no input can break the link's structure.

use std::net::Ipv6Addr;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

use super::{ClientProfile, Credential, LinkSecurity};
use crate::settings::{Protocol, Transport};

/// Everything but RFC 3986 unreserved characters is encoded.
pub(super) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(super) fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

pub(super) fn link(profile: &ClientProfile) -> String {
    match profile.protocol {
        Protocol::Vmess => vmess(profile),
        Protocol::Vless | Protocol::Trojan => url_style(profile),
        Protocol::Shadowsocks => shadowsocks(profile),
    }
}

/// IPv6 literals go in brackets; other hosts are percent-encoded so they cannot inject `@`,
/// `/`, `?` or `#`.
fn authority(host: &str, port: u16) -> String {
    if host.parse::<Ipv6Addr>().is_ok() {
        format!("[{host}]:{port}")
    } else {
        format!("{}:{port}", encode(host))
    }
}

/// Writes the v2rayN "version 2" JSON, base64-encoded.
fn vmess(profile: &ClientProfile) -> String {
    let id = match &profile.credential {
        Credential::Id(id) => id.to_string(),
        Credential::Password(text) | Credential::Shadowsocks { password: text, .. } => text.clone(),
    };

    let (ws_host, ws_path) = ws_parts(&profile.transport);
    let (tls, sni, insecure) = match &profile.security {
        LinkSecurity::Tls {
            sni,
            allow_insecure,
        } => ("tls", sni.as_str(), *allow_insecure),
        LinkSecurity::None | LinkSecurity::Reality { .. } => ("", "", false),
    };

    let mut document = json!({
        "v": "2",
        "ps": profile.remark,
        "add": profile.host,
        "port": profile.port.to_string(),
        "id": id,
        "aid": "0",
        "scy": "auto",
        "net": profile.transport.as_str(),
        "type": "none",
        "host": ws_host,
        "path": ws_path,
        "tls": tls,
        "sni": sni,
    });

    if insecure {
        document["allowInsecure"] = json!(true);
    }

    format!("vmess://{}", STANDARD.encode(document.to_string()))
}

fn ws_parts(transport: &Transport) -> (&str, &str) {
    match transport {
        Transport::Tcp => ("", ""),
        Transport::Ws { path, host } => (host.as_deref().unwrap_or(""), path.as_str()),
    }
}

/// `vless://ID@HOST:PORT?…#REMARK` and `trojan://PASSWORD@HOST:PORT?…#REMARK`.
fn url_style(profile: &ClientProfile) -> String {
    let (scheme, user) = match (&profile.protocol, &profile.credential) {
        (Protocol::Vless, Credential::Id(id)) => ("vless", id.to_string()),
        (Protocol::Vless, other) => ("vless", encode(secret_text(other))),
        (_, Credential::Id(id)) => ("trojan", id.to_string()),
        (_, other) => ("trojan", encode(secret_text(other))),
    };

    let mut query = Vec::new();
    if profile.protocol == Protocol::Vless {
        query.push(("encryption", "none".to_owned()));
    }
    push_transport(&mut query, &profile.transport);
    push_security(&mut query, &profile.security);

    format!(
        "{scheme}://{user}@{}?{}#{}",
        authority(&profile.host, profile.port),
        query_string(&query),
        encode(&profile.remark)
    )
}

fn secret_text(credential: &Credential) -> &str {
    match credential {
        Credential::Id(_) => "",
        Credential::Password(text) | Credential::Shadowsocks { password: text, .. } => text,
    }
}

fn push_transport(query: &mut Vec<(&'static str, String)>, transport: &Transport) {
    query.push(("type", transport.as_str().to_owned()));

    if let Transport::Ws { path, host } = transport {
        query.push(("path", path.clone()));
        if let Some(host) = host {
            query.push(("host", host.clone()));
        }
    }
}

fn push_security(query: &mut Vec<(&'static str, String)>, security: &LinkSecurity) {
    match security {
        LinkSecurity::None => query.push(("security", "none".to_owned())),
        LinkSecurity::Tls {
            sni,
            allow_insecure,
        } => {
            query.push(("security", "tls".to_owned()));
            query.push(("sni", sni.clone()));
            if *allow_insecure {
                query.push(("allowInsecure", "1".to_owned()));
            }
        }
        LinkSecurity::Reality {
            sni,
            public_key,
            short_id,
            fingerprint,
        } => {
            query.push(("security", "reality".to_owned()));
            query.push(("sni", sni.clone()));
            query.push(("pbk", public_key.clone()));
            query.push(("sid", short_id.clone()));
            query.push(("fp", fingerprint.clone()));
        }
    }
}

fn query_string(query: &[(&str, String)]) -> String {
    query
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// SIP002: `ss://BASE64URL(method:password)@HOST:PORT#REMARK`.
fn shadowsocks(profile: &ClientProfile) -> String {
    let user_info = match &profile.credential {
        Credential::Shadowsocks { method, password } => format!("{}:{password}", method.as_str()),
        Credential::Password(password) => format!("chacha20-ietf-poly1305:{password}"),
        Credential::Id(id) => format!("chacha20-ietf-poly1305:{id}"),
    };

    format!(
        "ss://{}@{}#{}",
        URL_SAFE_NO_PAD.encode(user_info),
        authority(&profile.host, profile.port),
        encode(&profile.remark)
    )
}
