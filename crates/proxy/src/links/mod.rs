//! Share links (`vmess://`, `vless://`, `trojan://`, `ss://`) that client apps import.
//!
//! A [`ClientProfile`] is what one client needs to reach one inbound as one user. Profiles are
//! derived from the core settings ([`profiles_for`]), written as links ([`ClientProfile::to_link`])
//! and read back from links ([`ClientProfile::parse_link`]); subscription documents are rendered
//! from the same profiles. Building never fails and never panics, whatever the remark or host.

mod build;
mod parse;

use std::fmt;

use uuid::Uuid;

pub use parse::LinkParseError;

use crate::settings::{
    ClientEndpoint, CoreSettings, CoreUser, InboundSettings, Protocol, ShadowsocksMethod,
    TlsSettings, Transport,
};

/// Client profile: everything a client needs to reach one inbound as one user.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientProfile {
    pub protocol: Protocol,
    /// Name the client shows.
    pub remark: String,
    /// Host the client dials.
    pub host: String,
    pub port: u16,
    pub credential: Credential,
    pub transport: Transport,
    pub security: LinkSecurity,
}

/// The user's secret for the protocol.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// VMess/VLESS id.
    Id(Uuid),
    /// Trojan password.
    Password(String),
    /// Shadowsocks cipher and password.
    Shadowsocks {
        method: ShadowsocksMethod,
        password: String,
    },
}

/// Transport security as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSecurity {
    None,
    Tls {
        /// SNI to send; empty = the dialed host.
        sni: String,
        allow_insecure: bool,
    },
    Reality {
        sni: String,
        public_key: String,
        short_id: String,
        fingerprint: String,
    },
}

/// Profiles carry the user's secret, so `Debug` names only where they lead.
impl fmt::Debug for ClientProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientProfile")
            .field("protocol", &self.protocol)
            .field("remark", &self.remark)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("transport", &self.transport)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl ClientProfile {
    /// Builds the profile for one inbound and one user.
    pub fn new(inbound: &InboundSettings, user: &CoreUser, endpoint: &ClientEndpoint) -> Self {
        Self {
            protocol: inbound.protocol,
            remark: format!("{} [{}]", endpoint.remark, inbound.tag()),
            host: endpoint.host.clone(),
            port: inbound.port,
            credential: credential(inbound, user),
            transport: inbound.transport.clone(),
            security: security(&inbound.tls),
        }
    }

    /// Writes the profile as a share link.
    pub fn to_link(&self) -> String {
        build::link(self)
    }

    /// Reads a share link written by [`ClientProfile::to_link`] (or a compatible client).
    pub fn parse_link(link: &str) -> Result<Self, LinkParseError> {
        parse::link(link)
    }

    /// The SNI a TLS client should send: the configured one, else the dialed host.
    pub fn tls_server_name(&self) -> Option<&str> {
        match &self.security {
            LinkSecurity::None => None,
            LinkSecurity::Tls { sni, .. } | LinkSecurity::Reality { sni, .. }
                if !sni.is_empty() =>
            {
                Some(sni)
            }
            LinkSecurity::Tls { .. } | LinkSecurity::Reality { .. } => Some(&self.host),
        }
    }
}

fn credential(inbound: &InboundSettings, user: &CoreUser) -> Credential {
    match inbound.protocol {
        Protocol::Vmess | Protocol::Vless => Credential::Id(user.uuid),
        Protocol::Trojan => Credential::Password(user.password.expose().to_owned()),
        Protocol::Shadowsocks => Credential::Shadowsocks {
            method: inbound.shadowsocks_method,
            password: user.password.expose().to_owned(),
        },
    }
}

fn security(tls: &TlsSettings) -> LinkSecurity {
    match tls {
        TlsSettings::None => LinkSecurity::None,
        TlsSettings::Tls {
            server_name,
            allow_insecure,
            ..
        } => LinkSecurity::Tls {
            sni: server_name.clone(),
            allow_insecure: *allow_insecure,
        },
        TlsSettings::Reality {
            public_key,
            short_ids,
            server_names,
            fingerprint,
            ..
        } => LinkSecurity::Reality {
            sni: server_names.first().cloned().unwrap_or_default(),
            public_key: public_key.clone(),
            short_id: short_ids.first().cloned().unwrap_or_default(),
            fingerprint: fingerprint.clone(),
        },
    }
}

/// Builds one profile per inbound of `settings` for `user`, in inbound order.
pub fn profiles_for(
    settings: &CoreSettings,
    user: &CoreUser,
    endpoint: &ClientEndpoint,
) -> Vec<ClientProfile> {
    settings
        .inbounds
        .iter()
        .map(|inbound| ClientProfile::new(inbound, user, endpoint))
        .collect()
}

/// Builds the user's share links, one per inbound.
pub fn share_links(
    settings: &CoreSettings,
    user: &CoreUser,
    endpoint: &ClientEndpoint,
) -> Vec<String> {
    profiles_for(settings, user, endpoint)
        .iter()
        .map(ClientProfile::to_link)
        .collect()
}

#[cfg(test)]
mod tests;
