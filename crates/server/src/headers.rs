//! Security headers on every HTTPS response, error responses and 404s included.
//!
//! The Content-Security-Policy allows only this origin and no inline script or style, which
//! the subscription page and the dashboard are written to work under. Pages are never framed
//! (`frame-ancestors 'none'` and `X-Frame-Options: DENY`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy for every response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Header values fixed at start-up.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    hsts: HeaderValue,
    cross_origin_resource_policy: HeaderValue,
}

impl SecurityHeaders {
    pub fn new(hsts_preload: bool, cross_origin_resource_policy: &str) -> Self {
        let hsts = if hsts_preload {
            "max-age=31536000; includeSubDomains; preload"
        } else {
            "max-age=31536000; includeSubDomains"
        };
        Self {
            hsts: HeaderValue::from_static(hsts),
            cross_origin_resource_policy: HeaderValue::from_str(cross_origin_resource_policy)
                .unwrap_or(HeaderValue::from_static("cross-origin")),
        }
    }
}

pub async fn add_security_headers(
    State(headers): State<SecurityHeaders>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let is_static_asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let map = response.headers_mut();
    let fixed: [(HeaderName, HeaderValue); 9] = [
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_XSS_PROTECTION,
            HeaderValue::from_static("1; mode=block"),
        ),
        (header::STRICT_TRANSPORT_SECURITY, headers.hsts.clone()),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            headers.cross_origin_resource_policy.clone(),
        ),
        (
            HeaderName::from_static("cross-origin-embedder-policy"),
            HeaderValue::from_static("require-corp"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    for (name, value) in fixed {
        map.insert(name, value);
    }
    if !is_static_asset {
        map.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
