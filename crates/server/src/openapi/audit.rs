//! Path declarations of `/api/admin/audit…`, and schemas mirroring the audit crate's JSON
//! shapes (`AuditEntry`, `SignedTreeHead`, the proofs, the verification report).
//!
//! NOTE: these mirrors are kept by hand because the audit types live in crates without an
//! OpenAPI dependency; the schemathesis run checks every answer against them.

#![allow(dead_code, reason = "the functions only carry path declarations")]

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::ApiErrors;
use crate::routes::audit::{ConsistencyParams, FilterParams, InclusionParams};

#[derive(OpenApi)]
#[openapi(paths(query, tree_head, inclusion, consistency, verify, export))]
pub struct Api;

/// One audit log entry.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    /// 0-based position in the log.
    index: u64,
    /// RFC 3339 with milliseconds.
    time: String,
    actor_id: String,
    actor_role: String,
    ip: Option<String>,
    action: String,
    resource_type: String,
    resource_id: Option<String>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    context: Option<serde_json::Value>,
    success: bool,
    error: Option<String>,
    /// `genesis` or 64 hex digits.
    prev_hash: String,
    /// 64 hex digits.
    hash: String,
}

/// Entries matching the filters, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    items: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

/// A signed head over the log's Merkle tree.
#[derive(Serialize, ToSchema)]
pub struct SignedTreeHead {
    tree_size: u64,
    /// 64 hex digits.
    root_hash: String,
    /// RFC 3339 with milliseconds.
    timestamp: String,
    key_id: String,
    /// Ed25519 signature, base64.
    signature: String,
}

/// Hashes proving one entry is in the tree of `tree_size` leaves.
#[derive(Serialize, ToSchema)]
pub struct InclusionProof {
    leaf_index: u64,
    tree_size: u64,
    path: Vec<String>,
}

/// Hashes proving the tree of `old_size` leaves is a prefix of the one of `new_size`.
#[derive(Serialize, ToSchema)]
pub struct ConsistencyProof {
    old_size: u64,
    new_size: u64,
    path: Vec<String>,
}

/// The first damage a verification found.
#[derive(Serialize, ToSchema)]
pub struct VerifyFailure {
    index: Option<u64>,
    kind: String,
    detail: String,
}

/// The outcome of a full verification.
#[derive(Serialize, ToSchema)]
pub struct AuditVerification {
    valid: bool,
    entries: u64,
    tree_size: u64,
    root: String,
    key_id: String,
    trusted_heads_checked: u64,
    trusted_heads_skipped: u64,
    first_failure: Option<VerifyFailure>,
    pruned: u64,
    stored_heads: u64,
    witnessed_heads: u64,
    checked_at: String,
}

#[utoipa::path(
    get,
    path = "/api/admin/audit",
    tag = "audit",
    summary = "Query the audit log",
    params(FilterParams),
    responses((status = 200, description = "One page.", body = AuditPage), ApiErrors),
)]
fn query() {}

#[utoipa::path(
    get,
    path = "/api/admin/audit/tree-head",
    tag = "audit",
    summary = "A freshly signed head over the whole log",
    responses((status = 200, description = "The head.", body = SignedTreeHead), ApiErrors),
)]
fn tree_head() {}

#[utoipa::path(
    get,
    path = "/api/admin/audit/proof/inclusion",
    tag = "audit",
    summary = "Inclusion proof of one entry",
    params(InclusionParams),
    responses((status = 200, description = "The proof.", body = InclusionProof), ApiErrors),
)]
fn inclusion() {}

#[utoipa::path(
    get,
    path = "/api/admin/audit/proof/consistency",
    tag = "audit",
    summary = "Consistency proof between two tree sizes",
    params(ConsistencyParams),
    responses((status = 200, description = "The proof.", body = ConsistencyProof), ApiErrors),
)]
fn consistency() {}

#[utoipa::path(
    post,
    path = "/api/admin/audit/verify",
    tag = "audit",
    summary = "Verify the whole log",
    responses(
        (status = 200, description = "The report.", body = AuditVerification),
        ApiErrors,
    ),
)]
fn verify() {}

#[utoipa::path(
    get,
    path = "/api/admin/audit/export",
    tag = "audit",
    summary = "Export entries as JSON lines; any filter adds proofs",
    params(FilterParams),
    responses(
        (status = 200, description = "JSON lines.", content_type = "application/x-ndjson",
            body = String),
        ApiErrors,
    ),
)]
fn export() {}
