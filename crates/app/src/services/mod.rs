//! Business operations, one module per area.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod users;
