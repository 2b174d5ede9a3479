//! The audit entry: one recorded state change or authentication event, sealed onto the chain.
//!
//! The caller fills an [`AuditDraft`] (who did what to which resource, with which outcome) and
//! [`seal`] turns it into an [`AuditEntry`] by adding the log position, the link to the
//! previous entry and the entry's own hash. Secrets must be redacted from `before`, `after` and
//! `context` before sealing: the entry is kept and exported as written.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical;
use crate::hash::{Hash, PrevHash};
use crate::merkle;

/// Actor id for actions the panel takes by itself (quota enforcement, pruning).
pub const ACTOR_SYSTEM: &str = "system";
/// Actor id for requests made before authentication (failed logins).
pub const ACTOR_ANONYMOUS: &str = "anonymous";

/// An event as the application reports it, before it has a place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditDraft {
    /// When the event happened; sealing keeps millisecond precision.
    pub time: DateTime<Utc>,
    /// Account id, [`ACTOR_SYSTEM`] or [`ACTOR_ANONYMOUS`].
    pub actor_id: String,
    /// The actor's role at the time (`owner`, `admin`, `agent`, …).
    pub actor_role: String,
    /// Client IP address as text, when the event came from a request.
    pub ip: Option<String>,
    /// Action name, for example `login` or `user.create`.
    pub action: String,
    /// Kind of object acted on, for example `user` or `session`.
    pub resource_type: String,
    /// Id of the object acted on.
    pub resource_id: Option<String>,
    /// State before the change, secrets redacted.
    pub before: Option<Value>,
    /// State after the change, secrets redacted.
    pub after: Option<Value>,
    /// Extra facts: user agent, client certificate, repeat count.
    pub context: Option<Value>,
    /// Whether the action succeeded.
    pub success: bool,
    /// Error reported to the actor when the action failed.
    pub error: Option<String>,
}

impl AuditDraft {
    /// Starts a successful draft with no IP, resource id, state, context or error.
    pub fn new(
        time: DateTime<Utc>,
        actor_id: impl Into<String>,
        actor_role: impl Into<String>,
        action: impl Into<String>,
        resource_type: impl Into<String>,
    ) -> Self {
        Self {
            time,
            actor_id: actor_id.into(),
            actor_role: actor_role.into(),
            ip: None,
            action: action.into(),
            resource_type: resource_type.into(),
            resource_id: None,
            before: None,
            after: None,
            context: None,
            success: true,
            error: None,
        }
    }
}

/// A sealed audit entry: a leaf of the Merkle tree and a link of the hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// 0-based position in the log.
    pub index: u64,
    /// When the event happened, at millisecond precision.
    #[serde(with = "crate::serde_format::millis")]
    pub time: DateTime<Utc>,
    pub actor_id: String,
    pub actor_role: String,
    pub ip: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub context: Option<Value>,
    pub success: bool,
    pub error: Option<String>,
    /// Hash of the entry at `index - 1`, or genesis for index 0.
    pub prev_hash: PrevHash,
    /// SHA-256 of this entry's canonical encoding.
    pub hash: Hash,
}

/// Seals `draft` as the entry at `index`, linked to `prev`.
///
/// The time is cut to whole milliseconds and a JSON `null` state or context becomes `None`,
/// so that the entry reads back from JSON exactly as it was hashed.
pub fn seal(draft: AuditDraft, index: u64, prev: PrevHash) -> AuditEntry {
    let mut entry = AuditEntry {
        index,
        time: truncate_to_millis(draft.time),
        actor_id: draft.actor_id,
        actor_role: draft.actor_role,
        ip: draft.ip,
        action: draft.action,
        resource_type: draft.resource_type,
        resource_id: draft.resource_id,
        before: drop_null(draft.before),
        after: drop_null(draft.after),
        context: drop_null(draft.context),
        success: draft.success,
        error: draft.error,
        prev_hash: prev,
        hash: Hash([0; 32]),
    };

    entry.hash = entry.computed_hash();
    entry
}

impl AuditEntry {
    /// Canonical encoding of every field except `hash` (see [`canonical`]).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(256);
        canonical::encode_entry(self, &mut bytes);
        bytes
    }

    /// SHA-256 of the canonical encoding: what `hash` must hold.
    pub fn computed_hash(&self) -> Hash {
        Hash::digest(&self.canonical_bytes())
    }

    /// RFC 9162 leaf hash of this entry: SHA-256(0x00 || `hash`).
    ///
    /// The leaf input is the 32-byte entry hash, not the canonical encoding again, so a
    /// verifier hashes each entry's bytes once. It is computed from the stored `hash`; whether
    /// that hash matches the fields is the verifier's separate entry check.
    pub fn leaf_hash(&self) -> Hash {
        merkle::entry_leaf_hash(&self.hash)
    }

    /// Reports whether `time` has digits below a millisecond. Sealing never writes them and the
    /// canonical encoding does not cover them.
    pub fn has_sub_millisecond_time(&self) -> bool {
        !self.time.timestamp_subsec_nanos().is_multiple_of(1_000_000)
    }
}

fn truncate_to_millis(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(time.timestamp_millis()).unwrap_or(time)
}

fn drop_null(value: Option<Value>) -> Option<Value> {
    value.filter(|value| !value.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn draft() -> AuditDraft {
        let time = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(250_123_456);
        let mut draft = AuditDraft::new(time, "acc-1", "admin", "user.update", "user");
        draft.before = Some(Value::Null);
        draft.after = Some(json!({"traffic_limit_gb": 10.5}));
        draft
    }

    #[test]
    fn seal_cuts_time_to_milliseconds() {
        let entry = seal(draft(), 0, PrevHash::Genesis);

        assert_eq!(entry.time.timestamp_subsec_nanos(), 250_000_000);
        assert!(!entry.has_sub_millisecond_time());
    }

    #[test]
    fn seal_turns_json_null_into_none() {
        let entry = seal(draft(), 0, PrevHash::Genesis);

        assert_eq!(entry.before, None);
    }

    #[test]
    fn sealed_entry_survives_json_round_trip() {
        let entry = seal(draft(), 4, PrevHash::Entry(Hash([9; 32])));
        let text = serde_json::to_string(&entry).unwrap();
        let back: AuditEntry = serde_json::from_str(&text).unwrap();

        assert_eq!(back, entry);
        assert_eq!(back.computed_hash(), entry.hash);
    }

    #[test]
    fn leaf_hash_covers_the_entry_hash_only() {
        let entry = seal(draft(), 0, PrevHash::Genesis);
        let mut input = vec![0x00];
        input.extend_from_slice(entry.hash.as_bytes());

        assert_eq!(entry.leaf_hash(), Hash::digest(&input));
    }

    #[test]
    fn entry_json_rejects_unknown_fields() {
        let entry = seal(draft(), 0, PrevHash::Genesis);
        let mut value = serde_json::to_value(&entry).unwrap();
        value["extra"] = json!(1);

        assert!(serde_json::from_value::<AuditEntry>(value).is_err());
    }
}
