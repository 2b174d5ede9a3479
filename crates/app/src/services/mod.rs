//! Business operations, one module per area.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod core;
pub mod honey;
pub mod incident;
pub mod login_limits;
pub mod mfa;
pub mod rate_limits;
pub mod responses;
pub mod sessions;
pub mod subscriptions;
pub mod suspension;
pub mod users;
