//! `GET` and `HEAD /sub/{token}` (public): the user's configs in the format the client wants.
//!
//! The format comes from `?format=links|base64|singbox|clash|html`, else from the client's
//! User-Agent (client apps by name, browsers get the HTML page), else base64 links. Headers:
//! `Subscription-Userinfo` (upload and download apart, total, expiry), `Profile-Update-Interval`,
//! `Content-Disposition` with a file name per format, and `Profile-Title`.
//!
//! Every token that has our shape is looked up and served with the same work whether it is
//! known or not (the app builds a stand-in view for unknown ones, rendered here and dropped),
//! then an unknown one gets 404. A user who may not connect gets 200 with their usage header
//! and an empty list of configs (the page says why). Nothing here writes to the database.

use std::collections::HashMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use spiritus_app::AppError;
use spiritus_app::services::subscriptions::SubscriptionView;
use spiritus_proxy::{SubscriptionFormat, detect_format};

use super::subscription_page;
use crate::error::{ApiError, error_response};
use crate::state::ServerState;

/// The stylesheet of the subscription page, served by the binary (the CSP allows no inline
/// style).
pub const PAGE_STYLESHEET: &str = include_str!("../../assets/subscription.css");
/// Path the page links its stylesheet from.
pub const PAGE_STYLESHEET_PATH: &str = "/assets/subscription.css";

pub async fn subscription(
    State(state): State<ServerState>,
    token: Result<Path<String>, PathRejection>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(token)) = token else {
        return not_found();
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    let format = match detect_format(user_agent, query.get("format").map(String::as_str)) {
        Ok(format) => format,
        Err(error) => return ApiError(AppError::Malformed(error.to_string())).into_response(),
    };

    let lookup = match state.app.subscription(&token).await {
        Ok(Some(lookup)) => lookup,
        Ok(None) => return not_found(),
        Err(error) => return ApiError(error).into_response(),
    };
    let link = format!("{}/sub/{token}", state.app.config().public_url());
    let body = match render(&lookup.view, format, &link) {
        Ok(body) => body,
        Err(error) => return ApiError(error).into_response(),
    };
    if !lookup.known {
        return not_found();
    }
    respond(&lookup.view, format, body)
}

fn render(
    view: &SubscriptionView,
    format: SubscriptionFormat,
    link: &str,
) -> Result<String, AppError> {
    match format {
        SubscriptionFormat::Html => Ok(subscription_page::render(view, link)),
        other => view
            .render(other)
            .map_err(|error| AppError::Internal(format!("subscription rendering failed: {error}"))),
    }
}

fn respond(view: &SubscriptionView, format: SubscriptionFormat, body: String) -> Response {
    let disposition = match format {
        SubscriptionFormat::Html => "inline".to_owned(),
        other => format!("attachment; filename=\"{}\"", view.filename(other)),
    };
    let fields = [
        (header::CONTENT_TYPE, format.content_type().to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (
            HeaderName::from_static("subscription-userinfo"),
            view.userinfo(),
        ),
        (
            HeaderName::from_static("profile-update-interval"),
            view.update_interval_hours.to_string(),
        ),
        (HeaderName::from_static("profile-title"), view.name.clone()),
    ];
    let mut response = (StatusCode::OK, body).into_response();
    for (name, value) in fields {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such subscription",
        None,
    )
}

/// `GET /assets/subscription.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        PAGE_STYLESHEET,
    )
        .into_response()
}
