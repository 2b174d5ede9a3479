//! The middleware that sends honey sessions to their sandbox, turns away blocked addresses
//! and applies the request rate limits.
//!
//! A request whose access token belongs to a honey session goes to [`crate::honey`] first,
//! so the block of its address does not tip the intruder off. Everything else runs
//! before the perimeter checks and the handlers, so a blocked address (403) or a
//! client past its limit (429) costs one lookup in the ephemeral store and nothing more. A
//! request is counted against its client address, the limits of the routes its path falls
//! under and, when it carries a validly signed access token (bearer or cookie), its account.
//! Every counted response carries the `RateLimit-Policy` and `RateLimit` headers of
//! the IETF httpapi draft for the tightest of those limits. Refusals are audited and raised
//! once per window and address by [`App::record_denial`].

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use spiritus_app::services::rate_limits::{Allowance, LimitRefusal};
use spiritus_app::{App, AppError, RequestContext};
use spiritus_core::events::DenialReason;

use crate::cookies::SessionCookies;
use crate::error::ApiError;
use crate::extract::{ConnectionInfo, context_from};
use crate::honey;

/// Maximum length of an access token the limiter reads; longer values are ignored.
const MAX_TOKEN_LEN: usize = 4096;

/// Refuses blocked addresses, then counts the request against its limits.
pub async fn limit_requests(State(app): State<App>, request: Request, next: Next) -> Response {
    let context = context_from(
        request.headers(),
        request.extensions().get::<ConnectionInfo>(),
        &app.config().trusted_proxies,
    );
    let path = request.uri().path().to_owned();
    let token = access_token(request.headers());
    if let Some(token) = &token
        && path.starts_with("/api/")
        && let Some(session_id) = app.honey_session(token).await
    {
        return match app.count_request(context.ip, None, &path).await {
            Err(LimitRefusal { error, .. }) => ApiError(error).into_response(),
            Ok(_) => honey::serve(&app, session_id, &context, request).await,
        };
    }
    if app.active_block(context.ip).await.is_some() {
        note_denial(&app, &context, DenialReason::IpBlocked, &path).await;
        return ApiError(AppError::Forbidden("this address is blocked".into())).into_response();
    }
    if is_static_file(&path) {
        return next.run(request).await;
    }
    let account = token.and_then(|token| app.token_account(&token));
    match app.count_request(context.ip, account, &path).await {
        Ok(None) => next.run(request).await,
        Ok(Some(allowance)) => {
            let mut response = next.run(request).await;
            add_allowance_headers(response.headers_mut(), &allowance);
            response
        }
        Err(LimitRefusal { scope, error }) => {
            if matches!(error, AppError::RateLimited { .. }) {
                tracing::debug!(
                    target: "spiritus::rate_limits",
                    scope = scope.as_str(),
                    client_ip = %context.ip,
                    "request refused by a rate limit"
                );
                note_denial(&app, &context, DenialReason::RateLimited, &path).await;
            }
            ApiError(error).into_response()
        }
    }
}

/// The dashboard page and the embedded files it loads (about twenty per page load) are
/// not counted: they are constant bytes that reach no store, and counting them would spend
/// an operator's per-minute allowance on styles and scripts. Blocked addresses are still
/// refused above.
fn is_static_file(path: &str) -> bool {
    path == "/" || path.starts_with("/assets/")
}

async fn note_denial(app: &App, context: &RequestContext, reason: DenialReason, path: &str) {
    if let Err(error) = app.record_denial(context, reason, path).await {
        tracing::warn!(%error, reason = reason.as_str(), "failed to record a rejected request");
    }
}

/// The access token of a request: the bearer token, else the access cookie.
fn access_token(headers: &HeaderMap) -> Option<String> {
    let token = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())?
        }
        None => SessionCookies::read(headers).access?,
    };
    (token.len() <= MAX_TOKEN_LEN).then_some(token)
}

/// `RateLimit-Policy: "address";q=100;w=60` and `RateLimit: "address";r=42;t=17`, unless
/// the answer already reports a limit of its own (a login or second-factor refusal).
fn add_allowance_headers(headers: &mut HeaderMap, allowance: &Allowance) {
    if headers.contains_key("ratelimit-policy") {
        return;
    }
    let name = allowance.scope.as_str();
    let policy = format!(
        "\"{name}\";q={};w={}",
        allowance.limit,
        allowance.window.as_secs()
    );
    let current = format!(
        "\"{name}\";r={};t={}",
        allowance.remaining,
        allowance.reset.as_secs()
    );
    for (header_name, value) in [("ratelimit-policy", policy), ("ratelimit", current)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header_name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_dashboard_files_are_uncounted() {
        assert!(is_static_file("/"));
        assert!(is_static_file("/assets/js/main.js"));
        for path in [
            "/api/auth/login",
            "/api/admin/users",
            "/sub/abc",
            "/healthz",
            "/x/assets/",
        ] {
            assert!(!is_static_file(path), "{path}");
        }
    }

    #[test]
    fn access_token_comes_from_bearer_or_cookie() {
        let mut headers = HeaderMap::new();
        assert_eq!(access_token(&headers), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("other=1"));
        assert_eq!(access_token(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc.def"),
        );
        assert_eq!(access_token(&headers).as_deref(), Some("abc.def"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic x"));
        assert_eq!(access_token(&headers), None);
    }
}
