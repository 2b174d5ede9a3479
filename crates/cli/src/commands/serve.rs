//! `spiritus serve`: the panel itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use spiritus_server::tls::{
    ReloadingCertificate, default_paths, ensure_self_signed, server_config, spki_pin_of_file,
};
use spiritus_server::{
    ListenerLimits, ManagedCore, Perimeter, RedirectTarget, ServerState, router, serve_https,
    serve_redirect,
};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::context::{build, load};
use crate::logging;

/// How often certificate files are checked for changes.
const CERT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// How often the geo database file is checked for changes.
const GEO_RELOAD_INTERVAL: Duration = Duration::from_secs(60);
/// How often subscription fetch times are written to the database.
const FETCH_FLUSH_INTERVAL: Duration = Duration::from_secs(30);

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let started_at = Instant::now();
    let mut loaded = load(global)?;
    refuse_generated_secrets_in_production(&loaded)?;
    if let Some(listen) = args.listen {
        loaded.config.listen = listen;
    }
    let listener = TcpListener::bind(loaded.config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", loaded.config.listen))?;
    let local = listener.local_addr()?;
    let metrics_listener = crate::monitoring::bind_metrics(
        &loaded.config.metrics.listen,
        loaded.config.metrics.bearer_token.is_some(),
    )
    .await?;
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
    log_passkey_setup(app.passkeys());

    let (cert_path, key_path) = certificate_paths(&config, &opened.data_dir.tls())?;
    let certificate = ReloadingCertificate::load(&cert_path, &key_path)?;
    certificate.watch(CERT_RELOAD_INTERVAL);
    let tls = server_config(Arc::clone(&certificate), config.tls.client_ca.as_deref())?;
    let perimeter = Perimeter::from_config(&config)?;
    if let Some(geo) = perimeter.geo() {
        geo.watch(GEO_RELOAD_INTERVAL);
    }
    let redirect = match config.http_redirect_listen {
        Some(address) => {
            let target = RedirectTarget::new(&config.public_url())?;
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen for plain HTTP on {address}"))?;
            Some((listener, target))
        }
        None => None,
    };

    if let Some((name, password)) = app.ensure_owner().await? {
        println!("Created the owner account.");
        println!("  username: {name}");
        println!("  one-time password: {}", password.as_str());
        println!("  This password is shown only now. Log in and change it: every call but the");
        println!("  password change is refused until you do.");
    }
    let resolve = crate::context::resolve_context(global, &opened.data_dir);
    let _monitoring = crate::monitoring::start(&app, metrics_listener, &resolve).await?;
    app.start_core(&opened.data_dir.root).await;
    let pin = spki_pin_of_file(&cert_path)?;
    println!("TLS certificate SPKI SHA-256 pin: {pin}");
    if let Some((listener, _)) = &redirect {
        println!(
            "Redirecting plain HTTP on http://{} to HTTPS",
            listener.local_addr()?
        );
    }
    println!("Spiritus is listening on https://{local}");
    tracing::info!(
        address = %local,
        database = app.store().backend().as_str(),
        ephemeral = app.ephemeral().name(),
        "panel started"
    );

    let state = ServerState {
        app: app.clone(),
        started_at,
        core: Arc::new(ManagedCore(app.clone())),
    };
    let limits = ListenerLimits {
        handshake_timeout: Duration::from_secs(config.limits.header_timeout_seconds),
        header_timeout: Duration::from_secs(config.limits.header_timeout_seconds),
        idle_timeout: Duration::from_secs(config.limits.idle_timeout_seconds),
        max_connections: config.limits.max_connections,
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    if let Some((listener, target)) = redirect {
        tokio::spawn(serve_redirect(
            listener,
            target,
            limits.clone(),
            shutdown_rx.clone(),
        ));
    }
    let audit_jobs = app.spawn_audit_jobs(shutdown_rx.clone());
    let _backups = spiritus_app::backup::spawn_backup_job(
        app.clone(),
        opened.data_dir.clone(),
        shutdown_rx.clone(),
    );
    let flusher = app.spawn_subscription_fetch_flusher(FETCH_FLUSH_INTERVAL, shutdown_rx.clone());
    let server = tokio::spawn(serve_https(
        listener,
        tls,
        router(state, perimeter),
        limits,
        shutdown_rx,
    ));

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), audit_jobs).await;
    app.stop_core().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), flusher).await;
    app.store().close().await;
    Ok(())
}

/// A production start with the keys generated at first start is refused: those keys live
/// next to the database, which defeats keeping the pepper apart from it.
fn refuse_generated_secrets_in_production(loaded: &crate::context::Loaded) -> anyhow::Result<()> {
    use spiritus_app::config::Environment;
    use spiritus_app::doctor::uses_generated_secret;

    if loaded.config.environment != Environment::Production {
        return Ok(());
    }
    let secrets = &loaded.config.secrets;
    let mut generated: Vec<&str> = Vec::new();
    if secrets
        .jwt_keys
        .iter()
        .any(|key| uses_generated_secret(key, &loaded.data_dir))
    {
        generated.push("secrets.jwt_keys");
    }
    if secrets
        .pepper
        .as_deref()
        .is_some_and(|value| uses_generated_secret(value, &loaded.data_dir))
    {
        generated.push("secrets.pepper");
    }
    if secrets
        .audit_key
        .as_deref()
        .is_some_and(|value| uses_generated_secret(value, &loaded.data_dir))
    {
        generated.push("secrets.audit_key");
    }
    if generated.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "environment = \"production\" refuses the development keys generated at first start ({}); provision them in a secret store (vault:, sops:, env:, or file: outside the data directory) — see `spiritus doctor`",
        generated.join(", ")
    )
}

/// Says in the log whether passkeys are offered, and why not.
fn log_passkey_setup(setup: &spiritus_auth::passkey::PasskeySetup) {
    match setup {
        spiritus_auth::passkey::PasskeySetup::On(party) => {
            tracing::info!(rp_id = party.id(), origin = %party.origin(), "passkeys are on");
        }
        spiritus_auth::passkey::PasskeySetup::Off { reason } => tracing::warn!(%reason),
    }
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
