//! The source of environment variables for `env:` references and the Vault/sops settings.
//!
//! Production reads the process environment. Tests and embedders pass an explicit map, so
//! nothing in this crate depends on (or changes) the environment of the test process.

use std::collections::HashMap;

use crate::secret::SecretString;

/// A source of environment variables.
#[derive(Clone, Default)]
pub enum EnvSource {
    /// The live process environment.
    #[default]
    Process,
    /// A fixed set of variables (tests, or a caller that read them elsewhere).
    Map(HashMap<String, SecretString>),
}

/// A variable that is set but does not hold UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name} is not valid UTF-8; store the value as text")]
pub struct EnvNotUnicode {
    /// The variable's name.
    pub name: String,
}

impl EnvSource {
    /// Creates an explicit set of variables, e.g. `EnvSource::from_pairs([("VAULT_ADDR", "…")])`.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let map = pairs
            .into_iter()
            .map(|(name, value)| (name.into(), SecretString::new(value.into())))
            .collect();
        Self::Map(map)
    }

    /// Returns the value of `name`, or `None` when it is not set.
    pub fn get(&self, name: &str) -> Result<Option<SecretString>, EnvNotUnicode> {
        match self {
            Self::Process => match std::env::var(name) {
                Ok(value) => Ok(Some(SecretString::new(value))),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => Err(EnvNotUnicode {
                    name: name.to_owned(),
                }),
            },
            Self::Map(map) => Ok(map.get(name).cloned()),
        }
    }

    /// Returns the value of `name` when it is set, UTF-8 and not empty, else `None`.
    /// Used for settings (addresses, paths) where an unusable value means "not configured".
    pub(crate) fn get_non_empty(&self, name: &str) -> Option<SecretString> {
        self.get(name)
            .ok()
            .flatten()
            .filter(|value| !value.is_empty())
    }
}

/// Checks that `name` is a portable environment variable name: an ASCII letter or `_`, then
/// ASCII letters, digits or `_`.
pub fn is_valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let first_ok = first.is_ascii_alphabetic() || first == '_';

    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_the_portable_rule() {
        // (name, valid)
        let rows = [
            ("SPIRITUS_PEPPER", true), // usual form
            ("_private", true),        // leading underscore
            ("a1", true),              // digits after the first character
            ("", false),               // empty
            ("1ABC", false),           // starts with a digit
            ("MY-VAR", false),         // dash
            ("MY VAR", false),         // space
            ("ÄPFEL", false),          // non-ASCII
            ("A=B", false),            // equals sign
        ];
        for (name, valid) in rows {
            assert_eq!(is_valid_env_name(name), valid, "{name}");
        }
    }

    #[test]
    fn map_source_returns_only_its_own_variables() {
        let env = EnvSource::from_pairs([("ONE", "1")]);

        assert_eq!(env.get("ONE").unwrap().unwrap().expose(), "1");
        assert!(env.get("PATH").unwrap().is_none());
    }
}
