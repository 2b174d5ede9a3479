//! Tools the perimeter tests share: certificates made with rcgen, raw HTTP/1.1 over TLS (so a
//! path is sent exactly as written, which an URL-normalising client would not do), clients
//! with a chosen identity, and the audit log read from the server's own database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use spiritus_audit::entry::AuditEntry;
use spiritus_store::{AuditQuery, SqlStore};
use spiritus_test_support::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A certificate authority made for one test.
pub struct TestCa {
    pub pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its private key, PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl Issued {
    /// The identity a reqwest client presents.
    pub fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.cert_pem, self.key_pem).as_bytes())
            .unwrap()
    }
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self {
            pem: issuer.pem(),
            issuer,
        }
    }

    /// A client certificate with `common_name` as its subject.
    pub fn client(&self, common_name: &str) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

/// A self-signed server certificate for `localhost` and the loopback addresses.
pub fn server_certificate() -> Issued {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .unwrap();
    let cert = params.self_signed(&key).unwrap();
    Issued {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

/// The HTTPS address the server printed.
pub fn address(server: &TestServer) -> SocketAddr {
    server
        .base_url
        .trim_start_matches("https://")
        .parse()
        .unwrap()
}

/// The PEM of the server's generated certificate.
pub fn generated_cert_pem(server: &TestServer) -> Vec<u8> {
    std::fs::read(server.data_dir().join("tls/cert.pem")).unwrap()
}

/// A reqwest client trusting `roots`, presenting `identity`, reaching `localhost` at `target`.
pub fn client(
    roots: &[&[u8]],
    identity: Option<reqwest::Identity>,
    target: Option<SocketAddr>,
) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .https_only(true)
        .no_proxy()
        .tls_info(true)
        .timeout(Duration::from_secs(60));
    for pem in roots {
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap());
    }
    if let Some(identity) = identity {
        builder = builder.identity(identity);
    }
    if let Some(target) = target {
        builder = builder.resolve("localhost", target);
    }
    builder.build().unwrap()
}

/// A TLS connector trusting the PEM certificates in `roots`.
pub fn connector(roots: &[&[u8]]) -> TlsConnector {
    let mut store = rustls::RootCertStore::empty();
    for pem in roots {
        for cert in CertificateDer::pem_slice_iter(pem) {
            store.add(cert.unwrap()).unwrap();
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(spiritus_server::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Opens a TLS connection to `target` as `localhost`.
pub async fn tls_connect(
    target: SocketAddr,
    connector: &TlsConnector,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(target).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// A response read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `error.code` of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

/// Sends `head` (request line and headers, without the blank line) and `body` on a new TLS
/// connection with `Connection: close`, and reads the whole answer.
pub async fn raw_request(server: &TestServer, head: &str, body: &[u8]) -> RawResponse {
    let connector = connector(&[&generated_cert_pem(server)]);
    let mut stream = tls_connect(address(server), &connector).await.unwrap();
    send_and_read(&mut stream, head, body).await
}

/// Like [`raw_request`], on a given stream.
pub async fn send_and_read<S>(stream: &mut S, head: &str, body: &[u8]) -> RawResponse
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut request = format!(
        "{head}\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    // A server may close without a TLS close_notify; what was read still counts.
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    parse_response(&answer)
}

/// Parses an HTTP/1.1 response with a `Content-Length` body.
pub fn parse_response(raw: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP response: {text:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Every audit entry, newest first, read from the server's SQLite database.
pub async fn audit_log(server: &TestServer) -> Vec<AuditEntry> {
    let url = format!(
        "sqlite://{}",
        server.data_dir().join("spiritus.db").display()
    );
    let store = SqlStore::connect(&url).await.unwrap();
    let entries = store
        .query_audit(&AuditQuery {
            limit: 1000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    store.close().await;
    entries
}

/// Failed audit entries that name the denial `reason` (`admin_allowlist`, `csrf`…).
pub async fn denials(server: &TestServer, reason: &str) -> Vec<AuditEntry> {
    audit_log(server)
        .await
        .into_iter()
        .filter(|entry| !entry.success && serde_json::to_string(entry).unwrap().contains(reason))
        .collect()
}

/// Runs `spiritus ARGS` to completion; returns success, stdout and stderr.
pub fn run_binary(args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(crate::BINARY)
        .args(args)
        .env_remove("RUST_LOG")
        .env("SPIRITUS_METRICS__LISTEN", "off")
        .env("SPIRITUS_CORE__ENABLED", "false")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
