//! HashiCorp Vault KV version 2 as a secret source (`vault:<mount>/<path>#<key>`).

mod client;
mod error;
mod settings;

pub use client::VaultClient;
pub use error::VaultError;
pub use settings::{DEFAULT_VAULT_TIMEOUT, VaultAuth, VaultSettings};
