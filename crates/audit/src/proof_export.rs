//! The proof-carrying export: a selection of entries that verifies without the rest of the log.
//!
//! A filtered export (one actor's actions, one day) cannot be checked as a chain, because the
//! entries between the selected ones are missing. Instead each selected entry carries its
//! inclusion proof in the tree of the signed head that opens the file. Layout, one JSON object
//! per line:
//!
//! 1. header: `{"format":"spiritus-audit-proof-export","version":1,"public_key":"<64 hex>",
//!    "tree_head":<signed tree head>}`;
//! 2. one line per selected entry, in increasing index order:
//!    `{"entry":<audit entry>,"proof":<inclusion proof in tree_head's tree>}`.
//!
//! [`verify_proof_export`] checks the head's signature, then for every line that the entry
//! matches its hash and that its leaf hash leads through the proof to the signed root at the
//! entry's own index. What it cannot tell is whether entries matching the filter were left
//! out: a selection proves membership, not completeness.

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::entry::AuditEntry;
use crate::export::ExportError;
use crate::keys::AuditVerifyingKey;
use crate::lines::{DEFAULT_MAX_LINE_BYTES, LineReader};
use crate::merkle::InclusionProof;
use crate::tree_head::SignedTreeHead;
use crate::verify::{DamageKind, Failure, VerifyReport};

/// Value of the header's `format` field.
pub const PROOF_EXPORT_FORMAT: &str = "spiritus-audit-proof-export";
/// The proof export version this crate writes and reads.
pub const PROOF_EXPORT_VERSION: u32 = 1;

/// First line of a proof-carrying export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofExportHeader {
    pub format: String,
    pub version: u32,
    /// The key the panel signed with. A verifier should pin the key it expects instead.
    pub public_key: AuditVerifyingKey,
    /// The head every proof in the file leads to.
    pub tree_head: SignedTreeHead,
}

/// One selected entry with its inclusion proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenEntry {
    pub entry: AuditEntry,
    pub proof: InclusionProof,
}

/// Writes a proof-carrying export line by line.
pub struct ProofExportWriter<W: Write> {
    out: W,
}

impl<W: Write> ProofExportWriter<W> {
    /// Writes the header line with the head that every proof must lead to.
    pub fn new(
        mut out: W,
        key: &AuditVerifyingKey,
        tree_head: &SignedTreeHead,
    ) -> Result<Self, ExportError> {
        let header = ProofExportHeader {
            format: PROOF_EXPORT_FORMAT.to_owned(),
            version: PROOF_EXPORT_VERSION,
            public_key: *key,
            tree_head: tree_head.clone(),
        };
        write_line(&mut out, &header)?;
        Ok(Self { out })
    }

    /// Writes one entry and its proof.
    pub fn write_entry(
        &mut self,
        entry: &AuditEntry,
        proof: &InclusionProof,
    ) -> Result<(), ExportError> {
        #[derive(Serialize)]
        struct Line<'a> {
            entry: &'a AuditEntry,
            proof: &'a InclusionProof,
        }
        write_line(&mut self.out, &Line { entry, proof })
    }

    /// Flushes and returns the output.
    pub fn finish(mut self) -> Result<W, ExportError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn write_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> Result<(), ExportError> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Reports whether the first line of an export names the proof-carrying format.
pub fn is_proof_export_header(first_line: &str) -> bool {
    #[derive(Deserialize)]
    struct Format {
        format: String,
    }
    serde_json::from_str::<Format>(first_line)
        .is_ok_and(|header| header.format == PROOF_EXPORT_FORMAT)
}

/// Reads and verifies a proof-carrying export in one pass.
///
/// With `pinned_key`, the head must be signed by that key; without it the header's key is
/// used, which shows only that the file agrees with itself. A trusted head of the same size
/// with another root is a fork ([`DamageKind::ForkDetected`]).
pub fn verify_proof_export<R: BufRead>(
    reader: R,
    pinned_key: Option<&AuditVerifyingKey>,
    trusted_heads: &[SignedTreeHead],
) -> Result<VerifyReport, ExportError> {
    let mut lines = LineReader::new(reader, DEFAULT_MAX_LINE_BYTES);
    let first = lines.next_line()?.ok_or(ExportError::Empty)?;
    let header = read_header(&first)?;
    let key = pinned_key.copied().unwrap_or(header.public_key);
    let head = &header.tree_head;

    let mut check = ProofCheck::new(key, head, trusted_heads);
    while let Some(text) = lines.next_line()? {
        let line = lines.line_number();
        if text.trim().is_empty() {
            return Err(ExportError::EmptyLine { line });
        }
        let proven: ProvenEntry =
            serde_json::from_str(&text).map_err(|source| ExportError::Entry { line, source })?;
        check.push(&proven);
    }
    Ok(check.finish())
}

fn read_header(first: &str) -> Result<ProofExportHeader, ExportError> {
    let header: ProofExportHeader =
        serde_json::from_str(first).map_err(|source| ExportError::Header { source })?;
    if header.format != PROOF_EXPORT_FORMAT {
        return Err(ExportError::Format {
            found: header.format.chars().take(64).collect(),
        });
    }
    if header.version != PROOF_EXPORT_VERSION {
        return Err(ExportError::Version {
            found: header.version,
        });
    }
    Ok(header)
}

/// The running state of a proof export verification.
struct ProofCheck<'a> {
    key: AuditVerifyingKey,
    head: &'a SignedTreeHead,
    trusted: &'a [SignedTreeHead],
    entries: u64,
    last_index: Option<u64>,
    failure: Option<Failure>,
}

impl<'a> ProofCheck<'a> {
    fn new(
        key: AuditVerifyingKey,
        head: &'a SignedTreeHead,
        trusted: &'a [SignedTreeHead],
    ) -> Self {
        let mut check = Self {
            key,
            head,
            trusted,
            entries: 0,
            last_index: None,
            failure: None,
        };
        check.failure = check.check_signatures();
        check
    }

    fn check_signatures(&self) -> Option<Failure> {
        if let Err(error) = self.head.verify(&self.key) {
            return Some(log_failure(
                DamageKind::BadSignature,
                format!("tree head of size {}: {error}", self.head.tree_size),
            ));
        }
        for trusted in self.trusted {
            if let Err(error) = trusted.verify(&self.key) {
                return Some(log_failure(
                    DamageKind::BadSignature,
                    format!("trusted tree head of size {}: {error}", trusted.tree_size),
                ));
            }
            if trusted.tree_size == self.head.tree_size && trusted.root_hash != self.head.root_hash
            {
                return Some(log_failure(
                    DamageKind::ForkDetected,
                    format!(
                        "a trusted tree head signed at {} has another root for the same size {}: two different logs were signed",
                        trusted.timestamp, trusted.tree_size
                    ),
                ));
            }
        }
        None
    }

    fn push(&mut self, proven: &ProvenEntry) {
        self.entries += 1;
        if self.failure.is_none() {
            self.failure = self.check_entry(proven);
        }
        self.last_index = Some(proven.entry.index);
    }

    fn check_entry(&self, proven: &ProvenEntry) -> Option<Failure> {
        let entry = &proven.entry;
        let at = |kind, detail| {
            Some(Failure {
                index: Some(entry.index),
                kind,
                detail,
            })
        };
        if entry.computed_hash() != entry.hash || entry.has_sub_millisecond_time() {
            return at(
                DamageKind::EntryHashMismatch,
                "the entry's fields do not hash to its stored hash: a field was edited".into(),
            );
        }
        if self.last_index.is_some_and(|last| entry.index <= last) {
            return at(
                DamageKind::ChainBroken(crate::verify::ChainBreak::Reordered),
                "entries must appear in increasing index order".into(),
            );
        }
        let proof = &proven.proof;
        if proof.leaf_index != entry.index || proof.tree_size != self.head.tree_size {
            return at(
                DamageKind::RootMismatch,
                format!(
                    "the proof is for leaf {} of tree size {}, not for this entry in the signed tree of size {}",
                    proof.leaf_index, proof.tree_size, self.head.tree_size
                ),
            );
        }
        if let Err(error) = proof.verify(&entry.leaf_hash(), &self.head.root_hash) {
            return at(
                DamageKind::RootMismatch,
                format!("the inclusion proof does not lead to the signed root: {error}"),
            );
        }
        None
    }

    fn finish(self) -> VerifyReport {
        VerifyReport {
            entries: self.entries,
            tree_size: self.head.tree_size,
            root: self.head.root_hash,
            key_id: self.key.key_id(),
            trusted_heads_checked: self
                .trusted
                .iter()
                .filter(|head| head.tree_size == self.head.tree_size)
                .count(),
            trusted_heads_skipped: self
                .trusted
                .iter()
                .filter(|head| head.tree_size != self.head.tree_size)
                .count(),
            first_failure: self.failure,
        }
    }
}

fn log_failure(kind: DamageKind, detail: String) -> Failure {
    Failure {
        index: None,
        kind,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::AuditDraft;
    use crate::keys::AuditSigningKey;
    use crate::log_state::LogState;
    use crate::merkle::MerkleLog;
    use chrono::TimeZone;

    fn export(flip: Option<usize>) -> (AuditSigningKey, Vec<u8>) {
        let key = AuditSigningKey::from_seed(&[9; 32]);
        let time = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let mut state = LogState::new();
        let entries: Vec<AuditEntry> = (0..7)
            .map(|i| {
                state.append(AuditDraft::new(
                    time,
                    format!("acc-{i}"),
                    "admin",
                    "login",
                    "session",
                ))
            })
            .collect();
        let head = state.sign_head(&key, time);
        let log = MerkleLog::new(entries.as_slice());

        let mut writer = ProofExportWriter::new(Vec::new(), &key.verifying_key(), &head).unwrap();
        for (position, index) in [1u64, 4, 6].into_iter().enumerate() {
            let mut proof = log.inclusion_proof(index, 7).unwrap();
            if flip == Some(position) {
                proof.path[0].0[0] ^= 1;
            }
            writer
                .write_entry(&entries[index as usize], &proof)
                .unwrap();
        }
        (key, writer.finish().unwrap())
    }

    #[test]
    fn proof_export_verifies_selected_entries() {
        let (key, bytes) = export(None);
        let report =
            verify_proof_export(bytes.as_slice(), Some(&key.verifying_key()), &[]).unwrap();

        assert_eq!(report.first_failure, None);
        assert_eq!(report.entries, 3);
        assert!(is_proof_export_header(
            std::str::from_utf8(&bytes).unwrap().lines().next().unwrap()
        ));
    }

    #[test]
    fn proof_export_names_entry_with_bad_proof() {
        let (key, bytes) = export(Some(1));
        let report =
            verify_proof_export(bytes.as_slice(), Some(&key.verifying_key()), &[]).unwrap();
        let failure = report.first_failure.unwrap();

        assert_eq!(failure.kind, DamageKind::RootMismatch);
        assert_eq!(failure.index, Some(4));
    }

    #[test]
    fn proof_export_rejects_other_key() {
        let (_, bytes) = export(None);
        let other = AuditSigningKey::from_seed(&[1; 32]).verifying_key();
        let report = verify_proof_export(bytes.as_slice(), Some(&other), &[]).unwrap();

        assert_eq!(report.first_failure.unwrap().kind, DamageKind::BadSignature);
    }
}
