//! `/api/auth/*`: login, refresh, logout, password change.
//!
//! Login answers with the tokens in the body, or with `?cookie=true` in browser-session
//! cookies and a CSRF token (see [`crate::cookies`]), never both. Refresh takes the refresh
//! token from the body, or in cookie mode (no body) from the refresh cookie; logout in cookie
//! mode also clears the cookies.

use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use spiritus_app::AppError;
use spiritus_app::services::auth::{LoginOutcome, TokenPair};
use spiritus_auth::Password;
use utoipa::{IntoParams, ToSchema};

use crate::cookies::{
    SessionCookies, cleared_cookies, csrf_matches, new_csrf_token, session_cookies,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{
    Authenticated, Ctx, OptionalStrictJson, StrictJson, deny_csrf, fields, uses_cookie_auth,
};
use crate::state::ServerState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    #[schema(value_type = String, required = true)]
    username: Option<Value>,
    #[schema(value_type = String, required = true)]
    password: Option<Value>,
}

/// `?cookie=true` asks for a browser session.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    #[serde(default)]
    cookie: bool,
}

/// Answers with the tokens in the body, or in cookies when the client asked for cookie mode.
pub(crate) fn pair_response(pair: TokenPair, query: &LoginQuery) -> Response {
    if query.cookie {
        cookie_response(pair)
    } else {
        token_response(pair)
    }
}

pub async fn login(
    State(state): State<ServerState>,
    Query(query): Query<LoginQuery>,
    Ctx(context): Ctx,
    StrictJson(body): StrictJson<LoginBody>,
) -> ApiResult<Response> {
    let username = fields::string("username", body.username)?;
    let password = Password::new(fields::string("password", body.password)?);
    match state.app.login(&username, password, &context).await? {
        LoginOutcome::Tokens(pair) => Ok(pair_response(pair, &query)),
        LoginOutcome::SecondFactor(challenge) => {
            let methods: Vec<&str> = challenge.methods.iter().map(|m| m.as_str()).collect();
            Ok(Json(json!({
                "mfa_required": true,
                "challenge": challenge.challenge.expose(),
                "methods": methods,
                "expires_in": challenge.expires_in,
            }))
            .into_response())
        }
    }
}

pub(crate) fn token_response(pair: TokenPair) -> Response {
    Json(json!({
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token.expose(),
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "must_change_password": pair.must_change_password,
    }))
    .into_response()
}

/// The tokens in cookies and a fresh CSRF token; the body holds no token.
fn cookie_response(pair: TokenPair) -> Response {
    let refresh_seconds =
        (pair.refresh_expires_at - pair.access_expires_at).num_seconds() + pair.expires_in;
    let cookies = session_cookies(
        &pair.access_token,
        pair.expires_in,
        pair.refresh_token.expose(),
        refresh_seconds,
        &new_csrf_token(),
    );
    let body = Json(json!({
        "token_type": "cookie",
        "expires_in": pair.expires_in,
        "must_change_password": pair.must_change_password,
    }));
    with_cookies(body.into_response(), cookies)
}

fn with_cookies(mut response: Response, cookies: Vec<String>) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[schema(value_type = String, required = true)]
    refresh_token: Option<Value>,
}

/// The request parts refresh needs besides its body.
#[derive(Debug)]
pub struct RefreshRequest {
    cookies: SessionCookies,
    csrf_echoed: bool,
    path: String,
}

impl FromRequestParts<ServerState> for RefreshRequest {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let cookies = SessionCookies::read(&parts.headers);
        Ok(Self {
            csrf_echoed: csrf_matches(&parts.headers, &cookies),
            cookies,
            path: parts.uri.path().to_owned(),
        })
    }
}

/// Rotates the refresh token. Without a body the token comes from the refresh cookie, and
/// then, as for every cookie-authenticated change, the CSRF token must be echoed.
pub async fn refresh(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    request: RefreshRequest,
    OptionalStrictJson(body): OptionalStrictJson<RefreshBody>,
) -> ApiResult<Response> {
    let (token, cookie_mode) = match body {
        Some(body) => (fields::string("refresh_token", body.refresh_token)?, false),
        None => {
            let token = request.cookies.refresh.ok_or(AppError::Unauthorized)?;
            if !request.csrf_echoed {
                return Err(deny_csrf(&state, &context, &request.path).await);
            }
            (token, true)
        }
    };
    if token.len() > 256 {
        return Err(AppError::Unauthorized.into());
    }
    let pair = state.app.refresh(&token, &context).await?;
    if cookie_mode {
        Ok(cookie_response(pair))
    } else {
        Ok(token_response(pair))
    }
}

/// Ends the session the access token belongs to. In cookie mode the refresh cookie, sent here
/// because its path covers `/api/auth`, is retired with the session, and all three cookies
/// are cleared.
pub async fn logout(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    parts: LogoutMode,
    Authenticated(principal): Authenticated,
) -> ApiResult<Response> {
    state.app.logout(&principal, &context).await?;
    let response = StatusCode::NO_CONTENT.into_response();
    if parts.cookie_mode {
        Ok(with_cookies(response, cleared_cookies()))
    } else {
        Ok(response)
    }
}

/// Whether a logout came from a browser session.
#[derive(Debug)]
pub struct LogoutMode {
    cookie_mode: bool,
}

impl FromRequestParts<ServerState> for LogoutMode {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self {
            cookie_mode: uses_cookie_auth(&parts.headers),
        })
    }
}

/// Logout accepts an optional `{"refresh_token"}` body, which is checked for shape only: the
/// whole session ends either way.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutBody {
    #[allow(
        dead_code,
        reason = "accepted for compatibility; the session ends regardless"
    )]
    refresh_token: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    #[schema(value_type = String, required = true)]
    current: Option<Value>,
    #[schema(value_type = String, required = true)]
    new: Option<Value>,
}

pub async fn change_password(
    State(state): State<ServerState>,
    Ctx(context): Ctx,
    Authenticated(principal): Authenticated,
    StrictJson(body): StrictJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    let current = Password::new(fields::string("current", body.current)?);
    let new = Password::new(fields::string("new", body.new)?);
    state
        .app
        .change_password(&principal, current, new, &context)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
