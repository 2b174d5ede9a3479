//! The witness file: an append-only record of published tree heads, kept outside the panel's
//! data directory.
//!
//! Each line is one [`SignedTreeHead`] in its JSON form. The panel appends a line each time it
//! signs a head. A verifier reads the file back and passes the heads as trusted older heads,
//! so a log that was cut back or rewritten after a head was witnessed no longer verifies.
//! Blank lines are skipped, so a file that ends with a newline or was joined by hand still
//! reads.

use std::io::BufRead;

use crate::lines::{LineError, LineReader};
use crate::tree_head::SignedTreeHead;

/// Maximum witness line length in bytes; a tree head line is about 250 bytes.
const MAX_WITNESS_LINE_BYTES: usize = 4096;

/// A witness file that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    #[error("witness file {0}")]
    Line(#[from] LineError),
    #[error("witness file line {line}: invalid signed tree head: {source}")]
    TreeHead {
        line: u64,
        source: serde_json::Error,
    },
}

/// Formats the line to append to a witness file for `head`, newline included.
pub fn witness_line(head: &SignedTreeHead) -> String {
    // Every field of a tree head serialises to a number or a string, so this cannot fail.
    let mut line = serde_json::to_string(head).unwrap_or_default();
    line.push('\n');
    line
}

/// Reads every tree head in a witness file, in file order.
pub fn parse_witness<R: BufRead>(reader: R) -> Result<Vec<SignedTreeHead>, WitnessError> {
    let mut lines = LineReader::new(reader, MAX_WITNESS_LINE_BYTES);
    let mut heads = Vec::new();

    while let Some(text) = lines.next_line()? {
        if text.trim().is_empty() {
            continue;
        }
        let line = lines.line_number();
        let head = serde_json::from_str(&text)
            .map_err(|source| WitnessError::TreeHead { line, source })?;
        heads.push(head);
    }
    Ok(heads)
}
