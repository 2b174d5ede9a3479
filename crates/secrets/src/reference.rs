//! Secret references: the text of a setting (`env:NAME`, `file:/path`, `vault:…`,
//! `sops:…`, a literal) parsed into a [`SecretRef`].
//!
//! Parsing is pure: it checks the shape of the reference and never touches the environment,
//! the file system or the network. [`SecretRef::resolve`](crate::SecretRef::resolve) does that.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::env::is_valid_env_name;
use crate::secret::SecretString;
use crate::sops::KeyPath;

/// The schemes this crate understands, in the order they are suggested.
const KNOWN_SCHEMES: [&str; 5] = ["env", "file", "vault", "sops", "literal"];

/// Maximum length of the text before `:` that is taken for a scheme.
const MAX_SCHEME_LEN: usize = 32;

/// A parsed secret reference.
///
/// `Debug` and `Display` never show a literal's value: they print `literal:***`.
#[derive(Clone)]
pub enum SecretRef {
    /// `env:NAME`: the value of an environment variable.
    Env {
        /// The variable name.
        name: String,
    },
    /// `file:/path`: the file's content without one trailing newline.
    File {
        /// The path as written; a relative path is taken relative to the context's base
        /// directory.
        path: PathBuf,
    },
    /// `vault:<mount>/<path>#<key>`: a HashiCorp Vault KV version 2 secret.
    Vault(VaultRef),
    /// `sops:<file>#<key.path>`: a value inside a sops-encrypted file.
    Sops(SopsRef),
    /// The value itself, written in the configuration.
    Literal(SecretString),
}

/// The kind of a reference, for error messages and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// `env:`
    Env,
    /// `file:`
    File,
    /// `vault:`
    Vault,
    /// `sops:`
    Sops,
    /// a literal value
    Literal,
}

impl fmt::Display for RefKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            Self::Env => "env",
            Self::File => "file",
            Self::Vault => "vault",
            Self::Sops => "sops",
            Self::Literal => "literal",
        };
        f.write_str(word)
    }
}

/// A secret in Vault's KV version 2 engine: `vault:<mount>/<path>#<key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRef {
    mount: String,
    path: String,
    key: String,
}

impl VaultRef {
    /// Returns the secrets engine mount, e.g. `secret`.
    pub fn mount(&self) -> &str {
        &self.mount
    }

    /// Returns the secret's path below the mount, e.g. `spiritus/prod`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Returns the key inside the secret's data, e.g. `pepper`.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for VaultRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}#{}", self.mount, self.path, self.key)
    }
}

/// A value inside a sops-encrypted file: `sops:<file>#<key.path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SopsRef {
    file: PathBuf,
    key_path: KeyPath,
}

impl SopsRef {
    /// Returns the encrypted file as written. Relative paths are taken relative to the
    /// context's base directory.
    pub fn file(&self) -> &std::path::Path {
        &self.file
    }

    /// Returns the dot-separated path of the value inside the file.
    pub fn key_path(&self) -> &KeyPath {
        &self.key_path
    }
}

/// Errors from parsing a reference. Messages never contain a literal's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefParseError {
    /// The text is empty.
    #[error("the value is empty; write a reference such as env:NAME or file:/path")]
    Empty,
    /// `env:` with a name that is not a variable name.
    #[error(
        "env:{name} does not name an environment variable; use letters, digits and _ \
         (not starting with a digit)"
    )]
    InvalidEnvName {
        /// The name as written.
        name: String,
    },
    /// `file:` with nothing after it.
    #[error("file: needs a path, e.g. file:/run/secrets/pepper")]
    EmptyFilePath,
    /// A `vault:` reference of the wrong shape.
    #[error("vault reference is not of the form vault:<mount>/<path>#<key>: {reason}")]
    InvalidVault {
        /// The problem.
        reason: &'static str,
    },
    /// A `sops:` reference of the wrong shape.
    #[error("sops reference is not of the form sops:<file>#<key.path>: {reason}")]
    InvalidSops {
        /// The problem.
        reason: String,
    },
    /// `literal:` with nothing after it.
    #[error("literal: is followed by nothing; an empty secret is not allowed")]
    EmptyLiteral,
    /// The text starts like `word:` but `word` is not a supported scheme.
    #[error(
        "the value starts with an unknown scheme{}; use env:, file:, vault: or sops:, or \
         write literal:<value> to use the text as it is",
        near_miss_hint(.near_miss)
    )]
    UnknownScheme {
        /// The typed scheme and the known scheme it resembles, shown only for such near
        /// misses (so that a password like `abc:def` is never echoed).
        near_miss: Option<(String, &'static str)>,
    },
}

fn near_miss_hint(near_miss: &Option<(String, &'static str)>) -> String {
    match near_miss {
        Some((typed, known)) => format!(" \"{typed}:\" (did you mean \"{known}:\"?)"),
        None => " (the text before the first ':')".to_owned(),
    }
}

impl SecretRef {
    /// Returns the kind of reference.
    pub fn kind(&self) -> RefKind {
        match self {
            Self::Env { .. } => RefKind::Env,
            Self::File { .. } => RefKind::File,
            Self::Vault(_) => RefKind::Vault,
            Self::Sops(_) => RefKind::Sops,
            Self::Literal(_) => RefKind::Literal,
        }
    }
}

impl FromStr for SecretRef {
    type Err = RefParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(RefParseError::Empty);
        }
        let Some((scheme, rest)) = scheme_prefix(text) else {
            return Ok(Self::Literal(SecretString::from(text)));
        };

        match scheme {
            "literal" => parse_literal(rest),
            "env" => parse_env(rest),
            "file" => parse_file(rest),
            "vault" => parse_vault(rest).map(Self::Vault),
            "sops" => parse_sops(rest).map(Self::Sops),
            // `postgres://…`, `redis://…`: a URL is a literal, not a reference.
            _ if rest.starts_with("//") => Ok(Self::Literal(SecretString::from(text))),
            _ => Err(RefParseError::UnknownScheme {
                near_miss: near_miss(scheme).map(|known| (scheme.to_owned(), known)),
            }),
        }
    }
}

impl<'de> serde::Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = zeroize::Zeroizing::new(String::deserialize(deserializer)?);
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretRef({self})")
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env { name } => write!(f, "env:{name}"),
            Self::File { path } => write!(f, "file:{}", path.display()),
            Self::Vault(vault) => write!(f, "vault:{vault}"),
            Self::Sops(sops) => write!(f, "sops:{}#{}", sops.file.display(), sops.key_path),
            Self::Literal(_) => f.write_str("literal:***"),
        }
    }
}

/// Splits `word:rest` when `word` looks like a URI scheme (RFC 3986: a letter, then letters,
/// digits, `+`, `-` or `.`).
fn scheme_prefix(text: &str) -> Option<(&str, &str)> {
    let (head, rest) = text.split_once(':')?;
    let mut chars = head.chars();
    let first = chars.next()?;
    let looks_like_scheme = first.is_ascii_alphabetic()
        && head.len() <= MAX_SCHEME_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));

    looks_like_scheme.then_some((head, rest))
}

/// Finds the known scheme that `typed` most likely misspells: the same letters in another case,
/// or at most two edits away for words of three letters or more.
fn near_miss(typed: &str) -> Option<&'static str> {
    let lower = typed.to_ascii_lowercase();
    KNOWN_SCHEMES
        .into_iter()
        .find(|known| lower == *known || (typed.len() >= 3 && edit_distance(&lower, known) <= 2))
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    for (i, cell) in table.iter_mut().step_by(width).enumerate() {
        *cell = i;
    }
    for (j, cell) in table.iter_mut().take(width).enumerate() {
        *cell = j;
    }

    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[(i - 1) * width + j] + 1)
                .min(table[i * width + j - 1] + 1)
                .min(table[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[(i - 2) * width + j - 2] + 1);
            }
            table[i * width + j] = best;
        }
    }
    table[a.len() * width + b.len()]
}

fn parse_literal(rest: &str) -> Result<SecretRef, RefParseError> {
    if rest.is_empty() {
        return Err(RefParseError::EmptyLiteral);
    }
    Ok(SecretRef::Literal(SecretString::from(rest)))
}

fn parse_env(rest: &str) -> Result<SecretRef, RefParseError> {
    if !is_valid_env_name(rest) {
        return Err(RefParseError::InvalidEnvName {
            name: rest.to_owned(),
        });
    }
    Ok(SecretRef::Env {
        name: rest.to_owned(),
    })
}

fn parse_file(rest: &str) -> Result<SecretRef, RefParseError> {
    if rest.is_empty() {
        return Err(RefParseError::EmptyFilePath);
    }
    Ok(SecretRef::File {
        path: PathBuf::from(rest),
    })
}

fn parse_vault(rest: &str) -> Result<VaultRef, RefParseError> {
    let invalid = |reason| RefParseError::InvalidVault { reason };
    let (location, key) = rest
        .rsplit_once('#')
        .ok_or(invalid("no #<key> at the end"))?;
    let (mount, path) = location
        .split_once('/')
        .ok_or(invalid("no / between mount and path"))?;

    if key.is_empty() {
        return Err(invalid("the key after # is empty"));
    }
    if !is_clean_vault_segment(mount) {
        return Err(invalid(
            "the mount is empty or holds '.', '..', '?', '%' or spaces",
        ));
    }
    if !path.split('/').all(is_clean_vault_segment) {
        return Err(invalid(
            "a path segment is empty or holds '.', '..', '?', '%' or spaces",
        ));
    }
    Ok(VaultRef {
        mount: mount.to_owned(),
        path: path.to_owned(),
        key: key.to_owned(),
    })
}

/// Checks that a mount or path segment maps to exactly one URL path segment.
fn is_clean_vault_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !segment
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '%' | '#'))
}

fn parse_sops(rest: &str) -> Result<SopsRef, RefParseError> {
    let invalid = |reason: String| RefParseError::InvalidSops { reason };
    let (file, key_path) = rest
        .rsplit_once('#')
        .ok_or_else(|| invalid("no #<key.path> at the end".to_owned()))?;

    if file.is_empty() {
        return Err(invalid("the file path is empty".to_owned()));
    }
    let key_path = key_path
        .parse::<KeyPath>()
        .map_err(|error| invalid(error.to_string()))?;
    Ok(SopsRef {
        file: PathBuf::from(file),
        key_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        match text.parse::<SecretRef>() {
            Ok(reference) => reference.to_string(),
            Err(error) => format!("error: {error}"),
        }
    }

    #[test]
    fn references_parse_by_scheme() {
        // (input, Display of the parsed reference or the error)
        let rows = [
            ("env:SPIRITUS_PEPPER", "env:SPIRITUS_PEPPER"), // environment variable
            ("file:/run/secrets/pepper", "file:/run/secrets/pepper"), // absolute file
            ("file:secrets/pepper", "file:secrets/pepper"), // relative file
            (
                "vault:secret/spiritus/prod#pepper",
                "vault:secret/spiritus/prod#pepper",
            ),
            ("vault:kv/team/app#db.pass", "vault:kv/team/app#db.pass"), // nested path
            (
                "sops:secrets.yaml#app2.db.password",
                "sops:secrets.yaml#app2.db.password",
            ),
            ("sops:s.yaml#an_array.0", "sops:s.yaml#an_array.0"), // array index
            ("plain-secret", "literal:***"),                      // no colon: literal
            ("p@ss:word", "literal:***"),                         // text before ':' is no scheme
            ("postgres://u:pw@db/spiritus", "literal:***"),       // URL: literal
            ("literal:vualt:x", "literal:***"),                   // forced literal
            ("literal:env:HOME", "literal:***"),                  // forced literal of a reference
        ];
        for (input, expected) in rows {
            assert_eq!(shown(input), expected, "{input}");
        }
    }

    #[test]
    fn malformed_references_are_rejected_with_a_reason() {
        // (input, part of the error message)
        let rows = [
            ("", "empty"),                                     // nothing at all
            ("env:", "does not name"),                         // no variable
            ("env:1ABC", "does not name"),                     // starts with a digit
            ("env:MY-VAR", "does not name"),                   // dash
            ("file:", "needs a path"),                         // no path
            ("vault:secret#key", "no / between"),              // no path below the mount
            ("vault:secret/app", "no #<key>"),                 // no key
            ("vault:secret/app#", "key after # is empty"),     // empty key
            ("vault:secret//app#k", "path segment"),           // empty segment
            ("vault:secret/../sys#k", "path segment"),         // traversal
            ("vault:secret/a?b#k", "path segment"),            // query
            ("vault:kv/app#a#b", "path segment"),              // '#' in the path
            ("sops:file.yaml", "no #<key.path>"),              // no key path
            ("sops:#a.b", "file path is empty"),               // no file
            ("sops:f.yaml#a..b", "empty segment"),             // empty key segment
            ("literal:", "empty secret"),                      // empty literal
            ("vualt:secret/app#k", "did you mean \"vault:\""), // transposed letters
            ("ENV:HOME", "did you mean \"env:\""),             // wrong case
            ("fiel:/x", "did you mean \"file:\""),             // typo
            ("abc:def", "unknown scheme (the text"),           // not shown: could be a password
        ];
        for (input, expected) in rows {
            let message = shown(input);
            assert!(message.starts_with("error: "), "{input} parsed: {message}");
            assert!(message.contains(expected), "{input}: {message}");
        }
    }

    #[test]
    fn unknown_scheme_error_never_echoes_the_value() {
        let error = "hunter2:correct-horse".parse::<SecretRef>().err().unwrap();

        assert!(!error.to_string().contains("hunter2"));
        assert!(!error.to_string().contains("correct-horse"));
    }

    #[test]
    fn debug_of_a_literal_hides_the_value() {
        let reference: SecretRef = "literal:s3cr3t-value".parse().unwrap();

        assert_eq!(format!("{reference:?}"), "SecretRef(literal:***)");
    }

    #[test]
    fn vault_reference_exposes_its_parts() {
        let SecretRef::Vault(vault) = "vault:kv/team/app#db_password".parse().unwrap() else {
            panic!("not a vault reference");
        };

        assert_eq!(
            (vault.mount(), vault.path(), vault.key()),
            ("kv", "team/app", "db_password")
        );
    }

    #[test]
    fn deserialize_parses_the_reference() {
        let reference: SecretRef = serde_json::from_str("\"env:TOKEN\"").unwrap();
        let error = serde_json::from_str::<SecretRef>("\"vualt:x/y#z\"").unwrap_err();

        assert_eq!(reference.kind(), RefKind::Env);
        assert!(error.to_string().contains("did you mean"));
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(edit_distance("vualt", "vault"), 1);
        assert_eq!(edit_distance("sosp", "sops"), 1);
        assert_eq!(edit_distance("abc", "env"), 3);
    }
}
