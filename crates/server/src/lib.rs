//! The HTTP side of Spiritus: routes, middleware, TLS and the listener.
//!
//! Handlers turn requests into calls of the application layer and its answers into JSON; no
//! business rule lives here.
#![forbid(unsafe_code)]

pub mod client_ip;
pub mod cookies;
pub mod cors;
pub mod error;
pub mod extract;
pub mod headers;
pub mod honey;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod perimeter;
pub mod rate_limit;
pub mod redirect;
pub mod routes;
pub mod state;
pub mod tls;
pub mod unread_body;

pub use listener::{ListenerLimits, serve_https};
pub use perimeter::Perimeter;
pub use redirect::{RedirectTarget, serve_redirect};
pub use routes::router;
pub use state::{CoreStatus, ManagedCore, NoCore, ServerState};
