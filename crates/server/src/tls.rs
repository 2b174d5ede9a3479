//! TLS for the panel: certificate loading and hot reload, the generated self-signed default,
//! client-certificate verification, and SPKI pins.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no usable private key: {detail}")]
    BadKey { path: PathBuf, detail: String },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    #[error("invalid TLS configuration: {0}")]
    Config(String),
    #[error("cannot parse the certificate: {0}")]
    Parse(String),
}

/// The crypto provider every TLS object of the panel uses.
///
/// NOTE: ring's provider lacks the post-quantum key exchange of the aws-lc-rs provider; ring
/// is kept because it builds without a C toolchain beyond a compiler.
#[expect(
    deprecated,
    reason = "ring stays the provider until aws-lc-rs fits the build"
)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Paths of the generated default certificate inside `tls_dir`.
pub fn default_paths(tls_dir: &Path) -> (PathBuf, PathBuf) {
    (tls_dir.join("cert.pem"), tls_dir.join("key.pem"))
}

/// Creates a self-signed certificate for `localhost` and the loopback addresses when none
/// exists in `tls_dir`. Returns whether one was created.
pub fn ensure_self_signed(tls_dir: &Path, extra_names: &[String]) -> Result<bool, TlsError> {
    let (cert_path, key_path) = default_paths(tls_dir);
    if cert_path.exists() && key_path.exists() {
        return Ok(false);
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |error: std::io::Error| TlsError::Read {
            path,
            detail: error.to_string(),
        }
    };
    spiritus_app::files::ensure_private_dir(tls_dir).map_err(io(tls_dir))?;

    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for name in extra_names {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|error| TlsError::Generate(error.to_string()))?;
    let _ = std::fs::remove_file(&cert_path);
    let _ = std::fs::remove_file(&key_path);
    spiritus_app::files::write_private_file_new(
        &key_path,
        generated.signing_key.serialize_pem().as_bytes(),
    )
    .map_err(io(&key_path))?;
    spiritus_app::files::write_private_file_new(&cert_path, generated.cert.pem().as_bytes())
        .map_err(io(&cert_path))?;
    Ok(true)
}

/// Reads a PEM certificate chain.
pub fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|error| TlsError::Read {
            path: path.to_owned(),
            detail: error.to_string(),
        })?
        .collect::<Result<_, _>>()
        .map_err(|error| TlsError::Read {
            path: path.to_owned(),
            detail: error.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn load_certified_key(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(cert_path)?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|error| TlsError::BadKey {
        path: key_path.to_owned(),
        detail: error.to_string(),
    })?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|error| TlsError::BadKey {
            path: key_path.to_owned(),
            detail: error.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match().map_err(|error| TlsError::BadKey {
        path: key_path.to_owned(),
        detail: format!("the key does not match the certificate: {error}"),
    })?;
    Ok(certified)
}

/// Serves the current certificate and swaps in a new one when its files change, so a
/// renewed certificate takes effect without a restart or dropped connections.
#[derive(Debug)]
pub struct ReloadingCertificate {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    loaded_mtimes: RwLock<(Option<SystemTime>, Option<SystemTime>)>,
    provider: Arc<CryptoProvider>,
}

impl ReloadingCertificate {
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<Self>, TlsError> {
        let provider = provider();
        let certified = load_certified_key(cert_path, key_path, &provider)?;
        Ok(Arc::new(Self {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            current: RwLock::new(Arc::new(certified)),
            loaded_mtimes: RwLock::new((mtime(cert_path), mtime(key_path))),
            provider,
        }))
    }

    /// Reloads when either file changed since the last load. A broken new pair is logged and
    /// the old certificate stays in service.
    pub fn reload_if_changed(&self) -> bool {
        let mtimes = (mtime(&self.cert_path), mtime(&self.key_path));
        let unchanged = self
            .loaded_mtimes
            .read()
            .map(|loaded| *loaded == mtimes)
            .unwrap_or(true);
        if unchanged {
            return false;
        }
        match load_certified_key(&self.cert_path, &self.key_path, &self.provider) {
            Ok(certified) => {
                if let Ok(mut current) = self.current.write() {
                    *current = Arc::new(certified);
                }
                if let Ok(mut loaded) = self.loaded_mtimes.write() {
                    *loaded = mtimes;
                }
                tracing::info!(cert = %self.cert_path.display(), "reloaded the TLS certificate");
                true
            }
            Err(error) => {
                tracing::error!(%error, "new TLS certificate files are unusable; keeping the old certificate");
                false
            }
        }
    }

    /// Polls the files every `interval` until the process ends.
    pub fn watch(self: &Arc<Self>, interval: Duration) {
        let watched = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            loop {
                ticker.tick().await;
                watched.reload_if_changed();
            }
        });
    }

    pub fn current_leaf(&self) -> Option<CertificateDer<'static>> {
        self.current
            .read()
            .ok()
            .and_then(|current| current.cert.first().cloned())
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|current| Arc::clone(&current))
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

/// Builds the server TLS configuration. With a client CA bundle, client certificates are
/// requested and verified against it but not required at the TLS layer: the admin API
/// requires one, the public subscription endpoint does not.
pub fn server_config(
    certificate: Arc<ReloadingCertificate>,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in read_chain(path)? {
                roots
                    .add(ca)
                    .map_err(|error| TlsError::Config(format!("{}: {error}", path.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|error| TlsError::Config(error.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(certificate);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The SPKI SHA-256 pin of a certificate, base64-encoded (the form HPKP and pinning clients
/// use).
pub fn spki_pin(certificate: &CertificateDer<'_>) -> Result<String, TlsError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref())
        .map_err(|error| TlsError::Parse(error.to_string()))?;
    let spki = parsed.tbs_certificate.subject_pki.raw;
    Ok(STANDARD.encode(Sha256::digest(spki)))
}

/// The pin of the first certificate in a PEM file.
pub fn spki_pin_of_file(path: &Path) -> Result<String, TlsError> {
    let chain = read_chain(path)?;
    let leaf = chain.first().ok_or_else(|| TlsError::NoCertificate {
        path: path.to_owned(),
    })?;
    spki_pin(leaf)
}

/// Whether the first certificate of a PEM file is self-signed, when it expires, and its
/// subject, for `spiritus doctor`.
pub fn certificate_facts(path: &Path) -> Result<spiritus_app::doctor::CertificateFacts, TlsError> {
    let chain = read_chain(path)?;
    let leaf = chain.first().ok_or_else(|| TlsError::NoCertificate {
        path: path.to_owned(),
    })?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|error| TlsError::Parse(error.to_string()))?;
    let self_signed = parsed.subject() == parsed.issuer() && parsed.verify_signature(None).is_ok();
    let not_after = chrono::DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0)
        .unwrap_or_default();
    Ok(spiritus_app::doctor::CertificateFacts {
        path: path.to_owned(),
        self_signed,
        not_after,
        subject: parsed.subject().to_string(),
    })
}

/// Subject and SHA-256 fingerprint of a client certificate, for the audit trail.
pub fn describe_certificate(certificate: &CertificateDer<'_>) -> serde_json::Value {
    let fingerprint = hex_lower(&Sha256::digest(certificate.as_ref()));
    let subject = x509_parser::parse_x509_certificate(certificate.as_ref())
        .map(|(_, parsed)| parsed.subject().to_string())
        .unwrap_or_else(|_| "unparseable".into());
    serde_json::json!({ "subject": subject, "sha256": fingerprint })
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificate_loads_and_pins() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ensure_self_signed(dir.path(), &[]).unwrap());
        assert!(!ensure_self_signed(dir.path(), &[]).unwrap());
        let (cert, key) = default_paths(dir.path());
        let loaded = ReloadingCertificate::load(&cert, &key).unwrap();
        let pin = spki_pin_of_file(&cert).unwrap();
        assert_eq!(pin.len(), 44);
        assert_eq!(spki_pin(&loaded.current_leaf().unwrap()).unwrap(), pin);
    }

    #[test]
    fn mismatched_key_is_rejected() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        ensure_self_signed(first.path(), &[]).unwrap();
        ensure_self_signed(second.path(), &[]).unwrap();
        let (cert, _) = default_paths(first.path());
        let (_, other_key) = default_paths(second.path());
        assert!(ReloadingCertificate::load(&cert, &other_key).is_err());
    }
}
