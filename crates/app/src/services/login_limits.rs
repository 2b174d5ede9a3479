//! Login limits and the automatic block of addresses that keep tripping them.
//!
//! Every password attempt, right or wrong, is counted before its Argon2 hash runs, in exact
//! sliding logs: `rate_limits.login_attempts` per 5 minutes per (username, address) and per
//! address. Counting happens in one atomic step of the ephemeral store, so any number of
//! parallel attempts runs at most as many hashes as the limits allow. A third log counts a
//! username's attempts from every address per hour. Past `rate_limits.login_username_per_hour`
//! a login must complete a second factor (see [`LoginGate`]). So a third party spraying
//! guesses from many addresses can neither get in nor lock the account's holder out.
//!
//! A refused attempt is audited and raised as a failed login once per window and address,
//! not once per request. Each such trip is counted; `rate_limits.block_after_trips` trips
//! within an hour block the address for `rate_limits.block_seconds`.

use std::time::Duration;

use spiritus_core::events::LoginFailure;
use spiritus_store::WindowDecision;

use super::rate_limits::window_error;
use crate::actor::{Actor, RequestContext};
use crate::config::network_canonical_ip;
use crate::error::AppError;
use crate::state::App;

/// Window of the per-address and per-(username, address) login limits.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(300);
/// Window of the per-username limit across all addresses.
pub const USERNAME_WINDOW: Duration = Duration::from_secs(3600);
/// Window in which login-limit trips add up to a block.
pub const TRIP_WINDOW: Duration = Duration::from_secs(3600);
/// The longest username part of a counter key; longer names are counted by their prefix.
const MAX_KEY_NAME_CHARS: usize = 64;

/// What the login limits leave a password attempt that they let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginGate {
    /// The usual rules apply.
    Open,
    /// The username is past its limit across all addresses: the login must complete a
    /// second factor; an account without one is refused, except the owner.
    SecondFactorRequired,
}

/// The counter-key form of a username: letter case folded, length bounded.
fn name_key(username: &str) -> String {
    username
        .chars()
        .take(MAX_KEY_NAME_CHARS)
        .collect::<String>()
        .to_lowercase()
}

impl App {
    /// Counts one password attempt for `username` from the request's address, before any
    /// hash is computed. A blocked address is refused with 403, one past a limit with 429.
    pub(crate) async fn gate_password_attempt(
        &self,
        username: &str,
        request: &RequestContext,
    ) -> Result<LoginGate, AppError> {
        if self.active_block(request.ip).await.is_some() {
            return Err(AppError::Forbidden("this address is blocked".into()));
        }
        let limits = &self.config().rate_limits;
        if !limits.enabled {
            return Ok(LoginGate::Open);
        }
        let ip = network_canonical_ip(request.ip);
        let name = name_key(username);
        for key in [
            format!("login:name-ip:{name}:{ip}"),
            format!("login:ip:{ip}"),
        ] {
            let decision = self.hit(&key, LOGIN_WINDOW, limits.login_attempts).await?;
            if !decision.allowed {
                self.login_limit_tripped(username, request).await?;
                return Err(AppError::RateLimited {
                    retry_after: decision.retry_after,
                    limit: decision.limit,
                    window: LOGIN_WINDOW,
                });
            }
        }
        let across_addresses = self
            .hit(
                &format!("login:name:{name}"),
                USERNAME_WINDOW,
                limits.login_username_per_hour,
            )
            .await?;
        if across_addresses.allowed {
            Ok(LoginGate::Open)
        } else {
            Ok(LoginGate::SecondFactorRequired)
        }
    }

    async fn hit(
        &self,
        key: &str,
        window: Duration,
        limit: u64,
    ) -> Result<WindowDecision, AppError> {
        self.ephemeral()
            .hit_window(key, window, limit, self.now())
            .await
            .map_err(window_error)
    }

    /// Records a refused attempt once per login window and address, and blocks the address
    /// when it has tripped the limit `block_after_trips` times within [`TRIP_WINDOW`].
    async fn login_limit_tripped(
        &self,
        username: &str,
        request: &RequestContext,
    ) -> Result<(), AppError> {
        let ip = network_canonical_ip(request.ip);
        let first_in_window = self
            .hit(&format!("login:tripped:{ip}"), LOGIN_WINDOW, 1)
            .await?
            .allowed;
        if !first_in_window {
            return Ok(());
        }
        tracing::warn!(
            target: "spiritus::rate_limits",
            client_ip = %ip,
            "login limit reached; further refusals in this window are not logged"
        );
        self.reject_login(username, LoginFailure::RateLimited, request)
            .await;
        let limits = &self.config().rate_limits;
        if limits.block_after_trips == 0 || self.config().responses.exempt.contains(ip) {
            return Ok(());
        }
        let trips = self
            .hit(&format!("login:trips:{ip}"), TRIP_WINDOW, u64::MAX)
            .await?
            .count;
        if trips < limits.block_after_trips {
            return Ok(());
        }
        let reason = format!("automatic: login limit tripped {trips} times within an hour");
        self.block_ip(
            &Actor::System,
            ip,
            Duration::from_secs(limits.block_seconds),
            &reason,
        )
        .await?;
        self.ephemeral()
            .clear_window(&format!("login:trips:{ip}"))
            .await
            .map_err(window_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_keys_fold_case_and_bound_length() {
        assert_eq!(name_key("Admin_Backup"), "admin_backup");
        assert_eq!(name_key(&"x".repeat(10_000)).len(), MAX_KEY_NAME_CHARS);
    }
}
