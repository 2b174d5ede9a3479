//! Retention checkpoints: what remains of pruned entries so the rest of the log still verifies.
//!
//! Pruning the first `P` entries keeps a [`Checkpoint`]: the compact range of leaves `[0, P)`
//! (enough to recompute every root and proof from size `P` on) and the hash of entry `P - 1`
//! (the link the first retained entry must carry). The panel signs it as a
//! [`SignedCheckpoint`] so a verifier can trust it without the pruned entries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::entry::AuditEntry;
use crate::hash::{Hash, PrevHash};
use crate::keys::{AuditSigningKey, AuditVerifyingKey, SignatureError};
use crate::log_state::{ChainError, LogState};
use crate::merkle::CompactRange;

/// Domain-separation prefix of the checkpoint signing payload, followed by a 0x00 byte.
pub const CHECKPOINT_DOMAIN: &str = "spiritus-audit-checkpoint-v1";

/// A checkpoint whose parts contradict each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error("invalid checkpoint: a checkpoint of 0 pruned entries must link to genesis")]
    EmptyNotGenesis,
    #[error(
        "invalid checkpoint: a checkpoint of {pruned} pruned entries needs the last pruned entry's hash, not genesis"
    )]
    MissingLastHash { pruned: u64 },
    #[error("cannot advance checkpoint: {0}")]
    Chain(#[from] ChainError),
}

/// The pruned prefix `[0, P)` of a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCheckpoint", deny_unknown_fields)]
pub struct Checkpoint {
    range: CompactRange,
    last_entry_hash: PrevHash,
}

/// Unchecked JSON form of [`Checkpoint`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckpoint {
    range: CompactRange,
    last_entry_hash: PrevHash,
}

impl TryFrom<RawCheckpoint> for Checkpoint {
    type Error = CheckpointError;

    fn try_from(raw: RawCheckpoint) -> Result<Self, Self::Error> {
        Self::new(raw.range, raw.last_entry_hash)
    }
}

impl Checkpoint {
    /// Builds a checkpoint, checking that genesis goes with an empty prefix and only with one.
    pub fn new(range: CompactRange, last_entry_hash: PrevHash) -> Result<Self, CheckpointError> {
        match (range.size(), last_entry_hash) {
            (0, PrevHash::Entry(_)) => Err(CheckpointError::EmptyNotGenesis),
            (pruned, PrevHash::Genesis) if pruned > 0 => {
                Err(CheckpointError::MissingLastHash { pruned })
            }
            _ => Ok(Self {
                range,
                last_entry_hash,
            }),
        }
    }

    /// Checkpoint taken from a log state, whose parts always agree.
    pub(crate) fn from_state(range: CompactRange, last_entry_hash: PrevHash) -> Self {
        Self {
            range,
            last_entry_hash,
        }
    }

    /// Number of pruned entries (`P`); also the index of the first retained entry.
    pub fn pruned_size(&self) -> u64 {
        self.range.size()
    }

    /// Compact range of the pruned leaves.
    pub fn range(&self) -> &CompactRange {
        &self.range
    }

    /// Hash of the last pruned entry, which the first retained entry links to.
    pub fn last_entry_hash(&self) -> &PrevHash {
        &self.last_entry_hash
    }

    /// Merkle root of the tree of the `P` pruned entries.
    pub fn root(&self) -> Hash {
        self.range.root()
    }

    /// The checkpoint after also pruning `entries`, which must be the next retained entries in
    /// order. Each one is checked (index, link, hash) before it is folded in.
    pub fn advance<'a>(
        &self,
        entries: impl IntoIterator<Item = &'a AuditEntry>,
    ) -> Result<Self, CheckpointError> {
        let mut state = LogState::from_checkpoint(self);
        for entry in entries {
            state.replay(entry)?;
        }
        Ok(state.to_checkpoint())
    }

    /// Signing payload: `"spiritus-audit-checkpoint-v1" || 0x00 || u64 P ||` the compact range
    /// hashes (32 bytes each, largest subtree first) `||` the last entry hash (`0x00` for
    /// genesis, or `0x01` and 32 bytes) `|| i64 timestamp` in Unix milliseconds, big-endian.
    pub fn signing_payload(&self, timestamp: DateTime<Utc>) -> Vec<u8> {
        let mut payload = Vec::with_capacity(64 + 32 * self.range.hashes().len());
        payload.extend_from_slice(CHECKPOINT_DOMAIN.as_bytes());
        payload.push(0x00);
        payload.extend_from_slice(&self.pruned_size().to_be_bytes());
        for hash in self.range.hashes() {
            payload.extend_from_slice(hash.as_bytes());
        }
        match self.last_entry_hash {
            PrevHash::Genesis => payload.push(0x00),
            PrevHash::Entry(hash) => {
                payload.push(0x01);
                payload.extend_from_slice(hash.as_bytes());
            }
        }
        payload.extend_from_slice(&timestamp.timestamp_millis().to_be_bytes());
        payload
    }
}

/// A checkpoint signed with the audit key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    /// When the checkpoint was signed, at millisecond precision.
    #[serde(with = "crate::serde_format::millis")]
    pub timestamp: DateTime<Utc>,
    pub key_id: String,
    #[serde(with = "crate::serde_format::signature_base64")]
    pub signature: [u8; 64],
}

impl SignedCheckpoint {
    /// Checks the signature against the pinned `key`.
    pub fn verify(&self, key: &AuditVerifyingKey) -> Result<(), SignatureError> {
        let payload = self.checkpoint.signing_payload(self.timestamp);
        key.verify_payload(&payload, &self.key_id, &self.signature)
    }
}

impl AuditSigningKey {
    /// Signs `checkpoint`, dated `timestamp` (cut to whole milliseconds).
    pub fn sign_checkpoint(
        &self,
        checkpoint: Checkpoint,
        timestamp: DateTime<Utc>,
    ) -> SignedCheckpoint {
        let timestamp =
            DateTime::from_timestamp_millis(timestamp.timestamp_millis()).unwrap_or(timestamp);
        let signature = self.sign_payload(&checkpoint.signing_payload(timestamp));

        SignedCheckpoint {
            checkpoint,
            timestamp,
            key_id: self.key_id(),
            signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::AuditDraft;
    use chrono::TimeZone;

    fn time() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn entries(count: u64) -> Vec<AuditEntry> {
        let mut state = LogState::new();
        (0..count)
            .map(|i| {
                state.append(AuditDraft::new(
                    time(),
                    format!("acc-{i}"),
                    "admin",
                    "login",
                    "session",
                ))
            })
            .collect()
    }

    #[test]
    fn checkpoint_rejects_genesis_mismatch() {
        let mut one_leaf = CompactRange::new();
        one_leaf.append(Hash([1; 32]));

        assert_eq!(
            Checkpoint::new(one_leaf, PrevHash::Genesis),
            Err(CheckpointError::MissingLastHash { pruned: 1 })
        );
        assert_eq!(
            Checkpoint::new(CompactRange::new(), PrevHash::Entry(Hash([1; 32]))),
            Err(CheckpointError::EmptyNotGenesis)
        );
    }

    #[test]
    fn advance_matches_state_after_same_entries() {
        let log = entries(7);
        let genesis = LogState::new().to_checkpoint();

        let checkpoint = genesis.advance(&log[..5]).unwrap();
        let mut state = LogState::new();
        for entry in &log[..5] {
            state.replay(entry).unwrap();
        }

        assert_eq!(checkpoint, state.to_checkpoint());
        assert_eq!(checkpoint.pruned_size(), 5);
        assert_eq!(checkpoint.last_entry_hash(), &PrevHash::Entry(log[4].hash));
    }

    #[test]
    fn advance_rejects_skipped_entry() {
        let log = entries(4);
        let genesis = LogState::new().to_checkpoint();

        let error = genesis.advance([&log[0], &log[2]]).unwrap_err();

        assert_eq!(
            error,
            CheckpointError::Chain(ChainError::IndexMismatch {
                expected: 1,
                found: 2
            })
        );
    }

    #[test]
    fn signed_checkpoint_verifies_after_json_round_trip() {
        let key = AuditSigningKey::from_seed(&[5; 32]);
        let checkpoint = LogState::new()
            .to_checkpoint()
            .advance(&entries(3))
            .unwrap();
        let signed = key.sign_checkpoint(checkpoint, time());

        let text = serde_json::to_string(&signed).unwrap();
        let back: SignedCheckpoint = serde_json::from_str(&text).unwrap();

        assert_eq!(back, signed);
        assert_eq!(back.verify(&key.verifying_key()), Ok(()));
    }

    #[test]
    fn signed_checkpoint_rejects_changed_last_hash() {
        let key = AuditSigningKey::from_seed(&[5; 32]);
        let checkpoint = LogState::new()
            .to_checkpoint()
            .advance(&entries(3))
            .unwrap();
        let mut signed = key.sign_checkpoint(checkpoint, time());
        signed.checkpoint.last_entry_hash = PrevHash::Entry(Hash([0; 32]));

        assert!(matches!(
            signed.verify(&key.verifying_key()),
            Err(SignatureError::Invalid { .. })
        ));
    }
}
