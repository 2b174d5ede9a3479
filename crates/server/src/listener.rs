//! The HTTPS listener: TLS handshakes, per-connection facts, timeouts and a connection cap.
//!
//! A connection over the cap is closed at once, before its handshake. Each connection gets
//! `handshake_timeout` for TLS, `header_timeout` for each request's headers and is closed
//! after `idle_timeout` without traffic and without a request in flight (see
//! [`crate::limits`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::extract::ConnectionInfo;
use crate::limits::{Activity, ActivityIo, idle_watchdog};
use crate::tls::describe_certificate;

/// Timeouts and caps of the listener.
#[derive(Debug, Clone)]
pub struct ListenerLimits {
    pub handshake_timeout: Duration,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// Accepts connections on `listener` until `shutdown` turns true.
pub async fn serve_https(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
    limits: ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(peer = %peer, "connection limit reached; dropping a new connection");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let limits = limits.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, acceptor, router, limits, shutdown).await;
            drop(permit);
        });
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    limits: ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let activity = Activity::new();
    let stream = ActivityIo::new(stream, Arc::clone(&activity));
    let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::debug!(peer = %peer, %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %peer, "TLS handshake timed out");
            return;
        }
    };
    let client_certificate = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(describe_certificate);
    let info = ConnectionInfo {
        peer,
        client_certificate,
    };

    let serving = Arc::clone(&activity);
    let service = router
        .map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(info.clone());
            request
        })
        .map_future(move |response| {
            let guard = serving.serving();
            async move {
                let response = response.await;
                drop(guard);
                response
            }
        });
    let service = TowerToHyperService::new(service);

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .max_header_list_size(64 * 1024);

    let connection = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(peer = %peer, %error, "connection ended with an error");
            }
        }
        _ = idle_watchdog(activity, limits.idle_timeout) => {
            tracing::debug!(peer = %peer, "closing an idle connection");
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), connection.as_mut()).await;
        }
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(10), connection.as_mut()).await;
        }
    }
}
