//! Development secrets from a git-ignored `.env.local` file.
//!
//! The file contains `KEY=VALUE` lines with `#` comments and optional single or double quotes
//! (the dotenv format as `dotenvy` reads it). [`load_env_local`] copies its variables into
//! the process environment without overriding variables that are already set, so a real
//! environment always wins. Call it once at start-up, before other threads exist: changing
//! the environment of a running multi-threaded process is not safe.
//!
//! Production should not ship a `.env.local`; keep it in `.gitignore`.

use std::path::{Path, PathBuf};

use crate::secret::SecretString;

/// The development file's name.
pub const ENV_LOCAL_FILE: &str = ".env.local";

/// Outcome of [`load_env_local`], by variable name only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvReport {
    /// The file that was read.
    pub path: PathBuf,
    /// Variables that were set from the file.
    pub set: Vec<String>,
    /// Variables that were already set and kept their value.
    pub kept: Vec<String>,
}

/// Errors from reading a dotenv file. Messages never include a line's content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DotenvError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not `KEY=VALUE`.
    #[error(
        "{path} has a line that is not KEY=VALUE (parse error at character {position}); fix or comment it out"
    )]
    Parse {
        /// The file.
        path: String,
        /// Character position within the bad line.
        position: usize,
    },
    /// A `${VAR}` substitution or value could not be read.
    #[error("{path}: {reason}")]
    Variable {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
}

/// Reads `<dir>/.env.local` into the process environment (existing variables win).
/// `Ok(None)` when there is no such file.
pub fn load_env_local(dir: &Path) -> Result<Option<DotenvReport>, DotenvError> {
    let path = dir.join(ENV_LOCAL_FILE);
    if !path.exists() {
        return Ok(None);
    }
    load_file(&path).map(Some)
}

/// Reads a dotenv file into the process environment (existing variables win). The whole
/// file is parsed before anything is set, so a bad line changes nothing.
pub fn load_file(path: &Path) -> Result<DotenvReport, DotenvError> {
    let entries = read_file(path)?;
    let (kept, set): (Vec<String>, Vec<String>) = entries
        .into_iter()
        .map(|(name, _)| name)
        .partition(|name| std::env::var_os(name).is_some());

    dotenvy::from_path(path).map_err(|error| convert(path, error))?;
    tracing::debug!(path = %path.display(), set = set.len(), kept = kept.len(), "loaded development environment file");
    Ok(DotenvReport {
        path: path.to_path_buf(),
        set,
        kept,
    })
}

/// Parses a dotenv file without touching the environment, in file order.
pub fn read_file(path: &Path) -> Result<Vec<(String, SecretString)>, DotenvError> {
    let entries = dotenvy::from_path_iter(path).map_err(|error| convert(path, error))?;
    entries
        .map(|entry| {
            entry
                .map(|(name, value)| (name, SecretString::new(value)))
                .map_err(|error| convert(path, error))
        })
        .collect()
}

fn convert(path: &Path, error: dotenvy::Error) -> DotenvError {
    let path = path.display().to_string();
    match error {
        dotenvy::Error::Io(source) => DotenvError::Read { path, source },
        dotenvy::Error::LineParse(_line, position) => DotenvError::Parse { path, position },
        dotenvy::Error::EnvVar(error) => DotenvError::Variable {
            path,
            reason: error.to_string(),
        },
        _ => DotenvError::Variable {
            path,
            reason: "unknown dotenv error".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(content: &str) -> Result<Vec<(String, String)>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ENV_LOCAL_FILE);
        std::fs::write(&path, content).unwrap();
        read_file(&path)
            .map(|entries| {
                entries
                    .into_iter()
                    .map(|(name, value)| (name, value.expose().to_owned()))
                    .collect()
            })
            .map_err(|error| error.to_string())
    }

    #[test]
    fn read_file_handles_comments_and_quotes() {
        let content = "# development only\nPLAIN=value\nDOUBLE=\"with spaces\"\nSINGLE='a#b'\n\nexport EXPORTED=1\n";

        let entries = parse(content).unwrap();

        let expected = [
            ("PLAIN", "value"),        // bare value
            ("DOUBLE", "with spaces"), // double quotes removed
            ("SINGLE", "a#b"),         // '#' inside quotes is not a comment
            ("EXPORTED", "1"),         // shell-style export prefix
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(entries, expected);
    }

    #[test]
    fn parse_errors_do_not_echo_the_line() {
        let message = parse("GOOD=1\nBAD LINE hunter2\n").unwrap_err();

        assert!(message.contains("not KEY=VALUE"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn missing_file_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();

        assert_eq!(load_env_local(dir.path()).unwrap(), None);
    }
}
