//! Domain rules of Spiritus: VPN users, panel accounts, roles, quotas, expiry and the
//! validated values they are built from, plus the clock and the security-event vocabulary
//! that every other crate shares.
//!
//! This crate does no I/O and is not async. Values that come from outside (names, quotas,
//! day counts) are parsed here once into newtypes, so the rest of the panel never handles an
//! unchecked value.
#![forbid(unsafe_code)]

pub mod account;
pub mod clock;
pub mod events;
pub mod user;
pub mod validation;

pub use account::{AccountName, Role};
pub use clock::{Clock, ManualClock, SystemClock};
pub use events::{SecurityEvent, Severity};
pub use user::{ExpireDays, Note, TrafficLimit, UserName, UserStatus, VpnUser};
pub use validation::FieldError;
