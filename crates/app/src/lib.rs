//! The application layer: every business operation of the panel (log in, refresh, create a
//! user, disable over-quota users…) written once, for the HTTP handlers and the command line
//! alike, so every path is validated and audited the same way.
//!
//! Services take an [`Actor`] (who acts, from where) and return domain values or an
//! [`AppError`] that carries its stable API code.
#![forbid(unsafe_code)]

pub mod actor;
pub mod backup;
pub mod bootstrap;
pub mod config;
pub mod doctor;
pub mod error;
pub mod events;
pub mod files;
pub mod firewall;
pub mod keys;
pub mod metrics;
pub mod monitoring;
pub mod services;
pub mod state;
pub mod subscription;

pub use actor::{Actor, Principal, RequestContext};
pub use error::AppError;
pub use events::EventBus;
pub use state::{App, AppParts};
