//! Bounded line reading for the JSON-lines formats (export and witness files).
//!
//! A hostile file may hold one endless line, bytes that are not UTF-8, or `\r\n` endings. The
//! reader caps each line's length before buffering it, counts lines from 1 for error messages,
//! and strips one trailing `\n` or `\r\n`.

use std::io::{self, BufRead, Read};

/// Default cap on one line: an entry with large before/after state stays far below it.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// A line that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("line {line}: read failed: {source}")]
    Io { line: u64, source: io::Error },
    #[error("line {line}: longer than {max} bytes; the file is damaged or not an audit file")]
    TooLong { line: u64, max: usize },
    #[error("line {line}: not valid UTF-8")]
    NotUtf8 { line: u64 },
}

pub(crate) struct LineReader<R> {
    reader: R,
    max_bytes: usize,
    line: u64,
    buffer: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(reader: R, max_bytes: usize) -> Self {
        Self {
            reader,
            max_bytes,
            line: 0,
            buffer: Vec::new(),
        }
    }

    /// Number of the line returned last (1-based).
    pub(crate) fn line_number(&self) -> u64 {
        self.line
    }

    /// Reads the next line without its ending, or `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> Result<Option<String>, LineError> {
        self.buffer.clear();
        let line = self.line + 1;
        let limit = u64::try_from(self.max_bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(2);

        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buffer)
            .map_err(|source| LineError::Io { line, source })?;
        if read == 0 {
            return Ok(None);
        }
        self.line = line;

        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
            if self.buffer.last() == Some(&b'\r') {
                self.buffer.pop();
            }
        }
        if self.buffer.len() > self.max_bytes {
            return Err(LineError::TooLong {
                line,
                max: self.max_bytes,
            });
        }

        let text = std::str::from_utf8(&self.buffer).map_err(|_| LineError::NotUtf8 { line })?;
        Ok(Some(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_strips_line_endings_and_counts_lines() {
        let mut reader = LineReader::new(&b"a\r\nb\nc"[..], 10);

        assert_eq!(reader.next_line().unwrap().as_deref(), Some("a"));
        assert_eq!(reader.next_line().unwrap().as_deref(), Some("b"));
        assert_eq!(reader.next_line().unwrap().as_deref(), Some("c"));
        assert_eq!(reader.line_number(), 3);
        assert!(reader.next_line().unwrap().is_none());
    }

    #[test]
    fn reader_rejects_overlong_line_without_buffering_it_all() {
        let long = vec![b'x'; 1000];
        let mut reader = LineReader::new(long.as_slice(), 10);

        assert!(matches!(
            reader.next_line(),
            Err(LineError::TooLong { line: 1, max: 10 })
        ));
    }

    #[test]
    fn reader_rejects_invalid_utf8() {
        let mut reader = LineReader::new(&b"ok\n\xff\xfe\n"[..], 10);

        assert_eq!(reader.next_line().unwrap().as_deref(), Some("ok"));
        assert!(matches!(
            reader.next_line(),
            Err(LineError::NotUtf8 { line: 2 })
        ));
    }
}
