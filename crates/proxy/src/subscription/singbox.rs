//! The sing-box client document: a local mixed (socks/http) inbound, one outbound per profile,
//! a `urltest` group that picks the fastest, a `selector` defaulting to it, and `direct`.

use serde_json::{Value, json};

use super::{SubscriptionError, unique_names};
use crate::links::{ClientProfile, Credential, LinkSecurity};
use crate::settings::Transport;

/// Tag of the selector group that routes everything.
pub const SELECTOR_TAG: &str = "proxy";
/// Tag of the latency-testing group.
pub const URLTEST_TAG: &str = "auto";
const PROBE_URL: &str = "https://www.gstatic.com/generate_204";

pub(super) fn render(profiles: &[ClientProfile]) -> Result<String, SubscriptionError> {
    let names = unique_names(profiles);
    let mut outbounds = groups(&names);

    outbounds.extend(
        profiles
            .iter()
            .zip(&names)
            .map(|(profile, name)| outbound(profile, name)),
    );
    outbounds.push(json!({ "type": "direct", "tag": "direct" }));

    let document = json!({
        "log": { "level": "warn" },
        "inbounds": [{
            "type": "mixed",
            "tag": "mixed-in",
            "listen": "127.0.0.1",
            "listen_port": 2080,
        }],
        "outbounds": outbounds,
        "route": { "final": SELECTOR_TAG, "auto_detect_interface": true },
    });

    Ok(serde_json::to_string_pretty(&document)?)
}

fn groups(names: &[String]) -> Vec<Value> {
    if names.is_empty() {
        return vec![json!({ "type": "selector", "tag": SELECTOR_TAG, "outbounds": ["direct"] })];
    }

    let mut choices = vec![URLTEST_TAG.to_owned()];
    choices.extend(names.iter().cloned());

    vec![
        json!({
            "type": "selector",
            "tag": SELECTOR_TAG,
            "outbounds": choices,
            "default": URLTEST_TAG,
        }),
        json!({
            "type": "urltest",
            "tag": URLTEST_TAG,
            "outbounds": names,
            "url": PROBE_URL,
            "interval": "10m",
        }),
    ]
}

fn outbound(profile: &ClientProfile, name: &str) -> Value {
    let mut outbound = json!({
        "tag": name,
        "server": profile.host,
        "server_port": profile.port,
    });

    match &profile.credential {
        Credential::Id(id) if profile.protocol == crate::Protocol::Vmess => {
            outbound["type"] = json!("vmess");
            outbound["uuid"] = json!(id.to_string());
            outbound["security"] = json!("auto");
            outbound["alter_id"] = json!(0);
        }
        Credential::Id(id) => {
            outbound["type"] = json!("vless");
            outbound["uuid"] = json!(id.to_string());
        }
        Credential::Password(password) => {
            outbound["type"] = json!("trojan");
            outbound["password"] = json!(password);
        }
        Credential::Shadowsocks { method, password } => {
            outbound["type"] = json!("shadowsocks");
            outbound["method"] = json!(method.as_str());
            outbound["password"] = json!(password);
        }
    }

    if let Some(tls) = tls(profile) {
        outbound["tls"] = tls;
    }

    if let Transport::Ws { path, host } = &profile.transport {
        let mut transport = json!({ "type": "ws", "path": path });
        if let Some(host) = host {
            transport["headers"] = json!({ "Host": host });
        }
        outbound["transport"] = transport;
    }

    outbound
}

fn tls(profile: &ClientProfile) -> Option<Value> {
    let server_name = profile.tls_server_name().unwrap_or_default();

    match &profile.security {
        LinkSecurity::None => None,
        LinkSecurity::Tls { allow_insecure, .. } => Some(json!({
            "enabled": true,
            "server_name": server_name,
            "insecure": allow_insecure,
        })),
        LinkSecurity::Reality {
            public_key,
            short_id,
            fingerprint,
            ..
        } => Some(json!({
            "enabled": true,
            "server_name": server_name,
            "utls": { "enabled": true, "fingerprint": fingerprint },
            "reality": { "enabled": true, "public_key": public_key, "short_id": short_id },
        })),
    }
}
