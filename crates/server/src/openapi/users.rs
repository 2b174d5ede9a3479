//! Path declarations of `/api/admin/users…`: VPN users.

#![allow(dead_code, reason = "the functions only carry path declarations")]

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::ApiErrors;
use crate::routes::users::{
    AddTrafficBody, BulkBody, BulkDeleteBody, CreateBody, ListParams, PatchBody, RenewBody,
    UserResponse,
};

#[derive(OpenApi)]
#[openapi(paths(
    list,
    create,
    get,
    update,
    delete,
    enable,
    disable,
    reset_usage,
    renew,
    add_traffic,
    rotate_subscription,
    bulk_create,
    bulk_delete,
))]
pub struct Api;

/// One page of users.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    items: Vec<UserResponse>,
    /// Users matching the filters, on all pages.
    total: u64,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// Users created in one call.
#[derive(Serialize, ToSchema)]
pub struct UserBatch {
    items: Vec<UserResponse>,
}

/// How many users a bulk delete removed.
#[derive(Serialize, ToSchema)]
pub struct DeletedCount {
    deleted: u64,
}

#[utoipa::path(
    get,
    path = "/api/admin/users",
    tag = "users",
    summary = "List users, filtered and sorted",
    params(ListParams),
    responses((status = 200, description = "One page.", body = UserPage), ApiErrors),
)]
fn list() {}

#[utoipa::path(
    post,
    path = "/api/admin/users",
    tag = "users",
    summary = "Create a user",
    request_body = CreateBody,
    responses((status = 201, description = "Created.", body = UserResponse), ApiErrors),
)]
fn create() {}

#[utoipa::path(
    get,
    path = "/api/admin/users/{name}",
    tag = "users",
    summary = "One user",
    params(("name" = String, Path, description = "The user's name.")),
    responses((status = 200, description = "The user.", body = UserResponse), ApiErrors),
)]
fn get() {}

#[utoipa::path(
    patch,
    path = "/api/admin/users/{name}",
    tag = "users",
    summary = "Change a user's quota, expiry or note",
    params(("name" = String, Path, description = "The user's name.")),
    request_body = PatchBody,
    responses((status = 200, description = "The user.", body = UserResponse), ApiErrors),
)]
fn update() {}

#[utoipa::path(
    delete,
    path = "/api/admin/users/{name}",
    tag = "users",
    summary = "Delete a user",
    params(("name" = String, Path, description = "The user's name.")),
    responses((status = 204, description = "Deleted."), ApiErrors),
)]
fn delete() {}

#[utoipa::path(
    post,
    path = "/api/admin/users/{name}/enable",
    tag = "users",
    summary = "Let a user connect again",
    params(("name" = String, Path, description = "The user's name.")),
    responses((status = 200, description = "The user.", body = UserResponse), ApiErrors),
)]
fn enable() {}

#[utoipa::path(
    post,
    path = "/api/admin/users/{name}/disable",
    tag = "users",
    summary = "Stop a user from connecting",
    params(("name" = String, Path, description = "The user's name.")),
    responses((status = 200, description = "The user.", body = UserResponse), ApiErrors),
)]
fn disable() {}

#[utoipa::path(
    post,
    path = "/api/admin/users/{name}/reset-usage",
    tag = "users",
    summary = "Set a user's usage back to zero",
    params(("name" = String, Path, description = "The user's name.")),
    responses((status = 200, description = "The user.", body = UserResponse), ApiErrors),
)]
fn reset_usage() {}

#[utoipa::path(
    post,
    path = "/api/admin/users/{name}/renew",
    tag = "users",
    summary = "New quota and expiry, usage reset",
    params(("name" = String, Path, description = "The user's name.")),
    request_body = RenewBody,
    responses((status = 200, description = "The user.", body = UserResponse), ApiErrors),
)]
fn renew() {}

#[utoipa::path(
    post,
    path = "/api/admin/users/{name}/add-traffic",
    tag = "users",
    summary = "Raise a user's quota",
    params(("name" = String, Path, description = "The user's name.")),
    request_body = AddTrafficBody,
    responses((status = 200, description = "The user.", body = UserResponse), ApiErrors),
)]
fn add_traffic() {}

#[utoipa::path(
    post,
    path = "/api/admin/users/{name}/rotate-subscription",
    tag = "users",
    summary = "Give a user a new subscription URL; the old one stops working",
    params(("name" = String, Path, description = "The user's name.")),
    responses((status = 200, description = "The user.", body = UserResponse), ApiErrors),
)]
fn rotate_subscription() {}

#[utoipa::path(
    post,
    path = "/api/admin/users/bulk",
    tag = "users",
    summary = "Create numbered users: prefix + number",
    request_body = BulkBody,
    responses((status = 201, description = "Created.", body = UserBatch), ApiErrors),
)]
fn bulk_create() {}

#[utoipa::path(
    post,
    path = "/api/admin/users/bulk-delete",
    tag = "users",
    summary = "Delete users by name",
    request_body = BulkDeleteBody,
    responses((status = 200, description = "The count.", body = DeletedCount), ApiErrors),
)]
fn bulk_delete() {}
