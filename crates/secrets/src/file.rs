//! `file:` references: a secret read from a file, as container runtimes mount them
//! (`/run/secrets/<name>`), with one trailing newline removed.
//!
//! Loose permissions are reported by [`file_mode_warning`] for the caller to log. They do not
//! stop the read, because some runtimes mount secrets world-readable inside the container.

use std::io::{ErrorKind, Read};
use std::path::Path;

use crate::secret::{SecretBytes, SecretString};

/// Largest secret file read.
pub const MAX_SECRET_FILE_BYTES: u64 = 1024 * 1024;

/// Errors from reading a secret file. Messages name the path, never the content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// No such file.
    #[error("file {path} does not exist; create it or fix the path")]
    NotFound {
        /// The path.
        path: String,
    },
    /// The process may not read it.
    #[error(
        "file {path} is not readable by this process (permission denied); fix its owner or mode"
    )]
    PermissionDenied {
        /// The path.
        path: String,
    },
    /// Another I/O error (a directory, a broken mount, …).
    #[error("cannot read file {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Larger than any secret should be.
    #[error(
        "file {path} is larger than {MAX_SECRET_FILE_BYTES} bytes; point the setting at the secret itself"
    )]
    TooLarge {
        /// The path.
        path: String,
    },
    /// Not UTF-8 text.
    #[error(
        "file {path} is not UTF-8 text (invalid byte at offset {offset}); store the secret as text, e.g. base64"
    )]
    NotText {
        /// The path.
        path: String,
        /// Offset of the first invalid byte.
        offset: usize,
    },
}

/// Reads a secret file and removes one trailing `\n` or `\r\n`.
pub fn read_secret_file(path: &Path) -> Result<SecretString, FileError> {
    let shown = path.display().to_string();
    let io_error = |source: std::io::Error| match source.kind() {
        ErrorKind::NotFound => FileError::NotFound {
            path: shown.clone(),
        },
        ErrorKind::PermissionDenied => FileError::PermissionDenied {
            path: shown.clone(),
        },
        _ => FileError::Io {
            path: shown.clone(),
            source,
        },
    };

    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut bytes = Vec::new();
    let read = file.take(MAX_SECRET_FILE_BYTES + 1).read_to_end(&mut bytes);
    let mut bytes = SecretBytes::new(bytes);
    read.map_err(io_error)?;

    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(FileError::TooLarge { path: shown });
    }
    bytes = trim_one_newline(bytes);
    bytes
        .into_secret_string()
        .map_err(|offset| FileError::NotText {
            path: shown,
            offset,
        })
}

fn trim_one_newline(bytes: SecretBytes) -> SecretBytes {
    let content = bytes.expose();
    let keep = if content.ends_with(b"\r\n") {
        content.len() - 2
    } else if content.ends_with(b"\n") {
        content.len() - 1
    } else {
        return bytes;
    };
    SecretBytes::new(content[..keep].to_vec())
}

/// Returns a warning when the secret file at `path` can be read or written by group or others
/// (mode bits `0o077`), e.g. "file /run/secrets/pepper is accessible by group or others
/// (mode 644); run chmod 600 on it". `None` when the mode is tight, the file cannot be
/// inspected, or the platform has no Unix modes.
pub fn file_mode_warning(path: &Path) -> Option<String> {
    mode_warning(path)
}

#[cfg(unix)]
fn mode_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;

    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "file {} is accessible by group or others (mode {mode:o}); run chmod 600 on it",
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn mode_warning(_path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &[u8]) -> Result<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, content).unwrap();
        read_secret_file(&path)
            .map(|secret| secret.expose().to_owned())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn exactly_one_trailing_newline_is_removed() {
        // (file content, secret)
        let rows: [(&[u8], &str); 7] = [
            (b"pepper", "pepper"),       // no newline
            (b"pepper\n", "pepper"),     // Unix newline
            (b"pepper\r\n", "pepper"),   // Windows newline
            (b"pepper\n\n", "pepper\n"), // only one removed
            (b"pep\nper\n", "pep\nper"), // inner newline kept
            (b" pepper \n", " pepper "), // spaces kept
            (b"\n", ""),                 // just a newline
        ];
        for (content, expected) in rows {
            assert_eq!(read(content).as_deref(), Ok(expected), "{content:?}");
        }
    }

    #[test]
    fn unreadable_files_are_reported_by_path_without_content() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let binary = dir.path().join("binary");
        std::fs::write(&binary, [b's', 0xff, b'x']).unwrap();

        let missing_error = read_secret_file(&missing).unwrap_err().to_string();
        let binary_error = read_secret_file(&binary).unwrap_err().to_string();
        let directory_error = read_secret_file(dir.path()).unwrap_err().to_string();

        assert!(missing_error.contains("does not exist"), "{missing_error}");
        assert!(
            binary_error.contains("not UTF-8 text (invalid byte at offset 1)"),
            "{binary_error}"
        );
        assert!(
            directory_error.contains("cannot read file"),
            "{directory_error}"
        );
    }

    #[test]
    fn oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; (MAX_SECRET_FILE_BYTES + 1) as usize]).unwrap();

        assert!(matches!(
            read_secret_file(&path),
            Err(FileError::TooLarge { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn loose_modes_produce_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "x").unwrap();
        // (mode, warning expected)
        let rows = [
            (0o600, false), // owner only
            (0o400, false), // owner read-only
            (0o640, true),  // group can read
            (0o604, true),  // others can read
            (0o644, true),  // typical default
        ];
        for (mode, warned) in rows {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let warning = file_mode_warning(&path);
            assert_eq!(warning.is_some(), warned, "{mode:o}");
            if let Some(text) = warning {
                assert!(text.contains(&format!("mode {mode:o}")), "{text}");
                assert!(text.contains("chmod 600"), "{text}");
            }
        }
    }
}
