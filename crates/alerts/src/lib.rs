//! Alert routing for Spiritus: security events from the event bus to email (SMTP),
//! Slack-compatible webhooks, Telegram, signed generic webhooks and PagerDuty Events v2.
//!
//! [`start`] resolves every channel's secrets, starts one delivery worker per channel and
//! subscribes the [`AlertRouter`] to the bus. Routing filters by each channel's minimum
//! severity, suppresses repeats of one (event kind, key) within the deduplication window, and
//! only ever tries to enqueue, so no request waits on a receiver. Delivery retries with
//! exponential backoff up to a cap; drops, retries and failures are counted in the metrics.
//!
//! This crate must not change state: it only reports. Automatic responses live in the
//! application layer.
#![forbid(unsafe_code)]

pub mod alert;
pub mod channels;
pub mod router;

use std::sync::Arc;
use std::time::Duration;

use spiritus_app::App;
use spiritus_secrets::ResolveContext;
use tokio::task::JoinHandle;

pub use alert::{Alert, AlertAction};
pub use channels::{Channel, ChannelError, Notifier, SendError};
pub use router::{AlertRouter, RetryPolicy};

/// The running alert router and its tasks.
#[derive(Debug)]
pub struct AlertService {
    pub router: Arc<AlertRouter>,
    pub tasks: Vec<JoinHandle<()>>,
}

/// Builds the configured channels and starts routing; `None` when no channel is configured.
pub async fn start(
    app: &App,
    resolve: &ResolveContext,
) -> Result<Option<AlertService>, ChannelError> {
    let config = &app.config().alerts;
    if config.channels.is_empty() {
        return Ok(None);
    }
    let timeout = Duration::from_secs(config.timeout_seconds.max(1));
    let channels = channels::build_channels(&config.channels, timeout, resolve).await?;
    let names: Vec<String> = channels
        .iter()
        .map(|channel| channel.name.clone())
        .collect();
    let (router, mut tasks) = AlertRouter::start(channels, config, Arc::clone(app.clock()));
    tasks.push(router.subscribe(app));
    tracing::info!(channels = ?names, "alert routing started");
    Ok(Some(AlertService { router, tasks }))
}
