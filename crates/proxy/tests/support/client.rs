//! A second v2ray process acting as the client: one SOCKS5 inbound per profile, each routed to
//! an outbound built from that profile (itself parsed back from a share link).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use spiritus_proxy::Protocol;
use spiritus_proxy::links::{ClientProfile, Credential, LinkSecurity};
use spiritus_proxy::settings::Transport;
use tokio::process::{Child, Command};

use super::net::{free_port, wait_for_port};

/// Builds the client config: inbound `in-N` on its SOCKS port goes out through `out-N`.
pub fn client_config(entries: &[(u16, ClientProfile)]) -> Value {
    let inbounds: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(n, (port, _))| {
            json!({ "tag": format!("in-{n}"), "listen": "127.0.0.1", "port": port,
                    "protocol": "socks", "settings": { "udp": false } })
        })
        .collect();
    let outbounds: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(n, (_, profile))| outbound(profile, &format!("out-{n}")))
        .collect();
    let rules: Vec<Value> = (0..entries.len())
        .map(|n| json!({ "type": "field", "inboundTag": [format!("in-{n}")], "outboundTag": format!("out-{n}") }))
        .collect();

    json!({
        "log": { "loglevel": "warning" },
        "inbounds": inbounds,
        "outbounds": outbounds,
        "routing": { "rules": rules },
    })
}

fn outbound(profile: &ClientProfile, tag: &str) -> Value {
    let server = json!({ "address": profile.host, "port": profile.port });
    let settings = match (&profile.protocol, &profile.credential) {
        (Protocol::Vmess, Credential::Id(id)) => json!({ "vnext": [
            { "address": profile.host, "port": profile.port,
              "users": [{ "id": id.to_string(), "alterId": 0, "security": "auto" }] }] }),
        (Protocol::Vless, Credential::Id(id)) => json!({ "vnext": [
            { "address": profile.host, "port": profile.port,
              "users": [{ "id": id.to_string(), "encryption": "none" }] }] }),
        (Protocol::Trojan, Credential::Password(password)) => {
            let mut server = server;
            server["password"] = json!(password);
            json!({ "servers": [server] })
        }
        other => panic!("the test client does not speak {:?}", other.0),
    };

    let mut stream = json!({ "network": profile.transport.as_str(), "security": "none" });
    if let Transport::Ws { path, host } = &profile.transport {
        stream["wsSettings"] =
            json!({ "path": path, "headers": { "Host": host.clone().unwrap_or_default() } });
    }
    if let LinkSecurity::Tls { allow_insecure, .. } = &profile.security {
        stream["security"] = json!("tls");
        stream["tlsSettings"] = json!({
            "serverName": profile.tls_server_name().unwrap_or_default(),
            "allowInsecure": allow_insecure,
        });
    }

    json!({ "tag": tag, "protocol": profile.protocol.as_str(), "settings": settings, "streamSettings": stream })
}

/// A running client core; killed when dropped.
pub struct ClientCore {
    child: Child,
    pub socks_ports: Vec<u16>,
    _config: PathBuf,
}

impl ClientCore {
    /// Starts the client with one SOCKS inbound per profile and waits for its ports.
    pub async fn start(binary: &Path, dir: &Path, profiles: &[ClientProfile]) -> Self {
        let entries: Vec<(u16, ClientProfile)> =
            profiles.iter().map(|p| (free_port(), p.clone())).collect();
        let config = dir.join(format!("client-{}.json", entries[0].0));
        std::fs::write(
            &config,
            serde_json::to_vec_pretty(&client_config(&entries)).unwrap(),
        )
        .unwrap();

        let child = Command::new(binary)
            .arg("-config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();

        for (port, _) in &entries {
            wait_for_port(*port, Duration::from_secs(10)).await;
        }

        Self {
            child,
            socks_ports: entries.iter().map(|(port, _)| *port).collect(),
            _config: config,
        }
    }
}

impl Drop for ClientCore {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
