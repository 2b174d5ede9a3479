//! What every handler can reach.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use spiritus_app::App;

/// Reports the proxy core's state for the system endpoint.
pub trait CoreStatus: Send + Sync + 'static {
    fn status(&self) -> Value;
}

/// Shared state of the HTTP server.
#[derive(Clone)]
pub struct ServerState {
    pub app: App,
    pub started_at: Instant,
    pub core: Arc<dyn CoreStatus>,
}

impl std::fmt::Debug for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerState").finish_non_exhaustive()
    }
}

/// The status shown when the panel drives no proxy core.
#[derive(Debug, Clone)]
pub struct NoCore {
    pub reason: String,
}

impl CoreStatus for NoCore {
    fn status(&self) -> Value {
        serde_json::json!({ "state": "unavailable", "reason": self.reason })
    }
}

/// The status of the proxy core that the app manages.
#[derive(Debug, Clone)]
pub struct ManagedCore(pub App);

impl CoreStatus for ManagedCore {
    fn status(&self) -> Value {
        self.0.core_status()
    }
}
