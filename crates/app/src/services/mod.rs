//! Business operations, one module per area.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod incident;
pub mod mfa;
pub mod responses;
pub mod users;
