//! Generates the core's JSON config from settings and users: client inbounds with per-user
//! credentials (`email` = user key), the loopback gRPC API, per-user stats policy, the
//! blackhole routing for blocked ports and networks, and the logs.
//!
//! The same JSON serves V2Ray 4.34 and Xray; what differs (REALITY, per-user Shadowsocks) is
//! refused by validation for the core that lacks it.

use serde_json::{Value, json};

use crate::settings::{
    CoreKind, CoreSettings, CoreUser, InboundSettings, Protocol, TlsSettings, Transport,
};
use crate::validate::{SettingsError, validate_users};

/// Tag of the dokodemo-door inbound that carries gRPC API calls.
pub const API_INBOUND_TAG: &str = "api-in";
/// Tag of the core's internal API outbound.
pub const API_TAG: &str = "api";
/// Tag of the outbound that lets traffic out.
pub const DIRECT_TAG: &str = "direct";
/// Tag of the blackhole outbound for blocked destinations.
pub const BLOCKED_TAG: &str = "blocked";

/// A generated core config, ready to be written to the file the core reads.
#[derive(Clone, PartialEq)]
pub struct CoreConfig {
    json: Value,
}

/// The config contains passwords, so its `Debug` output shows none of it.
impl std::fmt::Debug for CoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreConfig").finish_non_exhaustive()
    }
}

impl CoreConfig {
    /// Returns the config as JSON.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Serializes the config as pretty JSON bytes for the config file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec_pretty(&self.json)
    }
}

/// Builds the core config for `settings` (validated for its core kind) and `users`.
pub fn generate(settings: &CoreSettings, users: &[CoreUser]) -> Result<CoreConfig, SettingsError> {
    let kind = settings.kind_or_default();
    settings.validate(kind)?;

    let needs_password = settings
        .inbounds
        .iter()
        .any(|inbound| matches!(inbound.protocol, Protocol::Trojan | Protocol::Shadowsocks));
    validate_users(users, needs_password)?;

    let mut inbounds = vec![api_inbound(settings.api_port)];
    inbounds.extend(
        settings
            .inbounds
            .iter()
            .map(|inbound| client_inbound(settings, inbound, users)),
    );

    let json = json!({
        "log": log_section(settings),
        "stats": {},
        "api": { "tag": API_TAG, "services": ["StatsService", "HandlerService"] },
        "policy": policy_section(settings),
        "inbounds": inbounds,
        "outbounds": [
            { "tag": DIRECT_TAG, "protocol": "freedom", "settings": {} },
            { "tag": BLOCKED_TAG, "protocol": "blackhole", "settings": {} },
        ],
        "routing": routing_section(settings),
    });

    Ok(CoreConfig { json })
}

fn log_section(settings: &CoreSettings) -> Value {
    let mut log = json!({
        "access": settings.access_log,
        "loglevel": settings.log_level.as_str(),
    });

    if let Some(error_log) = &settings.error_log {
        log["error"] = json!(error_log);
    }

    log
}

fn policy_section(settings: &CoreSettings) -> Value {
    json!({
        "levels": {
            "0": {
                "statsUserUplink": true,
                "statsUserDownlink": true,
                "connIdle": settings.conn_idle_seconds,
            }
        },
        "system": {
            "statsInboundUplink": true,
            "statsInboundDownlink": true,
        }
    })
}

fn routing_section(settings: &CoreSettings) -> Value {
    let mut rules = vec![json!({
        "type": "field",
        "inboundTag": [API_INBOUND_TAG],
        "outboundTag": API_TAG,
    })];

    if !settings.blocked_ports.is_empty() {
        let ports: Vec<String> = settings.blocked_ports.iter().map(u16::to_string).collect();
        rules.push(json!({ "type": "field", "port": ports.join(","), "outboundTag": BLOCKED_TAG }));
    }

    if !settings.blocked_cidrs.is_empty() {
        rules.push(
            json!({ "type": "field", "ip": settings.blocked_cidrs, "outboundTag": BLOCKED_TAG }),
        );
    }

    json!({ "domainStrategy": "AsIs", "rules": rules })
}

/// Builds the gRPC API inbound. It binds loopback whatever `listen` is, because the API can add users.
fn api_inbound(api_port: u16) -> Value {
    json!({
        "tag": API_INBOUND_TAG,
        "listen": "127.0.0.1",
        "port": api_port,
        "protocol": "dokodemo-door",
        "settings": { "address": "127.0.0.1" },
    })
}

fn client_inbound(settings: &CoreSettings, inbound: &InboundSettings, users: &[CoreUser]) -> Value {
    json!({
        "tag": inbound.tag(),
        "listen": settings.listen.to_string(),
        "port": inbound.port,
        "protocol": inbound.protocol.as_str(),
        "settings": protocol_settings(inbound, users),
        "streamSettings": stream_settings(inbound),
    })
}

fn protocol_settings(inbound: &InboundSettings, users: &[CoreUser]) -> Value {
    let clients: Vec<Value> = users
        .iter()
        .map(|user| client_entry(inbound, user))
        .collect();

    match inbound.protocol {
        Protocol::Vmess => json!({ "clients": clients }),
        Protocol::Vless => json!({ "clients": clients, "decryption": "none" }),
        Protocol::Trojan => json!({ "clients": clients }),
        Protocol::Shadowsocks => json!({ "clients": clients, "network": "tcp,udp" }),
    }
}

/// Builds one user's entry in an inbound's `clients` list.
pub fn client_entry(inbound: &InboundSettings, user: &CoreUser) -> Value {
    match inbound.protocol {
        Protocol::Vmess => json!({
            "id": user.uuid.to_string(), "alterId": 0, "email": user.key, "level": 0,
        }),
        Protocol::Vless => json!({
            "id": user.uuid.to_string(), "email": user.key, "level": 0,
        }),
        Protocol::Trojan => json!({
            "password": user.password.expose(), "email": user.key, "level": 0,
        }),
        Protocol::Shadowsocks => json!({
            "password": user.password.expose(),
            "method": inbound.shadowsocks_method.as_str(),
            "email": user.key,
            "level": 0,
        }),
    }
}

fn stream_settings(inbound: &InboundSettings) -> Value {
    let mut stream = json!({ "network": inbound.transport.as_str() });

    if let Transport::Ws { path, host } = &inbound.transport {
        let mut ws = json!({ "path": path });
        if let Some(host) = host {
            ws["headers"] = json!({ "Host": host });
        }
        stream["wsSettings"] = ws;
    }

    match &inbound.tls {
        TlsSettings::None => stream["security"] = json!("none"),
        TlsSettings::Tls {
            cert_file,
            key_file,
            server_name,
            ..
        } => {
            stream["security"] = json!("tls");
            stream["tlsSettings"] = json!({
                "serverName": server_name,
                "certificates": [{ "certificateFile": cert_file, "keyFile": key_file }],
            });
        }
        TlsSettings::Reality {
            private_key,
            short_ids,
            server_names,
            dest,
            ..
        } => {
            stream["security"] = json!("reality");
            stream["realitySettings"] = json!({
                "show": false,
                "dest": dest,
                "xver": 0,
                "serverNames": server_names,
                "privateKey": private_key.expose(),
                "shortIds": short_ids,
            });
        }
    }

    stream
}

/// Lists the inbounds of `settings` whose users can be changed live through the HandlerService.
pub fn live_user_inbounds(settings: &CoreSettings) -> Vec<InboundSettings> {
    let kind = settings.kind_or_default();

    settings
        .inbounds
        .iter()
        .filter(|inbound| inbound.protocol != Protocol::Shadowsocks || kind == CoreKind::Xray)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use uuid::Uuid;

    use super::*;

    fn users() -> Vec<CoreUser> {
        vec![
            CoreUser::new("key-a", Uuid::from_u128(1), "pw-a"),
            CoreUser::new("key-b", Uuid::from_u128(2), "pw-b"),
        ]
    }

    #[test]
    fn api_inbound_binds_loopback_only() {
        let settings = CoreSettings {
            listen: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ..CoreSettings::default()
        };

        let config = generate(&settings, &users()).unwrap();
        let api = &config.json()["inbounds"][0];

        assert_eq!(api["tag"], API_INBOUND_TAG);
        assert_eq!(api["listen"], "127.0.0.1");
        assert_eq!(api["port"], 10085);
        assert_eq!(config.json()["inbounds"][1]["listen"], "0.0.0.0");
    }

    #[test]
    fn inbounds_list_users_by_key() {
        let config = generate(&CoreSettings::default(), &users()).unwrap();
        let inbounds = config.json()["inbounds"].as_array().unwrap();

        let tags: Vec<&str> = inbounds
            .iter()
            .map(|i| i["tag"].as_str().unwrap())
            .collect();
        assert_eq!(
            tags,
            [
                "api-in",
                "vmess-tcp-10086",
                "vless-tcp-10087",
                "trojan-tcp-10088"
            ]
        );

        for inbound in &inbounds[1..] {
            let emails: Vec<&str> = inbound["settings"]["clients"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["email"].as_str().unwrap())
                .collect();
            assert_eq!(emails, ["key-a", "key-b"]);
        }

        assert_eq!(inbounds[1]["settings"]["clients"][0]["alterId"], 0);
        assert_eq!(inbounds[2]["settings"]["decryption"], "none");
        assert_eq!(inbounds[3]["settings"]["clients"][1]["password"], "pw-b");
    }

    #[test]
    fn blocked_ports_and_networks_route_to_blackhole() {
        let config = generate(&CoreSettings::default(), &users()).unwrap();
        let rules = config.json()["routing"]["rules"].as_array().unwrap();

        assert_eq!(rules[0]["inboundTag"][0], API_INBOUND_TAG);
        assert_eq!(rules[1]["port"], "25,23,445,139,3389");
        assert_eq!(rules[1]["outboundTag"], BLOCKED_TAG);
        assert_eq!(rules[2]["ip"][0], "127.0.0.0/8");
    }

    #[test]
    fn per_user_counters_are_switched_on() {
        let config = generate(&CoreSettings::default(), &users()).unwrap();
        let level = &config.json()["policy"]["levels"]["0"];

        assert_eq!(level["statsUserUplink"], true);
        assert_eq!(level["statsUserDownlink"], true);
        assert_eq!(level["connIdle"], 300);
        assert_eq!(config.json()["stats"], json!({}));
    }

    #[test]
    fn generation_refuses_invalid_settings() {
        let settings = CoreSettings {
            inbounds: vec![InboundSettings::tcp(Protocol::Shadowsocks, 8388)],
            ..CoreSettings::default()
        };

        assert_eq!(
            generate(&settings, &users()),
            Err(SettingsError::ShadowsocksNeedsXray(8388))
        );
    }

    #[test]
    fn xray_shadowsocks_clients_carry_method_and_password() {
        let settings = CoreSettings {
            kind: Some(CoreKind::Xray),
            inbounds: vec![InboundSettings::tcp(Protocol::Shadowsocks, 8388)],
            ..CoreSettings::default()
        };

        let config = generate(&settings, &users()).unwrap();
        let client = &config.json()["inbounds"][1]["settings"]["clients"][0];

        assert_eq!(client["method"], "chacha20-ietf-poly1305");
        assert_eq!(client["password"], "pw-a");
        assert_eq!(client["email"], "key-a");
    }
}
