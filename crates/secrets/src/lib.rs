#![forbid(unsafe_code)]
//! Secret references for Spiritus settings, and their resolution (SPEC DATA-6).
//!
//! Every secret setting of the panel (JWT signing keys, the password pepper, the audit signing
//! key, database and Redis URLs that hold passwords, alert channel keys) is written in the
//! configuration as a *secret reference*. This crate parses those references and fetches the
//! values. It does not depend on the panel's configuration structure: the config loader passes
//! the setting's name and its text.
//!
//! ```
//! # async fn demo() -> Result<(), spiritus_secrets::SecretError> {
//! use spiritus_secrets::{EnvSource, ResolveContext, resolve_setting};
//!
//! // Production: ResolveContext::from_process_env(). Tests pass an explicit environment.
//! let ctx = ResolveContext::new(EnvSource::from_pairs([("SPIRITUS_PEPPER", "c0ffee")]));
//! let pepper = resolve_setting("secrets.pepper", "env:SPIRITUS_PEPPER", &ctx).await?;
//! assert_eq!(pepper.expose(), "c0ffee");
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! # Reference kinds
//!
//! | written as | value comes from |
//! |---|---|
//! | `env:SPIRITUS_PEPPER` | the environment variable `SPIRITUS_PEPPER` |
//! | `file:/run/secrets/pepper` | the file's content, one trailing `\n` or `\r\n` removed |
//! | `vault:secret/spiritus/prod#pepper` | key `pepper` of the KV v2 secret `spiritus/prod` on mount `secret` |
//! | `sops:secrets.enc.yaml#app.db.password` | the value at `app.db.password` in a sops file |
//! | `literal:abc:def` | the text after `literal:`, as it is |
//! | anything else | the text itself (a literal) |
//!
//! ## `env:NAME`
//! `NAME` must be a portable variable name (letters, digits, `_`, not starting with a digit).
//! An unset variable is an error that says how to fix it, e.g. `secrets.pepper: environment
//! variable SPIRITUS_PEPPER is not set; export it or point the setting at a file with file:/path`.
//!
//! ## `file:/path`
//! For container secrets. Exactly one trailing newline is removed, so `echo secret > file`
//! works; other whitespace is kept. Relative paths are taken relative to the context's base
//! directory ([`ResolveContext::with_base_dir`]). Files larger than 1 MiB or not UTF-8 are
//! refused. [`file_mode_warning`] reports a file readable by group or others, for the caller to
//! log; it does not stop the read.
//!
//! ## `vault:<mount>/<path>#<key>`
//! HashiCorp Vault's KV version 2 engine: `GET {VAULT_ADDR}/v1/<mount>/data/<path>`, value at
//! `.data.data[<key>]`, which must be a string. The key is after the last `#`; the path may
//! hold `/` but no `#`, `?`, `%`, spaces or `..` segments.
//! - Address: `VAULT_ADDR`, `https://…`; plain `http://` only to loopback (127.0.0.0/8, `::1`,
//!   `localhost`), anything else is refused before a request is made.
//! - Auth: `VAULT_TOKEN` (sent as `X-Vault-Token`), else AppRole with `VAULT_ROLE_ID` and
//!   `VAULT_SECRET_ID` (`POST /v1/auth/approle/login`, token from `.auth.client_token`, logged
//!   in once per [`ResolveContext`]).
//! - Also `VAULT_NAMESPACE` (the `X-Vault-Namespace` header), `VAULT_CACERT` (extra trusted
//!   CA certificates, PEM), `VAULT_CLIENT_TIMEOUT` (seconds, default 10).
//! - Redirects are not followed and proxies are not used, so the token only goes to
//!   `VAULT_ADDR`. The settings can be given explicitly with [`vault::VaultSettings`] and
//!   [`ResolveContext::with_vault`].
//!
//! ## `sops:<file>#<key.path>`
//! A sops-encrypted file whose data key is encrypted to an age recipient, decrypted natively
//! (no `sops` binary). The store follows the extension like sops: `.yaml`/`.yml`, `.json`,
//! `.ini`, anything else the binary store (key `data`); `.env` is refused. The key path is
//! dot-separated; a segment is a mapping key or, on a list, an index: `app2.db.password`,
//! `an_array.0`. Keys containing dots cannot be addressed. Integers, floats and booleans are
//! returned as text (`42`, `25.4`, `true`).
//! - Identities: `SOPS_AGE_KEY_FILE` (an age keys file) and/or `SOPS_AGE_KEY` (identity
//!   text); explicit with [`SopsSettings`] and [`ResolveContext::with_sops`]. sops's default
//!   key file location is not searched.
//! - The whole file is verified before any value is returned: every encrypted value must
//!   decrypt under its key path, and the SHA-512 MAC over all values (stored encrypted with
//!   `lastmodified`) must match. A file changed without sops is refused.
//! - Supported rules: `unencrypted_suffix`, `encrypted_suffix`, `mac_only_encrypted`. Refused
//!   with a clear error: the four `*_regex` rules, `key_groups` (Shamir), files with no age
//!   recipient, YAML aliases, multi-document YAML.
//!
//! ## Literals, and what counts as an unknown scheme
//! Text without a `:` is a literal. Text of the form `word:rest`, where `word` looks like a URI
//! scheme (a letter, then letters, digits, `+`, `-`, `.`), is a reference when `word` is
//! `env`, `file`, `vault`, `sops` or `literal`; a URL (`postgres://…`, `redis://…`, i.e.
//! `rest` starts with `//`) is a literal; any other such text is an **error**, so a typo like
//! `vualt:…` never becomes a password. Write `literal:<text>` to use such text as it is
//! (`literal:abc:def`). The error names the typed scheme only when it is close to a known one,
//! so a password is never echoed. An empty value is an error for every kind.
//!
//! # Secrets in memory
//! Values are returned as [`SecretString`]: no `Display`, `Debug` prints `SecretString(***)`,
//! no `PartialEq` (use [`SecretString::ct_eq`]), zeroed on drop, read through `expose()`.
//! Decrypted sops trees and Vault response bodies are zeroed after use. Error messages name
//! settings, variables, paths and keys, never values.
//!
//! # Development
//! [`dotenv::load_env_local`] reads a git-ignored `.env.local` into the process environment
//! without overriding variables that are already set.

pub mod dotenv;
pub mod env;
pub mod file;
pub mod reference;
pub mod resolve;
pub mod secret;
pub mod sops;
pub mod vault;

pub use env::EnvSource;
pub use file::{FileError, file_mode_warning, read_secret_file};
pub use reference::{RefKind, RefParseError, SecretRef, SopsRef, VaultRef};
pub use resolve::{ResolveContext, ResolveFailure, SecretError, SopsSettings, resolve_setting};
pub use secret::{SecretBytes, SecretString};
