//! The perimeter: checks a request passes before routing, before any credential is read and
//! before any body is parsed.
//!
//! For `/api/admin/*` and `/api/auth/*` (in every spelling, see [`path`]) the client address
//! must be on `admin_allowlist`, and with `tls.client_ca` the connection must carry a verified
//! client certificate. Every `/api/*` path passes geo-blocking (see [`geo`] for why `/sub/*`
//! does not). A refusal is a 403 `forbidden`, recorded with
//! [`App::record_denial`](spiritus_app::App::record_denial) so it is audited and counted.
//! Only then is a path that is not in canonical form refused with 400, so alternative
//! spellings never reach the router.

pub mod geo;
pub mod path;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use spiritus_app::config::{CidrList, Config};
use spiritus_app::{App, AppError, RequestContext};
use spiritus_core::events::DenialReason;

use crate::cors::{CorsError, CorsPolicy};
use crate::error::ApiError;
use crate::extract::{ConnectionInfo, context_from};
use geo::{GeoBlocker, GeoDecision, GeoError};
use path::{Area, RequestPath};

/// An unusable perimeter setting, which stops `serve` from starting.
#[derive(Debug, thiserror::Error)]
pub enum PerimeterError {
    #[error(transparent)]
    Geo(#[from] GeoError),
    #[error(transparent)]
    Cors(#[from] CorsError),
}

/// The perimeter settings, checked once at start-up.
#[derive(Debug, Clone)]
pub struct Perimeter {
    admin_allowlist: CidrList,
    require_client_certificate: bool,
    geo: Option<Arc<GeoBlocker>>,
    cors: CorsPolicy,
}

impl Perimeter {
    pub fn from_config(config: &Config) -> Result<Self, PerimeterError> {
        Ok(Self {
            admin_allowlist: config.admin_allowlist.clone(),
            require_client_certificate: config.tls.client_ca.is_some(),
            geo: GeoBlocker::from_config(&config.geo)?,
            cors: CorsPolicy::new(&config.cors.allowed_origins)?,
        })
    }

    /// The geo blocker, so the caller can start watching its database file.
    pub fn geo(&self) -> Option<&Arc<GeoBlocker>> {
        self.geo.as_ref()
    }

    pub fn cors(&self) -> &CorsPolicy {
        &self.cors
    }

    /// The first check `context` fails for a path in `area`, if any.
    fn refusal(&self, area: Area, context: &RequestContext) -> Option<Refusal> {
        if area == Area::Admin {
            if !self.admin_allowlist.is_empty() && !self.admin_allowlist.contains(context.ip) {
                return Some(Refusal::new(
                    DenialReason::AdminAllowlist,
                    "this address may not use the admin API",
                ));
            }
            if self.require_client_certificate && context.client_certificate.is_none() {
                return Some(Refusal::new(
                    DenialReason::ClientCertificate,
                    "the admin API requires a client certificate",
                ));
            }
        }
        if area != Area::Public
            && let Some(geo) = &self.geo
            && let GeoDecision::Deny { .. } = geo.check(context.ip)
        {
            return Some(Refusal::new(
                DenialReason::GeoBlocked,
                "the API is not available from this location",
            ));
        }
        None
    }
}

struct Refusal {
    reason: DenialReason,
    message: &'static str,
}

impl Refusal {
    fn new(reason: DenialReason, message: &'static str) -> Self {
        Self { reason, message }
    }
}

/// What the perimeter middleware needs.
#[derive(Debug, Clone)]
pub struct PerimeterState {
    pub app: App,
    pub perimeter: Arc<Perimeter>,
}

/// Applies the perimeter checks, then refuses non-canonical paths.
pub async fn guard_request(
    State(state): State<PerimeterState>,
    request: Request,
    next: Next,
) -> Response {
    let raw_path = request.uri().path();
    let inspected = RequestPath::inspect(raw_path);
    if inspected.area != Area::Public {
        let context = client_context(&request, &state.app.config().trusted_proxies);
        if let Some(refusal) = state.perimeter.refusal(inspected.area, &context) {
            tracing::info!(
                target: "spiritus::perimeter",
                reason = refusal.reason.as_str(),
                client_ip = %context.ip,
                "request refused at the perimeter"
            );
            if let Err(error) = state
                .app
                .record_denial(&context, refusal.reason, raw_path)
                .await
            {
                tracing::error!(%error, "cannot record a perimeter denial in the audit log");
            }
            return ApiError(AppError::Forbidden(refusal.message.into())).into_response();
        }
    }
    if !inspected.canonical {
        return ApiError(AppError::Malformed(
            "the request path is not in canonical form (no empty, dot or parameter segments, \
             no trailing slash, no needless percent-encoding)"
                .into(),
        ))
        .into_response();
    }
    next.run(request).await
}

fn client_context(request: &Request, trusted: &CidrList) -> RequestContext {
    context_from(
        request.headers(),
        request.extensions().get::<ConnectionInfo>(),
        trusted,
    )
}
