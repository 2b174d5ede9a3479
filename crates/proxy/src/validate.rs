//! Checks that settings and users make a config the chosen core accepts, before any file is
//! written or process started. Each failure is its own error variant naming the inbound port.

use std::collections::HashSet;
use std::net::IpAddr;

use thiserror::Error;

use crate::settings::{
    CoreKind, CoreSettings, CoreUser, InboundSettings, Protocol, TlsSettings, Transport,
};

/// Settings the core would refuse or that would break counting.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("core settings list no client inbound; add at least one to core.inbounds")]
    NoInbounds,
    #[error("an inbound uses port 0; give every inbound a fixed port")]
    PortZero,
    #[error("core.api_port is 0; choose a fixed loopback port such as 10085")]
    ApiPortZero,
    #[error("two inbounds use port {0}; give each inbound its own port")]
    DuplicatePort(u16),
    #[error("inbound port {0} is also core.api_port; move one of them")]
    ApiPortClash(u16),
    #[error("websocket path {path:?} of inbound port {port} must start with '/'")]
    WsPathWithoutSlash { port: u16, path: String },
    #[error("inbound port {port} has an empty {field}; fill it in or drop the TLS section")]
    EmptyTlsField { port: u16, field: &'static str },
    #[error(
        "inbound port {0} uses REALITY, which only xray supports; use tls or switch core.binary to xray"
    )]
    RealityNeedsXray(u16),
    #[error("inbound port {0} uses REALITY, which this panel supports for VLESS over tcp only")]
    RealityNeedsVlessTcp(u16),
    #[error(
        "inbound port {0} is shadowsocks: v2ray gives a shadowsocks inbound one password for \
         everybody, so it cannot tell users apart or count their traffic; use xray or drop it"
    )]
    ShadowsocksNeedsXray(u16),
    #[error(
        "inbound port {0} is shadowsocks over websocket or TLS; share links carry shadowsocks over plain tcp only"
    )]
    ShadowsocksNeedsPlainTcp(u16),
    #[error("core.blocked_ports contains 0; list real destination ports")]
    BlockedPortZero,
    #[error("core.blocked_cidrs entry {0:?} is not an address/prefix such as 10.0.0.0/8")]
    BadCidr(String),
    #[error("a user key is empty; every user needs a stable key")]
    EmptyUserKey,
    #[error(
        "user key {0:?} contains '>>>', whitespace or a control character, which breaks counter and log parsing"
    )]
    BadUserKey(String),
    #[error("user key {0:?} appears twice; user keys must be unique")]
    DuplicateUserKey(String),
    #[error("a user of key {0:?} has an empty password, which trojan and shadowsocks refuse")]
    EmptyPassword(String),
}

impl CoreSettings {
    /// Checks the settings for the given core.
    pub fn validate(&self, kind: CoreKind) -> Result<(), SettingsError> {
        if self.inbounds.is_empty() {
            return Err(SettingsError::NoInbounds);
        }

        if self.api_port == 0 {
            return Err(SettingsError::ApiPortZero);
        }

        let mut ports = HashSet::new();

        for inbound in &self.inbounds {
            inbound.validate(kind)?;

            if inbound.port == self.api_port {
                return Err(SettingsError::ApiPortClash(inbound.port));
            }

            if !ports.insert(inbound.port) {
                return Err(SettingsError::DuplicatePort(inbound.port));
            }
        }

        self.validate_blocking()
    }

    fn validate_blocking(&self) -> Result<(), SettingsError> {
        if self.blocked_ports.contains(&0) {
            return Err(SettingsError::BlockedPortZero);
        }

        for cidr in &self.blocked_cidrs {
            if !is_cidr(cidr) {
                return Err(SettingsError::BadCidr(cidr.clone()));
            }
        }

        Ok(())
    }

    /// Advice about settings that work but weaken security (shown in the log and by `doctor`).
    pub fn warnings(&self) -> Vec<String> {
        self.inbounds
            .iter()
            .filter(|inbound| {
                inbound.protocol == Protocol::Trojan && inbound.tls == TlsSettings::None
            })
            .map(|inbound| {
                format!(
                    "trojan inbound on port {} has no TLS: passwords and traffic cross the network \
                     in the clear; add a tls section",
                    inbound.port
                )
            })
            .collect()
    }
}

impl InboundSettings {
    /// Checks one inbound for the given core.
    ///
    /// Trojan without TLS is accepted (V2Ray runs it, and the default inbound list has it for
    /// local setups) but listed by [`CoreSettings::warnings`].
    pub fn validate(&self, kind: CoreKind) -> Result<(), SettingsError> {
        if self.port == 0 {
            return Err(SettingsError::PortZero);
        }

        if self.protocol == Protocol::Shadowsocks && kind == CoreKind::V2ray {
            return Err(SettingsError::ShadowsocksNeedsXray(self.port));
        }

        let plain_tcp = self.transport == Transport::Tcp && self.tls == TlsSettings::None;
        if self.protocol == Protocol::Shadowsocks && !plain_tcp {
            return Err(SettingsError::ShadowsocksNeedsPlainTcp(self.port));
        }

        if let Transport::Ws { path, .. } = &self.transport
            && !path.starts_with('/')
        {
            return Err(SettingsError::WsPathWithoutSlash {
                port: self.port,
                path: path.clone(),
            });
        }

        self.validate_tls(kind)
    }

    fn validate_tls(&self, kind: CoreKind) -> Result<(), SettingsError> {
        let port = self.port;

        match &self.tls {
            TlsSettings::None => Ok(()),
            TlsSettings::Tls {
                cert_file,
                key_file,
                server_name,
                ..
            } => {
                require(!cert_file.as_os_str().is_empty(), port, "cert_file")?;
                require(!key_file.as_os_str().is_empty(), port, "key_file")?;
                require(!server_name.is_empty(), port, "server_name")
            }
            TlsSettings::Reality {
                private_key,
                public_key,
                short_ids,
                server_names,
                dest,
                ..
            } => {
                if kind != CoreKind::Xray {
                    return Err(SettingsError::RealityNeedsXray(port));
                }

                if self.protocol != Protocol::Vless || self.transport != Transport::Tcp {
                    return Err(SettingsError::RealityNeedsVlessTcp(port));
                }

                require(!private_key.expose().is_empty(), port, "private_key")?;
                require(!public_key.is_empty(), port, "public_key")?;
                require(!short_ids.is_empty(), port, "short_ids")?;
                require(!server_names.is_empty(), port, "server_names")?;
                require(!dest.is_empty(), port, "dest")
            }
        }
    }
}

fn require(present: bool, port: u16, field: &'static str) -> Result<(), SettingsError> {
    if present {
        Ok(())
    } else {
        Err(SettingsError::EmptyTlsField { port, field })
    }
}

fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };

    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };

    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };

    match address {
        IpAddr::V4(_) => prefix <= 32,
        IpAddr::V6(_) => prefix <= 128,
    }
}

/// Checks user keys (unique, safe inside counter names and log lines) and passwords.
pub fn validate_users(users: &[CoreUser], needs_password: bool) -> Result<(), SettingsError> {
    let mut keys = HashSet::new();

    for user in users {
        validate_user_key(&user.key)?;

        if needs_password && user.password.expose().is_empty() {
            return Err(SettingsError::EmptyPassword(user.key.clone()));
        }

        if !keys.insert(user.key.as_str()) {
            return Err(SettingsError::DuplicateUserKey(user.key.clone()));
        }
    }

    Ok(())
}

/// Checks one user key. The key is written as the core's `email`, and counter names split on
/// `>>>` and log lines on whitespace, so neither may appear in it.
pub fn validate_user_key(key: &str) -> Result<(), SettingsError> {
    if key.is_empty() {
        return Err(SettingsError::EmptyUserKey);
    }

    let unsafe_char = key.chars().any(|c| c.is_whitespace() || c.is_control());

    if unsafe_char || key.contains(">>>") {
        return Err(SettingsError::BadUserKey(key.to_owned()));
    }

    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::settings::RealityPrivateKey;

    fn with_inbounds(inbounds: Vec<InboundSettings>) -> CoreSettings {
        CoreSettings {
            inbounds,
            ..CoreSettings::default()
        }
    }

    fn ws(protocol: Protocol, port: u16, path: &str) -> InboundSettings {
        InboundSettings {
            transport: Transport::Ws {
                path: path.to_owned(),
                host: None,
            },
            ..InboundSettings::tcp(protocol, port)
        }
    }

    fn reality(protocol: Protocol, port: u16) -> InboundSettings {
        InboundSettings {
            tls: TlsSettings::Reality {
                private_key: RealityPrivateKey::new("cHJpdmF0ZQ".to_owned()),
                public_key: "cHVibGlj".to_owned(),
                short_ids: vec!["0123abcd".to_owned()],
                server_names: vec!["example.com".to_owned()],
                dest: "example.com:443".to_owned(),
                fingerprint: "chrome".to_owned(),
            },
            ..InboundSettings::tcp(protocol, port)
        }
    }

    #[test]
    fn settings_validation_names_each_mistake() {
        use Protocol::*;
        let tcp = InboundSettings::tcp;
        let cases: Vec<(&str, CoreKind, CoreSettings, Result<(), SettingsError>)> = vec![
            // the defaults are valid on v2ray
            ("defaults", CoreKind::V2ray, CoreSettings::default(), Ok(())),
            // nothing to serve
            (
                "empty",
                CoreKind::V2ray,
                with_inbounds(vec![]),
                Err(SettingsError::NoInbounds),
            ),
            // port 0 would pick a random port clients cannot know
            (
                "port zero",
                CoreKind::V2ray,
                with_inbounds(vec![tcp(Vmess, 0)]),
                Err(SettingsError::PortZero),
            ),
            // two inbounds cannot share a port
            (
                "duplicate",
                CoreKind::V2ray,
                with_inbounds(vec![tcp(Vmess, 2000), tcp(Vless, 2000)]),
                Err(SettingsError::DuplicatePort(2000)),
            ),
            // the API port is taken by the dokodemo-door inbound
            (
                "api clash",
                CoreKind::V2ray,
                with_inbounds(vec![tcp(Vmess, 10085)]),
                Err(SettingsError::ApiPortClash(10085)),
            ),
            // websocket paths are absolute
            (
                "ws path",
                CoreKind::V2ray,
                with_inbounds(vec![ws(Vless, 2001, "ws")]),
                Err(SettingsError::WsPathWithoutSlash {
                    port: 2001,
                    path: "ws".to_owned(),
                }),
            ),
            // a proper websocket path passes
            (
                "ws ok",
                CoreKind::V2ray,
                with_inbounds(vec![ws(Vless, 2001, "/ws")]),
                Ok(()),
            ),
            // REALITY is Xray's
            (
                "reality on v2ray",
                CoreKind::V2ray,
                with_inbounds(vec![reality(Vless, 2002)]),
                Err(SettingsError::RealityNeedsXray(2002)),
            ),
            // REALITY on Xray with VLESS over tcp passes
            (
                "reality on xray",
                CoreKind::Xray,
                with_inbounds(vec![reality(Vless, 2002)]),
                Ok(()),
            ),
            // REALITY with VMess is refused
            (
                "reality vmess",
                CoreKind::Xray,
                with_inbounds(vec![reality(Vmess, 2002)]),
                Err(SettingsError::RealityNeedsVlessTcp(2002)),
            ),
            // v2ray has no per-user shadowsocks
            (
                "ss on v2ray",
                CoreKind::V2ray,
                with_inbounds(vec![tcp(Shadowsocks, 2003)]),
                Err(SettingsError::ShadowsocksNeedsXray(2003)),
            ),
            // xray has per-user shadowsocks
            (
                "ss on xray",
                CoreKind::Xray,
                with_inbounds(vec![tcp(Shadowsocks, 2003)]),
                Ok(()),
            ),
            // trojan without TLS is allowed (with a warning)
            (
                "trojan plain",
                CoreKind::V2ray,
                with_inbounds(vec![tcp(Trojan, 2004)]),
                Ok(()),
            ),
            // port 0 is no destination port
            (
                "blocked zero",
                CoreKind::V2ray,
                CoreSettings {
                    blocked_ports: vec![25, 0],
                    ..CoreSettings::default()
                },
                Err(SettingsError::BlockedPortZero),
            ),
            // a CIDR without prefix is refused
            (
                "bad cidr",
                CoreKind::V2ray,
                CoreSettings {
                    blocked_cidrs: vec!["10.0.0.0".to_owned()],
                    ..CoreSettings::default()
                },
                Err(SettingsError::BadCidr("10.0.0.0".to_owned())),
            ),
            // TLS needs its files
            (
                "tls without cert",
                CoreKind::V2ray,
                with_inbounds(vec![InboundSettings {
                    tls: TlsSettings::Tls {
                        cert_file: PathBuf::new(),
                        key_file: PathBuf::from("k.pem"),
                        server_name: "example.com".to_owned(),
                        allow_insecure: false,
                    },
                    ..tcp(Trojan, 2005)
                }]),
                Err(SettingsError::EmptyTlsField {
                    port: 2005,
                    field: "cert_file",
                }),
            ),
        ];

        for (name, kind, settings, expected) in cases {
            assert_eq!(settings.validate(kind), expected, "case {name}");
        }
    }

    #[test]
    fn shadowsocks_refusal_says_why() {
        let message = SettingsError::ShadowsocksNeedsXray(8388).to_string();

        assert!(message.contains("one password for everybody"), "{message}");
    }

    #[test]
    fn trojan_without_tls_is_warned_about() {
        let warnings = CoreSettings::default().warnings();

        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("10088"));
    }

    #[test]
    fn user_keys_that_break_parsing_are_refused() {
        let cases = [
            // ordinary uuid-like key
            ("2b1c-key", Ok(())),
            // empty
            ("", Err(SettingsError::EmptyUserKey)),
            // counter separator inside
            ("a>>>b", Err(SettingsError::BadUserKey("a>>>b".to_owned()))),
            // whitespace would end the access-log field early
            ("a b", Err(SettingsError::BadUserKey("a b".to_owned()))),
            // control characters could forge log lines
            ("a\nb", Err(SettingsError::BadUserKey("a\nb".to_owned()))),
        ];

        for (key, expected) in cases {
            assert_eq!(validate_user_key(key), expected, "key {key:?}");
        }
    }

    #[test]
    fn duplicate_user_keys_are_refused() {
        let id = uuid::Uuid::nil();
        let users = [CoreUser::new("k", id, "p"), CoreUser::new("k", id, "q")];

        assert_eq!(
            validate_users(&users, true),
            Err(SettingsError::DuplicateUserKey("k".to_owned()))
        );
    }
}
