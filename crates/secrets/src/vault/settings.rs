//! How to reach Vault: address, authentication, namespace, CA certificate and timeout.
//!
//! [`VaultSettings::from_env`] reads the variables the Vault CLI uses (`VAULT_ADDR`,
//! `VAULT_TOKEN`, `VAULT_ROLE_ID`/`VAULT_SECRET_ID`, `VAULT_NAMESPACE`, `VAULT_CACERT`,
//! `VAULT_CLIENT_TIMEOUT`) from an [`EnvSource`]; callers may also build the struct directly.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::env::EnvSource;
use crate::secret::SecretString;
use crate::vault::error::VaultError;

/// Default time allowed for one HTTP request to Vault.
pub const DEFAULT_VAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Authentication method of the client.
#[derive(Debug, Clone)]
pub enum VaultAuth {
    /// No credentials configured; reading a secret fails with a hint.
    None,
    /// A Vault token (`VAULT_TOKEN`), sent as `X-Vault-Token`.
    Token(SecretString),
    /// AppRole login (`VAULT_ROLE_ID`, `VAULT_SECRET_ID`) at `auth/<mount>/login`; the
    /// returned client token is kept for later reads.
    AppRole {
        /// The role ID.
        role_id: SecretString,
        /// The secret ID.
        secret_id: SecretString,
    },
}

/// Connection settings for Vault. `Debug` hides the token and the secret ID.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// Base address, e.g. `https://vault.example.org:8200`. Plain `http` is accepted only
    /// for loopback addresses.
    pub addr: String,
    /// Credentials.
    pub auth: VaultAuth,
    /// Enterprise namespace, sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
    /// PEM file with extra CA certificates to trust (`VAULT_CACERT`).
    pub ca_cert: Option<PathBuf>,
    /// Time allowed for each request, connection included.
    pub timeout: Duration,
    /// Mount path of the AppRole auth method (default `approle`).
    pub approle_mount: String,
}

impl VaultSettings {
    /// Settings for `addr` with the default timeout and AppRole mount.
    pub fn new(addr: impl Into<String>, auth: VaultAuth) -> Self {
        Self {
            addr: addr.into(),
            auth,
            namespace: None,
            ca_cert: None,
            timeout: DEFAULT_VAULT_TIMEOUT,
            approle_mount: "approle".to_owned(),
        }
    }

    /// Reads the Vault CLI's variables. `None` when `VAULT_ADDR` is not set. A token wins
    /// over AppRole credentials when both are present.
    pub fn from_env(env: &EnvSource) -> Option<Self> {
        let addr = env.get_non_empty("VAULT_ADDR")?;
        let auth = match (
            env.get_non_empty("VAULT_TOKEN"),
            env.get_non_empty("VAULT_ROLE_ID"),
            env.get_non_empty("VAULT_SECRET_ID"),
        ) {
            (Some(token), _, _) => VaultAuth::Token(token),
            (None, Some(role_id), Some(secret_id)) => VaultAuth::AppRole { role_id, secret_id },
            _ => VaultAuth::None,
        };

        let mut settings = Self::new(addr.expose(), auth);
        settings.namespace = env
            .get_non_empty("VAULT_NAMESPACE")
            .map(|ns| ns.expose().to_owned());
        settings.ca_cert = env
            .get_non_empty("VAULT_CACERT")
            .map(|p| PathBuf::from(p.expose()));
        if let Some(timeout) = env
            .get_non_empty("VAULT_CLIENT_TIMEOUT")
            .and_then(|t| parse_seconds(t.expose()))
        {
            settings.timeout = timeout;
        }
        Some(settings)
    }

    /// Returns the validated base URL: `https`, or `http` to a loopback address.
    pub(crate) fn base_url(&self) -> Result<Url, VaultError> {
        let invalid = |reason: &str| VaultError::InvalidAddress {
            addr: self.addr.clone(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(&self.addr).map_err(|error| invalid(&error.to_string()))?;

        match url.scheme() {
            "https" => Ok(url),
            "http" if is_loopback(&url) => Ok(url),
            "http" => Err(VaultError::InsecureAddress {
                addr: self.addr.clone(),
            }),
            _ => Err(invalid(
                "the scheme must be https (or http to a loopback address)",
            )),
        }
    }
}

/// Checks whether the URL's host is `localhost` or a loopback IP (127.0.0.0/8, ::1).
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');

    match unbracketed.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// `30`, `30s`: whole seconds, as `VAULT_CLIENT_TIMEOUT` is usually written.
fn parse_seconds(text: &str) -> Option<Duration> {
    let digits = text.strip_suffix('s').unwrap_or(text);
    digits
        .parse::<u64>()
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_allowed_only_to_loopback() {
        // (address, accepted)
        let rows = [
            ("https://vault.example.org:8200", true), // TLS anywhere
            ("http://127.0.0.1:8200", true),          // IPv4 loopback
            ("http://127.8.9.10:8200", true),         // all of 127.0.0.0/8
            ("http://[::1]:8200", true),              // IPv6 loopback
            ("http://localhost:8200", true),          // loopback name
            ("http://LOCALHOST:8200", true),          // case-insensitive name
            ("http://vault.example.org:8200", false), // plain http over the network
            ("http://10.0.0.5:8200", false),          // private address is still a network
            ("http://localhost.evil.example:8200", false), // only the exact name
            ("ftp://127.0.0.1", false),               // other schemes
            ("not a url", false),                     // garbage
        ];
        for (addr, accepted) in rows {
            let settings = VaultSettings::new(addr, VaultAuth::None);
            assert_eq!(settings.base_url().is_ok(), accepted, "{addr}");
        }
    }

    #[test]
    fn insecure_address_error_explains_the_fix() {
        let settings = VaultSettings::new("http://vault.internal:8200", VaultAuth::None);

        let message = settings.base_url().unwrap_err().to_string();

        assert!(message.contains("use https"), "{message}");
    }

    #[test]
    fn from_env_prefers_token() {
        let env = EnvSource::from_pairs([
            ("VAULT_ADDR", "https://vault:8200"),
            ("VAULT_TOKEN", "s.token"),
            ("VAULT_ROLE_ID", "role"),
            ("VAULT_SECRET_ID", "secret"),
            ("VAULT_NAMESPACE", "team-a"),
            ("VAULT_CACERT", "/etc/vault/ca.pem"),
            ("VAULT_CLIENT_TIMEOUT", "30s"),
        ]);

        let settings = VaultSettings::from_env(&env).unwrap();

        assert!(matches!(&settings.auth, VaultAuth::Token(token) if token.expose() == "s.token"));
        assert_eq!(settings.namespace.as_deref(), Some("team-a"));
        assert_eq!(settings.ca_cert, Some(PathBuf::from("/etc/vault/ca.pem")));
        assert_eq!(settings.timeout, Duration::from_secs(30));
    }

    #[test]
    fn from_env_approle_and_no_address() {
        let approle = EnvSource::from_pairs([
            ("VAULT_ADDR", "https://vault:8200"),
            ("VAULT_ROLE_ID", "role"),
            ("VAULT_SECRET_ID", "secret"),
        ]);
        let no_addr = EnvSource::from_pairs([("VAULT_TOKEN", "s.token")]);

        let settings = VaultSettings::from_env(&approle).unwrap();

        assert!(matches!(settings.auth, VaultAuth::AppRole { .. }));
        assert!(VaultSettings::from_env(&no_addr).is_none());
    }

    #[test]
    fn debug_hides_credentials() {
        let settings = VaultSettings::new(
            "https://vault:8200",
            VaultAuth::AppRole {
                role_id: "role-123".into(),
                secret_id: "secret-456".into(),
            },
        );

        let shown = format!("{settings:?}");

        assert!(
            !shown.contains("role-123") && !shown.contains("secret-456"),
            "{shown}"
        );
    }
}
