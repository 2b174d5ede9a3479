//! `/api/admin/users`: VPN user management.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use spiritus_app::services::users::{BulkCreate, CreateUser, MAX_BULK_COUNT, UserAction};
use spiritus_app::{Actor, AppError, Principal, RequestContext};
use spiritus_core::user::{ExpireDays, Note, TrafficLimit, UserName, UserStatus, VpnUser};
use spiritus_store::{UserListQuery, UserPatch, UserSort};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::extract::{Authenticated, Ctx, StrictJson, fields};
use crate::state::ServerState;

/// The admin view of a VPN user. It never holds a credential: the proxy id and password and
/// the subscription token's stored hash stay inside.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: String,
    pub name: String,
    /// `active`, `disabled`, `limited` (quota reached) or `expired`.
    #[schema(value_type = String)]
    pub status: UserStatus,
    pub traffic_limit_gb: f64,
    pub upload_bytes: u64,
    pub download_bytes: u64,
    pub used_bytes: u64,
    pub expire_at: String,
    pub created_at: String,
    pub note: String,
    pub subscription_url: String,
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn user_response(state: &ServerState, user: &VpnUser) -> Result<UserResponse, ApiError> {
    Ok(UserResponse {
        id: user.id.to_string(),
        name: user.name.to_string(),
        status: user.status(state.app.now()),
        traffic_limit_gb: user.traffic_limit.as_gb(),
        upload_bytes: user.upload_bytes,
        download_bytes: user.download_bytes,
        used_bytes: user.used_bytes(),
        expire_at: rfc3339(user.expire_at),
        created_at: rfc3339(user.created_at),
        note: user.note.as_str().to_owned(),
        subscription_url: state.app.subscription_url(user)?,
    })
}

fn traffic_limit(field: &'static str, value: Option<Value>) -> Result<TrafficLimit, AppError> {
    Ok(TrafficLimit::from_gb(field, fields::number(field, value)?)?)
}

fn expire_days(field: &'static str, value: Option<Value>) -> Result<ExpireDays, AppError> {
    Ok(ExpireDays::parse(field, fields::integer(field, value)?)?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateUserBody)]
pub struct CreateBody {
    #[schema(value_type = String, required = true, pattern = "^[A-Za-z0-9_-]{3,255}$")]
    name: Option<Value>,
    /// Decimal GB (10^9 bytes), at most 3 decimals; 0 is unlimited.
    #[schema(value_type = f64, required = true, minimum = 0, maximum = 10000)]
    traffic_limit_gb: Option<Value>,
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 365)]
    expire_days: Option<Value>,
    #[schema(value_type = String, max_length = 2000)]
    note: Option<Value>,
}

pub async fn create(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<UserResponse>)> {
    let name = UserName::parse("name", &fields::string("name", body.name)?)?;
    let create = CreateUser {
        name,
        traffic_limit: traffic_limit("traffic_limit_gb", body.traffic_limit_gb)?,
        expire_days: expire_days("expire_days", body.expire_days)?,
        note: Note::parse(
            "note",
            &fields::optional_string("note", body.note)?.unwrap_or_default(),
        )?,
    };
    let user = state
        .app
        .create_user(&Actor::account(&principal, &context), create)
        .await?;
    Ok((StatusCode::CREATED, Json(user_response(&state, &user)?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    limit: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
    name_prefix: Option<String>,
    sort: Option<String>,
}

pub async fn list(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Value>> {
    let query = list_query(params)?;
    let page = state
        .app
        .list_users(&Actor::account(&principal, &context), query)
        .await?;
    let items = page
        .items
        .iter()
        .map(|user| user_response(&state, user))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({
        "items": items,
        "total": page.total,
        "next_cursor": page.next_cursor,
    })))
}

fn list_query(params: ListParams) -> Result<UserListQuery, AppError> {
    let limit = match params.limit.as_deref() {
        None => 50,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=1000).contains(limit))
            .ok_or_else(|| {
                AppError::validation("limit", "must be a whole number from 1 to 1000")
            })?,
    };
    let status = params
        .status
        .as_deref()
        .map(|raw| {
            UserStatus::parse(raw).ok_or_else(|| {
                AppError::validation("status", "must be active, disabled, limited or expired")
            })
        })
        .transpose()?;
    let (sort, descending) = match params.sort.as_deref() {
        None => (UserSort::Name, false),
        Some(raw) => UserSort::parse(raw).ok_or_else(|| {
            AppError::validation(
                "sort",
                "must be name, created_at, expire_at or used_bytes, with - for descending",
            )
        })?,
    };
    let name_prefix = params
        .name_prefix
        .filter(|prefix| !prefix.is_empty())
        .map(|prefix| {
            let valid = prefix.len() <= 255
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if valid {
                Ok(prefix)
            } else {
                Err(AppError::validation(
                    "name_prefix",
                    "may contain only ASCII letters, digits, '_' and '-'",
                ))
            }
        })
        .transpose()?;
    Ok(UserListQuery {
        limit,
        cursor: params.cursor,
        status,
        name_prefix,
        sort,
        descending,
        owner: None,
    })
}

pub async fn get(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<UserResponse>> {
    let user = state
        .app
        .get_user(&Actor::account(&principal, &context), &name)
        .await?;
    Ok(Json(user_response(&state, &user)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[schema(value_type = f64)]
    traffic_limit_gb: Option<Value>,
    #[schema(value_type = String)]
    expire_at: Option<Value>,
    #[schema(value_type = String)]
    note: Option<Value>,
}

pub async fn update(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
    StrictJson(body): StrictJson<PatchBody>,
) -> ApiResult<Json<UserResponse>> {
    let mut patch = UserPatch::default();
    if body.traffic_limit_gb.is_some() {
        patch.traffic_limit = Some(traffic_limit("traffic_limit_gb", body.traffic_limit_gb)?);
    }
    if body.expire_at.is_some() {
        let raw = fields::string("expire_at", body.expire_at)?;
        let parsed = DateTime::parse_from_rfc3339(&raw)
            .map_err(|_| AppError::validation("expire_at", "must be an RFC 3339 time"))?
            .with_timezone(&Utc);
        patch.expire_at = Some(parsed);
    }
    if body.note.is_some() {
        let raw = fields::optional_string("note", body.note)?.unwrap_or_default();
        patch.note = Some(Note::parse("note", &raw)?);
    }
    let user = state
        .app
        .update_user(&Actor::account(&principal, &context), &name, patch)
        .await?;
    Ok(Json(user_response(&state, &user)?))
}

pub async fn delete(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .app
        .delete_user(&Actor::account(&principal, &context), &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn act(
    state: ServerState,
    context: RequestContext,
    principal: Principal,
    name: String,
    action: UserAction,
) -> ApiResult<Json<UserResponse>> {
    let user = state
        .app
        .apply_user_action(&Actor::account(&principal, &context), &name, action)
        .await?;
    Ok(Json(user_response(&state, &user)?))
}

pub async fn enable(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<UserResponse>> {
    act(state, context, principal, name, UserAction::Enable).await
}

pub async fn disable(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<UserResponse>> {
    act(state, context, principal, name, UserAction::Disable).await
}

pub async fn reset_usage(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<UserResponse>> {
    act(state, context, principal, name, UserAction::ResetUsage).await
}

pub async fn rotate_subscription(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Json<UserResponse>> {
    act(
        state,
        context,
        principal,
        name,
        UserAction::RotateSubscription,
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewBody {
    #[schema(value_type = f64, required = true)]
    traffic_limit_gb: Option<Value>,
    #[schema(value_type = i64, required = true)]
    expire_days: Option<Value>,
}

pub async fn renew(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
    StrictJson(body): StrictJson<RenewBody>,
) -> ApiResult<Json<UserResponse>> {
    let limit = traffic_limit("traffic_limit_gb", body.traffic_limit_gb)?;
    let days = expire_days("expire_days", body.expire_days)?;
    let user = state
        .app
        .renew_user(&Actor::account(&principal, &context), &name, limit, days)
        .await?;
    Ok(Json(user_response(&state, &user)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTrafficBody {
    #[schema(value_type = f64, required = true)]
    gb: Option<Value>,
}

pub async fn add_traffic(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    Path(name): Path<String>,
    StrictJson(body): StrictJson<AddTrafficBody>,
) -> ApiResult<Json<UserResponse>> {
    let gb = fields::number("gb", body.gb)?;
    let user = state
        .app
        .add_traffic(&Actor::account(&principal, &context), &name, gb)
        .await?;
    Ok(Json(user_response(&state, &user)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    #[schema(value_type = String, required = true)]
    prefix: Option<Value>,
    #[schema(value_type = u32, required = true)]
    count: Option<Value>,
    #[schema(value_type = u32)]
    start: Option<Value>,
    #[schema(value_type = u8)]
    pad: Option<Value>,
    #[schema(value_type = f64, required = true)]
    traffic_limit_gb: Option<Value>,
    #[schema(value_type = i64, required = true)]
    expire_days: Option<Value>,
}

pub async fn bulk_create(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<BulkBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let prefix = fields::string("prefix", body.prefix)?;
    let count = fields::integer("count", body.count)?;
    if !(1..=i64::from(MAX_BULK_COUNT)).contains(&count) {
        return Err(AppError::validation("count", "must be a whole number from 1 to 1000").into());
    }
    let start = match body.start {
        None => 1,
        value => fields::integer("start", value)?,
    };
    if !(0..=1_000_000_000).contains(&start) {
        return Err(
            AppError::validation("start", "must be a whole number from 0 to 1000000000").into(),
        );
    }
    let pad = match body.pad {
        None => 0,
        value => fields::integer("pad", value)?,
    };
    if !(0..=10).contains(&pad) {
        return Err(AppError::validation("pad", "must be a whole number from 0 to 10").into());
    }
    let bulk = BulkCreate {
        prefix,
        count: count as u32,
        start: start as u32,
        pad: pad as u8,
        traffic_limit: traffic_limit("traffic_limit_gb", body.traffic_limit_gb)?,
        expire_days: expire_days("expire_days", body.expire_days)?,
    };
    let users = state
        .app
        .bulk_create_users(&Actor::account(&principal, &context), bulk)
        .await?;
    let items = users
        .iter()
        .map(|user| user_response(&state, user))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((StatusCode::CREATED, Json(json!({ "items": items }))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDeleteBody {
    #[schema(value_type = Vec<String>, required = true)]
    names: Option<Value>,
}

pub async fn bulk_delete(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<BulkDeleteBody>,
) -> ApiResult<Json<Value>> {
    let names = fields::string_list("names", body.names)?;
    let deleted = state
        .app
        .bulk_delete_users(&Actor::account(&principal, &context), names)
        .await?;
    Ok(Json(json!({ "deleted": deleted })))
}
