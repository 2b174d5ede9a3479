//! Business operations, one module per area.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod core;
pub mod incident;
pub mod mfa;
pub mod responses;
pub mod sessions;
pub mod subscriptions;
pub mod users;
