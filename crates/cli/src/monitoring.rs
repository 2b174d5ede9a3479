//! Starting the monitoring side of `spiritus serve`: the metrics endpoint, the consumers of
//! the security-event bus (metrics, automatic responses, alerts) and the gauge sampler.

use anyhow::Context as _;
use spiritus_app::App;
use spiritus_app::monitoring::{SAMPLE_INTERVAL, spawn_event_metrics, spawn_sampler};
use spiritus_app::services::responses::spawn_responses;
use spiritus_secrets::{ResolveContext, resolve_setting};
use spiritus_server::metrics::{
    MetricsEndpoint, bind, install_recorder, parse_listen, serve_metrics,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The metrics listener, bound before anything else starts so a port in use stops start-up.
pub struct MetricsListener {
    listener: Option<TcpListener>,
}

/// Binds `metrics.listen` (unless it is `off`).
pub async fn bind_metrics(listen: &str, has_token: bool) -> anyhow::Result<MetricsListener> {
    let listener = match parse_listen(listen)? {
        Some(address) => Some(bind(address, has_token).await?),
        None => None,
    };
    Ok(MetricsListener { listener })
}

/// Starts every monitoring task; keep the handles for as long as the panel runs.
pub async fn start(
    app: &App,
    metrics: MetricsListener,
    resolve: &ResolveContext,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let mut tasks = Vec::new();
    if let Some(listener) = metrics.listener {
        let handle = install_recorder()?;
        let bearer_token = match &app.config().metrics.bearer_token {
            Some(reference) => Some(
                resolve_setting("metrics.bearer_token", reference, resolve)
                    .await
                    .context("cannot resolve metrics.bearer_token")?,
            ),
            None => None,
        };
        let address = listener.local_addr()?;
        tasks.push(tokio::spawn(serve_metrics(MetricsEndpoint {
            listener,
            handle,
            bearer_token,
            app: app.clone(),
        })));
        tasks.push(spawn_event_metrics(app));
        tasks.push(spawn_sampler(app, SAMPLE_INTERVAL));
        println!("Metrics are served on http://{address}/metrics");
        tracing::info!(%address, "metrics endpoint started");
    }
    tasks.push(spawn_responses(app));
    let restored = app.restore_ip_blocks().await?;
    if restored > 0 {
        tracing::info!(
            count = restored,
            "restored IP blocks into the ephemeral store"
        );
    }
    if let Some(service) = spiritus_alerts::start(app, resolve).await? {
        tasks.extend(service.tasks);
    }
    Ok(tasks)
}
