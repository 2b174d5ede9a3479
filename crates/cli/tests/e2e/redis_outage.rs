//! A panel on a Redis of the test's own: authenticated calls fail closed (503) while Redis is
//! down, and after it comes back empty the panel recovers by itself, with every revocation
//! made before the outage still in force.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use spiritus_test_support::{RedisServer, ServerOptions, TestServer};

use crate::{BINARY, OWNER_PASSWORD};

async fn status_of(server: &TestServer, token: &str) -> (StatusCode, serde_json::Value) {
    server
        .call(Method::GET, "/api/admin/users", Some(token), None)
        .await
}

#[tokio::test]
async fn redis_outage_fails_closed_and_recovers_without_a_restart() {
    let mut redis = RedisServer::start().await;
    let server = TestServer::start_with(
        BINARY,
        ServerOptions::default().with_env("SPIRITUS_REDIS_URL", redis.url()),
    )
    .await;
    let revoked = server.owner_token(OWNER_PASSWORD).await;
    let live = server.login("admin", OWNER_PASSWORD).await;
    let (_, system) = server
        .call(Method::GET, "/api/admin/system", Some(&live), None)
        .await;
    assert_eq!(system["ephemeral_store"], "redis", "{system}");

    let (status, _) = server
        .call(Method::POST, "/api/auth/logout", Some(&revoked), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(status_of(&server, &revoked).await.0, 401);
    assert_eq!(status_of(&server, &live).await.0, 200);

    redis.stop().await;
    for token in [&live, &revoked] {
        let (status, body) = status_of(&server, token).await;
        assert_eq!(status, 503, "fail closed, never open: {body}");
        assert_eq!(body["error"]["code"], "unavailable");
    }

    // Redis returns with nothing in it; the same panel process recovers.
    redis.start_again().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = status_of(&server, &live).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "the panel never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = status_of(&server, &revoked).await;
    assert_eq!(
        status, 401,
        "a revocation survives the emptied Redis: {body}"
    );
    assert!(
        server.log_text().contains("restored token revocations"),
        "{}",
        server.log_text()
    );
}
