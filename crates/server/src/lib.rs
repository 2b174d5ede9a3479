//! The HTTP side of Spiritus: routes, middleware, TLS and the listener.
//!
//! Handlers turn requests into calls of the application layer and its answers into JSON; no
//! business rule lives here.
#![forbid(unsafe_code)]

pub mod client_ip;
pub mod error;
pub mod extract;
pub mod headers;
pub mod listener;
pub mod routes;
pub mod state;
pub mod tls;

pub use listener::{ListenerLimits, serve_https};
pub use routes::router;
pub use state::{CoreStatus, ManagedCore, NoCore, ServerState};
