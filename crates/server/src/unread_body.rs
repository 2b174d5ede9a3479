//! `Connection: close` on HTTP/1.1 responses sent before the request body was read.
//!
//! A handler or middleware that fails early (401 before the body, 405 from routing, 415 for
//! the content type) leaves the request body unread. hyper then closes the connection after
//! the response unless the body had already arrived in full, but the response did not say
//! so. A client that pooled the connection could send its next request into a connection
//! that was closing and see it cut off. The header warns the client beforehand.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// A request body that records when it has been read to its end.
struct TrackedBody {
    inner: Body,
    finished: Arc<AtomicBool>,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(context);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.finished.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Checks whether an HTTP/1.x request announces a body (`Content-Length` above zero, or chunked).
fn announces_body(request: &Request<Body>) -> bool {
    if request.version() >= Version::HTTP_2 {
        return false;
    }
    let headers = request.headers();
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(0);
    chunked || length > 0
}

/// Adds `Connection: close` to the response when the request's body was not read to its end.
pub async fn close_on_unread_body(request: Request<Body>, next: Next) -> Response {
    if !announces_body(&request) {
        return next.run(request).await;
    }
    let finished = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let tracked = TrackedBody {
        inner: body,
        finished: Arc::clone(&finished),
    };
    let mut response = next
        .run(Request::from_parts(parts, Body::new(tracked)))
        .await;
    if !finished.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::middleware::from_fn;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    fn app() -> Router {
        Router::new()
            .route("/read", post(|body: String| async move { body }))
            .route("/ignore", post(|| async { "ignored" }))
            .layer(from_fn(close_on_unread_body))
    }

    fn post_with_body(path: &str) -> Request<Body> {
        Request::post(path)
            .header(header::CONTENT_LENGTH, "5")
            .body(Body::from("hello"))
            .unwrap_or_default()
    }

    async fn connection_header(request: Request<Body>) -> Option<HeaderValue> {
        let response = app().oneshot(request).await.ok()?;
        response.headers().get(header::CONNECTION).cloned()
    }

    #[tokio::test]
    async fn unread_body_closes_connection() {
        let value = connection_header(post_with_body("/ignore")).await;
        assert_eq!(value, Some(HeaderValue::from_static("close")));
    }

    #[tokio::test]
    async fn read_body_keeps_connection() {
        assert_eq!(connection_header(post_with_body("/read")).await, None);
    }

    #[tokio::test]
    async fn unrouted_method_with_body_closes_connection() {
        let request = Request::delete("/read")
            .header(header::CONTENT_LENGTH, "5")
            .body(Body::from("hello"))
            .unwrap_or_default();
        let value = connection_header(request).await;
        assert_eq!(value, Some(HeaderValue::from_static("close")));
    }

    #[tokio::test]
    async fn request_without_body_is_untouched() {
        let request = Request::post("/ignore")
            .body(Body::empty())
            .unwrap_or_default();
        assert_eq!(connection_header(request).await, None);
    }

    #[tokio::test]
    async fn http2_request_is_untouched() {
        let mut request = post_with_body("/ignore");
        *request.version_mut() = Version::HTTP_2;
        assert_eq!(connection_header(request).await, None);
    }
}
