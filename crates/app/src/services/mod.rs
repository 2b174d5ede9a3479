//! Business operations, one module per area.

pub mod accounts;
pub mod auth;
pub mod denials;
pub mod incident;
pub mod mfa;
pub mod responses;
pub mod users;
