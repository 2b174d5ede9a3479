//! The JSON-lines export of a log, and its reader and verifier.
//!
//! Layout, one JSON object per line:
//!
//! 1. header: `{"format":"spiritus-audit-export","version":1,"public_key":"<64 hex>",
//!    "checkpoint":<signed checkpoint or null>}`;
//! 2. one line per retained entry, in index order ([`AuditEntry`] JSON);
//! 3. last line: the [`SignedTreeHead`] over the whole log.
//!
//! The reader keeps one line of look-ahead, so it recognises the tree head by its position
//! (the last line), never by guessing from the shape. Every error names its line.

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::checkpoint::SignedCheckpoint;
use crate::entry::AuditEntry;
use crate::keys::AuditVerifyingKey;
use crate::lines::{DEFAULT_MAX_LINE_BYTES, LineError, LineReader};
use crate::tree_head::SignedTreeHead;
use crate::verify::{LogVerifier, VerifyReport};

/// Value of the header's `format` field.
pub const EXPORT_FORMAT: &str = "spiritus-audit-export";
/// The export format version this crate writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// First line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    pub format: String,
    pub version: u32,
    /// The key the panel signed with. A verifier should pin the key it expects instead.
    pub public_key: AuditVerifyingKey,
    /// Present when the log was pruned.
    pub checkpoint: Option<SignedCheckpoint>,
}

/// An export that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("{0}")]
    Line(#[from] LineError),
    #[error("export is empty; expected a header line")]
    Empty,
    #[error("line {line}: empty line inside the export")]
    EmptyLine { line: u64 },
    #[error("line 1: invalid export header: {source}")]
    Header { source: serde_json::Error },
    #[error("line 1: not an audit export (format {found:?}, expected {EXPORT_FORMAT:?})")]
    Format { found: String },
    #[error(
        "line 1: unsupported export version {found}; this build reads version {EXPORT_VERSION}"
    )]
    Version { found: u32 },
    #[error("line {line}: invalid audit entry: {source}")]
    Entry {
        line: u64,
        source: serde_json::Error,
    },
    #[error("line {line}: invalid signed tree head on the last line: {source}")]
    TreeHead {
        line: u64,
        source: serde_json::Error,
    },
    #[error("export ends after the header; expected entries and a signed tree head")]
    MissingTreeHead,
    #[error("writing export failed: {0}")]
    Write(#[from] io::Error),
}

/// Writes an export line by line, so a caller can stream entries from its store.
pub struct ExportWriter<W: Write> {
    out: W,
}

impl<W: Write> ExportWriter<W> {
    /// Writes the header line.
    pub fn new(
        mut out: W,
        key: &AuditVerifyingKey,
        checkpoint: Option<&SignedCheckpoint>,
    ) -> Result<Self, ExportError> {
        let header = ExportHeader {
            format: EXPORT_FORMAT.to_owned(),
            version: EXPORT_VERSION,
            public_key: *key,
            checkpoint: checkpoint.cloned(),
        };
        write_json_line(&mut out, &header)?;
        Ok(Self { out })
    }

    /// Writes one entry line.
    pub fn write_entry(&mut self, entry: &AuditEntry) -> Result<(), ExportError> {
        write_json_line(&mut self.out, entry)
    }

    /// Writes the closing tree head line, flushes, and returns the output.
    pub fn finish(mut self, tree_head: &SignedTreeHead) -> Result<W, ExportError> {
        write_json_line(&mut self.out, tree_head)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn write_json_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> Result<(), ExportError> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// One record after the header.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportRecord {
    Entry(Box<AuditEntry>),
    TreeHead(SignedTreeHead),
}

/// Reads an export: the header first, then the records in order.
pub struct ExportReader<R> {
    lines: LineReader<R>,
    header: ExportHeader,
    next: Option<(u64, String)>,
    done: bool,
}

impl<R: BufRead> ExportReader<R> {
    /// Reads and checks the header, with the default line-length cap.
    pub fn new(reader: R) -> Result<Self, ExportError> {
        Self::with_max_line_bytes(reader, DEFAULT_MAX_LINE_BYTES)
    }

    /// Reads and checks the header, rejecting any line longer than `max_line_bytes`.
    pub fn with_max_line_bytes(reader: R, max_line_bytes: usize) -> Result<Self, ExportError> {
        let mut lines = LineReader::new(reader, max_line_bytes);
        let first = lines.next_line()?.ok_or(ExportError::Empty)?;
        let header: ExportHeader =
            serde_json::from_str(&first).map_err(|source| ExportError::Header { source })?;

        if header.format != EXPORT_FORMAT {
            return Err(ExportError::Format {
                found: header.format.chars().take(64).collect(),
            });
        }
        if header.version != EXPORT_VERSION {
            return Err(ExportError::Version {
                found: header.version,
            });
        }

        let mut reader = Self {
            lines,
            header,
            next: None,
            done: false,
        };
        reader.next = reader.read_line()?;
        if reader.next.is_none() {
            return Err(ExportError::MissingTreeHead);
        }
        Ok(reader)
    }

    /// Returns the parsed header line.
    pub fn header(&self) -> &ExportHeader {
        &self.header
    }

    /// Reads the next record: entries, then exactly one tree head, then `None`.
    pub fn next_record(&mut self) -> Result<Option<ExportRecord>, ExportError> {
        if self.done {
            return Ok(None);
        }
        let Some((line, text)) = self.next.take() else {
            self.done = true;
            return Ok(None);
        };

        self.next = self.read_line()?;
        if self.next.is_some() {
            let entry = serde_json::from_str(&text)
                .map_err(|source| ExportError::Entry { line, source })?;
            return Ok(Some(ExportRecord::Entry(Box::new(entry))));
        }

        self.done = true;
        let head =
            serde_json::from_str(&text).map_err(|source| ExportError::TreeHead { line, source })?;
        Ok(Some(ExportRecord::TreeHead(head)))
    }

    fn read_line(&mut self) -> Result<Option<(u64, String)>, ExportError> {
        let Some(text) = self.lines.next_line()? else {
            return Ok(None);
        };
        let line = self.lines.line_number();
        if text.trim().is_empty() {
            return Err(ExportError::EmptyLine { line });
        }
        Ok(Some((line, text)))
    }
}

/// Reads and verifies a whole export in one pass, in O(log n) memory.
///
/// With `pinned_key`, every signature must come from that key. Without it, the header's key is
/// used, which proves only that the file agrees with itself: someone who rewrote the log could
/// have replaced the key too. Trusted heads obtained elsewhere (a witness file) close that gap,
/// because they must verify under the same key.
pub fn verify_export<R: BufRead>(
    reader: R,
    pinned_key: Option<&AuditVerifyingKey>,
    trusted_heads: &[SignedTreeHead],
) -> Result<VerifyReport, ExportError> {
    let mut export = ExportReader::new(reader)?;
    let key = pinned_key.copied().unwrap_or(export.header().public_key);
    let mut verifier = LogVerifier::new(key, export.header().checkpoint.as_ref(), trusted_heads);

    while let Some(record) = export.next_record()? {
        match record {
            ExportRecord::Entry(entry) => verifier.push(&entry),
            ExportRecord::TreeHead(head) => return Ok(verifier.finish(&head)),
        }
    }
    Err(ExportError::MissingTreeHead)
}
