//! `/api/admin/audit`: the audit trail for owners and admins.
//!
//! Every route needs an owner or admin; an agent gets 403 and the refusal goes through the
//! denial roll-up. Query parameters are parsed here into typed values, and a bad one is a 422
//! naming it.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use spiritus_app::services::audit::{AuditExport, AuditFilter, AuditVerification};
use spiritus_app::{AppError, Principal, RequestContext};
use spiritus_audit::{ConsistencyProof, InclusionProof, SignedTreeHead};
use spiritus_core::events::DenialReason;
use utoipa::IntoParams;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Authenticated, Ctx};
use crate::state::ServerState;

/// Refuses agents (recording the denial) and accounts that must change their password.
async fn require_auditor(
    state: &ServerState,
    principal: &Principal,
    context: &RequestContext,
    path: &str,
) -> Result<(), ApiError> {
    principal.require_ready()?;
    if principal.role().sees_all_users() {
        return Ok(());
    }
    if let Err(error) = state
        .app
        .record_denial(context, DenialReason::Role, path)
        .await
    {
        tracing::warn!(%error, "cannot record a denied audit request");
    }
    Err(ApiError(AppError::Forbidden(
        "only owners and admins may read the audit log".into(),
    )))
}

/// Filters shared by the query and the export.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    from: Option<String>,
    to: Option<String>,
    actor: Option<String>,
    ip: Option<String>,
    action: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    success: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn parse_time(field: &'static str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, AppError> {
    raw.map(|raw| {
        DateTime::parse_from_rfc3339(raw)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|_| {
                AppError::validation(field, "must be an RFC 3339 time, e.g. 2026-03-01T00:00:00Z")
            })
    })
    .transpose()
}

fn parse_u64(field: &'static str, raw: Option<&str>) -> Result<u64, AppError> {
    let raw = raw.ok_or_else(|| AppError::validation(field, "is required"))?;
    raw.parse::<u64>()
        .map_err(|_| AppError::validation(field, "must be a whole number of at least 0"))
}

/// Checks a text filter: empty means "no filter", and the length is bounded.
fn text(field: &'static str, raw: Option<String>) -> Result<Option<String>, AppError> {
    match raw {
        Some(value) if value.chars().count() > 256 => Err(AppError::validation(
            field,
            "must be at most 256 characters",
        )),
        Some(value) if value.is_empty() => Ok(None),
        other => Ok(other),
    }
}

impl FilterParams {
    fn into_filter(self, default_limit: u32, max_limit: u32) -> Result<AuditFilter, AppError> {
        let limit = match self.limit.as_deref() {
            None => default_limit,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|limit| (1..=max_limit).contains(limit))
                .ok_or_else(|| {
                    AppError::validation(
                        "limit",
                        format!("must be a whole number from 1 to {max_limit}"),
                    )
                })?,
        };
        let success = match self.success.as_deref() {
            None | Some("") => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(AppError::validation("success", "must be true or false")),
        };
        let ip = text("ip", self.ip)?;
        if let Some(ip) = &ip {
            ip.parse::<std::net::IpAddr>()
                .map_err(|_| AppError::validation("ip", "must be an IPv4 or IPv6 address"))?;
        }
        Ok(AuditFilter {
            from: parse_time("from", self.from.as_deref())?,
            to: parse_time("to", self.to.as_deref())?,
            actor_id: text("actor", self.actor)?,
            ip,
            action: text("action", self.action)?,
            resource_type: text("resource_type", self.resource_type)?,
            resource_id: text("resource_id", self.resource_id)?,
            success,
            limit,
            cursor: text("cursor", self.cursor)?,
        })
    }
}

/// `GET /api/admin/audit`: entries matching the filters, newest first.
pub async fn query(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Query(params): Query<FilterParams>,
) -> ApiResult<Json<Value>> {
    require_auditor(&state, &principal, &context, "/api/admin/audit").await?;
    let filter = params.into_filter(50, 1000)?;
    let page = state.app.query_audit_log(&filter).await?;
    Ok(Json(
        json!({ "items": page.items, "next_cursor": page.next_cursor }),
    ))
}

/// `GET /api/admin/audit/tree-head`: a freshly signed head over the whole log.
pub async fn tree_head(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<SignedTreeHead>> {
    require_auditor(&state, &principal, &context, "/api/admin/audit/tree-head").await?;
    Ok(Json(state.app.sign_tree_head().await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InclusionParams {
    index: Option<String>,
    tree_size: Option<String>,
}

/// `GET /api/admin/audit/proof/inclusion?index=&tree_size=`.
pub async fn inclusion_proof(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Query(params): Query<InclusionParams>,
) -> ApiResult<Json<InclusionProof>> {
    require_auditor(
        &state,
        &principal,
        &context,
        "/api/admin/audit/proof/inclusion",
    )
    .await?;
    let index = parse_u64("index", params.index.as_deref())?;
    let tree_size = parse_u64("tree_size", params.tree_size.as_deref())?;
    Ok(Json(
        state.app.audit_inclusion_proof(index, tree_size).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    first: Option<String>,
    second: Option<String>,
}

/// `GET /api/admin/audit/proof/consistency?first=&second=`.
pub async fn consistency_proof(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Query(params): Query<ConsistencyParams>,
) -> ApiResult<Json<ConsistencyProof>> {
    require_auditor(
        &state,
        &principal,
        &context,
        "/api/admin/audit/proof/consistency",
    )
    .await?;
    let first = parse_u64("first", params.first.as_deref())?;
    let second = parse_u64("second", params.second.as_deref())?;
    Ok(Json(
        state.app.audit_consistency_proof(first, second).await?,
    ))
}

/// `POST /api/admin/audit/verify`: full verification; the report names the first damage.
pub async fn verify(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
) -> ApiResult<Json<AuditVerification>> {
    require_auditor(&state, &principal, &context, "/api/admin/audit/verify").await?;
    Ok(Json(state.app.verify_audit_log(&[], &mut |_, _| {}).await?))
}

/// `GET /api/admin/audit/export`: JSON lines; any filter gives the proof-carrying export.
pub async fn export(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Query(params): Query<FilterParams>,
) -> ApiResult<Response> {
    require_auditor(&state, &principal, &context, "/api/admin/audit/export").await?;
    if params.cursor.is_some() {
        return Err(AppError::validation("cursor", "an export takes no cursor").into());
    }
    let filter = params.into_filter(1000, 1000)?;
    let export = state.app.start_audit_export(Some(filter)).await?;
    let stream = futures_util::stream::unfold(export, |mut export: AuditExport| async move {
        match export.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(chunk), export)),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(%error, "the audit export stopped early");
                Some((Err(std::io::Error::other("export failed")), export))
            }
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"spiritus-audit.jsonl\""),
    );
    Ok(response)
}
