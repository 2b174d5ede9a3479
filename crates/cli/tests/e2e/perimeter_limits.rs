//! Resource limits and response headers: the connection cap, slow and idle clients, oversized
//! bodies, and the full security header set on every class of response.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use spiritus_test_support::{ServerOptions, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::perimeter_support::{
    address, connector, generated_cert_pem, send_and_read, tls_connect,
};
use crate::{BINARY, OWNER_PASSWORD};

async fn start(config: &str) -> TestServer {
    TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some(config.to_owned()),
            ..ServerOptions::default()
        },
    )
    .await
}

/// Reads until the peer closes the connection or `limit` passes; returns whether it closed.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, limit: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn connections_over_cap_closed() {
    let server = start("[limits]\nmax_connections = 2\n").await;
    let tls = connector(&[&generated_cert_pem(&server)]);
    let target = address(&server);
    let first = tls_connect(target, &tls).await.unwrap();
    let _second = tls_connect(target, &tls).await.unwrap();
    assert!(
        tls_connect(target, &tls).await.is_err(),
        "a third connection must be refused"
    );
    drop(first);
    // The freed slot is reused once the server notices the close.
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(stream) = tls_connect(target, &tls).await {
            reopened = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut stream = reopened.expect("a slot frees up when a connection closes");
    let response = send_and_read(&mut stream, "GET /healthz HTTP/1.1", b"").await;
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn slow_header_client_cut_off() {
    let server = start("[limits]\nheader_timeout_seconds = 2\nidle_timeout_seconds = 60\n").await;
    let tls = connector(&[&generated_cert_pem(&server)]);
    let mut stream = tls_connect(address(&server), &tls).await.unwrap();
    let started = Instant::now();
    let request =
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: aaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed = false;
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err() || stream.flush().await.is_err() {
            closed = true;
            break;
        }
        if closed_within(&mut stream, Duration::from_secs(1)).await {
            closed = true;
            break;
        }
    }
    let elapsed = started.elapsed();
    assert!(closed, "the server waited for the whole trickled request");
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(8),
        "closed after {elapsed:?}"
    );
}

#[tokio::test]
async fn idle_connection_closed_after_timeout() {
    let server = start("[limits]\nheader_timeout_seconds = 30\nidle_timeout_seconds = 2\n").await;
    let tls = connector(&[&generated_cert_pem(&server)]);
    let mut stream = tls_connect(address(&server), &tls).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = vec![0u8; 4096];
    let read = stream.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(10)).await);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(6),
        "closed after {elapsed:?}, long before the 30 s header timeout"
    );
}

/// Every header of the set, with the configured resource policy.
fn assert_security_headers(headers: &reqwest::header::HeaderMap, what: &str) {
    let expected = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("x-xss-protection", "1; mode=block"),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-site"),
        ("cross-origin-embedder-policy", "require-corp"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ];
    for (name, value) in expected {
        assert_eq!(
            headers.get(name).map(|value| value.to_str().unwrap()),
            Some(value),
            "{what}: {name}"
        );
    }
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"),
        "{what}: {policy}"
    );
}

#[tokio::test]
async fn every_response_class_has_security_headers() {
    let server = start(
        "admin_allowlist = [\"127.0.0.1/32\"]\n\
         [headers]\ncross_origin_resource_policy = \"same-site\"\n\
         [limits]\nhash_concurrency = 1\nhash_wait_seconds = 0\n",
    )
    .await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let send = |method: Method, path: &str| server.client.request(method, server.url(path));
    let user = json!({"name": "alice", "traffic_limit_gb": 1, "expire_days": 30});
    let cases: Vec<(&str, u16, reqwest::RequestBuilder)> = vec![
        ("200", 200, send(Method::GET, "/healthz")),
        (
            "201",
            201,
            send(Method::POST, "/api/admin/users")
                .bearer_auth(&token)
                .json(&user),
        ),
        (
            "204",
            204,
            send(Method::DELETE, "/api/admin/users/alice").bearer_auth(&token),
        ),
        (
            "400",
            400,
            send(Method::POST, "/api/admin/users")
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body("{"),
        ),
        ("401", 401, send(Method::GET, "/api/admin/users")),
        (
            "403",
            403,
            send(Method::POST, "/api/admin/users")
                .header("cookie", "__Host-spiritus_access=forged")
                .json(&user),
        ),
        ("404", 404, send(Method::GET, "/nowhere")),
        ("405", 405, send(Method::PUT, "/healthz")),
        (
            "413",
            413,
            send(Method::POST, "/api/admin/users")
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(vec![b' '; 2 * 1024 * 1024]),
        ),
        (
            "415",
            415,
            send(Method::POST, "/api/admin/users")
                .bearer_auth(&token)
                .body("x"),
        ),
    ];
    for (what, status, request) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        assert_security_headers(response.headers(), what);
    }

    // A 5xx: with one hashing slot and no waiting, simultaneous logins are refused with 503.
    let logins = (0..6).map(|_| {
        server
            .client
            .post(server.url("/api/auth/login"))
            .json(&json!({"username": "admin", "password": "wrong password"}))
            .send()
    });
    let responses = futures_join_all(logins).await;
    let unavailable = responses
        .iter()
        .find(|response| response.status() == 503)
        .expect("at least one login found the hashing slot busy");
    assert_security_headers(unavailable.headers(), "503");
}

/// Awaits every future concurrently (no extra dependency for one helper).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<reqwest::Response>
where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut responses = Vec::new();
    for handle in handles {
        responses.push(handle.await.unwrap().unwrap());
    }
    responses
}

#[tokio::test]
async fn oversized_body_rejected_without_change() {
    let server = start("[limits]\nbody_bytes = 4096\n").await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let note = "n".repeat(8192);
    let (status, body) = server
        .call(
            Method::POST,
            "/api/admin/users",
            Some(&token),
            Some(json!({"name": "bob", "traffic_limit_gb": 1, "expire_days": 3, "note": note})),
        )
        .await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");
    let (status, body) = server
        .call(Method::GET, "/api/admin/users", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 0, "{body}");
}
