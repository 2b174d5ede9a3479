//! The Prometheus side of the server: installing the recorder, timing every request by its
//! route template, and the scrape endpoint on its own plain-HTTP listener.
//!
//! The scrape endpoint never shares the HTTPS API port. It listens on `metrics.listen`
//! (loopback by default) and, when `metrics.bearer_token` is set, answers only a scraper that
//! sends that token; the token is compared in constant time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use spiritus_app::{App, metrics};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

/// How often histograms are folded into the rendered state.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// An error that stops the metrics endpoint from starting.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot install the metrics recorder: {0}")]
    Recorder(String),
    #[error("metrics.listen: {value:?} is neither an address such as 127.0.0.1:9464 nor \"off\"")]
    BadAddress { value: String },
    #[error(
        "metrics.listen: {address} is not a loopback address; set metrics.bearer_token so only \
         your scraper can read the metrics, or listen on 127.0.0.1"
    )]
    PublicWithoutToken { address: SocketAddr },
    #[error("metrics.listen: cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// Installs the process-wide Prometheus recorder and describes every metric.
pub fn install_recorder() -> Result<PrometheusHandle, MetricsError> {
    let handle = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets_for_metric(
            Matcher::Full(metrics::http_duration_metric_name().to_owned()),
            metrics::HTTP_DURATION_BUCKETS,
        )
        .map_err(|error| MetricsError::Recorder(error.to_string()))?
        .install_recorder()
        .map_err(|error| MetricsError::Recorder(error.to_string()))?;
    metrics::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            ticks.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// The route template a request matched, carried on the response to the timing layer.
#[derive(Debug, Clone)]
struct RouteLabel(String);

/// Route layer: copies the matched route template onto the response.
pub async fn label_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteLabel(route));
    }
    response
}

/// Outer layer: counts and times every request under its route template; requests that
/// matched no route share the label `unmatched`.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or("unmatched", |label| label.0.as_str());
    metrics::http_request(
        &method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The listener, exporter handle and token of the scrape endpoint.
pub struct MetricsEndpoint {
    pub listener: TcpListener,
    pub handle: PrometheusHandle,
    pub bearer_token: Option<spiritus_secrets::SecretString>,
    pub app: App,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsEndpoint")
            .field("listener", &self.listener.local_addr().ok())
            .field("bearer_token", &self.bearer_token.is_some())
            .finish_non_exhaustive()
    }
}

/// Parses `metrics.listen`: `None` for `off`.
pub fn parse_listen(value: &str) -> Result<Option<SocketAddr>, MetricsError> {
    if value.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    value
        .trim()
        .parse::<SocketAddr>()
        .map(Some)
        .map_err(|_| MetricsError::BadAddress {
            value: value.to_owned(),
        })
}

/// Binds the metrics listener. A non-loopback address needs a bearer token.
pub async fn bind(address: SocketAddr, has_token: bool) -> Result<TcpListener, MetricsError> {
    if !address.ip().is_loopback() && !has_token {
        return Err(MetricsError::PublicWithoutToken { address });
    }
    TcpListener::bind(address)
        .await
        .map_err(|source| MetricsError::Bind { address, source })
}

#[derive(Clone)]
struct ScrapeState {
    handle: PrometheusHandle,
    token: Option<Arc<spiritus_secrets::SecretString>>,
    app: App,
}

/// Serves `GET /metrics` on the endpoint's listener until the task is dropped.
pub async fn serve_metrics(endpoint: MetricsEndpoint) {
    let state = ScrapeState {
        handle: endpoint.handle,
        token: endpoint.bearer_token.map(Arc::new),
        app: endpoint.app,
    };
    let router = Router::new()
        .route("/metrics", get(scrape))
        .with_state(state);
    if let Err(error) = axum::serve(endpoint.listener, router).await {
        tracing::error!(%error, "the metrics listener stopped");
    }
}

async fn scrape(State(state): State<ScrapeState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.token
        && !bearer_matches(&headers, expected.expose())
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a valid bearer token is required\n",
        )
            .into_response();
    }
    metrics::password_hashes(state.app.password_hashes_computed());
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(state.handle.render()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Checks that the request carries `Authorization: Bearer <expected>`, in constant time.
fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let Some(presented) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return false;
    };
    bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn bearer_check_accepts_only_the_exact_token() {
        let cases = [
            ("Bearer s3cret-token", true),
            ("bearer s3cret-token", true),
            ("Bearer s3cret-toke", false),
            ("Bearer s3cret-token-longer", false),
            ("Basic s3cret-token", false),
            ("s3cret-token", false),
        ];
        for (value, expected) in cases {
            assert_eq!(
                bearer_matches(&with_authorization(value), "s3cret-token"),
                expected,
                "{value}"
            );
        }
        assert!(!bearer_matches(&HeaderMap::new(), "s3cret-token"));
    }

    #[test]
    fn listen_setting_parses_off_and_addresses() {
        assert_eq!(parse_listen("off").unwrap(), None);
        assert_eq!(
            parse_listen("127.0.0.1:9464").unwrap(),
            Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
        );
        assert!(parse_listen("localhost").is_err());
    }

    #[tokio::test]
    async fn public_address_without_token_is_refused() {
        let address = SocketAddr::from(([0, 0, 0, 0], 0));
        let error = bind(address, false).await.unwrap_err();
        assert!(matches!(error, MetricsError::PublicWithoutToken { .. }));
    }
}
