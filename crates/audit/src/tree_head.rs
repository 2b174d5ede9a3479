//! Signed tree heads: the panel's signed statement of the log's size and Merkle root.
//!
//! JSON form (what the tree-head endpoint returns and what the verifier reads):
//!
//! ```json
//! {"tree_size":3,"root_hash":"<64 hex>","timestamp":"2026-03-01T12:00:00.000Z",
//!  "key_id":"<16 hex>","signature":"<base64 of 64 bytes>"}
//! ```
//!
//! The signature covers the signing payload of [`tree_head_payload`], not the JSON text. The
//! `key_id` is not signed: it only names the key to check against, and a wrong `key_id` fails
//! verification because it differs from the pinned key's id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::keys::{AuditSigningKey, AuditVerifyingKey, SignatureError};

/// Domain-separation prefix of the tree head signing payload, followed by a 0x00 byte.
pub const TREE_HEAD_DOMAIN: &str = "spiritus-audit-tree-head-v1";

/// A tree head signed with the audit key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTreeHead {
    /// Number of entries (leaves) in the tree, pruned ones included.
    pub tree_size: u64,
    /// RFC 9162 root of those leaves.
    pub root_hash: Hash,
    /// When the head was signed, at millisecond precision.
    #[serde(with = "crate::serde_format::millis")]
    pub timestamp: DateTime<Utc>,
    /// Key id of the signing key.
    pub key_id: String,
    /// Ed25519 signature over the signing payload.
    #[serde(with = "crate::serde_format::signature_base64")]
    pub signature: [u8; 64],
}

/// Builds the bytes that a tree head signature covers:
/// `"spiritus-audit-tree-head-v1" || 0x00 || u64 tree_size || root (32 bytes) ||
/// i64 timestamp in Unix milliseconds`, integers big-endian (76 bytes in all).
pub fn tree_head_payload(tree_size: u64, root_hash: &Hash, timestamp: DateTime<Utc>) -> Vec<u8> {
    let mut payload = Vec::with_capacity(TREE_HEAD_DOMAIN.len() + 1 + 8 + 32 + 8);
    payload.extend_from_slice(TREE_HEAD_DOMAIN.as_bytes());
    payload.push(0x00);
    payload.extend_from_slice(&tree_size.to_be_bytes());
    payload.extend_from_slice(root_hash.as_bytes());
    payload.extend_from_slice(&timestamp.timestamp_millis().to_be_bytes());
    payload
}

impl SignedTreeHead {
    /// Builds the signing payload of this head.
    pub fn signing_payload(&self) -> Vec<u8> {
        tree_head_payload(self.tree_size, &self.root_hash, self.timestamp)
    }

    /// Checks the signature against the pinned `key`.
    pub fn verify(&self, key: &AuditVerifyingKey) -> Result<(), SignatureError> {
        key.verify_payload(&self.signing_payload(), &self.key_id, &self.signature)
    }
}

impl AuditSigningKey {
    /// Signs the head of a tree of `tree_size` leaves with `root_hash`, dated `timestamp`
    /// (cut to whole milliseconds).
    pub fn sign_tree_head(
        &self,
        tree_size: u64,
        root_hash: Hash,
        timestamp: DateTime<Utc>,
    ) -> SignedTreeHead {
        let timestamp =
            DateTime::from_timestamp_millis(timestamp.timestamp_millis()).unwrap_or(timestamp);
        let payload = tree_head_payload(tree_size, &root_hash, timestamp);

        SignedTreeHead {
            tree_size,
            root_hash,
            timestamp,
            key_id: self.key_id(),
            signature: self.sign_payload(&payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn head() -> (AuditSigningKey, SignedTreeHead) {
        let key = AuditSigningKey::from_seed(&[3; 32]);
        let time = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let head = key.sign_tree_head(5, Hash([0x11; 32]), time);
        (key, head)
    }

    #[test]
    fn tree_head_verifies_after_json_round_trip() {
        let (key, head) = head();
        let text = serde_json::to_string(&head).unwrap();
        let back: SignedTreeHead = serde_json::from_str(&text).unwrap();

        assert_eq!(back, head);
        assert_eq!(back.verify(&key.verifying_key()), Ok(()));
    }

    #[test]
    fn tree_head_rejects_any_changed_field() {
        let (key, head) = head();
        let public = key.verifying_key();

        let mut bigger = head.clone();
        bigger.tree_size += 1;
        let mut other_root = head.clone();
        other_root.root_hash.0[31] ^= 1;
        let mut later = head.clone();
        later.timestamp += chrono::Duration::milliseconds(1);
        let mut flipped = head.clone();
        flipped.signature[0] ^= 1;

        for changed in [bigger, other_root, later, flipped] {
            assert!(matches!(
                changed.verify(&public),
                Err(SignatureError::Invalid { .. })
            ));
        }
    }

    #[test]
    fn tree_head_rejects_other_key() {
        let (_, head) = head();
        let other = AuditSigningKey::from_seed(&[4; 32]).verifying_key();

        assert!(matches!(
            head.verify(&other),
            Err(SignatureError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn payload_has_fixed_layout() {
        let (_, head) = head();
        let payload = head.signing_payload();

        assert_eq!(payload.len(), 76);
        assert_eq!(&payload[..28], b"spiritus-audit-tree-head-v1\0");
        assert_eq!(&payload[28..36], &5u64.to_be_bytes());
    }
}
