//! The vocabulary of security events.
//!
//! Every authentication outcome, denial and automatic response is raised as one typed
//! [`SecurityEvent`]. Consumers (the structured log, metrics, alert routing, automatic
//! responses) subscribe to the stream; code that raises an event never needs to know them.
//! Events carry no secret: no typed password, token or one-time code ever goes in one.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How urgently an operator should look at an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Why a login attempt failed. Only the log and audit trail see the distinction; the client
/// always gets the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    UnknownAccount,
    WrongPassword,
    AccountSuspended,
    RateLimited,
    IpBlocked,
    WrongSecondFactor,
    ChallengeInvalid,
    SecondFactorRequired,
}

impl LoginFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFailure::UnknownAccount => "unknown_account",
            LoginFailure::WrongPassword => "wrong_password",
            LoginFailure::AccountSuspended => "account_suspended",
            LoginFailure::RateLimited => "rate_limited",
            LoginFailure::IpBlocked => "ip_blocked",
            LoginFailure::WrongSecondFactor => "wrong_second_factor",
            LoginFailure::ChallengeInvalid => "challenge_invalid",
            LoginFailure::SecondFactorRequired => "second_factor_required",
        }
    }
}

/// Which perimeter check turned a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialReason {
    AdminAllowlist,
    GeoBlocked,
    Csrf,
    Role,
    IpBlocked,
    ClientCertificate,
    RateLimited,
}

impl DenialReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DenialReason::AdminAllowlist => "admin_allowlist",
            DenialReason::GeoBlocked => "geo_blocked",
            DenialReason::Csrf => "csrf",
            DenialReason::Role => "role",
            DenialReason::IpBlocked => "ip_blocked",
            DenialReason::ClientCertificate => "client_certificate",
            DenialReason::RateLimited => "rate_limited",
        }
    }
}

/// One security-relevant happening.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SecurityEvent {
    LoginSucceeded {
        account_id: Uuid,
        username: String,
        ip: IpAddr,
    },
    LoginFailed {
        username: String,
        ip: IpAddr,
        reason: LoginFailure,
    },
    SecondFactorChallenged {
        account_id: Uuid,
        ip: IpAddr,
    },
    TokenRefreshed {
        account_id: Uuid,
        session_id: Uuid,
        ip: IpAddr,
    },
    RefreshTokenReused {
        account_id: Uuid,
        session_id: Uuid,
        ip: IpAddr,
    },
    LoggedOut {
        account_id: Uuid,
        session_id: Uuid,
        ip: IpAddr,
    },
    PasswordChanged {
        account_id: Uuid,
        ip: Option<IpAddr>,
    },
    AccessDenied {
        ip: IpAddr,
        reason: DenialReason,
        /// Denials from this address in the current window, this one included.
        count: u64,
    },
    NewLocation {
        account_id: Uuid,
        username: String,
        ip: IpAddr,
    },
    HoneyAccountUsed {
        username: String,
        ip: IpAddr,
        first_hit: bool,
    },
    AccountSuspended {
        account_id: Uuid,
        username: String,
        reason: String,
    },
    IpBlocked {
        ip: IpAddr,
        reason: String,
        seconds: u64,
    },
    Reconnaissance {
        user_key: String,
        port: u16,
        destination: String,
    },
    CoreCrashed {
        restarts: u64,
        reason: String,
    },
    AuditVerificationFailed {
        detail: String,
    },
    AdminAction {
        actor_id: Uuid,
        action: String,
    },
    OwnerWithoutSecondFactor {
        account_id: Uuid,
    },
    /// An operator lifted a block of a client address.
    IpUnblocked {
        ip: IpAddr,
        actor: String,
    },
    /// An operator lifted the suspension of an account.
    AccountReinstated {
        account_id: Uuid,
        username: String,
        actor: String,
    },
}

impl SecurityEvent {
    /// Every value [`SecurityEvent::kind`] can return, for configuration that names kinds.
    pub const KINDS: &'static [&'static str] = &[
        "login_succeeded",
        "login_failed",
        "second_factor_challenged",
        "token_refreshed",
        "refresh_token_reused",
        "logged_out",
        "password_changed",
        "access_denied",
        "new_location",
        "honey_account_used",
        "account_suspended",
        "ip_blocked",
        "reconnaissance",
        "core_crashed",
        "audit_verification_failed",
        "admin_action",
        "owner_without_second_factor",
        "ip_unblocked",
        "account_reinstated",
    ];

    /// A stable snake_case name, used as a metric label, alert key and log field.
    pub fn kind(&self) -> &'static str {
        match self {
            SecurityEvent::LoginSucceeded { .. } => "login_succeeded",
            SecurityEvent::LoginFailed { .. } => "login_failed",
            SecurityEvent::SecondFactorChallenged { .. } => "second_factor_challenged",
            SecurityEvent::TokenRefreshed { .. } => "token_refreshed",
            SecurityEvent::RefreshTokenReused { .. } => "refresh_token_reused",
            SecurityEvent::LoggedOut { .. } => "logged_out",
            SecurityEvent::PasswordChanged { .. } => "password_changed",
            SecurityEvent::AccessDenied { .. } => "access_denied",
            SecurityEvent::NewLocation { .. } => "new_location",
            SecurityEvent::HoneyAccountUsed { .. } => "honey_account_used",
            SecurityEvent::AccountSuspended { .. } => "account_suspended",
            SecurityEvent::IpBlocked { .. } => "ip_blocked",
            SecurityEvent::Reconnaissance { .. } => "reconnaissance",
            SecurityEvent::CoreCrashed { .. } => "core_crashed",
            SecurityEvent::AuditVerificationFailed { .. } => "audit_verification_failed",
            SecurityEvent::AdminAction { .. } => "admin_action",
            SecurityEvent::OwnerWithoutSecondFactor { .. } => "owner_without_second_factor",
            SecurityEvent::IpUnblocked { .. } => "ip_unblocked",
            SecurityEvent::AccountReinstated { .. } => "account_reinstated",
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            SecurityEvent::LoginSucceeded { .. }
            | SecurityEvent::SecondFactorChallenged { .. }
            | SecurityEvent::TokenRefreshed { .. }
            | SecurityEvent::LoggedOut { .. }
            | SecurityEvent::PasswordChanged { .. }
            | SecurityEvent::AdminAction { .. }
            | SecurityEvent::IpUnblocked { .. }
            | SecurityEvent::AccountReinstated { .. } => Severity::Info,
            SecurityEvent::LoginFailed { .. }
            | SecurityEvent::AccessDenied { .. }
            | SecurityEvent::NewLocation { .. }
            | SecurityEvent::IpBlocked { .. }
            | SecurityEvent::Reconnaissance { .. }
            | SecurityEvent::CoreCrashed { .. }
            | SecurityEvent::OwnerWithoutSecondFactor { .. } => Severity::Warning,
            SecurityEvent::RefreshTokenReused { .. }
            | SecurityEvent::HoneyAccountUsed { .. }
            | SecurityEvent::AccountSuspended { .. }
            | SecurityEvent::AuditVerificationFailed { .. } => Severity::Critical,
        }
    }

    /// The client address the event concerns, when there is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            SecurityEvent::LoginSucceeded { ip, .. }
            | SecurityEvent::LoginFailed { ip, .. }
            | SecurityEvent::SecondFactorChallenged { ip, .. }
            | SecurityEvent::TokenRefreshed { ip, .. }
            | SecurityEvent::RefreshTokenReused { ip, .. }
            | SecurityEvent::LoggedOut { ip, .. }
            | SecurityEvent::AccessDenied { ip, .. }
            | SecurityEvent::NewLocation { ip, .. }
            | SecurityEvent::HoneyAccountUsed { ip, .. }
            | SecurityEvent::IpBlocked { ip, .. }
            | SecurityEvent::IpUnblocked { ip, .. } => Some(*ip),
            SecurityEvent::PasswordChanged { ip, .. } => *ip,
            _ => None,
        }
    }
}
