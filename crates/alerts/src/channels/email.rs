//! Email over SMTP, always encrypted: STARTTLS that must succeed (port 587 by default) or
//! TLS from the first byte (port 465). The server certificate is checked against the public
//! roots, plus the `ca_file` authority when one is configured.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use spiritus_app::config::{EmailChannel, SmtpTls};
use spiritus_secrets::ResolveContext;

use super::{ChannelError, Notifier, SendError, secret};
use crate::alert::{Alert, clean};

pub struct EmailNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl EmailNotifier {
    pub async fn new(
        name: &str,
        settings: &EmailChannel,
        timeout: Duration,
        resolve: &ResolveContext,
    ) -> Result<Self, ChannelError> {
        let invalid = |message: String| ChannelError::Invalid {
            channel: name.to_owned(),
            message,
        };
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|error| invalid(format!("from: not an email address ({error})")))?;
        if settings.to.is_empty() {
            return Err(invalid("to: name at least one recipient".into()));
        }
        let to = settings
            .to
            .iter()
            .map(|address| {
                address.parse::<Mailbox>().map_err(|error| {
                    invalid(format!("to: {address:?} is not an email address ({error})"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let mut tls = TlsParameters::builder(settings.host.clone());
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(resolve.resolve_path(path))
                .map_err(|error| invalid(format!("ca_file {}: {error}", path.display())))?;
            let certificate = Certificate::from_pem(&pem)
                .map_err(|error| invalid(format!("ca_file {}: {error}", path.display())))?;
            tls = tls.add_root_certificate(certificate);
        }
        let tls = tls
            .build_rustls()
            .map_err(|error| invalid(format!("cannot set up TLS: {error}")))?;
        let (tls, default_port) = match settings.tls {
            SmtpTls::Starttls => (Tls::Required(tls), 587),
            SmtpTls::Implicit => (Tls::Wrapper(tls), 465),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port.unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(timeout));
        match (&settings.username, &settings.password) {
            (Some(username), Some(password)) => {
                let password = secret(name, "password", password, resolve).await?;
                builder = builder.credentials(Credentials::new(
                    username.clone(),
                    password.expose().to_owned(),
                ));
            }
            (None, None) => {}
            _ => return Err(invalid("username and password must be set together".into())),
        }
        Ok(Self {
            transport: builder.build(),
            from,
            to,
        })
    }
}

#[async_trait]
impl Notifier for EmailNotifier {
    async fn send(&self, alert: &Alert) -> Result<(), SendError> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(clean(&alert.title(), 200));
        for recipient in &self.to {
            message = message.to(recipient.clone());
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(alert.text())
            .map_err(|error| SendError::permanent(format!("cannot build the message: {error}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_permanent() => Err(SendError::permanent(format!(
                "the SMTP server rejected the message: {error}"
            ))),
            Err(error) => Err(SendError::retryable(format!(
                "SMTP delivery failed: {error}"
            ))),
        }
    }
}
