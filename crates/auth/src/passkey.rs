//! The passkey relying party: which RP id and origin the panel's WebAuthn ceremonies use.
//!
//! Both come from configuration, or by default from the panel's public URL: its host is the
//! RP id when it is a domain name (`localhost` counts) and the URL itself is the origin. The
//! WebAuthn standard has no RP id for a bare IP address, so a public URL with one turns
//! passkeys off, with a reason the caller logs. The ceremonies themselves are `webauthn-rs`'s,
//! re-exported here so the application needs no second import path.

use webauthn_rs::prelude::Url;
pub use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, CredentialID, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// Shown to people by their authenticator as the site they register with.
pub const RP_NAME: &str = "Spiritus";

/// A configuration that cannot work; the message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyConfigError {
    #[error("{setting}: {value:?} is not a URL such as https://panel.example.com")]
    BadOrigin {
        setting: &'static str,
        value: String,
    },
    #[error("webauthn.rp_id: {0:?} is an IP address; passkeys need a domain name (or localhost)")]
    IpRpId(String),
    #[error(
        "webauthn.rp_id {rp_id:?} must be the host of webauthn.origin {origin:?} or a parent domain of it"
    )]
    Mismatch { rp_id: String, origin: String },
}

/// Whether passkeys can be offered, and with which relying party.
pub enum PasskeySetup {
    On(Box<RelyingParty>),
    /// Passkeys are off; the reason is for the log and the API error.
    Off {
        reason: String,
    },
}

/// The relying party of every ceremony.
pub struct RelyingParty {
    webauthn: Webauthn,
    id: String,
    origin: Url,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("id", &self.id)
            .field("origin", &self.origin.as_str())
            .finish()
    }
}

impl RelyingParty {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn origin(&self) -> &Url {
        &self.origin
    }

    /// The ceremonies (`start_passkey_registration`, `finish_passkey_authentication`, …).
    pub fn webauthn(&self) -> &Webauthn {
        &self.webauthn
    }
}

/// Decides the relying party from the public URL and the optional `webauthn.*` settings.
pub fn passkey_setup(
    public_url: &str,
    rp_id: Option<&str>,
    origin: Option<&str>,
) -> Result<PasskeySetup, PasskeyConfigError> {
    let (setting, origin_text) = match origin {
        Some(origin) => ("webauthn.origin", origin),
        None => ("public_url", public_url),
    };
    let bad_origin = || PasskeyConfigError::BadOrigin {
        setting,
        value: origin_text.to_owned(),
    };
    let origin = Url::parse(origin_text).map_err(|_| bad_origin())?;
    let rp_id = match rp_id {
        Some(rp_id) if is_ip_address(rp_id) => {
            return Err(PasskeyConfigError::IpRpId(rp_id.to_owned()));
        }
        Some(rp_id) => rp_id.to_owned(),
        None => match origin.host() {
            Some(url::Host::Domain(domain)) => domain.to_owned(),
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {
                return Ok(PasskeySetup::Off {
                    reason: format!(
                        "passkeys are off: {setting} {origin_text:?} names an IP address, and \
                         WebAuthn needs a domain name; set public_url to a https:// URL with a \
                         domain name (localhost counts) or set webauthn.rp_id and webauthn.origin"
                    ),
                });
            }
            None => return Err(bad_origin()),
        },
    };
    let mismatch = || PasskeyConfigError::Mismatch {
        rp_id: rp_id.clone(),
        origin: origin.to_string(),
    };
    let webauthn = WebauthnBuilder::new(&rp_id, &origin)
        .map_err(|_| mismatch())?
        .rp_name(RP_NAME)
        .build()
        .map_err(|_| mismatch())?;
    Ok(PasskeySetup::On(Box::new(RelyingParty {
        webauthn,
        id: rp_id,
        origin,
    })))
}

fn is_ip_address(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(public_url: &str, rp_id: Option<&str>, origin: Option<&str>) -> String {
        match passkey_setup(public_url, rp_id, origin) {
            Ok(PasskeySetup::On(party)) => format!("on {} {}", party.id(), party.origin()),
            Ok(PasskeySetup::Off { .. }) => "off".into(),
            Err(error) => format!("error {error}"),
        }
    }

    #[test]
    fn relying_party_rules() {
        let cases = [
            // A domain name in the public URL is the RP id, the URL the origin.
            (
                "https://panel.example.com",
                None,
                None,
                "on panel.example.com https://panel.example.com/",
            ),
            (
                "https://localhost:8443",
                None,
                None,
                "on localhost https://localhost:8443/",
            ),
            // An IP address turns passkeys off, IPv4 and IPv6 alike.
            ("https://127.0.0.1:8443", None, None, "off"),
            ("https://[::1]:8443", None, None, "off"),
            // Explicit settings win over the public URL.
            (
                "https://127.0.0.1:8443",
                Some("example.com"),
                Some("https://panel.example.com"),
                "on example.com https://panel.example.com/",
            ),
            // Settings that cannot work are start-up errors.
            ("https://127.0.0.1", Some("127.0.0.1"), None, "error"),
            (
                "https://panel.example.com",
                Some("other.org"),
                None,
                "error",
            ),
            ("not a url", None, None, "error"),
        ];
        for (public_url, rp_id, origin, expected) in cases {
            let described = describe(public_url, rp_id, origin);
            assert!(
                described.starts_with(expected),
                "{public_url} {rp_id:?} {origin:?}: {described}"
            );
        }
    }
}
