//! Follows the access log like `tail -F`: returns only lines written after it started (or the
//! whole file, if asked), keeps reading the old file to its end when it is rotated away, starts
//! the new file from its beginning, and starts over when the file is truncated in place.
//! It polls; no line is read twice.

use std::io::{ErrorKind, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::MAX_LINE_BYTES;

/// Starting point of reading in the file present at open time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailStart {
    /// Read what is already there.
    Beginning,
    /// Skip what is already there (old lines were handled before).
    End,
}

/// Failures while following the log.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TailError {
    #[error("could not read the core access log {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Device and inode: a rotated file keeps its identity, a new file at the path has another.
type FileIdentity = (u64, u64);

/// A follower of one log path.
pub struct LogTail {
    path: PathBuf,
    file: Option<File>,
    identity: Option<FileIdentity>,
    offset: u64,
    pending: Vec<u8>,
    skipping_long_line: bool,
    poll_interval: Duration,
}

impl LogTail {
    /// Starts following `path`; a missing file is waited for.
    pub async fn open(path: impl Into<PathBuf>, start: TailStart) -> Result<Self, TailError> {
        let mut tail = Self {
            path: path.into(),
            file: None,
            identity: None,
            offset: 0,
            pending: Vec::new(),
            skipping_long_line: false,
            poll_interval: Duration::from_millis(250),
        };

        if tail.open_current().await? && start == TailStart::End {
            let length = tail.current_length().await?;
            tail.offset = length;
        }

        Ok(tail)
    }

    /// Sets how often [`LogTail::next_lines`] looks for new data.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Waits until at least one new complete line is there and returns all of them.
    pub async fn next_lines(&mut self) -> Result<Vec<String>, TailError> {
        loop {
            let lines = self.read_available().await?;
            if !lines.is_empty() {
                return Ok(lines);
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    /// Returns the complete lines written since the last call (possibly none).
    pub async fn read_available(&mut self) -> Result<Vec<String>, TailError> {
        if self.file.is_none() && !self.open_current().await? {
            return Ok(Vec::new());
        }

        if self.current_length().await? < self.offset {
            tracing::info!(path = %self.path.display(), "access log was truncated; reading it from the start");
            self.restart_at_zero();
        }

        let mut lines = self.read_to_end().await?;

        if self.path_identity().await? != self.identity {
            tracing::info!(path = %self.path.display(), "access log was rotated; following the new file");
            self.file = None;
            self.restart_at_zero();
            if self.open_current().await? {
                lines.extend(self.read_to_end().await?);
            }
        }

        Ok(lines)
    }

    fn restart_at_zero(&mut self) {
        self.offset = 0;
        self.pending.clear();
        self.skipping_long_line = false;
    }

    /// Opens the file now at the path; false when there is none yet.
    async fn open_current(&mut self) -> Result<bool, TailError> {
        match File::open(&self.path).await {
            Ok(file) => {
                let metadata = file.metadata().await.map_err(|source| self.error(source))?;
                self.identity = Some((metadata.dev(), metadata.ino()));
                self.file = Some(file);
                Ok(true)
            }
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(source) => Err(self.error(source)),
        }
    }

    async fn current_length(&self) -> Result<u64, TailError> {
        match &self.file {
            Some(file) => file
                .metadata()
                .await
                .map(|metadata| metadata.len())
                .map_err(|source| self.error(source)),
            None => Ok(0),
        }
    }

    async fn path_identity(&self) -> Result<Option<FileIdentity>, TailError> {
        match tokio::fs::metadata(&self.path).await {
            Ok(metadata) => Ok(Some((metadata.dev(), metadata.ino()))),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(self.identity),
            Err(source) => Err(self.error(source)),
        }
    }

    async fn read_to_end(&mut self) -> Result<Vec<String>, TailError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(Vec::new());
        };

        let mut chunk = vec![0u8; 64 * 1024];
        let mut lines = Vec::new();
        let seeked = file.seek(SeekFrom::Start(self.offset)).await;
        seeked.map_err(|source| TailError::Read {
            path: self.path.clone(),
            source,
        })?;

        loop {
            let read = file.read(&mut chunk).await;
            let count = read.map_err(|source| TailError::Read {
                path: self.path.clone(),
                source,
            })?;
            if count == 0 {
                break;
            }
            self.offset += count as u64;
            split_lines(
                &mut self.pending,
                &mut self.skipping_long_line,
                &chunk[..count],
                &mut lines,
            );
        }

        Ok(lines)
    }

    fn error(&self, source: std::io::Error) -> TailError {
        TailError::Read {
            path: self.path.clone(),
            source,
        }
    }

    /// Returns the followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Appends complete lines of `data` to `lines`, keeping an unfinished tail in `pending`.
/// A line longer than the limit is dropped whole instead of growing memory without bound.
fn split_lines(pending: &mut Vec<u8>, skipping: &mut bool, data: &[u8], lines: &mut Vec<String>) {
    for piece in data.split_inclusive(|byte| *byte == b'\n') {
        let complete = piece.last() == Some(&b'\n');

        if !*skipping {
            pending.extend_from_slice(piece);
        }

        if pending.len() > MAX_LINE_BYTES {
            pending.clear();
            *skipping = true;
        }

        if complete {
            if !*skipping {
                let text = String::from_utf8_lossy(pending);
                lines.push(text.trim_end_matches(['\n', '\r']).to_owned());
            }
            pending.clear();
            *skipping = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    #[tokio::test]
    async fn tail_skips_old_and_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        append(&path, "old line\n");

        let mut tail = LogTail::open(&path, TailStart::End).await.unwrap();
        append(&path, "new one\nhalf");
        assert_eq!(tail.read_available().await.unwrap(), ["new one"]);

        append(&path, " done\n");
        assert_eq!(tail.read_available().await.unwrap(), ["half done"]);
        assert!(tail.read_available().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn tail_follows_rotation_without_losing_or_repeating_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        append(&path, "a\n");
        let mut tail = LogTail::open(&path, TailStart::Beginning).await.unwrap();
        assert_eq!(tail.read_available().await.unwrap(), ["a"]);

        append(&path, "b\n");
        std::fs::rename(&path, dir.path().join("access.log.1")).unwrap();
        append(&path, "c\n");

        assert_eq!(tail.read_available().await.unwrap(), ["b", "c"]);
        append(&path, "d\n");
        assert_eq!(tail.read_available().await.unwrap(), ["d"]);
    }

    #[tokio::test]
    async fn tail_restarts_after_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        append(&path, "first\nsecond\n");
        let mut tail = LogTail::open(&path, TailStart::End).await.unwrap();

        std::fs::write(&path, "x\n").unwrap();

        assert_eq!(tail.read_available().await.unwrap(), ["x"]);
    }

    #[tokio::test]
    async fn tail_waits_for_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.log");
        let mut tail = LogTail::open(&path, TailStart::End).await.unwrap();
        assert!(tail.read_available().await.unwrap().is_empty());

        append(&path, "hello\n");

        assert_eq!(tail.read_available().await.unwrap(), ["hello"]);
    }

    #[test]
    fn overlong_lines_are_dropped_whole() {
        let mut pending = Vec::new();
        let mut skipping = false;
        let mut lines = Vec::new();
        let long = "x".repeat(MAX_LINE_BYTES + 10);

        split_lines(&mut pending, &mut skipping, long.as_bytes(), &mut lines);
        split_lines(&mut pending, &mut skipping, b"tail\nnext\n", &mut lines);

        assert_eq!(lines, ["next"]);
    }
}
