//! The web dashboard's server side: the page and its assets under the strict CSP, the
//! subscription QR code, and the caller's own sessions (list and revoke).

use reqwest::Method;
use serde_json::{Value, json};
use spiritus_test_support::TestServer;

use crate::{BINARY, OWNER_PASSWORD};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn dashboard_assets_carry_the_csp() {
    let server = TestServer::start(BINARY).await;

    let page = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "content-security-policy"), CSP);
    assert_eq!(header(&page, "cache-control"), "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/assets/js/main.js"></script>"#));
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("style="), "{html}");

    let cases = [
        ("/assets/js/main.js", "text/javascript; charset=utf-8"),
        (
            "/assets/js/pages/users.js",
            "text/javascript; charset=utf-8",
        ),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ];
    for (path, content_type) in cases {
        let asset = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{path}");
        assert_eq!(header(&asset, "content-type"), content_type, "{path}");
        assert_eq!(header(&asset, "content-security-policy"), CSP, "{path}");
        assert_eq!(header(&asset, "cache-control"), "no-cache", "{path}");
        let etag = header(&asset, "etag");
        assert!(etag.starts_with('"') && etag.len() > 10, "{path}: {etag}");

        let again = server
            .client
            .get(server.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        let changed = server
            .client
            .get(server.url(path))
            .header("if-none-match", "\"stale\"")
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200, "{path}");
    }

    // Unknown files are a plain 404; the subscription page's stylesheet is still served.
    let (status, body) = server
        .call(Method::GET, "/assets/js/secret.js", None, None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let stylesheet = server
        .client
        .get(server.url("/assets/subscription.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(stylesheet.status(), 200);
    assert_eq!(
        header(&stylesheet, "content-type"),
        "text/css; charset=utf-8"
    );
}

#[tokio::test]
async fn subscription_qr_code_needs_a_session_and_an_existing_user() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let (status, _) = server
        .call(
            Method::POST,
            "/api/admin/users",
            Some(&token),
            Some(json!({"name": "alice", "traffic_limit_gb": 1, "expire_days": 30})),
        )
        .await;
    assert_eq!(status, 201);

    let qr = server
        .client
        .get(server.url("/api/admin/users/alice/subscription-qr"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(qr.status(), 200);
    assert_eq!(header(&qr, "content-type"), "image/svg+xml; charset=utf-8");
    assert_eq!(header(&qr, "content-security-policy"), CSP);
    let svg = qr.text().await.unwrap();
    assert!(svg.contains("<svg") && !svg.contains("<script"), "{svg}");

    // The attacker without a session, and a name that is not a user.
    let (status, _) = server
        .call(
            Method::GET,
            "/api/admin/users/alice/subscription-qr",
            None,
            None,
        )
        .await;
    assert_eq!(status, 401);
    let (status, body) = server
        .call(
            Method::GET,
            "/api/admin/users/nobody/subscription-qr",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

async fn sessions(server: &TestServer, token: &str) -> Vec<Value> {
    let (status, body) = server
        .call(Method::GET, "/api/auth/sessions", Some(token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

fn current_id(items: &[Value]) -> String {
    items.iter().find(|item| item["current"] == true).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_account_lists_and_revokes_only_its_own_sessions() {
    let server = TestServer::start(BINARY).await;
    let first = server.owner_token(OWNER_PASSWORD).await;
    let second = server.login("admin", OWNER_PASSWORD).await;

    let items = sessions(&server, &first).await;
    assert_eq!(items.len(), 2, "{items:?}");
    for item in &items {
        let mut keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "created_at",
                "current",
                "expires_at",
                "id",
                "ip",
                "user_agent"
            ]
        );
        assert_eq!(item["ip"], "127.0.0.1");
    }
    let first_id = current_id(&items);
    let second_id = current_id(&sessions(&server, &second).await);
    assert_ne!(first_id, second_id);

    // Another admin, the attacker here, sees only its own session and cannot end the owner's.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/admin/accounts",
            Some(&first),
            Some(json!({"name": "mallory", "role": "admin", "password": "mallory temporary pass"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let temporary = server.login("mallory", "mallory temporary pass").await;
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/password",
            Some(&temporary),
            Some(json!({"current": "mallory temporary pass", "new": "mallory chosen passphrase"})),
        )
        .await;
    assert_eq!(status, 204);
    let mallory = server.login("mallory", "mallory chosen passphrase").await;
    let theirs = sessions(&server, &mallory).await;
    assert_eq!(theirs.len(), 1);
    assert_ne!(theirs[0]["id"], first_id.as_str());
    let (status, body) = server
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{second_id}"),
            Some(&mallory),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(sessions(&server, &second).await.len(), 2, "nothing changed");

    // A malformed id names the field.
    let (status, body) = server
        .call(
            Method::DELETE,
            "/api/auth/sessions/not-a-session",
            Some(&first),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "id");

    // The owner ends its second session: its token stops working at once.
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{second_id}"),
            Some(&first),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = server
        .call(Method::GET, "/api/auth/sessions", Some(&second), None)
        .await;
    assert_eq!(status, 401);
    let left = sessions(&server, &first).await;
    assert_eq!(left.len(), 1);
    assert_eq!(current_id(&left), first_id);
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{second_id}"),
            Some(&first),
            None,
        )
        .await;
    assert_eq!(status, 404, "a revoked session cannot be revoked again");

    let (status, audit) = server
        .call(
            Method::GET,
            "/api/admin/audit?action=session.revoke",
            Some(&first),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["resource_id"], second_id.as_str());
}

#[tokio::test]
async fn revoking_a_session_from_a_browser_needs_the_csrf_echo() {
    let server = TestServer::start(BINARY).await;
    let bearer = server.owner_token(OWNER_PASSWORD).await;
    let login = server
        .client
        .post(server.url("/api/auth/login?cookie=true"))
        .json(&json!({"username": "admin", "password": OWNER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let mut cookies = Vec::new();
    let mut csrf = String::new();
    for value in login.headers().get_all("set-cookie") {
        let pair = value
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        if let Some(token) = pair.strip_prefix("csrf_token=") {
            csrf = token.to_owned();
        }
        cookies.push(pair);
    }
    let cookie_header = cookies.join("; ");
    let bearer_session = current_id(&sessions(&server, &bearer).await);

    // A forged cross-site request carries the cookies but cannot echo the token.
    let forged = server
        .client
        .delete(server.url(&format!("/api/auth/sessions/{bearer_session}")))
        .header("cookie", &cookie_header)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(sessions(&server, &bearer).await.len(), 2, "nothing changed");

    let listed = server
        .client
        .get(server.url("/api/auth/sessions"))
        .header("cookie", &cookie_header)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let revoked = server
        .client
        .delete(server.url(&format!("/api/auth/sessions/{bearer_session}")))
        .header("cookie", &cookie_header)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let (status, _) = server
        .call(Method::GET, "/api/auth/sessions", Some(&bearer), None)
        .await;
    assert_eq!(status, 401);
}
