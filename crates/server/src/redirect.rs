//! The optional plain-HTTP listener (`http_redirect_listen`): it answers every request with a
//! permanent redirect (308, which keeps the method and body) to the same path and query on
//! the HTTPS URL `public_url`, and serves nothing else.
//!
//! The target host is always `public_url`'s, never the request's `Host`, so the listener cannot
//! be used as an open redirect. It sends no HSTS (browsers ignore HSTS over plain HTTP) and no
//! API data, never reads a request body, closes each connection after one answer, and applies
//! the same header timeout and connection cap as the HTTPS listener.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::listener::ListenerLimits;

/// A `public_url` that cannot be a redirect target.
#[derive(Debug, thiserror::Error)]
#[error("public_url {0:?} must be an https:// URL for the HTTP redirect listener")]
pub struct RedirectTargetError(String);

/// The HTTPS base URL requests are sent to, without a trailing slash.
#[derive(Debug, Clone)]
pub struct RedirectTarget(Arc<str>);

impl RedirectTarget {
    pub fn new(public_url: &str) -> Result<Self, RedirectTargetError> {
        let base = public_url.trim_end_matches('/');
        let valid = base.strip_prefix("https://").is_some_and(|rest| {
            !rest.is_empty() && !rest.contains(['?', '#']) && HeaderValue::from_str(base).is_ok()
        });
        if !valid {
            return Err(RedirectTargetError(public_url.to_owned()));
        }
        Ok(Self(Arc::from(base)))
    }

    /// The HTTPS location for a request.
    fn location<B>(&self, request: &Request<B>) -> String {
        let path_and_query = request
            .uri()
            .path_and_query()
            .map(|value| value.as_str())
            .filter(|value| value.starts_with('/'))
            .unwrap_or("/");
        format!("{}{path_and_query}", self.0)
    }
}

/// Answers every request on `listener` with a redirect until `shutdown` turns true.
pub async fn serve_redirect(
    listener: TcpListener,
    target: RedirectTarget,
    limits: ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting a plain-HTTP connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(peer = %peer, "plain-HTTP connection limit reached; dropping a connection");
            continue;
        };
        let target = target.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = redirect_response(&target, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(false)
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            // One answer per connection; the bound covers a client that never reads it.
            let bound = header_timeout + Duration::from_secs(5);
            if let Ok(Err(error)) = tokio::time::timeout(bound, connection).await {
                tracing::debug!(peer = %peer, %error, "plain-HTTP connection ended with an error");
            }
            drop(permit);
        });
    }
}

fn redirect_response<B>(target: &RedirectTarget, request: &Request<B>) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    match HeaderValue::from_str(&target.location(request)) {
        Ok(location) => {
            *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
            response.headers_mut().insert(header::LOCATION, location);
        }
        Err(_) => *response.status_mut() = StatusCode::BAD_REQUEST,
    }
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_keeps_path_and_query_and_never_the_host() {
        let target = RedirectTarget::new("https://panel.example.com:8443/").unwrap();
        let cases = [
            (
                "/api/admin/users?limit=5",
                "https://panel.example.com:8443/api/admin/users?limit=5",
            ),
            ("/", "https://panel.example.com:8443/"),
            (
                "//evil.test/x",
                "https://panel.example.com:8443//evil.test/x",
            ),
            (
                "http://evil.test/sub/abc?x=1",
                "https://panel.example.com:8443/sub/abc?x=1",
            ),
        ];
        for (uri, expected) in cases {
            let request = Request::builder()
                .uri(uri)
                .header(header::HOST, "evil.test")
                .body(())
                .unwrap();
            let response = redirect_response(&target, &request);
            assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
            assert_eq!(response.headers()[header::LOCATION], expected, "{uri}");
            assert!(
                !response
                    .headers()
                    .contains_key(header::STRICT_TRANSPORT_SECURITY)
            );
        }
    }

    #[test]
    fn only_https_targets_are_accepted() {
        assert!(RedirectTarget::new("http://panel.example.com").is_err());
        assert!(RedirectTarget::new("https://").is_err());
        assert!(RedirectTarget::new("https://panel.example.com/x?y").is_err());
        assert!(RedirectTarget::new("https://[::1]:8443").is_ok());
    }
}
