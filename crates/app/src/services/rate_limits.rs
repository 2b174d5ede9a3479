//! Request rate limits: per client address and per authenticated account, and the
//! check of blocked addresses that comes before them.
//!
//! Every limit is an exact sliding log in the ephemeral store
//! ([`EphemeralStore::hit_window`](spiritus_store::EphemeralStore::hit_window)). An event
//! counts only when it fits, so a client that keeps knocking while refused does not push its
//! own release further away. Replicas that share Redis count together. The login limits
//! live in [`super::login_limits`].

use std::net::IpAddr;
use std::time::Duration;

use spiritus_store::{IpBlock, StoreError, WindowDecision};
use uuid::Uuid;

use crate::config::network_canonical_ip;
use crate::error::AppError;
use crate::state::App;

/// Window of the per-address request limit.
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(60);
/// Window of the per-account request limit.
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(3600);
/// A tightened address gets this fraction of its usual request limit.
const TIGHTENED_DIVISOR: u64 = 10;

/// Requests left to a client after a counted request, for the `RateLimit` response headers.
/// It reports the tightest of the limits that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub scope: LimitScope,
    pub limit: u64,
    pub remaining: u64,
    pub window: Duration,
    /// When the oldest counted request leaves the window.
    pub reset: Duration,
}

impl Allowance {
    fn from_decision(scope: LimitScope, decision: &WindowDecision, window: Duration) -> Self {
        Self {
            scope,
            limit: decision.limit,
            remaining: decision.remaining(),
            window,
            reset: decision.retry_after,
        }
    }

    /// Returns the allowance with fewer requests left.
    fn tighter(self, other: Self) -> Self {
        if other.remaining < self.remaining {
            other
        } else {
            self
        }
    }
}

/// The request limit that rejected a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    Address,
    Route,
    Account,
}

impl LimitScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Address => "address",
            LimitScope::Route => "route",
            LimitScope::Account => "account",
        }
    }
}

/// A rejected request: the limit, and the error returned for it (429).
#[derive(Debug)]
pub struct LimitRefusal {
    pub scope: LimitScope,
    pub error: AppError,
}

pub(crate) fn window_error(error: StoreError) -> AppError {
    AppError::Unavailable(format!("rate-limit store: {error}"))
}

impl App {
    /// The block in force on an address, if any.
    ///
    /// NOTE: when the ephemeral store cannot answer, the address is let through (and its rate
    /// limits still apply); the block is enforced again as soon as the store answers.
    pub async fn active_block(&self, ip: IpAddr) -> Option<IpBlock> {
        let ip = network_canonical_ip(ip).to_string();
        match self.ephemeral().ip_block(&ip, self.now()).await {
            Ok(block) => block,
            Err(error) => {
                tracing::warn!(target: "spiritus::rate_limits", %error, "cannot read IP blocks");
                None
            }
        }
    }

    /// Returns the account an access token names when its signature and expiry are valid.
    /// Revocation is not checked, because this only picks the account a request is counted
    /// against.
    pub fn token_account(&self, token: &str) -> Option<Uuid> {
        self.jwt()
            .verify(token, self.now())
            .ok()
            .and_then(|claims| claims.account_id())
    }

    /// Counts one request against its address's limit (per minute), the limits of the routes
    /// that cover `path` (per address) and, when it carries a valid access token, its
    /// account's limit (per hour). `Ok(None)` when rate limits are off.
    pub async fn count_request(
        &self,
        ip: IpAddr,
        account: Option<Uuid>,
        path: &str,
    ) -> Result<Option<Allowance>, LimitRefusal> {
        let limits = &self.config().rate_limits;
        if !limits.enabled {
            return Ok(None);
        }
        // NOTE: every IPv6 address is counted on its own, so a client holding a whole /64
        // can spread its requests over many counters.
        let ip = network_canonical_ip(ip);
        let mut per_address = limits.per_ip_per_minute;
        if self.rate_limit_tightened(ip).await.unwrap_or(false) {
            per_address = (per_address / TIGHTENED_DIVISOR).max(1);
        }
        let address = self
            .hit_request_window(
                LimitScope::Address,
                &format!("req:ip:{ip}"),
                ADDRESS_WINDOW,
                per_address,
            )
            .await?;
        let mut tightest = address;
        for route in limits.routes.iter().filter(|route| route.covers(path)) {
            let allowance = self
                .hit_request_window(
                    LimitScope::Route,
                    &format!("req:route:{}:{ip}", route.path),
                    Duration::from_secs(route.window_seconds.max(1)),
                    route.limit,
                )
                .await?;
            tightest = tightest.tighter(allowance);
        }
        if let Some(account) = account {
            let allowance = self
                .hit_request_window(
                    LimitScope::Account,
                    &format!("req:account:{account}"),
                    ACCOUNT_WINDOW,
                    limits.per_user_per_hour,
                )
                .await?;
            tightest = tightest.tighter(allowance);
        }
        Ok(Some(tightest))
    }

    async fn hit_request_window(
        &self,
        scope: LimitScope,
        key: &str,
        window: Duration,
        limit: u64,
    ) -> Result<Allowance, LimitRefusal> {
        let decision = self
            .ephemeral()
            .hit_window(key, window, limit, self.now())
            .await
            .map_err(|error| LimitRefusal {
                scope,
                error: window_error(error),
            })?;
        if decision.allowed {
            return Ok(Allowance::from_decision(scope, &decision, window));
        }
        Err(LimitRefusal {
            scope,
            error: AppError::RateLimited {
                retry_after: decision.retry_after,
                limit,
                window,
            },
        })
    }
}
