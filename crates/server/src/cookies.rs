//! Browser sessions: the token cookies and the CSRF double-submit token.
//!
//! In cookie mode (`POST /api/auth/login?cookie=true`) the access token and the refresh token
//! travel only in `HttpOnly; Secure; SameSite=Strict` cookies, where page script cannot read
//! them. The access cookie is `__Host-` prefixed (host-only, `Path=/`); the refresh cookie is
//! scoped to `/api/auth`, the only place that reads it (refresh and logout). A third cookie,
//! `csrf_token`, is readable by script; every unsafe request authenticated by cookie must echo
//! it in `X-CSRF-Token`. A page on another site can make the browser send the cookies but can
//! neither read `csrf_token` nor set the header, so its forged request is refused.

use axum::http::{HeaderMap, HeaderValue, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// Cookie holding the access token.
pub const ACCESS_COOKIE: &str = "__Host-spiritus_access";
/// Cookie holding the refresh token.
pub const REFRESH_COOKIE: &str = "__Secure-spiritus_refresh";
/// Cookie holding the CSRF token, readable by the page's script.
pub const CSRF_COOKIE: &str = "csrf_token";
/// Header in which the page echoes the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Path of the refresh cookie: refresh and logout both live under it.
pub const REFRESH_COOKIE_PATH: &str = "/api/auth";

/// Longest cookie value read; longer ones are ignored.
const MAX_COOKIE_VALUE: usize = 4096;

/// The session cookies a request carries.
#[derive(Default)]
pub struct SessionCookies {
    pub access: Option<String>,
    pub refresh: Option<String>,
    pub csrf: Option<String>,
}

impl std::fmt::Debug for SessionCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookies")
            .field("access", &self.access.is_some())
            .field("refresh", &self.refresh.is_some())
            .field("csrf", &self.csrf.is_some())
            .finish()
    }
}

impl SessionCookies {
    /// Reads the session cookies from every `Cookie` header. A name sent twice keeps its first
    /// value, as browsers send the most specific cookie first.
    pub fn read(headers: &HeaderMap) -> Self {
        let mut cookies = Self::default();
        let pairs = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='));
        for (name, value) in pairs {
            let value = value.trim();
            if value.is_empty() || value.len() > MAX_COOKIE_VALUE {
                continue;
            }
            let slot = match name.trim() {
                ACCESS_COOKIE => &mut cookies.access,
                REFRESH_COOKIE => &mut cookies.refresh,
                CSRF_COOKIE => &mut cookies.csrf,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.to_owned());
            }
        }
        cookies
    }
}

/// Whether a method changes state and so needs the CSRF token under cookie authentication.
pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request echoes its `csrf_token` cookie in `X-CSRF-Token`, compared in constant
/// time. A missing cookie or header never matches.
pub fn csrf_matches(headers: &HeaderMap, cookies: &SessionCookies) -> bool {
    let Some(cookie) = cookies.csrf.as_deref() else {
        return false;
    };
    let Some(echoed) = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes) else {
        return false;
    };
    bool::from(cookie.as_bytes().ct_eq(echoed))
}

/// A fresh CSRF token: 256 random bits, base64url.
pub fn new_csrf_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The `Set-Cookie` values that open a browser session.
pub fn session_cookies(
    access_token: &str,
    access_seconds: i64,
    refresh_token: &str,
    refresh_seconds: i64,
    csrf_token: &str,
) -> Vec<String> {
    vec![
        cookie(ACCESS_COOKIE, access_token, "/", access_seconds, true),
        cookie(
            REFRESH_COOKIE,
            refresh_token,
            REFRESH_COOKIE_PATH,
            refresh_seconds,
            true,
        ),
        cookie(CSRF_COOKIE, csrf_token, "/", refresh_seconds, false),
    ]
}

/// The `Set-Cookie` values that end a browser session.
pub fn cleared_cookies() -> Vec<String> {
    vec![
        cookie(ACCESS_COOKIE, "", "/", 0, true),
        cookie(REFRESH_COOKIE, "", REFRESH_COOKIE_PATH, 0, true),
        cookie(CSRF_COOKIE, "", "/", 0, false),
    ]
}

fn cookie(name: &str, value: &str, path: &str, max_age: i64, http_only: bool) -> String {
    let http_only = if http_only { "; HttpOnly" } else { "" };
    format!(
        "{name}={value}; Path={path}; Max-Age={}; Secure{http_only}; SameSite=Strict",
        max_age.max(0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn csrf_check_needs_the_cookie_echoed_exactly() {
        let cases = [
            // echoed exactly
            (Some("abc"), Some("abc"), true),
            // header missing
            (Some("abc"), None, false),
            // cookie missing, even with a header
            (None, Some("abc"), false),
            // different value, prefix, case
            (Some("abc"), Some("abd"), false),
            (Some("abc"), Some("ab"), false),
            (Some("abc"), Some("ABC"), false),
        ];
        for (cookie, header, expected) in cases {
            let mut pairs = Vec::new();
            let cookie_line = cookie.map(|value| format!("other=1; {CSRF_COOKIE}={value}"));
            if let Some(line) = &cookie_line {
                pairs.push(("cookie", line.as_str()));
            }
            if let Some(value) = header {
                pairs.push((CSRF_HEADER, value));
            }
            let map = headers(&pairs);
            let cookies = SessionCookies::read(&map);
            assert_eq!(
                csrf_matches(&map, &cookies),
                expected,
                "{cookie:?} {header:?}"
            );
        }
    }

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let map = headers(&[
            ("cookie", "__Host-spiritus_access=A; junk"),
            (
                "cookie",
                "__Secure-spiritus_refresh=R; __Host-spiritus_access=B",
            ),
        ]);
        let cookies = SessionCookies::read(&map);
        assert_eq!(cookies.access.as_deref(), Some("A"));
        assert_eq!(cookies.refresh.as_deref(), Some("R"));
        assert!(cookies.csrf.is_none());
    }

    #[test]
    fn session_cookies_carry_the_protective_attributes() {
        let set = session_cookies("a", 1800, "r", 604_800, "c");
        assert!(set[0].contains("HttpOnly") && set[0].contains("Path=/;"));
        assert!(set[1].contains("HttpOnly") && set[1].contains("Path=/api/auth;"));
        assert!(!set[2].contains("HttpOnly"));
        for value in set.iter().chain(cleared_cookies().iter()) {
            assert!(
                value.contains("; Secure") && value.contains("SameSite=Strict"),
                "{value}"
            );
        }
    }

    #[test]
    fn csrf_tokens_are_long_and_fresh() {
        let first = new_csrf_token();
        assert_eq!(first.len(), 43);
        assert_ne!(first, new_csrf_token());
    }
}
