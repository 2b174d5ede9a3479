//! The believable fake data shown to a honey session: a small panel with a dozen VPN users,
//! two admins and an idle proxy core. Every value is made up here, and nothing is read from a
//! store.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

/// Names of the fake VPN users.
const USER_NAMES: [&str; 12] = [
    "amir", "sara", "reza", "neda", "omid", "leila", "kian", "mina", "arash", "yasmin", "dariush",
    "parisa",
];
const GB: u64 = 1_000_000_000;

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Derives a stable fake id from a name (a version-4 shape filled by FNV-1a over the name),
/// so repeated reads agree.
fn fake_id(name: &str) -> String {
    let fnv = |seed: u64| {
        name.bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&fnv(0xcbf2_9ce4_8422_2325).to_be_bytes());
    bytes[8..].copy_from_slice(&fnv(0x6c62_272e_07bb_0142).to_be_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A fake user; `seed` varies its quota, usage and dates.
pub fn user(name: &str, seed: u64, now: DateTime<Utc>) -> Value {
    let limit_gb = 20 + (seed % 5) * 20;
    let upload = (seed * 37 % 90 + 5) * GB / 10;
    let download = (seed * 53 % 400 + 20) * GB / 10;
    let days_left = i64::try_from(seed % 25).unwrap_or(0) + 3;
    let days_old = i64::try_from(seed % 60).unwrap_or(0) + 10;
    json!({
        "id": fake_id(name),
        "name": name,
        "status": if seed % 7 == 3 { "disabled" } else { "active" },
        "traffic_limit_gb": limit_gb,
        "upload_bytes": upload,
        "download_bytes": download,
        "used_bytes": upload + download,
        "expire_at": rfc3339(now + Duration::days(days_left)),
        "created_at": rfc3339(now - Duration::days(days_old)),
        "note": "",
        "subscription_url": format!("/sub/{}", fake_id(&format!("sub:{name}")).replace('-', "")),
    })
}

/// The seed of a user name: its place in the list, or a value derived from its letters.
pub fn seed_of(name: &str) -> u64 {
    USER_NAMES
        .iter()
        .position(|known| *known == name)
        .map(|index| index as u64)
        .unwrap_or_else(|| name.bytes().map(u64::from).sum())
}

pub fn user_list(now: DateTime<Utc>) -> Value {
    let items: Vec<Value> = USER_NAMES
        .iter()
        .enumerate()
        .map(|(index, name)| user(name, index as u64, now))
        .collect();
    json!({ "items": items, "total": USER_NAMES.len(), "next_cursor": null })
}

pub fn accounts(now: DateTime<Utc>) -> Value {
    let account = |name: &str, role: &str, days: i64| {
        json!({
            "id": fake_id(&format!("account:{name}")),
            "name": name,
            "role": role,
            "must_change_password": false,
            "created_at": rfc3339(now - Duration::days(days)),
            "suspended": false,
            "second_factors": { "totp": true, "backup_codes_left": 8, "passkeys": 0 },
        })
    };
    json!({ "items": [account("admin", "owner", 210), account("support", "admin", 95)] })
}

pub fn system(uptime_seconds: u64) -> Value {
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": uptime_seconds,
        "database": "sqlite",
        "ephemeral_store": "memory",
        "core": { "state": "running", "restarts": 0 },
    })
}

pub fn security_settings() -> Value {
    json!({ "mfa_required_for_admins": false, "source": "config" })
}

pub fn second_factors() -> Value {
    json!({
        "totp": false,
        "totp_pending": false,
        "backup_codes_left": 0,
        "passkeys": [],
        "passkeys_available": false,
        "enrolment_required": false,
    })
}
