//! Tamper-evident audit trail for the Spiritus panel.
//!
//! Every state change and authentication event becomes an [`AuditEntry`]. Entries form a hash
//! chain (each contains the previous entry's hash) and are the leaves of an RFC 9162 Merkle tree.
//! The panel signs tree heads with an Ed25519 key, serves inclusion and consistency proofs, and
//! keeps a signed [`Checkpoint`] when it prunes old entries; anyone holding the public key can
//! check an exported log offline with [`verify_export`].
//!
//! This crate owns the entry model, the canonical encoding, the tree, the proofs, the signing
//! payloads, the verifier and the export and witness file formats. It is pure: no database,
//! network, clock reads or async. Callers pass times in, persist entries, and expose proofs.
//! The byte-level format is specified in `docs/audit-format.md` at the workspace root.
//!
//! Typical use by a store:
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use spiritus_audit::{AuditDraft, AuditSigningKey, LogState, verify_log};
//!
//! let key = AuditSigningKey::from_seed(&[1; 32]);
//! let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
//! let mut log = LogState::new();
//!
//! let entry = log.append(AuditDraft::new(now, "acc-1", "admin", "login", "session"));
//! let head = log.sign_head(&key, now);
//!
//! let report = verify_log(&key.verifying_key(), None, &[entry], &head, &[]);
//! assert!(report.is_valid());
//! ```

#![forbid(unsafe_code)]

pub mod bench_support;
pub mod canonical;
pub mod checkpoint;
pub mod entry;
pub mod export;
pub mod hash;
pub mod keys;
mod lines;
pub mod log_state;
pub mod merkle;
pub mod proof_export;
mod serde_format;
pub mod tree_head;
pub mod verify;
pub mod witness;

pub use checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
pub use entry::{AuditDraft, AuditEntry, seal};
pub use export::{
    ExportError, ExportHeader, ExportReader, ExportRecord, ExportWriter, verify_export,
};
pub use hash::{Hash, HashParseError, PrevHash};
pub use keys::{AuditSigningKey, AuditVerifyingKey, KeyError, SignatureError};
pub use lines::LineError;
pub use log_state::{ChainError, LogState};
pub use merkle::{
    CompactRange, ConsistencyProof, InclusionProof, LeafHashes, MerkleLog, ProofError,
    ProofVerifyError,
};
pub use proof_export::{
    ProofExportHeader, ProofExportWriter, ProvenEntry, is_proof_export_header, verify_proof_export,
};
pub use tree_head::SignedTreeHead;
pub use verify::{ChainBreak, DamageKind, Failure, LogVerifier, VerifyReport, verify_log};
pub use witness::{WitnessError, parse_witness, witness_line};
