//! The panel's key material: JWT signing keys, the password pepper, the audit signing key and
//! the keys derived from the pepper.
//!
//! At first start each key is generated as 32 random bytes written as 64 hex digits into its
//! own file under `<data-dir>/secrets/`, apart from the database. A key given by the operator
//! through any secret reference is used as the bytes of its text (at least 32), except the
//! audit key, which is an Ed25519 seed written as 64 hex digits.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use spiritus_audit::keys::AuditSigningKey;
use spiritus_auth::SecretKey;
use spiritus_secrets::{ResolveContext, resolve_setting};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::files::write_private_file_new;

/// File names of the generated secrets inside the secrets directory.
pub const JWT_KEY_FILE: &str = "jwt.key";
pub const PEPPER_FILE: &str = "pepper.key";
pub const AUDIT_KEY_FILE: &str = "audit.key";

/// Why the keys could not be loaded. Messages name the setting, never the value.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Reference(#[from] spiritus_secrets::SecretError),
    #[error(
        "{setting}: the key must be at least 32 bytes long; generate one with `openssl rand -hex 32`"
    )]
    TooShort { setting: String },
    #[error("{setting}: the audit signing key must be 64 hexadecimal digits (an Ed25519 seed)")]
    BadAuditKey { setting: String },
    #[error("cannot create {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Every key the running panel needs.
pub struct PanelKeys {
    /// `(kid, key)`, the signing key first.
    pub jwt: Vec<(String, SecretKey)>,
    pub pepper: SecretKey,
    pub audit: AuditSigningKey,
    /// Derives subscription tokens from user ids.
    pub subscription: SecretKey,
    /// Encrypts TOTP secrets at rest.
    pub totp_encryption: SecretKey,
    /// Derives each VPN user's Trojan/Shadowsocks password on the proxy core; never stored.
    pub core_password: SecretKey,
}

impl std::fmt::Debug for PanelKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.jwt.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("PanelKeys")
            .field("jwt_kids", &kids)
            .finish_non_exhaustive()
    }
}

/// Writes any missing generated secret file that the configuration points at inside
/// `secrets_dir`. Returns the files created.
pub fn generate_missing_secrets(
    config: &Config,
    secrets_dir: &Path,
) -> Result<Vec<PathBuf>, KeyError> {
    let mut created = Vec::new();
    for name in [JWT_KEY_FILE, PEPPER_FILE, AUDIT_KEY_FILE] {
        let path = secrets_dir.join(name);
        let referenced = references_file(config, &path);
        if !referenced || path.exists() {
            continue;
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        let text = Zeroizing::new(hex::encode(&bytes[..]));
        write_private_file_new(&path, text.as_bytes()).map_err(|source| KeyError::Write {
            path: path.clone(),
            source,
        })?;
        created.push(path);
    }
    Ok(created)
}

fn references_file(config: &Config, path: &Path) -> bool {
    let wanted = format!("file:{}", path.display());
    config.secrets.jwt_keys.contains(&wanted)
        || config.secrets.pepper.as_deref() == Some(wanted.as_str())
        || config.secrets.audit_key.as_deref() == Some(wanted.as_str())
}

/// Rewrites `file:` key references with a relative path into absolute ones, relative to
/// `base` (the configuration file's folder), as the secret resolver reads them.
pub fn absolutize_file_references(config: &mut Config, base: &Path) {
    let absolutize = |value: &mut String| {
        if let Some(path) = value.strip_prefix("file:")
            && !Path::new(path).is_absolute()
        {
            *value = format!("file:{}", base.join(path).display());
        }
    };
    config.secrets.jwt_keys.iter_mut().for_each(absolutize);
    if let Some(pepper) = config.secrets.pepper.as_mut() {
        absolutize(pepper);
    }
    if let Some(audit_key) = config.secrets.audit_key.as_mut() {
        absolutize(audit_key);
    }
}

/// Fills unset secret settings with the generated files in `secrets_dir`.
pub fn apply_secret_defaults(config: &mut Config, secrets_dir: &Path) {
    let file = |name: &str| format!("file:{}", secrets_dir.join(name).display());
    if config.secrets.jwt_keys.is_empty() {
        config.secrets.jwt_keys.push(file(JWT_KEY_FILE));
    }
    if config.secrets.pepper.is_none() {
        config.secrets.pepper = Some(file(PEPPER_FILE));
    }
    if config.secrets.audit_key.is_none() {
        config.secrets.audit_key = Some(file(AUDIT_KEY_FILE));
    }
}

/// Resolves every key setting.
pub async fn load_keys(config: &Config, ctx: &ResolveContext) -> Result<PanelKeys, KeyError> {
    let mut jwt = Vec::new();
    for (position, reference) in config.secrets.jwt_keys.iter().enumerate() {
        let setting = format!("secrets.jwt_keys[{position}]");
        let key = long_key(&setting, reference, ctx).await?;
        jwt.push((key_id(&key), key));
    }

    let pepper_ref = config.secrets.pepper.as_deref().unwrap_or_default();
    let pepper = long_key("secrets.pepper", pepper_ref, ctx).await?;

    let audit_ref = config.secrets.audit_key.as_deref().unwrap_or_default();
    let audit_text = resolve_setting("secrets.audit_key", audit_ref, ctx).await?;
    let seed = Zeroizing::new(hex::decode(audit_text.expose().trim()).map_err(|_| {
        KeyError::BadAuditKey {
            setting: "secrets.audit_key".into(),
        }
    })?);
    let audit = AuditSigningKey::from_seed_slice(&seed).map_err(|_| KeyError::BadAuditKey {
        setting: "secrets.audit_key".into(),
    })?;

    Ok(PanelKeys {
        jwt,
        subscription: derive(&pepper, b"spiritus subscription token key v1")?,
        totp_encryption: derive(&pepper, b"spiritus totp secret encryption key v1")?,
        core_password: derive(&pepper, b"spiritus proxy core password key v1")?,
        pepper,
        audit,
    })
}

async fn long_key(
    setting: &str,
    reference: &str,
    ctx: &ResolveContext,
) -> Result<SecretKey, KeyError> {
    let value = resolve_setting(setting, reference, ctx).await?;
    let bytes = value.expose().as_bytes().to_vec();
    if bytes.len() < 32 {
        return Err(KeyError::TooShort {
            setting: setting.to_owned(),
        });
    }
    Ok(SecretKey::from_bytes(bytes))
}

/// A key's public name: the first 8 bytes of its SHA-256, in hex.
fn key_id(key: &SecretKey) -> String {
    hex::encode(&Sha256::digest(key.expose())[..8])
}

/// Derives a purpose-bound key from the pepper with HMAC-SHA256.
pub(crate) fn derive(pepper: &SecretKey, label: &[u8]) -> Result<SecretKey, KeyError> {
    // HMAC accepts keys of any length, so this error cannot occur with SHA-256.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(pepper.expose()).map_err(|_| KeyError::TooShort {
            setting: "secrets.pepper".into(),
        })?;
    mac.update(label);
    Ok(SecretKey::from_bytes(mac.finalize().into_bytes().to_vec()))
}
