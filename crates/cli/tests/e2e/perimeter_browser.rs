//! Browser sessions and cross-origin rules: token cookies with a CSRF double-submit token, and
//! an exact CORS origin allowlist.

use reqwest::Method;
use serde_json::json;
use spiritus_test_support::{ServerOptions, TestServer};

use crate::perimeter_support::{audit_log, denials};
use crate::{BINARY, OWNER_PASSWORD};

const ACCESS: &str = "__Host-spiritus_access";
const REFRESH: &str = "__Secure-spiritus_refresh";
const CSRF: &str = "csrf_token";

/// The cookies a response sets, as (name, value, attributes).
fn set_cookies(response: &reqwest::Response) -> Vec<(String, String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_owned(), value.to_owned(), attributes.to_owned())
        })
        .collect()
}

/// A browser's cookie jar, kept by hand to see exactly what is sent.
#[derive(Debug, Clone, Default)]
struct Jar {
    access: String,
    refresh: String,
    csrf: String,
}

impl Jar {
    fn from_response(response: &reqwest::Response) -> Self {
        let mut jar = Jar::default();
        for (name, value, _) in set_cookies(response) {
            match name.as_str() {
                ACCESS => jar.access = value,
                REFRESH => jar.refresh = value,
                CSRF => jar.csrf = value,
                _ => {}
            }
        }
        jar
    }

    /// The `Cookie` header a browser sends to `/api/auth/*` (every cookie).
    fn header(&self) -> String {
        format!(
            "{ACCESS}={}; {REFRESH}={}; {CSRF}={}",
            self.access, self.refresh, self.csrf
        )
    }
}

async fn cookie_login(server: &TestServer) -> Jar {
    let response = server
        .client
        .post(server.url("/api/auth/login?cookie=true"))
        .json(&json!({"username": "admin", "password": OWNER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(&response);
    let jar = Jar::from_response(&response);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body.get("access_token").is_none());
    assert!(body.get("refresh_token").is_none());
    let text = body.to_string();
    assert!(!text.contains(&jar.access), "{text}");
    assert!(!text.contains(&jar.refresh), "{text}");

    for (name, _, attributes) in &cookies {
        assert!(attributes.contains("Secure"), "{name}: {attributes}");
        assert!(
            attributes.contains("SameSite=Strict"),
            "{name}: {attributes}"
        );
        let http_only = attributes.contains("HttpOnly");
        assert_eq!(http_only, name != CSRF, "{name}: {attributes}");
    }
    let path_of = |wanted: &str| {
        cookies
            .iter()
            .find(|(name, _, _)| name == wanted)
            .map(|(_, _, attributes)| attributes.clone())
            .unwrap()
    };
    assert!(path_of(ACCESS).contains("Path=/;"));
    assert!(path_of(REFRESH).contains("Path=/api/auth;"));
    assert!(path_of(CSRF).contains("Path=/;"));
    assert!(!jar.access.is_empty());
    assert!(!jar.refresh.is_empty());
    assert!(jar.csrf.len() >= 32);
    jar
}

fn create_user(server: &TestServer, jar: &Jar, name: &str) -> reqwest::RequestBuilder {
    server
        .client
        .post(server.url("/api/admin/users"))
        .header("cookie", jar.header())
        .json(&json!({"name": name, "traffic_limit_gb": 1, "expire_days": 30}))
}

#[tokio::test]
async fn cookie_changes_require_csrf_echo() {
    let server = TestServer::start(BINARY).await;
    let bearer = server.owner_token(OWNER_PASSWORD).await;
    let jar = cookie_login(&server).await;

    // A read needs no CSRF token.
    let listed = server
        .client
        .get(server.url("/api/admin/users"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);

    // A change without the echo, or with a wrong one, is refused and changes nothing.
    let refused = [
        create_user(&server, &jar, "forged1"),
        create_user(&server, &jar, "forged2").header("x-csrf-token", "guess"),
        create_user(&server, &jar, "forged3").header("x-csrf-token", ""),
        create_user(&server, &jar, "forged4")
            .header("x-csrf-token", &jar.csrf[..jar.csrf.len() - 1]),
    ];
    for request in refused {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
    }
    assert!(!denials(&server, "csrf").await.is_empty());
    let (_, list) = server
        .call(Method::GET, "/api/admin/users", Some(&bearer), None)
        .await;
    assert_eq!(list["total"], 0, "{list}");

    // With the echo the change goes through.
    let created = create_user(&server, &jar, "alice")
        .header("x-csrf-token", &jar.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // A bearer token needs no CSRF token, even beside session cookies…
    let with_header = create_user(&server, &jar, "bob")
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 201);
    // …and when both are sent, the header decides: a bad one is not rescued by the cookie.
    let bad_header = create_user(&server, &jar, "carol")
        .header("x-csrf-token", &jar.csrf)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_header.status(), 401);
}

#[tokio::test]
async fn cookie_refresh_and_logout_use_cookies() {
    let server = TestServer::start(BINARY).await;
    server.owner_token(OWNER_PASSWORD).await;
    let jar = cookie_login(&server).await;
    let refresh = |jar: &Jar| {
        server
            .client
            .post(server.url("/api/auth/refresh"))
            .header("cookie", jar.header())
    };

    // Refresh without the echo is refused like any other cookie-authenticated change.
    let response = refresh(&jar).send().await.unwrap();
    assert_eq!(response.status(), 403);

    let response = refresh(&jar)
        .header("x-csrf-token", &jar.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let renewed = Jar::from_response(&response);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body.get("access_token").is_none());
    assert!(body.get("refresh_token").is_none());
    assert_ne!(renewed.refresh, jar.refresh);
    assert_ne!(renewed.access, jar.access);

    // The retired refresh cookie no longer works (and its reuse ends the session).
    let reused = refresh(&jar)
        .header("x-csrf-token", &jar.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), 401);

    // Log in again and log out: every cookie is cleared and nothing of the session works.
    let jar = cookie_login(&server).await;
    let response = server
        .client
        .post(server.url("/api/auth/logout"))
        .header("cookie", jar.header())
        .header("x-csrf-token", &jar.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let cleared = set_cookies(&response);
    assert_eq!(cleared.len(), 3);
    assert!(
        cleared
            .iter()
            .all(|(_, value, attributes)| value.is_empty() && attributes.contains("Max-Age=0"))
    );
    let after = server
        .client
        .get(server.url("/api/admin/users"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
    let response = refresh(&jar)
        .header("x-csrf-token", &jar.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn cors_allows_only_exact_origin() {
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some("[cors]\nallowed_origins = [\"https://panel.example.com\"]\n".into()),
            ..ServerOptions::default()
        },
    )
    .await;
    let before = audit_log(&server).await.len();
    let cors_headers = |response: &reqwest::Response| -> Vec<String> {
        response
            .headers()
            .keys()
            .map(|name| name.as_str().to_owned())
            .filter(|name| name.starts_with("access-control-"))
            .collect()
    };
    let origins: &[(Option<&str>, bool)] = &[
        (Some("https://panel.example.com"), true),
        (None, false),
        (Some("null"), false),
        (Some("https://panel.example.com.evil.test"), false),
        (Some("https://evilpanel.example.com"), false),
        (Some("http://panel.example.com"), false),
        (Some("https://PANEL.example.com"), false),
        (Some("https://panel.example.com:444"), false),
        (Some("https://panel.example.com/"), false),
        (Some("*"), false),
    ];
    for (origin, allowed) in origins {
        let mut request = server.client.get(server.url("/api/admin/users"));
        if let Some(origin) = origin {
            request = request.header("origin", *origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{origin:?}");
        if *allowed {
            let headers = response.headers();
            assert_eq!(headers["access-control-allow-origin"], origin.unwrap());
            assert_eq!(headers["access-control-allow-credentials"], "true");
        } else {
            assert!(
                cors_headers(&response).is_empty(),
                "{origin:?}: {:?}",
                cors_headers(&response)
            );
        }
    }

    // Preflights: answered only for the allowed origin, an API method and API headers.
    let preflights: &[(&str, &str, &str, bool)] = &[
        (
            "https://panel.example.com",
            "PATCH",
            "content-type, x-csrf-token",
            true,
        ),
        ("https://panel.example.com", "DELETE", "authorization", true),
        ("https://panel.example.com", "PUT", "content-type", false),
        ("https://panel.example.com", "POST", "x-evil", false),
        ("null", "POST", "content-type", false),
        (
            "https://evilpanel.example.com",
            "POST",
            "content-type",
            false,
        ),
    ];
    for (origin, method, headers, allowed) in preflights {
        let response = server
            .client
            .request(Method::OPTIONS, server.url("/api/admin/users"))
            .header("origin", *origin)
            .header("access-control-request-method", *method)
            .header("access-control-request-headers", *headers)
            .send()
            .await
            .unwrap();
        let what = format!("{origin} {method} {headers}");
        if *allowed {
            assert_eq!(response.status(), 204, "{what}");
            let answer = response.headers();
            assert_eq!(answer["access-control-allow-origin"], *origin);
            assert_eq!(
                answer["access-control-allow-methods"],
                "GET, POST, PATCH, DELETE"
            );
            assert_eq!(
                answer["access-control-allow-headers"],
                "Content-Type, Authorization, X-CSRF-Token"
            );
        } else {
            assert_ne!(response.status(), 204, "{what}");
            assert!(cors_headers(&response).is_empty(), "{what}");
        }
    }
    // No request reached a handler that writes.
    assert_eq!(audit_log(&server).await.len(), before);
}
