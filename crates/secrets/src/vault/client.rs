//! A small HTTP client for two Vault endpoints: KV version 2 reads
//! (`GET /v1/<mount>/data/<path>`, value at `.data.data[<key>]`) and AppRole login
//! (`POST /v1/auth/<approle mount>/login`, token at `.auth.client_token`).
//!
//! Redirects are not followed and no proxy is used, so the token goes only to `VAULT_ADDR`.
//! Response bodies are size-limited, and every string of a parsed body is zeroed after the
//! wanted value has been copied into a [`SecretString`].

use reqwest::{RequestBuilder, Response, StatusCode, Url};
use serde_json::Value;
use tokio::sync::OnceCell;
use zeroize::{Zeroize, Zeroizing};

use crate::reference::VaultRef;
use crate::secret::SecretString;
use crate::vault::error::VaultError;
use crate::vault::settings::{VaultAuth, VaultSettings};

/// Largest response body accepted.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Maximum number of characters of Vault's error text repeated in our messages.
const MAX_DETAIL_CHARS: usize = 200;

/// A Vault client for one address. It caches the AppRole login's token, so concurrent
/// first reads wait for one login.
pub struct VaultClient {
    http: reqwest::Client,
    base: Url,
    settings: VaultSettings,
    token: OnceCell<SecretString>,
}

impl VaultClient {
    /// Validates the settings and builds the HTTP client. Nothing is sent yet.
    pub fn new(settings: VaultSettings) -> Result<Self, VaultError> {
        let base = settings.base_url()?;
        let mut builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("spiritus-secrets/", env!("CARGO_PKG_VERSION")));
        for certificate in extra_ca_certificates(&settings)? {
            builder = builder.add_root_certificate(certificate);
        }

        let http = builder.build().map_err(|error| VaultError::Client {
            reason: error.to_string(),
        })?;
        Ok(Self {
            http,
            base,
            settings,
            token: OnceCell::new(),
        })
    }

    /// Reads one key of a KV version 2 secret.
    pub async fn read(&self, reference: &VaultRef) -> Result<SecretString, VaultError> {
        let token = self.token().await?;
        let action = format!("the read of {}/{}", reference.mount(), reference.path());
        let url = self.url(
            [reference.mount(), "data"]
                .into_iter()
                .chain(reference.path().split('/')),
        )?;
        let request = self.http.get(url).header("X-Vault-Token", token.expose());

        let response = self.send(request, &action).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(VaultError::NotFound {
                mount: reference.mount().to_owned(),
                path: reference.path().to_owned(),
            });
        }
        if !response.status().is_success() {
            return Err(status_error(response, action).await);
        }
        let mut body = self.json_body(response, &action).await?;
        let value = kv_value(&body, reference, &action);
        wipe_json(&mut body);
        value
    }

    /// Returns the token to send: the configured one, or the AppRole login's (cached).
    async fn token(&self) -> Result<&SecretString, VaultError> {
        self.token
            .get_or_try_init(|| async {
                match &self.settings.auth {
                    VaultAuth::Token(token) => Ok(token.clone()),
                    VaultAuth::AppRole { role_id, secret_id } => {
                        self.login(role_id, secret_id).await
                    }
                    VaultAuth::None => Err(VaultError::NoCredentials),
                }
            })
            .await
    }

    async fn login(
        &self,
        role_id: &SecretString,
        secret_id: &SecretString,
    ) -> Result<SecretString, VaultError> {
        let action = "the AppRole login".to_owned();
        let url = self.url(["auth", self.settings.approle_mount.as_str(), "login"].into_iter())?;
        let credentials = Zeroizing::new(
            serde_json::json!({ "role_id": role_id.expose(), "secret_id": secret_id.expose() })
                .to_string(),
        );
        let request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(credentials.as_bytes().to_vec());

        let response = self.send(request, &action).await?;
        if response.status().is_client_error() {
            let status = response.status().as_u16();
            let detail = error_detail(response).await;
            return Err(VaultError::LoginRejected { status, detail });
        }
        if !response.status().is_success() {
            return Err(status_error(response, action).await);
        }
        let mut body = self.json_body(response, &action).await?;
        let token = match body.pointer("/auth/client_token") {
            Some(Value::String(token)) if !token.is_empty() => {
                Ok(SecretString::from(token.as_str()))
            }
            _ => Err(VaultError::Malformed {
                action,
                reason: "no auth.client_token string".to_owned(),
            }),
        };
        wipe_json(&mut body);
        token
    }

    /// `{addr}/v1/<segments…>`, each segment percent-encoded.
    fn url<'a>(&self, segments: impl Iterator<Item = &'a str>) -> Result<Url, VaultError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| VaultError::InvalidAddress {
                addr: self.settings.addr.clone(),
                reason: "it cannot carry a path".to_owned(),
            })?
            .pop_if_empty()
            .push("v1")
            .extend(segments);
        Ok(url)
    }

    /// Sends with the namespace header; only transport failures are errors here.
    async fn send(
        &self,
        mut request: RequestBuilder,
        action: &str,
    ) -> Result<Response, VaultError> {
        if let Some(namespace) = &self.settings.namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        request
            .send()
            .await
            .map_err(|error| self.transport_error(&error, action))
    }

    fn transport_error(&self, error: &reqwest::Error, action: &str) -> VaultError {
        if error.is_timeout() {
            return VaultError::Timeout {
                action: action.to_owned(),
                after: self.settings.timeout,
            };
        }
        VaultError::Unreachable {
            addr: self.settings.addr.clone(),
            reason: error_chain(error),
        }
    }

    async fn json_body(&self, response: Response, action: &str) -> Result<Value, VaultError> {
        let body = read_limited(response, action).await?;
        serde_json::from_slice(&body).map_err(|error| VaultError::Malformed {
            action: action.to_owned(),
            reason: format!("not JSON ({error})"),
        })
    }
}

/// Maps a non-success response to an error.
async fn status_error(response: Response, action: String) -> VaultError {
    let status = response.status();
    let code = status.as_u16();
    if status.is_redirection() {
        return VaultError::Redirect {
            status: code,
            action,
        };
    }

    let detail = error_detail(response).await;
    match status {
        StatusCode::FORBIDDEN => VaultError::Forbidden { action, detail },
        StatusCode::SERVICE_UNAVAILABLE => VaultError::ServerError {
            status: code,
            action,
            detail,
            hint: "; Vault may be sealed or in standby, unseal it or check its status",
        },
        _ if status.is_server_error() => VaultError::ServerError {
            status: code,
            action,
            detail,
            hint: "; retry later or check the Vault server log",
        },
        _ => VaultError::UnexpectedStatus {
            status: code,
            action,
            detail,
        },
    }
}

/// Formats the error and its sources, e.g. `error sending request: connection refused`.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Extra trust anchors from `VAULT_CACERT`.
fn extra_ca_certificates(
    settings: &VaultSettings,
) -> Result<Vec<reqwest::Certificate>, VaultError> {
    let Some(path) = &settings.ca_cert else {
        return Ok(Vec::new());
    };
    let ca_error = |reason: String| VaultError::CaCert {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|error| ca_error(error.to_string()))?;
    let certificates =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| ca_error(error.to_string()))?;

    if certificates.is_empty() {
        return Err(ca_error("no PEM certificate in it".to_owned()));
    }
    Ok(certificates)
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`].
async fn read_limited(
    mut response: Response,
    action: &str,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let mut body = Zeroizing::new(Vec::new());
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| VaultError::Malformed {
                action: action.to_owned(),
                reason: format!("the body could not be read ({error})"),
            })?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(VaultError::TooLarge {
                action: action.to_owned(),
                limit: MAX_BODY_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
}

/// `: <Vault's errors joined>` from an error response, or nothing.
async fn error_detail(response: Response) -> String {
    let Ok(body) = read_limited(response, "an error response").await else {
        return String::new();
    };
    let messages: Vec<String> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| value.get("errors").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|message| message.as_str().map(str::to_owned))
        .collect();

    let joined: String = messages.join("; ").chars().take(MAX_DETAIL_CHARS).collect();
    if joined.is_empty() {
        joined
    } else {
        format!(": {joined}")
    }
}

/// Extracts `.data.data[key]` from a KV version 2 response.
fn kv_value(body: &Value, reference: &VaultRef, action: &str) -> Result<SecretString, VaultError> {
    let data = body
        .pointer("/data/data")
        .and_then(Value::as_object)
        .ok_or_else(|| VaultError::Malformed {
            action: action.to_owned(),
            reason: "no data.data object (is the mount a KV version 2 engine?)".to_owned(),
        })?;

    match data.get(reference.key()) {
        Some(Value::String(value)) => Ok(SecretString::from(value.as_str())),
        Some(other) => Err(VaultError::NotAString {
            mount: reference.mount().to_owned(),
            path: reference.path().to_owned(),
            key: reference.key().to_owned(),
            found: json_type(other),
        }),
        None => Err(VaultError::MissingKey {
            mount: reference.mount().to_owned(),
            path: reference.path().to_owned(),
            key: reference.key().to_owned(),
            present: data.keys().cloned().collect::<Vec<_>>().join(", "),
        }),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Zeroes every string in a parsed body. Numbers are left alone: in these responses they
/// are never secrets.
fn wipe_json(value: &mut Value) {
    match value {
        Value::String(text) => text.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_json),
        Value::Object(entries) => entries.values_mut().for_each(wipe_json),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}
