//! VPN users: the validated values they are made of and the rules for their status.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::validation::FieldError;

/// Bytes in one decimal gigabyte, the unit quotas are written in.
pub const BYTES_PER_GB: u64 = 1_000_000_000;
/// Largest quota an operator may set, in gigabytes.
pub const MAX_TRAFFIC_LIMIT_GB: u64 = 10_000;
/// Longest validity, in days, that one create or renew grants.
pub const MAX_EXPIRE_DAYS: u32 = 365;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// A VPN user's name: 3 to 255 characters of ASCII letters, digits, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserName(String);

impl UserName {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        let length = raw.chars().count();
        if !(3..=255).contains(&length) {
            return Err(FieldError::new(field, "must be 3 to 255 characters long"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if !raw.chars().all(allowed) {
            return Err(FieldError::new(
                field,
                "may contain only ASCII letters, digits, '_' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and reserved-name checks: names differing only in letter
    /// case are the same name.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A traffic quota in bytes; zero means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct TrafficLimit(u64);

impl TrafficLimit {
    pub const UNLIMITED: TrafficLimit = TrafficLimit(0);

    /// Parses a quota written in decimal gigabytes with at most three decimals, 0 to 10000.
    pub fn from_gb(field: &'static str, gb: f64) -> Result<Self, FieldError> {
        let millis = gigabytes_to_millis(field, gb, MAX_TRAFFIC_LIMIT_GB)?;
        Ok(Self(millis * (BYTES_PER_GB / 1000)))
    }

    pub fn from_bytes(bytes: u64) -> Self {
        Self(bytes)
    }

    pub fn bytes(self) -> u64 {
        self.0
    }

    pub fn is_unlimited(self) -> bool {
        self.0 == 0
    }

    /// The quota in gigabytes, as the API shows it.
    pub fn as_gb(self) -> f64 {
        bytes_to_gb(self.0)
    }
}

/// Converts bytes to decimal gigabytes for display.
pub fn bytes_to_gb(bytes: u64) -> f64 {
    // A quota is a whole number of megabytes, so dividing the megabyte count keeps three
    // decimals exact in the shortest float form.
    (bytes / 1_000_000) as f64 / 1000.0 + (bytes % 1_000_000) as f64 / BYTES_PER_GB as f64
}

/// Converts a gigabyte amount with at most three decimals into whole megabytes.
pub fn gigabytes_to_millis(field: &'static str, gb: f64, max_gb: u64) -> Result<u64, FieldError> {
    if !gb.is_finite() {
        return Err(FieldError::new(field, "must be a number"));
    }
    if gb < 0.0 {
        return Err(FieldError::new(field, "must not be negative"));
    }
    if gb > max_gb as f64 {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_gb} GB"),
        ));
    }
    let scaled = gb * 1000.0;
    let millis = scaled.round();
    if (scaled - millis).abs() > 1e-6 {
        return Err(FieldError::new(
            field,
            "must have at most 3 decimals (1 MB precision)",
        ));
    }
    Ok(millis as u64)
}

/// A validity period in whole days, 1 to 365.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpireDays(u32);

impl ExpireDays {
    pub fn parse(field: &'static str, days: i64) -> Result<Self, FieldError> {
        if !(1..=i64::from(MAX_EXPIRE_DAYS)).contains(&days) {
            return Err(FieldError::new(
                field,
                format!("must be a whole number of days from 1 to {MAX_EXPIRE_DAYS}"),
            ));
        }
        Ok(Self(days as u32))
    }

    pub fn days(self) -> u32 {
        self.0
    }

    /// The expiry instant this period gives when it starts at `from`.
    pub fn expire_at(self, from: DateTime<Utc>) -> DateTime<Utc> {
        from + Duration::days(i64::from(self.0))
    }
}

/// An operator's free-text note on a user: any Unicode up to 2000 characters, no control
/// characters other than line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Note(String);

impl Note {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        if raw.chars().count() > MAX_NOTE_CHARS {
            return Err(FieldError::new(
                field,
                format!("must be at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        let forbidden = |c: char| c.is_control() && c != '\n' && c != '\t' && c != '\r';
        if raw.chars().any(forbidden) {
            return Err(FieldError::new(
                field,
                "must not contain control characters other than line breaks and tabs",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A note read back from storage, where it was validated on the way in.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a VPN user stands, in the order the checks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    /// Switched off by an operator.
    Disabled,
    /// Usage reached the quota.
    Limited,
    /// The expiry time has passed.
    Expired,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
            UserStatus::Limited => "limited",
            UserStatus::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(UserStatus::Active),
            "disabled" => Some(UserStatus::Disabled),
            "limited" => Some(UserStatus::Limited),
            "expired" => Some(UserStatus::Expired),
            _ => None,
        }
    }
}

/// A VPN user as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct VpnUser {
    pub id: Uuid,
    pub name: UserName,
    /// The agent (reseller) account that owns this user, if any.
    pub owner_id: Option<Uuid>,
    pub enabled: bool,
    pub traffic_limit: TrafficLimit,
    pub upload_bytes: u64,
    pub download_bytes: u64,
    pub expire_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub note: Note,
    /// Bumped on every subscription-link rotation; part of the token derivation.
    pub subscription_revision: u32,
    /// The VMess/VLESS id on the proxy core.
    pub proxy_uuid: Uuid,
}

impl VpnUser {
    pub fn used_bytes(&self) -> u64 {
        self.upload_bytes.saturating_add(self.download_bytes)
    }

    pub fn status(&self, now: DateTime<Utc>) -> UserStatus {
        if !self.enabled {
            return UserStatus::Disabled;
        }
        if self.expire_at <= now {
            return UserStatus::Expired;
        }
        if !self.traffic_limit.is_unlimited() && self.used_bytes() >= self.traffic_limit.bytes() {
            return UserStatus::Limited;
        }
        UserStatus::Active
    }

    /// The stable key that names this user on the proxy core (its `email` field).
    pub fn core_key(&self) -> String {
        self.id.simple().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_name_accepts_and_rejects() {
        let cases = [
            // shortest allowed
            ("abc", true),
            // every allowed character class
            ("A-b_9", true),
            // too short
            ("ab", false),
            // space
            ("ab c", false),
            // non-ASCII letter
            ("abé", false),
            // path characters
            ("../etc", false),
            // HTML
            ("<script>", false),
        ];
        for (raw, ok) in cases {
            assert_eq!(UserName::parse("name", raw).is_ok(), ok, "{raw}");
        }
        assert!(UserName::parse("name", &"a".repeat(255)).is_ok());
        assert!(UserName::parse("name", &"a".repeat(256)).is_err());
    }

    #[test]
    fn traffic_limit_parses_gigabytes() {
        let cases = [
            // unlimited
            (0.0, Some(0)),
            // three decimals
            (1.234, Some(1_234_000_000)),
            // upper bound
            (10000.0, Some(10_000 * BYTES_PER_GB)),
            // largest value with three decimals below the bound
            (9999.999, Some(9_999_999_000_000)),
            // four decimals
            (1.2345, None),
            // negative
            (-1.0, None),
            // above the bound
            (10000.001, None),
            // not a number
            (f64::NAN, None),
            (f64::INFINITY, None),
        ];
        for (gb, bytes) in cases {
            let parsed = TrafficLimit::from_gb("traffic_limit_gb", gb).ok();
            assert_eq!(parsed.map(TrafficLimit::bytes), bytes, "{gb}");
        }
    }

    #[test]
    fn traffic_limit_round_trips_through_gb() {
        for gb in [0.001, 0.1, 1.5, 42.125, 9999.999] {
            let limit = TrafficLimit::from_gb("x", gb).unwrap();
            assert_eq!(limit.as_gb(), gb);
        }
    }

    #[test]
    fn expire_days_bounds() {
        assert!(ExpireDays::parse("expire_days", 0).is_err());
        assert!(ExpireDays::parse("expire_days", 1).is_ok());
        assert!(ExpireDays::parse("expire_days", 365).is_ok());
        assert!(ExpireDays::parse("expire_days", 366).is_err());
        assert!(ExpireDays::parse("expire_days", -5).is_err());
    }

    #[test]
    fn note_rejects_control_characters() {
        assert!(Note::parse("note", "line one\nline two\ttab").is_ok());
        assert!(Note::parse("note", "bell\u{7}").is_err());
        assert!(Note::parse("note", "نام کاربر").is_ok());
        assert!(Note::parse("note", &"x".repeat(MAX_NOTE_CHARS + 1)).is_err());
    }

    fn sample_user(now: DateTime<Utc>) -> VpnUser {
        VpnUser {
            id: Uuid::nil(),
            name: UserName::parse("name", "alice").unwrap(),
            owner_id: None,
            enabled: true,
            traffic_limit: TrafficLimit::from_bytes(1000),
            upload_bytes: 0,
            download_bytes: 0,
            expire_at: now + Duration::days(1),
            created_at: now,
            updated_at: now,
            note: Note::default(),
            subscription_revision: 0,
            proxy_uuid: Uuid::nil(),
        }
    }

    #[test]
    fn status_follows_quota_expiry_and_switch() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut user = sample_user(now);
        assert_eq!(user.status(now), UserStatus::Active);

        user.download_bytes = 999;
        user.upload_bytes = 1;
        assert_eq!(user.status(now), UserStatus::Limited);

        user.traffic_limit = TrafficLimit::UNLIMITED;
        assert_eq!(user.status(now), UserStatus::Active);

        assert_eq!(user.status(now + Duration::days(1)), UserStatus::Expired);

        user.enabled = false;
        assert_eq!(user.status(now), UserStatus::Disabled);
    }
}
