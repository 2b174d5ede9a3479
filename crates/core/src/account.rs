//! Panel accounts (owner, admins, agents) and their roles.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::validation::FieldError;

/// What a panel account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The single account created at first start; manages admins and settings.
    Owner,
    /// Manages every VPN user.
    Admin,
    /// A reseller: manages only its own VPN users, within a quota.
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }

    /// Owners and admins see every VPN user; agents only their own.
    pub fn sees_all_users(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A panel account's login name: 3 to 64 characters of ASCII letters, digits, `_`, `-` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AccountName(String);

impl AccountName {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        let length = raw.chars().count();
        if !(3..=64).contains(&length) {
            return Err(FieldError::new(field, "must be 3 to 64 characters long"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if !raw.chars().all(allowed) {
            return Err(FieldError::new(
                field,
                "may contain only ASCII letters, digits, '_', '-' and '.'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used for uniqueness, lookups and reserved-name checks.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why and when an account was suspended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suspension {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A panel account as stored. The password hash is a PHC string; it is never shown by any
/// API and is kept out of `Debug` output of the services that hold accounts.
#[derive(Clone, PartialEq)]
pub struct Account {
    pub id: Uuid,
    pub name: AccountName,
    pub role: Role,
    pub password_hash: String,
    pub must_change_password: bool,
    pub suspension: Option<Suspension>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("must_change_password", &self.must_change_password)
            .field("suspension", &self.suspension)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_debug_hides_password_hash() {
        let now = DateTime::from_timestamp(0, 0).unwrap();
        let account = Account {
            id: Uuid::nil(),
            name: AccountName::parse("name", "owner").unwrap(),
            role: Role::Owner,
            password_hash: "$argon2id$v=19$secret-material".into(),
            must_change_password: false,
            suspension: None,
            created_at: now,
            updated_at: now,
            password_changed_at: now,
        };
        let shown = format!("{account:?}");
        assert!(!shown.contains("argon2id"), "{shown}");
    }

    #[test]
    fn account_name_rules() {
        assert!(AccountName::parse("username", "ops.admin-1").is_ok());
        assert!(AccountName::parse("username", "ab").is_err());
        assert!(AccountName::parse("username", "admin\nadmin_ip=1.2.3.4").is_err());
        assert!(AccountName::parse("username", &"a".repeat(65)).is_err());
    }
}
