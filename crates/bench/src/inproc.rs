//! HTTPS servers inside the benchmark process, behind the panel's own listener and TLS setup
//! (`spiritus_server::serve_https` and `tls::server_config` on the data set's certificate):
//! the trivial handler that serves as the ceiling, and the user list with and without the
//! middleware stack.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use spiritus_app::App;
use spiritus_app::config::Config;
use spiritus_server::routes::users;
use spiritus_server::tls::{ReloadingCertificate, default_paths, server_config};
use spiritus_server::{ListenerLimits, NoCore, Perimeter, ServerState, serve_https};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The trivial handler's path.
pub const TRIVIAL_PATH: &str = "/trivial";

/// A server running on a task of this process; stops on [`LocalServer::stop`].
pub struct LocalServer {
    pub base_url: String,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl LocalServer {
    /// Serves `router` on a free loopback port with the certificate in `tls_dir` and the
    /// listener limits of `config`, as `spiritus serve` does.
    pub async fn start(router: Router, tls_dir: &Path, config: &Config) -> anyhow::Result<Self> {
        let (cert, key) = default_paths(tls_dir);
        let tls = server_config(ReloadingCertificate::load(&cert, &key)?, None)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("https://{}", listener.local_addr()?);
        let limits = ListenerLimits {
            handshake_timeout: Duration::from_secs(config.limits.header_timeout_seconds),
            header_timeout: Duration::from_secs(config.limits.header_timeout_seconds),
            idle_timeout: Duration::from_secs(config.limits.idle_timeout_seconds),
            max_connections: config.limits.max_connections,
        };
        let (shutdown, signal) = watch::channel(false);
        let task = tokio::spawn(serve_https(listener, tls, router, limits, signal));
        Ok(Self {
            base_url,
            shutdown,
            task,
        })
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

/// One route answering `ok`: TLS, HTTP and routing, nothing else.
pub fn trivial_router() -> Router {
    Router::new().route(TRIVIAL_PATH, get(|| async { "ok" }))
}

fn state(app: &App) -> ServerState {
    ServerState {
        app: app.clone(),
        started_at: Instant::now(),
        core: Arc::new(NoCore {
            reason: "benchmark".into(),
        }),
    }
}

/// The panel's whole router: every middleware layer, the perimeter and the routes.
pub fn full_router(app: &App) -> anyhow::Result<Router> {
    let perimeter = Perimeter::from_config(app.config())?;
    Ok(spiritus_server::router(state(app), perimeter))
}

/// The user-list handler alone (authentication is part of the handler), no middleware.
pub fn bare_users_router(app: &App) -> Router {
    Router::new()
        .route("/api/admin/users", get(users::list))
        .with_state(state(app))
}
