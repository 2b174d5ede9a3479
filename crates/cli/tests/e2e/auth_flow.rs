//! First start, login, refresh rotation, reuse detection, logout and revocation that survives
//! a restart.

use reqwest::Method;
use serde_json::json;
use spiritus_test_support::TestServer;

use crate::{BINARY, OWNER_PASSWORD};

#[tokio::test]
async fn first_start_prints_owner_password_once() {
    let mut server = TestServer::start(BINARY).await;
    let password = server
        .owner_password
        .clone()
        .expect("first start shows the password");
    assert_eq!(password.len(), 24);
    assert!(
        server
            .stdout
            .iter()
            .any(|line| line.contains("SPKI SHA-256 pin"))
    );

    server.restart().await;
    assert!(server.owner_password.is_none(), "{:?}", server.stdout);
    let printed = server.stdout.join("\n");
    assert!(!printed.contains(&password));

    // The one-time password still works, and forces a change.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "admin", "password": password})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["must_change_password"], true);
    let token = body["access_token"].as_str().unwrap();
    let (status, body) = server
        .call(Method::GET, "/api/admin/users", Some(token), None)
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "password_change_required");
}

#[tokio::test]
async fn data_directory_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start(BINARY).await;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(server.data_dir()), 0o700);
    for entry in walk(server.data_dir()) {
        if entry.ends_with("server.log") {
            continue;
        }
        let expected = if entry.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&entry), expected, "{}", entry.display());
    }
    assert!(server.data_dir().join("secrets/pepper.key").exists());
}

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

async fn login_pair(server: &TestServer, password: &str) -> (String, String) {
    let (status, body) = server
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "admin", "password": password})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"].as_i64().unwrap(), 1800);
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_session() {
    let server = TestServer::start(BINARY).await;
    server.owner_token(OWNER_PASSWORD).await;
    let (access, refresh) = login_pair(&server, OWNER_PASSWORD).await;

    let (status, rotated) = server
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_access = rotated["access_token"].as_str().unwrap().to_owned();
    let new_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, refresh);
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&new_access), None)
        .await;
    assert_eq!(status, 200);

    // The attacker replays the retired token: refused, and the whole session dies.
    let (status, body) = server
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    for token in [&access, &new_access] {
        let (status, _) = server
            .call(Method::GET, "/api/admin/users", Some(token), None)
            .await;
        assert_eq!(status, 401);
    }
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": new_refresh})),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn logout_revokes_and_stays_revoked_after_restart() {
    let mut server = TestServer::start(BINARY).await;
    server.owner_token(OWNER_PASSWORD).await;
    let (access, refresh) = login_pair(&server, OWNER_PASSWORD).await;
    let (other_access, _) = login_pair(&server, OWNER_PASSWORD).await;

    let (status, _) = server
        .call(Method::POST, "/api/auth/logout", Some(&access), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&access), None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(status, 401);

    server.restart().await;
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&access), None)
        .await;
    assert_eq!(status, 401, "a revoked token came back after a restart");
    // Another session is untouched.
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&other_access), None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn password_change_ends_all_sessions() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/password",
            Some(&token),
            Some(json!({"current": OWNER_PASSWORD, "new": "another long passphrase"})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&token), None)
        .await;
    assert_eq!(status, 401);
    server.login("admin", "another long passphrase").await;
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_alike() {
    let server = TestServer::start(BINARY).await;
    server.owner_token(OWNER_PASSWORD).await;
    let (status_unknown, body_unknown) = server
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "nobody_here", "password": "whatever it is"})),
        )
        .await;
    let (status_wrong, body_wrong) = server
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "admin", "password": "whatever it is"})),
        )
        .await;
    assert_eq!(status_unknown, 401);
    assert_eq!(status_unknown, status_wrong);
    assert_eq!(body_unknown, body_wrong);
    assert_eq!(body_wrong["error"]["code"], "invalid_credentials");
}

#[tokio::test]
async fn responses_never_carry_secrets() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let pepper = std::fs::read_to_string(server.data_dir().join("secrets/pepper.key")).unwrap();
    let jwt_key = std::fs::read_to_string(server.data_dir().join("secrets/jwt.key")).unwrap();
    let (_, created) = server
        .call(
            Method::POST,
            "/api/admin/users",
            Some(&token),
            Some(json!({"name": "secretless", "traffic_limit_gb": 1, "expire_days": 3})),
        )
        .await;
    let (_, listed) = server
        .call(Method::GET, "/api/admin/users", Some(&token), None)
        .await;
    let (_, system) = server
        .call(Method::GET, "/api/admin/system", Some(&token), None)
        .await;
    for body in [created, listed, system] {
        let text = body.to_string();
        for forbidden in [
            "password_hash",
            "argon2",
            pepper.trim(),
            jwt_key.trim(),
            "proxy_uuid",
        ] {
            assert!(!text.contains(forbidden), "{forbidden} in {text}");
        }
    }
    let log = server.log_text();
    assert!(!log.contains(OWNER_PASSWORD));
    assert!(!log.contains(pepper.trim()));
}
