//! One mounted route as data: its method, its full path and its handler.
//!
//! The router is built from a list of [`Mount`]s rather than from chained `.route` calls, so
//! the same list can be read back: the OpenAPI coverage test compares it with the document.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};

use crate::state::ServerState;

/// A route: one method on one full path (`{name}` for a path parameter).
pub struct Mount {
    method: Method,
    path: &'static str,
    handler: MethodRouter<ServerState>,
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} {}", self.method, self.path)
    }
}

macro_rules! mount_method {
    ($name:ident, $method:ident, $doc:literal) => {
        #[doc = $doc]
        pub fn $name<H, T>(path: &'static str, handler: H) -> Self
        where
            H: Handler<T, ServerState>,
            T: 'static,
        {
            Self {
                method: Method::$method,
                path,
                handler: routing::$name(handler),
            }
        }
    };
}

impl Mount {
    mount_method!(get, GET, "A `GET` route; axum answers `HEAD` on it too.");
    mount_method!(post, POST, "A `POST` route.");
    mount_method!(put, PUT, "A `PUT` route.");
    mount_method!(patch, PATCH, "A `PATCH` route.");
    mount_method!(delete, DELETE, "A `DELETE` route.");

    /// Gives this route its own body size limit instead of the panel-wide one.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.handler = self.handler.layer(DefaultBodyLimit::max(bytes));
        self
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn path(&self) -> &'static str {
        self.path
    }

    /// Adds this route to `router`; methods on the same path are merged by axum.
    pub(crate) fn mount_on(self, router: Router<ServerState>) -> Router<ServerState> {
        router.route(self.path, self.handler)
    }
}
