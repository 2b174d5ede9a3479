//! Business operations, one module per area.

pub mod accounts;
pub mod auth;
pub mod incident;
pub mod responses;
pub mod users;
