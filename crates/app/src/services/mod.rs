//! Business operations, one module per area.

pub mod accounts;
pub mod auth;
pub mod core;
pub mod subscriptions;
pub mod users;
