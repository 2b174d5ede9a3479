//! `spiritus serve`: the panel itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use spiritus_server::tls::{
    ReloadingCertificate, default_paths, ensure_self_signed, server_config, spki_pin_of_file,
};
use spiritus_server::{ListenerLimits, ManagedCore, ServerState, router, serve_https};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::context::{build, load};
use crate::logging;

/// How often certificate files are checked for changes.
const CERT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// How often subscription fetch times are written to the database.
const FETCH_FLUSH_INTERVAL: Duration = Duration::from_secs(30);

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let started_at = Instant::now();
    let mut loaded = load(global)?;
    if let Some(listen) = args.listen {
        loaded.config.listen = listen;
    }
    let listener = TcpListener::bind(loaded.config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", loaded.config.listen))?;
    let local = listener.local_addr()?;
    if loaded.config.public_url.is_none() {
        loaded.config.public_url = Some(format!("https://{local}"));
    }
    let opened = build(global, loaded).await?;
    let app = opened.app.clone();
    let config = app.config().clone();
    let _log_guard = logging::init(&config.log.level, config.log.file.as_deref())?;
    for path in &opened.generated {
        tracing::info!(path = %path.display(), "generated a new secret file");
    }

    let (cert_path, key_path) = certificate_paths(&config, &opened.data_dir.tls())?;
    let certificate = ReloadingCertificate::load(&cert_path, &key_path)?;
    certificate.watch(CERT_RELOAD_INTERVAL);
    let tls = server_config(Arc::clone(&certificate), config.tls.client_ca.as_deref())?;

    if let Some((name, password)) = app.ensure_owner().await? {
        println!("Created the owner account.");
        println!("  username: {name}");
        println!("  one-time password: {}", password.as_str());
        println!("  This password is shown only now. Log in and change it: every call but the");
        println!("  password change is refused until you do.");
    }
    app.start_core(&opened.data_dir.root).await;
    let pin = spki_pin_of_file(&cert_path)?;
    println!("TLS certificate SPKI SHA-256 pin: {pin}");
    println!("Spiritus is listening on https://{local}");
    tracing::info!(address = %local, database = app.store().backend().as_str(), "panel started");

    let state = ServerState {
        app: app.clone(),
        started_at,
        core: Arc::new(ManagedCore(app.clone())),
    };
    let limits = ListenerLimits {
        handshake_timeout: Duration::from_secs(config.limits.header_timeout_seconds),
        header_timeout: Duration::from_secs(config.limits.header_timeout_seconds),
        max_connections: config.limits.max_connections,
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let flusher = app.spawn_subscription_fetch_flusher(FETCH_FLUSH_INTERVAL, shutdown_rx.clone());
    let server = tokio::spawn(serve_https(
        listener,
        tls,
        router(state),
        limits,
        shutdown_rx,
    ));

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
    app.stop_core().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), flusher).await;
    app.store().close().await;
    Ok(())
}

/// The configured certificate pair, or the generated self-signed one.
fn certificate_paths(
    config: &spiritus_app::config::Config,
    tls_dir: &std::path::Path,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => Ok((cert.clone(), key.clone())),
        (None, None) => {
            if ensure_self_signed(tls_dir, &[])? {
                tracing::info!(dir = %tls_dir.display(), "generated a self-signed TLS certificate");
            }
            Ok(default_paths(tls_dir))
        }
        _ => anyhow::bail!("tls.cert and tls.key must be set together"),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
