//! Cross-origin requests from browsers: an exact allowlist of origins, nothing else.
//!
//! A request whose `Origin` is byte-for-byte one of `cors.allowed_origins` gets
//! `Access-Control-Allow-Origin` with that origin and `Access-Control-Allow-Credentials`.
//! Every other request, `Origin: null` and look-alike hosts included, gets no CORS header at
//! all, so the browser keeps the response from the calling page. Preflights from an allowed
//! origin asking for an allowed method and allowed headers are answered here with 204; any
//! other preflight goes on to the router like a plain `OPTIONS` request (405, no CORS headers).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Methods the API uses.
const ALLOWED_METHODS: [Method; 4] = [Method::GET, Method::POST, Method::PATCH, Method::DELETE];
const ALLOWED_METHODS_VALUE: &str = "GET, POST, PATCH, DELETE";
/// Request headers the API reads, lower case.
const ALLOWED_HEADERS: [&str; 3] = ["content-type", "authorization", "x-csrf-token"];
const ALLOWED_HEADERS_VALUE: &str = "Content-Type, Authorization, X-CSRF-Token";
/// Seconds a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: &str = "600";

/// An entry of `cors.allowed_origins` that is not a canonical origin.
#[derive(Debug, thiserror::Error)]
#[error(
    "cors.allowed_origins: {origin:?} {problem}; write an origin as scheme://host[:port] in lower case, \
     with no path or trailing slash"
)]
pub struct CorsError {
    origin: String,
    problem: &'static str,
}

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    origins: Vec<HeaderValue>,
}

impl CorsPolicy {
    /// Checks every origin is written as a browser sends it, so exact comparison is correct.
    pub fn new(origins: &[String]) -> Result<Self, CorsError> {
        let origins = origins
            .iter()
            .map(|origin| {
                check_origin(origin).map_err(|problem| CorsError {
                    origin: origin.clone(),
                    problem,
                })?;
                HeaderValue::from_str(origin).map_err(|_| CorsError {
                    origin: origin.clone(),
                    problem: "is not a valid header value",
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { origins })
    }

    /// The request's origin when it is on the list.
    fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        self.origins
            .iter()
            .find(|allowed| allowed.as_bytes() == origin.as_bytes())
            .cloned()
    }
}

fn check_origin(origin: &str) -> Result<(), &'static str> {
    if origin == "null" || origin == "*" {
        return Err("is never allowed");
    }
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return Err("has no http:// or https:// scheme");
    };
    if rest.is_empty() {
        return Err("has no host");
    }
    if rest.contains(['/', '?', '#', '@', ' ']) {
        return Err("has a path, query, fragment or user name");
    }
    if rest.bytes().any(|byte| byte.is_ascii_uppercase()) {
        return Err("is not in lower case");
    }
    Ok(())
}

/// Answers allowed preflights and marks responses to allowed origins.
pub async fn apply_cors(
    State(policy): State<std::sync::Arc<CorsPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let is_preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let origin = policy.allowed_origin(request.headers());
    if is_preflight {
        return match origin {
            Some(origin) if is_allowed_preflight(request.headers()) => preflight_answer(&origin),
            _ => next.run(request).await,
        };
    }
    let mut response = next.run(request).await;
    if let Some(origin) = &origin {
        allow(response.headers_mut(), origin);
    }
    response
}

fn preflight_answer(origin: &HeaderValue) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS_VALUE),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS_VALUE),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    response
}

fn allow(headers: &mut HeaderMap, origin: &HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// A preflight naming an allowed method and only allowed headers.
fn is_allowed_preflight(headers: &HeaderMap) -> bool {
    let Some(method) = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|value| Method::from_bytes(value.as_bytes()).ok())
    else {
        return false;
    };
    if !ALLOWED_METHODS.contains(&method) {
        return false;
    }
    headers
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .all(|value| {
            value.to_str().is_ok_and(|list| {
                list.split(',')
                    .map(|name| name.trim().to_ascii_lowercase())
                    .filter(|name| !name.is_empty())
                    .all(|name| ALLOWED_HEADERS.contains(&name.as_str()))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_origins_must_be_canonical() {
        let cases = [
            ("https://panel.example.com", true),
            ("http://localhost:5173", true),
            ("null", false),
            ("*", false),
            ("https://panel.example.com/", false),
            ("https://Panel.example.com", false),
            ("panel.example.com", false),
            ("https://", false),
            ("https://user@panel.example.com", false),
        ];
        for (origin, ok) in cases {
            assert_eq!(
                CorsPolicy::new(&[origin.to_owned()]).is_ok(),
                ok,
                "{origin}"
            );
        }
    }

    #[test]
    fn preflight_headers_must_all_be_allowed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("PATCH"),
        );
        headers.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("content-type, X-CSRF-Token"),
        );
        assert!(is_allowed_preflight(&headers));
        headers.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("content-type, x-evil"),
        );
        assert!(!is_allowed_preflight(&headers));
        headers.remove(header::ACCESS_CONTROL_REQUEST_HEADERS);
        headers.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("PUT"),
        );
        assert!(!is_allowed_preflight(&headers));
    }
}
