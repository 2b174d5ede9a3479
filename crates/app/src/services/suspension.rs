//! Brute-force suspension and what a suspension bars.
//!
//! More than `rate_limits.suspend_after_failures` wrong passwords for one account within an
//! hour suspend it with the reason [`BRUTE_FORCE_REASON`]: its sessions end and
//! `account_suspended` is raised (an alert). Such a suspension must not let a guesser lock
//! the holder out, so it bars an account only when nothing stronger than the password can
//! prove its holder:
//!
//! - an account with a second factor keeps logging in, but every login must complete the
//!   factor (a known address no longer spares it);
//! - the owner is never barred: every login needs the second factor, or, without one, is let
//!   in with an alert urging enrolment;
//! - any other account waits until an operator lifts the suspension (the owner for any
//!   account, an admin for an agent).
//!
//! A suspension an operator imposed bars every account but the owner's.

use std::time::Duration;

use spiritus_core::account::{Account, Role};

use super::rate_limits::window_error;
use crate::actor::Actor;
use crate::error::AppError;
use crate::state::App;

/// The suspension reason of the brute-force rule.
pub const BRUTE_FORCE_REASON: &str = "suspicious_activity";
/// The window in which wrong passwords add up to a suspension.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(3600);

fn failure_key(account: &Account) -> String {
    format!("login:failures:{}", account.id)
}

impl App {
    /// Counts a wrong password for `account`; the one past the limit within
    /// [`FAILURE_WINDOW`] suspends it.
    pub(crate) async fn count_password_failure(&self, account: &Account) -> Result<(), AppError> {
        let limits = &self.config().rate_limits;
        if !limits.enabled || limits.suspend_after_failures == 0 || account.suspension.is_some() {
            return Ok(());
        }
        let key = failure_key(account);
        let decision = self
            .ephemeral()
            .hit_window(
                &key,
                FAILURE_WINDOW,
                limits.suspend_after_failures,
                self.now(),
            )
            .await
            .map_err(window_error)?;
        if decision.allowed {
            return Ok(());
        }
        tracing::warn!(
            target: "spiritus::rate_limits",
            account_id = %account.id,
            failures = decision.count + 1,
            "too many wrong passwords within an hour; suspending the account"
        );
        self.suspend(&Actor::System, account, BRUTE_FORCE_REASON)
            .await?;
        self.ephemeral()
            .clear_window(&key)
            .await
            .map_err(window_error)
    }

    /// Whether the account's suspension keeps it from logging in and from using sessions.
    /// A suspended account that this lets through must complete a second factor at login.
    pub(crate) async fn suspension_bars(&self, account: &Account) -> Result<bool, AppError> {
        let Some(suspension) = &account.suspension else {
            return Ok(false);
        };
        if account.role == Role::Owner {
            return Ok(false);
        }
        if suspension.reason != BRUTE_FORCE_REASON {
            return Ok(true);
        }
        Ok(!self
            .store()
            .factor_summary(account.id)
            .await?
            .has_second_factor())
    }
}
