//! Errors of the Vault client, grouped by whose fault they are: the configuration, Vault's
//! response, or the network. No message contains a token or a secret value; Vault's own
//! `errors` strings are included because Vault never puts secrets in them.

use std::time::Duration;

/// Errors from reading a secret from Vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    // --- configuration ---
    /// No Vault settings at all.
    #[error(
        "VAULT_ADDR is not set; set it with VAULT_TOKEN (or VAULT_ROLE_ID and VAULT_SECRET_ID), or use another reference kind"
    )]
    NotConfigured,
    /// The address does not parse or has an unsupported scheme.
    #[error("VAULT_ADDR {addr:?} is not usable: {reason}")]
    InvalidAddress {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// Plain http to a host that is not loopback.
    #[error(
        "refusing plain http to {addr}: the token would cross the network unencrypted; use https \
         (plain http is accepted only for loopback addresses)"
    )]
    InsecureAddress {
        /// The address.
        addr: String,
    },
    /// No token and no AppRole credentials.
    #[error(
        "no Vault credentials; set VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole"
    )]
    NoCredentials,
    /// The CA certificate file could not be used.
    #[error("cannot use the CA certificate file {path} (VAULT_CACERT): {reason}")]
    CaCert {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client for Vault: {reason}")]
    Client {
        /// Why.
        reason: String,
    },

    // --- Vault's response ---
    /// 403: the token is invalid or its policy does not allow the read.
    #[error(
        "Vault denied {action} (403 forbidden{detail}); check the token or the policy attached to it"
    )]
    Forbidden {
        /// The attempted operation, e.g. `the read of secret/app`.
        action: String,
        /// Vault's error text, prefixed with `: `.
        detail: String,
    },
    /// 404: no secret at this path (or it was deleted).
    #[error(
        "Vault has no secret at {mount}/{path} (404); check the mount, the path and that the KV engine is version 2"
    )]
    NotFound {
        /// The mount.
        mount: String,
        /// The path.
        path: String,
    },
    /// 400 or similar on AppRole login.
    #[error(
        "Vault rejected the AppRole login ({status}{detail}); check VAULT_ROLE_ID and VAULT_SECRET_ID"
    )]
    LoginRejected {
        /// HTTP status.
        status: u16,
        /// Vault's error text, prefixed with `: `.
        detail: String,
    },
    /// 5xx.
    #[error("Vault responded {status} to {action}{detail}{hint}")]
    ServerError {
        /// HTTP status.
        status: u16,
        /// The attempted operation, e.g. `the read of secret/app`.
        action: String,
        /// Vault's error text, prefixed with `: `.
        detail: String,
        /// `; Vault may be sealed…` for 503.
        hint: &'static str,
    },
    /// A redirect, which is not followed so the token is never sent elsewhere.
    #[error(
        "Vault responded {status} (a redirect) to {action}; point VAULT_ADDR at the active node"
    )]
    Redirect {
        /// HTTP status.
        status: u16,
        /// The attempted operation, e.g. `the read of secret/app`.
        action: String,
    },
    /// Any other unexpected status.
    #[error("Vault responded {status} to {action}{detail}")]
    UnexpectedStatus {
        /// HTTP status.
        status: u16,
        /// The attempted operation, e.g. `the read of secret/app`.
        action: String,
        /// Vault's error text, prefixed with `: `.
        detail: String,
    },
    /// The body is not the JSON envelope the API documents.
    #[error("Vault's response for {action} is malformed: {reason}")]
    Malformed {
        /// The attempted operation, e.g. `the read of secret/app`.
        action: String,
        /// The problem.
        reason: String,
    },
    /// The secret exists but has no such key.
    #[error("the Vault secret {mount}/{path} has no key {key:?}; keys present: {present}")]
    MissingKey {
        /// The mount.
        mount: String,
        /// The path.
        path: String,
        /// The key.
        key: String,
        /// The keys the secret has.
        present: String,
    },
    /// The key contains a number, object, … instead of a string.
    #[error(
        "the key {key:?} of the Vault secret {mount}/{path} contains {found}, not a string; store the value as a string"
    )]
    NotAString {
        /// The mount.
        mount: String,
        /// The path.
        path: String,
        /// The key.
        key: String,
        /// The type found.
        found: &'static str,
    },
    /// The body exceeds the size limit.
    #[error("Vault's response for {action} is larger than {limit} bytes")]
    TooLarge {
        /// The attempted operation, e.g. `the read of secret/app`.
        action: String,
        /// The limit.
        limit: usize,
    },

    // --- network ---
    /// Connection refused, DNS failure, TLS failure.
    #[error(
        "cannot reach Vault at {addr}: {reason}; check that Vault is running and VAULT_ADDR is right"
    )]
    Unreachable {
        /// The address.
        addr: String,
        /// The transport error.
        reason: String,
    },
    /// The request took longer than the timeout.
    #[error("Vault timed out: {action} got no response within {}s; check the network or raise VAULT_CLIENT_TIMEOUT", .after.as_secs_f32())]
    Timeout {
        /// The attempted operation, e.g. `the read of secret/app`.
        action: String,
        /// The timeout.
        after: Duration,
    },
}
