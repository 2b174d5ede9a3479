//! Path declarations of panel accounts, the security policy, incident remediation and
//! `/api/admin/system`.

#![allow(dead_code, reason = "the functions only carry path declarations")]

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::ApiErrors;
use crate::routes::accounts::{CreateBody, SecurityBody};
use crate::routes::remediation::{BlockBody, SuspendBody};

#[derive(OpenApi)]
#[openapi(paths(
    system,
    list_accounts,
    create_account,
    reset_second_factors,
    security_settings,
    update_security_settings,
    revoke_sessions,
    force_password_reset,
    suspend,
    unsuspend,
    list_blocks,
    block,
    nftables,
    unblock,
))]
pub struct Api;

/// Version, uptime and the proxy core's state.
#[derive(Serialize, ToSchema)]
pub struct SystemInfo {
    version: String,
    uptime_seconds: u64,
    /// `sqlite` or `postgres`.
    database: String,
    /// Store of ephemeral state: in process or Redis.
    ephemeral_store: String,
    /// The proxy core's state.
    core: serde_json::Value,
}

/// An account's second factors, as counts.
#[derive(Serialize, ToSchema)]
pub struct AccountFactors {
    totp: bool,
    backup_codes_left: u64,
    passkeys: u64,
}

/// A panel account.
#[derive(Serialize, ToSchema)]
pub struct Account {
    id: String,
    name: String,
    /// `owner`, `admin` or `agent`.
    role: String,
    must_change_password: bool,
    suspended: bool,
    created_at: String,
    second_factors: AccountFactors,
}

/// Panel accounts.
#[derive(Serialize, ToSchema)]
pub struct AccountList {
    items: Vec<Account>,
}

/// Counts of the second factors a reset removed.
#[derive(Serialize, ToSchema)]
pub struct RemovedFactors {
    totp: bool,
    backup_codes: u64,
    passkeys: u64,
}

/// Response of a second-factor reset.
#[derive(Serialize, ToSchema)]
pub struct SecondFactorReset {
    name: String,
    removed: RemovedFactors,
}

/// The second-factor policy and where it comes from.
#[derive(Serialize, ToSchema)]
pub struct SecurityPolicy {
    mfa_required_for_admins: bool,
    /// `config` or `database`.
    source: String,
}

/// Sessions ended.
#[derive(Serialize, ToSchema)]
pub struct Revoked {
    revoked: u64,
}

/// Whether the account was suspended by this call.
#[derive(Serialize, ToSchema)]
pub struct Suspended {
    suspended: bool,
}

/// Whether a suspension or block was lifted by this call.
#[derive(Serialize, ToSchema)]
pub struct Lifted {
    lifted: bool,
}

/// A blocked address.
#[derive(Serialize, ToSchema)]
pub struct IpBlock {
    ip: String,
    reason: String,
    expires_at: String,
}

/// Blocked addresses.
#[derive(Serialize, ToSchema)]
pub struct IpBlockList {
    items: Vec<IpBlock>,
}

#[utoipa::path(
    get,
    path = "/api/admin/system",
    tag = "system",
    summary = "Version, uptime and the proxy core's state",
    responses((status = 200, description = "The state.", body = SystemInfo), ApiErrors),
)]
fn system() {}

#[utoipa::path(
    get,
    path = "/api/admin/accounts",
    tag = "accounts",
    summary = "Panel accounts",
    responses((status = 200, description = "The accounts.", body = AccountList), ApiErrors),
)]
fn list_accounts() {}

#[utoipa::path(
    post,
    path = "/api/admin/accounts",
    tag = "accounts",
    summary = "The owner creates an admin or agent",
    request_body = CreateBody,
    responses((status = 201, description = "Created.", body = Account), ApiErrors),
)]
fn create_account() {}

#[utoipa::path(
    post,
    path = "/api/admin/accounts/{name}/reset-2fa",
    tag = "accounts",
    summary = "Remove another account's second factors and end its sessions",
    params(("name" = String, Path, description = "The account's name.")),
    responses((status = 200, description = "What was removed.", body = SecondFactorReset),
        ApiErrors),
)]
fn reset_second_factors() {}

#[utoipa::path(
    get,
    path = "/api/admin/settings/security",
    tag = "accounts",
    summary = "The second-factor policy (owner only)",
    responses((status = 200, description = "The policy.", body = SecurityPolicy), ApiErrors),
)]
fn security_settings() {}

#[utoipa::path(
    put,
    path = "/api/admin/settings/security",
    tag = "accounts",
    summary = "Change the second-factor policy (owner only)",
    request_body = SecurityBody,
    responses((status = 200, description = "The policy.", body = SecurityPolicy), ApiErrors),
)]
fn update_security_settings() {}

#[utoipa::path(
    post,
    path = "/api/admin/incident/accounts/{name}/revoke-sessions",
    tag = "incident",
    summary = "End every session of an account",
    params(("name" = String, Path, description = "The account's name.")),
    responses((status = 200, description = "Sessions ended.", body = Revoked), ApiErrors),
)]
fn revoke_sessions() {}

#[utoipa::path(
    post,
    path = "/api/admin/incident/accounts/{name}/force-password-reset",
    tag = "incident",
    summary = "End an account's sessions and require a new password",
    params(("name" = String, Path, description = "The account's name.")),
    responses((status = 200, description = "Sessions ended.", body = Revoked), ApiErrors),
)]
fn force_password_reset() {}

#[utoipa::path(
    post,
    path = "/api/admin/incident/accounts/{name}/suspend",
    tag = "incident",
    summary = "Suspend an account",
    params(("name" = String, Path, description = "The account's name.")),
    request_body = SuspendBody,
    responses((status = 200, description = "Suspended.", body = Suspended), ApiErrors),
)]
fn suspend() {}

#[utoipa::path(
    post,
    path = "/api/admin/incident/accounts/{name}/unsuspend",
    tag = "incident",
    summary = "Lift an account's suspension",
    params(("name" = String, Path, description = "The account's name.")),
    responses((status = 200, description = "Lifted.", body = Lifted), ApiErrors),
)]
fn unsuspend() {}

#[utoipa::path(
    get,
    path = "/api/admin/incident/ip-blocks",
    tag = "incident",
    summary = "Blocked addresses",
    responses((status = 200, description = "The blocks.", body = IpBlockList), ApiErrors),
)]
fn list_blocks() {}

#[utoipa::path(
    post,
    path = "/api/admin/incident/ip-blocks",
    tag = "incident",
    summary = "Block an address",
    request_body = BlockBody,
    responses((status = 201, description = "The block.", body = IpBlock), ApiErrors),
)]
fn block() {}

#[utoipa::path(
    get,
    path = "/api/admin/incident/ip-blocks/nftables",
    tag = "incident",
    summary = "The blocks as an nftables script",
    responses(
        (status = 200, description = "nftables script.", content_type = "text/plain",
            body = String),
        ApiErrors,
    ),
)]
fn nftables() {}

#[utoipa::path(
    delete,
    path = "/api/admin/incident/ip-blocks/{ip}",
    tag = "incident",
    summary = "Lift a block",
    params(("ip" = String, Path, description = "The blocked address.")),
    responses((status = 200, description = "Lifted.", body = Lifted), ApiErrors),
)]
fn unblock() {}
