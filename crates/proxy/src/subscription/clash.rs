//! The Clash Meta (mihomo) document: `proxies`, a `select` group defaulting to a `url-test`
//! group, and a catch-all rule.
//!
//! Clash's trojan always speaks TLS, so trojan profiles without TLS are left out of this
//! document (they stay in the link formats).

use serde_json::{Value, json};

use super::{SubscriptionError, unique_names};
use crate::links::{ClientProfile, Credential, LinkSecurity};
use crate::settings::{Protocol, Transport};

/// Name of the group every connection goes through.
pub const SELECT_GROUP: &str = "PROXY";
/// Name of the latency-testing group.
pub const URLTEST_GROUP: &str = "auto";
const PROBE_URL: &str = "https://www.gstatic.com/generate_204";

pub(super) fn render(profiles: &[ClientProfile]) -> Result<String, SubscriptionError> {
    let named: Vec<(&ClientProfile, String)> = profiles
        .iter()
        .zip(unique_names(profiles))
        .filter(|(profile, _)| clash_can_express(profile))
        .collect();

    let proxies: Vec<Value> = named
        .iter()
        .map(|(profile, name)| proxy(profile, name))
        .collect();
    let names: Vec<&str> = named.iter().map(|(_, name)| name.as_str()).collect();

    let document = json!({
        "mixed-port": 7890,
        "allow-lan": false,
        "mode": "rule",
        "log-level": "warning",
        "proxies": proxies,
        "proxy-groups": groups(&names),
        "rules": [format!("MATCH,{SELECT_GROUP}")],
    });

    Ok(serde_yaml_ng::to_string(&document)?)
}

fn clash_can_express(profile: &ClientProfile) -> bool {
    profile.protocol != Protocol::Trojan || profile.security != LinkSecurity::None
}

fn groups(names: &[&str]) -> Vec<Value> {
    if names.is_empty() {
        return vec![json!({ "name": SELECT_GROUP, "type": "select", "proxies": ["DIRECT"] })];
    }

    let mut choices = vec![URLTEST_GROUP];
    choices.extend(names);

    vec![
        json!({ "name": SELECT_GROUP, "type": "select", "proxies": choices }),
        json!({
            "name": URLTEST_GROUP,
            "type": "url-test",
            "proxies": names,
            "url": PROBE_URL,
            "interval": 300,
        }),
    ]
}

fn proxy(profile: &ClientProfile, name: &str) -> Value {
    let mut proxy = json!({
        "name": name,
        "server": profile.host,
        "port": profile.port,
        "udp": true,
    });

    match &profile.credential {
        Credential::Id(id) if profile.protocol == Protocol::Vmess => {
            proxy["type"] = json!("vmess");
            proxy["uuid"] = json!(id.to_string());
            proxy["alterId"] = json!(0);
            proxy["cipher"] = json!("auto");
        }
        Credential::Id(id) => {
            proxy["type"] = json!("vless");
            proxy["uuid"] = json!(id.to_string());
        }
        Credential::Password(password) => {
            proxy["type"] = json!("trojan");
            proxy["password"] = json!(password);
        }
        Credential::Shadowsocks { method, password } => {
            proxy["type"] = json!("ss");
            proxy["cipher"] = json!(method.as_str());
            proxy["password"] = json!(password);
        }
    }

    add_security(&mut proxy, profile);
    add_transport(&mut proxy, &profile.transport);
    proxy
}

fn add_security(proxy: &mut Value, profile: &ClientProfile) {
    let server_name = profile.tls_server_name().unwrap_or_default().to_owned();
    let sni_key = if profile.protocol == Protocol::Trojan {
        "sni"
    } else {
        "servername"
    };

    match &profile.security {
        LinkSecurity::None => {
            if profile.protocol != Protocol::Shadowsocks {
                proxy["tls"] = json!(false);
            }
        }
        LinkSecurity::Tls { allow_insecure, .. } => {
            proxy["tls"] = json!(true);
            proxy[sni_key] = json!(server_name);
            proxy["skip-cert-verify"] = json!(allow_insecure);
        }
        LinkSecurity::Reality {
            public_key,
            short_id,
            fingerprint,
            ..
        } => {
            proxy["tls"] = json!(true);
            proxy[sni_key] = json!(server_name);
            proxy["client-fingerprint"] = json!(fingerprint);
            proxy["reality-opts"] = json!({ "public-key": public_key, "short-id": short_id });
        }
    }
}

fn add_transport(proxy: &mut Value, transport: &Transport) {
    match transport {
        Transport::Tcp => {
            if proxy["type"] != "ss" {
                proxy["network"] = json!("tcp");
            }
        }
        Transport::Ws { path, host } => {
            let mut options = json!({ "path": path });
            if let Some(host) = host {
                options["headers"] = json!({ "Host": host });
            }
            proxy["network"] = json!("ws");
            proxy["ws-opts"] = options;
        }
    }
}
