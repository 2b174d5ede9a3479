//! Time limits on connections and requests, so slow or idle clients cannot hold the server's
//! resources.
//!
//! Three limits work together. The listener gives a client `limits.header_timeout_seconds` to
//! send each request's headers (hyper's header timer, which also runs while an HTTP/1
//! connection waits for its next request). [`idle_watchdog`] closes a connection on which no
//! byte moved for `limits.idle_timeout_seconds` while no request was being served: the only
//! bound on an idle HTTP/2 connection, where hyper has none. [`limit_request_time`] answers 503
//! when a request, body upload included, takes longer than `limits.request_timeout_seconds`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use spiritus_app::AppError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::error::ApiError;

/// Returns 503 `unavailable` when the inner service takes longer than the limit.
pub async fn limit_request_time(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                target: "spiritus::limits",
                seconds = limit.as_secs(),
                "request exceeded the time limit"
            );
            ApiError(AppError::Unavailable("the request took too long".into())).into_response()
        }
    }
}

/// When a connection last moved a byte, and how many of its requests are being served.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    last_millis: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            last_millis: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.store(elapsed, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_millis.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(last)
    }

    /// Marks a request as being served until the returned guard drops.
    pub fn serving(self: &Arc<Self>) -> ServingGuard {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        ServingGuard(Arc::clone(self))
    }
}

/// Counts one request in flight on a connection.
#[derive(Debug)]
pub struct ServingGuard(Arc<Activity>);

impl Drop for ServingGuard {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

/// Resolves once the connection has been idle for `limit` with no request in flight.
pub async fn idle_watchdog(activity: Arc<Activity>, limit: Duration) {
    loop {
        let idle = activity.idle_for();
        let busy = activity.in_flight.load(Ordering::SeqCst) > 0;
        if !busy && idle >= limit {
            return;
        }
        let wait = if busy {
            limit
        } else {
            limit.saturating_sub(idle)
        };
        tokio::time::sleep(wait.max(Duration::from_millis(50))).await;
    }
}

/// A byte stream that records every read and write in an [`Activity`].
#[derive(Debug)]
pub struct ActivityIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> ActivityIo<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ActivityIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ActivityIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::middleware::from_fn_with_state;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "done"
    }

    #[tokio::test(start_paused = true)]
    async fn slow_request_is_answered_with_503() {
        let app = Router::new()
            .route("/slow", get(slow))
            .route("/fast", get(|| async { "ok" }))
            .layer(from_fn_with_state(
                Duration::from_secs(1),
                limit_request_time,
            ));
        let request = |path: &str| Request::builder().uri(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request("/slow")).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = app.oneshot(request("/fast")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test(start_paused = true)]
    async fn watchdog_waits_for_idleness_and_for_requests_to_finish() {
        let activity = Activity::new();
        let limit = Duration::from_secs(10);
        let guard = activity.serving();
        let watchdog = tokio::spawn(idle_watchdog(Arc::clone(&activity), limit));
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(
            !watchdog.is_finished(),
            "a request in flight keeps the connection"
        );
        drop(guard);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!watchdog.is_finished(), "idle for less than the limit");
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(watchdog.is_finished(), "idle for longer than the limit");
    }
}
