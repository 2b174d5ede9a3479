//! Plain input values that describe the proxy core the panel wants: which core, which client
//! inbounds, which destinations to block, and the users with their credentials.
//!
//! These types are read from the `core.*` section of `spiritus.toml` (unknown keys are rejected)
//! or built in code. They hold no behaviour beyond defaults; checks live in `validate`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Proxy core program. Both share most of the JSON config but differ in their gRPC package
/// names and in a few features (REALITY, per-user Shadowsocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoreKind {
    /// V2Ray (v2fly) 4.x; Debian's `v2ray` package.
    V2ray,
    /// Xray-core.
    Xray,
}

impl CoreKind {
    /// Recognises the core from the first lines of `binary -version`.
    pub fn from_version_output(output: &str) -> Option<Self> {
        let lower = output.to_ascii_lowercase();

        if lower.contains("xray") {
            Some(Self::Xray)
        } else if lower.contains("v2ray") {
            Some(Self::V2ray)
        } else {
            None
        }
    }
}

impl fmt::Display for CoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V2ray => f.write_str("v2ray"),
            Self::Xray => f.write_str("xray"),
        }
    }
}

/// Everything the panel configures about the core (the `core.*` keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoreSettings {
    /// Drive a core at all.
    pub enabled: bool,
    /// Executable to run; unset = `xray`, then `v2ray` on `PATH`.
    pub binary: Option<PathBuf>,
    /// Core program; unset = detected from `binary -version` (V2Ray when unknown).
    pub kind: Option<CoreKind>,
    /// Address the client inbounds bind. The API inbound ignores it and binds 127.0.0.1.
    pub listen: IpAddr,
    /// Loopback port of the core's gRPC API.
    pub api_port: u16,
    /// Seconds between two stats polls (used by the caller's poll loop).
    pub stats_interval: u64,
    /// Client inbounds, one per protocol/port.
    pub inbounds: Vec<InboundSettings>,
    /// Destination ports routed to the blackhole outbound.
    pub blocked_ports: Vec<u16>,
    /// Destination networks (CIDR) routed to the blackhole outbound, so that users cannot reach
    /// services on the server's own loopback or private network through the proxy.
    pub blocked_cidrs: Vec<String>,
    /// Access log the core writes (relative paths resolve in the config file's folder).
    pub access_log: PathBuf,
    /// Error log; unset = the core writes it to standard output, captured into tracing.
    pub error_log: Option<PathBuf>,
    /// Core log level for the error log.
    pub log_level: CoreLogLevel,
    /// Seconds an idle connection stays open; bounds how long a removed user's open
    /// connection can live on.
    pub conn_idle_seconds: u32,
    /// The core's config file (used by the panel); unset = `core/config.json` in the data
    /// directory, a relative path = inside the data directory.
    pub config_file: Option<PathBuf>,
    /// Most seconds a cut-off user's busy connection lives on: the panel restarts the core at
    /// most once per this interval while such a user may still hold one (0 = never restart).
    pub disconnect_after_seconds: u64,
    /// Destination ports whose use by a VPN user raises a reconnaissance alert.
    pub recon_ports: Vec<u16>,
    /// Seconds during which one user raises at most one reconnaissance alert.
    pub recon_window_seconds: u64,
}

impl Default for CoreSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            binary: None,
            kind: None,
            listen: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            api_port: 10085,
            stats_interval: 10,
            inbounds: InboundSettings::defaults(),
            blocked_ports: vec![25, 23, 445, 139, 3389],
            blocked_cidrs: default_blocked_cidrs(),
            access_log: PathBuf::from("access.log"),
            error_log: None,
            log_level: CoreLogLevel::Warning,
            conn_idle_seconds: 300,
            config_file: None,
            disconnect_after_seconds: 300,
            recon_ports: vec![22, 3306, 5432, 27017],
            recon_window_seconds: 3600,
        }
    }
}

impl CoreSettings {
    /// Returns the configured core kind, or V2Ray when neither configured nor detected.
    pub fn kind_or_default(&self) -> CoreKind {
        self.kind.unwrap_or(CoreKind::V2ray)
    }
}

/// Loopback, private, link-local and unique-local networks.
pub fn default_blocked_cidrs() -> Vec<String> {
    [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    ]
    .iter()
    .map(|cidr| (*cidr).to_owned())
    .collect()
}

/// The core's own log level words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoreLogLevel {
    Debug,
    Info,
    Warning,
    Error,
    None,
}

impl CoreLogLevel {
    /// Returns the word the core's `log.loglevel` expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::None => "none",
        }
    }
}

/// Proxy protocol of one client inbound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Vmess,
    Vless,
    Trojan,
    Shadowsocks,
}

impl Protocol {
    /// Lower-case protocol word used in tags and configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vmess => "vmess",
            Self::Vless => "vless",
            Self::Trojan => "trojan",
            Self::Shadowsocks => "shadowsocks",
        }
    }
}

/// One client inbound: protocol, port, transport and transport security.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSettings {
    pub protocol: Protocol,
    pub port: u16,
    #[serde(default)]
    pub transport: Transport,
    #[serde(default)]
    pub tls: TlsSettings,
    /// Cipher for Shadowsocks inbounds (ignored by the other protocols).
    #[serde(default)]
    pub shadowsocks_method: ShadowsocksMethod,
}

impl InboundSettings {
    /// Builds a plain TCP inbound without TLS.
    pub fn tcp(protocol: Protocol, port: u16) -> Self {
        Self {
            protocol,
            port,
            transport: Transport::Tcp,
            tls: TlsSettings::None,
            shadowsocks_method: ShadowsocksMethod::default(),
        }
    }

    /// VMess/tcp 10086, VLESS/tcp 10087, Trojan/tcp 10088.
    pub fn defaults() -> Vec<Self> {
        vec![
            Self::tcp(Protocol::Vmess, 10086),
            Self::tcp(Protocol::Vless, 10087),
            Self::tcp(Protocol::Trojan, 10088),
        ]
    }

    /// Stable inbound tag, e.g. `vmess-tcp-10086` or `vless-ws-tls-443`.
    pub fn tag(&self) -> String {
        let security = match self.tls {
            TlsSettings::None => "",
            TlsSettings::Tls { .. } => "-tls",
            TlsSettings::Reality { .. } => "-reality",
        };

        format!(
            "{}-{}{}-{}",
            self.protocol.as_str(),
            self.transport.as_str(),
            security,
            self.port
        )
    }
}

/// Transport between client and core.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Transport {
    #[default]
    Tcp,
    Ws {
        /// Request path, starting with `/`.
        path: String,
        /// `Host` header clients send; unset = the host they dial.
        #[serde(default)]
        host: Option<String>,
    },
}

impl Transport {
    /// Word used in tags and share links.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Ws { .. } => "ws",
        }
    }
}

/// Transport security of an inbound.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum TlsSettings {
    #[default]
    None,
    Tls {
        cert_file: PathBuf,
        key_file: PathBuf,
        /// Name clients send as SNI and verify the certificate against.
        server_name: String,
        /// Tell clients to accept a certificate they cannot verify (self-signed setups).
        #[serde(default)]
        allow_insecure: bool,
    },
    /// Xray REALITY: borrows the TLS handshake of `dest`.
    Reality {
        /// x25519 private key (base64url) the core holds.
        private_key: RealityPrivateKey,
        /// Matching public key (base64url) clients receive.
        public_key: String,
        /// Accepted short ids (hex, up to 16 digits); the first goes into share links.
        short_ids: Vec<String>,
        /// Accepted SNI values; the first goes into share links.
        server_names: Vec<String>,
        /// Real TLS site whose handshake is borrowed, `host:port`.
        dest: String,
        /// uTLS fingerprint clients imitate.
        #[serde(default = "default_fingerprint")]
        fingerprint: String,
    },
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Tls {
                server_name,
                allow_insecure,
                ..
            } => f
                .debug_struct("Tls")
                .field("server_name", server_name)
                .field("allow_insecure", allow_insecure)
                .finish_non_exhaustive(),
            Self::Reality {
                server_names, dest, ..
            } => f
                .debug_struct("Reality")
                .field("server_names", server_names)
                .field("dest", dest)
                .finish_non_exhaustive(),
        }
    }
}

fn default_fingerprint() -> String {
    "chrome".to_owned()
}

/// REALITY private key: no `Debug`, zeroized on drop.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct RealityPrivateKey(String);

impl RealityPrivateKey {
    pub fn new(key: String) -> Self {
        Self(key)
    }

    /// Returns the key text, for writing the core's config only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Shadowsocks AEAD ciphers both cores accept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShadowsocksMethod {
    #[serde(rename = "aes-128-gcm")]
    Aes128Gcm,
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    #[default]
    #[serde(rename = "chacha20-ietf-poly1305")]
    Chacha20IetfPoly1305,
}

impl ShadowsocksMethod {
    /// Cipher name as written in configs and `ss://` links.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aes128Gcm => "aes-128-gcm",
            Self::Aes256Gcm => "aes-256-gcm",
            Self::Chacha20IetfPoly1305 => "chacha20-ietf-poly1305",
        }
    }

    /// Parses a cipher name as clients write it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "aes-128-gcm" => Some(Self::Aes128Gcm),
            "aes-256-gcm" => Some(Self::Aes256Gcm),
            "chacha20-ietf-poly1305" | "chacha20-poly1305" => Some(Self::Chacha20IetfPoly1305),
            _ => None,
        }
    }
}

/// One VPN user, with the values the core needs.
#[derive(Clone)]
pub struct CoreUser {
    /// Stable user key, written as the core's `email`; counters and access-log lines carry it.
    pub key: String,
    /// VMess/VLESS id.
    pub uuid: Uuid,
    /// Trojan/Shadowsocks password.
    pub password: UserPassword,
}

impl CoreUser {
    pub fn new(key: impl Into<String>, uuid: Uuid, password: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            uuid,
            password: UserPassword::new(password.into()),
        }
    }
}

impl fmt::Debug for CoreUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreUser")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A user's Trojan/Shadowsocks password: no `Debug`, zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct UserPassword(String);

impl UserPassword {
    pub fn new(password: String) -> Self {
        Self(password)
    }

    /// Returns the password text, for configs, gRPC calls and the user's own share links only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Client endpoint: the address and name that share links and client documents carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEndpoint {
    /// Host clients dial (from the panel's public URL).
    pub host: String,
    /// The user's display name, shown by client apps.
    pub remark: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_section_reads_with_defaults_and_tagged_transports() {
        let text = r#"{
            "api_port": 20085,
            "inbounds": [
                { "protocol": "vless", "port": 443,
                  "transport": { "type": "ws", "path": "/ws" },
                  "tls": { "type": "tls", "cert_file": "c.pem", "key_file": "k.pem", "server_name": "vpn.example.com" } },
                { "protocol": "vmess", "port": 10086 }
            ]
        }"#;

        let settings: CoreSettings = serde_json::from_str(text).unwrap();

        assert_eq!(settings.api_port, 20085);
        assert_eq!(settings.blocked_ports, [25, 23, 445, 139, 3389]);
        assert_eq!(settings.inbounds[0].tag(), "vless-ws-tls-443");
        assert_eq!(settings.inbounds[1].tag(), "vmess-tcp-10086");
        assert_eq!(settings.inbounds[1].transport, Transport::Tcp);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let cases = [
            // a typo at the top level
            r#"{ "api_prot": 1 }"#,
            // a typo inside an inbound
            r#"{ "inbounds": [ { "protocol": "vmess", "port": 1, "tsl": {} } ] }"#,
            // a typo inside a transport
            r#"{ "inbounds": [ { "protocol": "vmess", "port": 1, "transport": { "type": "ws", "path": "/", "hots": "x" } } ] }"#,
        ];

        for text in cases {
            assert!(
                serde_json::from_str::<CoreSettings>(text).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let user = CoreUser::new("key", Uuid::nil(), "hunter2-password");
        let tls = TlsSettings::Reality {
            private_key: RealityPrivateKey::new("private-key-text".to_owned()),
            public_key: "pub".to_owned(),
            short_ids: vec![],
            server_names: vec![],
            dest: "example.com:443".to_owned(),
            fingerprint: "chrome".to_owned(),
        };

        let printed = format!("{user:?} {tls:?}");

        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("private-key-text"), "{printed}");
    }
}
