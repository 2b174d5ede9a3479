//! Local alert receivers on 127.0.0.1:0 for the alert tests: an HTTP server that plays
//! Slack, the Telegram Bot API, a generic webhook or PagerDuty Events v2, and a small SMTP
//! server that speaks STARTTLS or implicit TLS with a generated certificate.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// One request an HTTP receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

/// What an HTTP receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plays {
    Slack,
    Telegram,
    Webhook,
    PagerDuty,
    /// Answers every request with a redirect to another receiver.
    Redirect,
}

#[derive(Clone)]
struct ReceiverState {
    plays: Plays,
    requests: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<AtomicUsize>,
    hang: bool,
}

/// An HTTP receiver and what it got.
pub struct HttpReceiver {
    pub address: SocketAddr,
    requests: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpReceiver {
    /// Starts a receiver that answers the first `fail_first` requests with 500, or never
    /// answers at all when `hang` is set.
    pub async fn start(plays: Plays, fail_first: usize, hang: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = ReceiverState {
            plays,
            requests: Arc::clone(&requests),
            failures_left: Arc::new(AtomicUsize::new(fail_first)),
            hang,
        };
        let router = Router::new().fallback(receive).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            address,
            requests,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Waits until at least `count` requests arrived, failing after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.count() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} requests, got {}",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.requests()
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    assert_eq!(method, Method::POST, "alerts are POSTed");
    state.requests.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
    });
    if state.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let failing = state
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if failing {
        return (StatusCode::INTERNAL_SERVER_ERROR, "try again").into_response();
    }
    match state.plays {
        Plays::Slack => (StatusCode::OK, "ok").into_response(),
        Plays::Telegram => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"ok": true, "result": {"message_id": 1}})),
        )
            .into_response(),
        Plays::Webhook => StatusCode::NO_CONTENT.into_response(),
        Plays::Redirect => (
            StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, "http://127.0.0.1:9/elsewhere")],
        )
            .into_response(),
        Plays::PagerDuty => {
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            (
                StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({
                    "status": "success",
                    "message": "Event processed",
                    "dedup_key": body["dedup_key"],
                })),
            )
                .into_response()
        }
    }
}

/// One message the SMTP receiver accepted.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// Whether the session was encrypted before authentication.
    pub encrypted: bool,
    /// `user\0password` from AUTH PLAIN.
    pub auth: String,
    pub recipients: Vec<String>,
    pub data: String,
}

/// A small SMTP server: enough of RFC 5321 for one client that authenticates and sends.
pub struct SmtpReceiver {
    pub address: SocketAddr,
    /// The PEM certificate the server presents, for the client's `ca_file`.
    pub certificate_pem: String,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpReceiver {
    pub async fn start(implicit_tls: bool) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let certificate_pem = certified.cert.pem();
        let key = rustls_pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(spiritus_server::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stored = Arc::clone(&mails);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let stored = Arc::clone(&stored);
                tokio::spawn(async move {
                    if let Some(mail) = session(stream, acceptor, implicit_tls).await {
                        stored.lock().unwrap().push(mail);
                    }
                });
            }
        });
        Self {
            address,
            certificate_pem,
            mails,
            task,
        }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(stream: TcpStream, acceptor: TlsAcceptor, implicit_tls: bool) -> Option<Mail> {
    if implicit_tls {
        let tls = acceptor.accept(stream).await.ok()?;
        let mut mail = Mail {
            encrypted: true,
            ..Mail::default()
        };
        converse(BufReader::new(tls), &mut mail, true).await?;
        return Some(mail);
    }
    let mut plain = BufReader::new(stream);
    let mut mail = Mail::default();
    plain
        .get_mut()
        .write_all(b"220 localhost ESMTP test\r\n")
        .await
        .ok()?;
    loop {
        let line = read_line(&mut plain).await?;
        let verb = line.to_ascii_uppercase();
        if verb.starts_with("EHLO") || verb.starts_with("HELO") {
            plain
                .get_mut()
                .write_all(b"250-localhost\r\n250 STARTTLS\r\n")
                .await
                .ok()?;
        } else if verb.starts_with("STARTTLS") {
            plain
                .get_mut()
                .write_all(b"220 ready for TLS\r\n")
                .await
                .ok()?;
            let tls = acceptor.accept(plain.into_inner()).await.ok()?;
            mail.encrypted = true;
            converse(BufReader::new(tls), &mut mail, false).await?;
            return Some(mail);
        } else if verb.starts_with("QUIT") {
            return None;
        } else {
            // Nothing but STARTTLS is accepted before encryption.
            plain
                .get_mut()
                .write_all(b"530 STARTTLS first\r\n")
                .await
                .ok()?;
        }
    }
}

/// The encrypted part of a session, from EHLO (or the greeting) to QUIT.
async fn converse<S>(mut stream: BufReader<S>, mail: &mut Mail, greet: bool) -> Option<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if greet {
        stream
            .get_mut()
            .write_all(b"220 localhost ESMTP test\r\n")
            .await
            .ok()?;
    }
    loop {
        let line = read_line(&mut stream).await?;
        let verb = line.to_ascii_uppercase();
        let reply: &[u8] = if verb.starts_with("EHLO") {
            b"250-localhost\r\n250 AUTH PLAIN LOGIN\r\n"
        } else if verb.starts_with("AUTH PLAIN ") {
            let encoded = line["AUTH PLAIN ".len()..].trim();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            mail.auth = String::from_utf8_lossy(&decoded)
                .trim_start_matches('\0')
                .to_owned();
            b"235 2.7.0 accepted\r\n"
        } else if verb.starts_with("MAIL FROM") {
            b"250 ok\r\n"
        } else if verb.starts_with("RCPT TO") {
            mail.recipients.push(line[8..].trim().to_owned());
            b"250 ok\r\n"
        } else if verb.starts_with("DATA") {
            stream.get_mut().write_all(b"354 go on\r\n").await.ok()?;
            loop {
                let data_line = read_line(&mut stream).await?;
                if data_line == "." {
                    break;
                }
                mail.data.push_str(&data_line);
                mail.data.push('\n');
            }
            b"250 queued\r\n"
        } else if verb.starts_with("QUIT") {
            stream.get_mut().write_all(b"221 bye\r\n").await.ok()?;
            return Some(());
        } else if verb.starts_with("RSET") || verb.starts_with("NOOP") {
            b"250 ok\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        stream.get_mut().write_all(reply).await.ok()?;
    }
}

async fn read_line<S: AsyncRead + Unpin>(stream: &mut BufReader<S>) -> Option<String> {
    let mut line = String::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_line(&mut line))
        .await
        .ok()?
        .ok()?;
    if read == 0 {
        return None;
    }
    Some(line.trim_end_matches(['\r', '\n']).to_owned())
}
