//! Recording a request the perimeter turned away (admin allowlist, geo-blocking, CSRF,
//! missing client certificate).
//!
//! TEMPORARY: the audit work adds the real `App::record_denial` to `services/audit.rs`, which
//! rolls repeated denials from one address into one entry per window. Until that lands this
//! version, with the same signature, writes one audit entry and emits one event per denial.
//! Delete this file when merging that work.

use serde_json::json;
use spiritus_core::events::{DenialReason, SecurityEvent};
use spiritus_store::AuditRecordExt;

use crate::actor::{Actor, RequestContext};
use crate::state::App;

/// Longest request path kept in an audit entry.
const MAX_AUDITED_PATH: usize = 256;

impl App {
    /// Audits a refused request and raises [`SecurityEvent::AccessDenied`]. A failure to write
    /// the audit entry is logged; the request stays refused either way.
    pub async fn record_denial(&self, request: &RequestContext, reason: DenialReason, path: &str) {
        let now = self.now();
        let shown_path: String = path.chars().take(MAX_AUDITED_PATH).collect();
        let record = Actor::Anonymous {
            request: request.clone(),
        }
        .audit(now, "access.denied", "request")
        .with_after(json!({ "path": shown_path, "reason": reason.as_str() }))
        .failed(reason.as_str());
        if let Err(error) = self.store().record_audit(record, now).await {
            tracing::error!(%error, reason = reason.as_str(), "cannot write the audit entry of a denied request");
        }
        self.events().emit(SecurityEvent::AccessDenied {
            ip: request.ip,
            reason,
            count: 1,
        });
    }
}
