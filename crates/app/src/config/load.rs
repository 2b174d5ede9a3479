//! Reading the configuration file and applying environment overrides.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

use super::Config;

/// Environment variables with this prefix override configuration keys.
pub const ENV_PREFIX: &str = "SPIRITUS_";
/// Variables with this prefix belong to the test suite and are never configuration.
const TEST_PREFIX: &str = "SPIRITUS_TEST_";

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{message} (after applying {variables})")]
    Override { message: String, variables: String },
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

/// Loads the configuration file and applies `SPIRITUS_*` overrides from `env`.
///
/// A missing file is the same as an empty one. Errors in the file carry its line and column;
/// errors introduced by an override name the variables applied.
pub fn load_config(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };

    let syntax = |error: toml::de::Error| ConfigError::Syntax {
        path: path.to_owned(),
        message: error.to_string().trim_end().replace('\n', " "),
    };
    // A typed parse of the file alone reports the file's own mistakes with line and column.
    let file_config: Config = toml::from_str(&text).map_err(syntax)?;
    let mut table: Table = toml::from_str(&text).map_err(syntax)?;

    let overrides = collect_overrides(env);
    if overrides.is_empty() {
        return Ok(file_config);
    }
    let variables = overrides
        .iter()
        .map(|(name, _, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    for (name, key_path, raw) in &overrides {
        apply_override(&mut table, key_path, raw).map_err(|message| ConfigError::Override {
            message: format!("{name}: {message}"),
            variables: variables.clone(),
        })?;
    }
    Config::deserialize(Value::Table(table)).map_err(|error| ConfigError::Override {
        message: error.to_string().trim_end().replace('\n', " "),
        variables,
    })
}

/// `(variable name, key path, raw value)` for every configuration override in `env`.
fn collect_overrides(
    env: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, Vec<String>, String)> {
    let mut overrides: Vec<_> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX) && !name.starts_with(TEST_PREFIX))
        .map(|(name, value)| {
            let key_path = name[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            (name, key_path, value)
        })
        .collect();
    overrides.sort();
    overrides
}

fn apply_override(table: &mut Table, key_path: &[String], raw: &str) -> Result<(), String> {
    let Some((last, parents)) = key_path.split_last() else {
        return Err("the variable names no key".into());
    };
    if key_path.iter().any(String::is_empty) {
        return Err("the variable has an empty key segment".into());
    }
    let mut current = table;
    for segment in parents {
        let entry = current
            .entry(segment.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| format!("{segment} is not a section"))?;
    }
    current.insert(last.clone(), override_value(raw));
    Ok(())
}

/// Reads an override as a TOML boolean, number, array or inline table when it is written as
/// one, and as a string otherwise. Quote a string that looks like a number: `'"8443"'`.
fn override_value(raw: &str) -> Value {
    let trimmed = raw.trim();
    let looks_typed = trimmed == "true"
        || trimmed == "false"
        || trimmed.starts_with('[')
        || trimmed.starts_with('{')
        || trimmed.starts_with('"')
        || trimmed.parse::<i64>().is_ok()
        || trimmed
            .parse::<f64>()
            .is_ok_and(|_| trimmed.contains('.') && !trimmed.contains(':'));
    if looks_typed
        && let Ok(mut parsed) = toml::from_str::<Table>(&format!("value = {trimmed}"))
        && let Some(value) = parsed.remove("value")
    {
        return value;
    }
    Value::String(raw.to_owned())
}

/// The configuration file written at first start.
///
/// The generated key files are referenced relative to the configuration file's folder, so a
/// data directory still works after it is moved or restored from a backup elsewhere.
pub fn render_default_config(secrets_dir: &Path) -> String {
    let folder = secrets_dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "secrets".into());
    let secret = |name: &str| format!("file:{folder}/{name}");
    format!(
        "# Spiritus configuration. Every key can also be set through an environment variable:\n\
         # SPIRITUS_ followed by the key path in upper case, with \".\" written as \"__\"\n\
         # (for example SPIRITUS_CORE__BINARY=/usr/bin/v2ray).\n\
         \n\
         listen = \"127.0.0.1:8443\"\n\
         environment = \"development\"\n\
         \n\
         # Secret settings accept env:NAME, file:/path, vault:<mount>/<path>#<key> and\n\
         # sops:<file>#<key.path>. These files were generated at first start.\n\
         [secrets]\n\
         jwt_keys = [{jwt:?}]\n\
         pepper = {pepper:?}\n\
         audit_key = {audit:?}\n",
        jwt = secret("jwt.key"),
        pepper = secret("pepper.key"),
        audit = secret("audit.key"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("spiritus.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn missing_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let config = load_config(&dir.path().join("none.toml"), Vec::new()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(config.audit.retention_days, 90);
        assert!(config.honey.is_honey_name("Admin_Backup"));
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "listen = \"127.0.0.1:1\"\nlisten_typo = = 3\n");
        let message = load_config(&path, Vec::new()).unwrap_err().to_string();
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[tls]\ncertificate = \"x\"\n");
        let message = load_config(&path, Vec::new()).unwrap_err().to_string();
        assert!(message.contains("certificate"), "{message}");
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "listen = \"127.0.0.1:1\"\n");
        let env = vec![
            ("SPIRITUS_LISTEN".to_owned(), "127.0.0.1:2".to_owned()),
            ("SPIRITUS_AUDIT__RETENTION_DAYS".to_owned(), "30".to_owned()),
            (
                "SPIRITUS_CORE__BINARY".to_owned(),
                "/usr/bin/v2ray".to_owned(),
            ),
            (
                "SPIRITUS_TEST_POSTGRES_URL".to_owned(),
                "ignored".to_owned(),
            ),
            ("HOME".to_owned(), "/root".to_owned()),
        ];
        let config = load_config(&path, env).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:2");
        assert_eq!(config.audit.retention_days, 30);
        assert_eq!(
            config.core.binary.as_deref(),
            Some(Path::new("/usr/bin/v2ray"))
        );
    }

    #[test]
    fn unknown_environment_key_is_rejected_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![("SPIRITUS_LISTNE".to_owned(), "x".to_owned())];
        let message = load_config(&dir.path().join("x.toml"), env)
            .unwrap_err()
            .to_string();
        assert!(message.contains("SPIRITUS_LISTNE"), "{message}");
    }

    #[test]
    fn allowlist_with_leading_zero_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "admin_allowlist = [\"010.0.0.0/8\"]\n");
        assert!(load_config(&path, Vec::new()).is_err());
    }

    #[test]
    fn default_config_parses() {
        let dir = tempfile::tempdir().unwrap();
        let text = render_default_config(Path::new("/data/secrets"));
        let path = write(dir.path(), &text);
        let config = load_config(&path, Vec::new()).unwrap();
        assert_eq!(config.secrets.jwt_keys, vec!["file:secrets/jwt.key"]);
    }
}
