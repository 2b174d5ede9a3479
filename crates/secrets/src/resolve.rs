//! Resolution of a [`SecretRef`] into its value: the [`ResolveContext`] with the sources to
//! read, and the [`SecretError`] that names the setting, the reference and the fix.

use std::path::{Path, PathBuf};

use tokio::sync::OnceCell;

use crate::env::{EnvNotUnicode, EnvSource};
use crate::file::{FileError, read_secret_file};
use crate::reference::{RefKind, RefParseError, SecretRef, SopsRef};
use crate::secret::SecretString;
use crate::sops::{AgeIdentities, SopsDocument, SopsError};
use crate::vault::{VaultClient, VaultError, VaultSettings};

/// Locations of the age identities for the sops reader (`SOPS_AGE_KEY_FILE`, `SOPS_AGE_KEY`).
#[derive(Debug, Clone, Default)]
pub struct SopsSettings {
    /// Identity files in age's key-file format.
    pub key_files: Vec<PathBuf>,
    /// Identities given as text (one `AGE-SECRET-KEY-1…` per line).
    pub identities: Option<SecretString>,
}

impl SopsSettings {
    /// Reads `SOPS_AGE_KEY_FILE` and `SOPS_AGE_KEY`; identities from both are used.
    pub fn from_env(env: &EnvSource) -> Self {
        Self {
            key_files: env
                .get_non_empty("SOPS_AGE_KEY_FILE")
                .map(|path| PathBuf::from(path.expose()))
                .into_iter()
                .collect(),
            identities: env.get_non_empty("SOPS_AGE_KEY"),
        }
    }

    /// Loads every configured identity.
    pub fn load(&self) -> Result<AgeIdentities, SopsError> {
        let mut all = AgeIdentities::default();
        for path in &self.key_files {
            all.extend(AgeIdentities::from_file(path)?);
        }
        if let Some(text) = &self.identities {
            all.extend(AgeIdentities::parse(text.expose())?);
        }

        if all.is_empty() {
            return Err(SopsError::NoIdentity);
        }
        Ok(all)
    }
}

/// Everything resolution needs besides the reference: the environment, the base directory
/// for relative paths, Vault and sops settings. The Vault client (and its AppRole token) and
/// the age identities are created on first use and reused for later references.
pub struct ResolveContext {
    env: EnvSource,
    base_dir: Option<PathBuf>,
    vault: Option<VaultSettings>,
    sops: SopsSettings,
    vault_client: OnceCell<VaultClient>,
    identities: OnceCell<AgeIdentities>,
}

impl ResolveContext {
    /// Creates a context reading variables from `env`, with Vault and sops settings taken from it.
    pub fn new(env: EnvSource) -> Self {
        Self {
            vault: VaultSettings::from_env(&env),
            sops: SopsSettings::from_env(&env),
            env,
            base_dir: None,
            vault_client: OnceCell::new(),
            identities: OnceCell::new(),
        }
    }

    /// Creates a context over the live process environment.
    pub fn from_process_env() -> Self {
        Self::new(EnvSource::Process)
    }

    /// Relative `file:` and `sops:` paths are taken relative to `dir` (e.g. the directory of
    /// the configuration file) instead of the working directory.
    pub fn with_base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// Replaces the Vault settings read from the environment.
    pub fn with_vault(mut self, settings: VaultSettings) -> Self {
        self.vault = Some(settings);
        self.vault_client = OnceCell::new();
        self
    }

    /// Replaces the sops settings read from the environment.
    pub fn with_sops(mut self, settings: SopsSettings) -> Self {
        self.sops = settings;
        self.identities = OnceCell::new();
        self
    }

    /// Returns the environment this context reads.
    pub fn env(&self) -> &EnvSource {
        &self.env
    }

    /// `path` made absolute against the base directory when it is relative.
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        match &self.base_dir {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.to_path_buf(),
        }
    }

    async fn vault_client(&self) -> Result<&VaultClient, VaultError> {
        let settings = self.vault.as_ref().ok_or(VaultError::NotConfigured)?;
        self.vault_client
            .get_or_try_init(|| async { VaultClient::new(settings.clone()) })
            .await
    }

    async fn identities(&self) -> Result<&AgeIdentities, SopsError> {
        self.identities
            .get_or_try_init(|| async { self.sops.load() })
            .await
    }
}

/// Error for a setting whose secret could not be resolved. The message starts with the
/// setting's name, names the reference kind and ends with the fix. It never contains the secret.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {failure}")]
pub struct SecretError {
    setting: String,
    failure: Box<ResolveFailure>,
}

impl SecretError {
    fn new(setting: &str, failure: ResolveFailure) -> Self {
        Self {
            setting: setting.to_owned(),
            failure: Box::new(failure),
        }
    }

    /// Returns the setting, e.g. `secrets.pepper`.
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// Returns the cause.
    pub fn failure(&self) -> &ResolveFailure {
        &self.failure
    }

    /// Returns the kind of reference that failed, or `None` when the text did not parse.
    pub fn kind(&self) -> Option<RefKind> {
        match self.failure.as_ref() {
            ResolveFailure::Parse(_) => None,
            ResolveFailure::EnvNotSet { .. } | ResolveFailure::EnvNotUnicode(_) => {
                Some(RefKind::Env)
            }
            ResolveFailure::File(_) => Some(RefKind::File),
            ResolveFailure::Vault { .. } => Some(RefKind::Vault),
            ResolveFailure::Sops { .. } => Some(RefKind::Sops),
            ResolveFailure::Empty { kind } => Some(*kind),
        }
    }
}

/// The cause inside a [`SecretError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveFailure {
    /// The setting's text is not a valid reference.
    #[error("{0}")]
    Parse(RefParseError),
    /// `env:NAME` and the variable is not set.
    #[error(
        "environment variable {name} is not set; export it or point the setting at a file with file:/path"
    )]
    EnvNotSet {
        /// The variable.
        name: String,
    },
    /// `env:NAME` and the value is not UTF-8.
    #[error(transparent)]
    EnvNotUnicode(EnvNotUnicode),
    /// `file:` could not be read.
    #[error(transparent)]
    File(FileError),
    /// `vault:` failed.
    #[error("vault secret {reference}: {source}")]
    Vault {
        /// `mount/path#key`.
        reference: String,
        /// The Vault error.
        source: VaultError,
    },
    /// `sops:` failed.
    #[error("sops file {file} (key {key_path}): {source}")]
    Sops {
        /// The file as resolved.
        file: String,
        /// The key path.
        key_path: String,
        /// The sops error.
        source: SopsError,
    },
    /// The source exists but its value is empty.
    #[error("the {kind} reference resolved to an empty value; an empty secret is not allowed")]
    Empty {
        /// The reference kind.
        kind: RefKind,
    },
}

impl SecretRef {
    /// Parses `text` for `setting`, naming the setting in the error.
    pub fn parse_setting(setting: &str, text: &str) -> Result<Self, SecretError> {
        text.parse()
            .map_err(|error| SecretError::new(setting, ResolveFailure::Parse(error)))
    }

    /// Resolves the reference for `setting` (the name used in errors, e.g. `secrets.pepper`).
    /// An empty value is an error for every kind.
    pub async fn resolve(
        &self,
        setting: &str,
        ctx: &ResolveContext,
    ) -> Result<SecretString, SecretError> {
        let fail = |failure| SecretError::new(setting, failure);
        let value = self.fetch(ctx).await.map_err(fail)?;

        if value.is_empty() {
            return Err(fail(ResolveFailure::Empty { kind: self.kind() }));
        }
        tracing::debug!(setting, kind = %self.kind(), "resolved secret setting");
        Ok(value)
    }

    async fn fetch(&self, ctx: &ResolveContext) -> Result<SecretString, ResolveFailure> {
        match self {
            Self::Literal(value) => Ok(value.clone()),
            Self::Env { name } => match ctx.env.get(name) {
                Ok(Some(value)) => Ok(value),
                Ok(None) => Err(ResolveFailure::EnvNotSet { name: name.clone() }),
                Err(error) => Err(ResolveFailure::EnvNotUnicode(error)),
            },
            Self::File { path } => {
                read_secret_file(&ctx.resolve_path(path)).map_err(ResolveFailure::File)
            }
            Self::Vault(vault) => {
                let read = match ctx.vault_client().await {
                    Ok(client) => client.read(vault).await,
                    Err(error) => Err(error),
                };
                read.map_err(|source| ResolveFailure::Vault {
                    reference: vault.to_string(),
                    source,
                })
            }
            Self::Sops(sops) => resolve_sops(sops, ctx).await,
        }
    }
}

async fn resolve_sops(
    reference: &SopsRef,
    ctx: &ResolveContext,
) -> Result<SecretString, ResolveFailure> {
    let file = ctx.resolve_path(reference.file());
    let failure = |source| ResolveFailure::Sops {
        file: file.display().to_string(),
        key_path: reference.key_path().to_string(),
        source,
    };

    let identities = ctx.identities().await.map_err(failure)?;
    let document = SopsDocument::decrypt_file(&file, identities).map_err(failure)?;
    document.get(reference.key_path()).map_err(failure)
}

/// Parses and resolves the text of one setting.
pub async fn resolve_setting(
    setting: &str,
    text: &str,
    ctx: &ResolveContext,
) -> Result<SecretString, SecretError> {
    SecretRef::parse_setting(setting, text)?
        .resolve(setting, ctx)
        .await
}
