//! Bad input: every rejected request gets the documented status and code and changes nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use spiritus_test_support::TestServer;

use crate::{BINARY, OWNER_PASSWORD};

async fn user_count(server: &TestServer, token: &str) -> i64 {
    let (status, body) = server
        .call(Method::GET, "/api/admin/users", Some(token), None)
        .await;
    assert_eq!(status, 200);
    body["total"].as_i64().unwrap()
}

#[tokio::test]
async fn create_user_rejects_every_invalid_field() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let valid = json!({"name": "valid_name", "traffic_limit_gb": 10, "expire_days": 30});
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("name too short", with("name", json!("ab")), "name"),
        (
            "name too long",
            with("name", json!("a".repeat(256))),
            "name",
        ),
        ("name with a space", with("name", json!("bad name")), "name"),
        ("name with a slash", with("name", json!("a/b/c")), "name"),
        ("name with HTML", with("name", json!("<script>")), "name"),
        ("name not a string", with("name", json!(123)), "name"),
        ("honey name", with("name", json!("admin_backup")), "name"),
        (
            "honey name in other case",
            with("name", json!("System_Test")),
            "name",
        ),
        (
            "quota below zero",
            with("traffic_limit_gb", json!(-1)),
            "traffic_limit_gb",
        ),
        (
            "quota above 10000",
            with("traffic_limit_gb", json!(10000.001)),
            "traffic_limit_gb",
        ),
        (
            "quota with four decimals",
            with("traffic_limit_gb", json!(1.2345)),
            "traffic_limit_gb",
        ),
        (
            "quota as a string",
            with("traffic_limit_gb", json!("10")),
            "traffic_limit_gb",
        ),
        (
            "quota null",
            with("traffic_limit_gb", Value::Null),
            "traffic_limit_gb",
        ),
        ("days zero", with("expire_days", json!(0)), "expire_days"),
        ("days 366", with("expire_days", json!(366)), "expire_days"),
        (
            "days fractional",
            with("expire_days", json!(1.5)),
            "expire_days",
        ),
        (
            "days as a string",
            with("expire_days", json!("30")),
            "expire_days",
        ),
        (
            "days as a bool",
            with("expire_days", json!(true)),
            "expire_days",
        ),
        ("missing name", without("name"), "name"),
        (
            "missing quota",
            without("traffic_limit_gb"),
            "traffic_limit_gb",
        ),
        ("missing days", without("expire_days"), "expire_days"),
        (
            "note with a control character",
            with("note", json!("bell\u{7}")),
            "note",
        ),
        (
            "note too long",
            with("note", json!("x".repeat(2001))),
            "note",
        ),
    ];
    for (case, body, field) in cases {
        let (status, reply) = server
            .call(Method::POST, "/api/admin/users", Some(&token), Some(body))
            .await;
        assert_eq!(status, 422, "{case}: {reply}");
        assert_eq!(reply["error"]["code"], "validation_failed", "{case}");
        assert_eq!(reply["error"]["field"], field, "{case}");
    }
    assert_eq!(user_count(&server, &token).await, 0);
}

#[tokio::test]
async fn malformed_bodies_are_400_415_and_413() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let deep = "[".repeat(10_000);
    let raw_cases: Vec<(&str, &str, &str, u16, &str)> = vec![
        (
            "unknown field",
            "application/json",
            r#"{"name":"abc","traffic_limit_gb":1,"expire_days":1,"admin":true}"#,
            400,
            "malformed_request",
        ),
        (
            "duplicate key",
            "application/json",
            r#"{"name":"abc","name":"abd","traffic_limit_gb":1,"expire_days":1}"#,
            400,
            "malformed_request",
        ),
        (
            "broken JSON",
            "application/json",
            r#"{"name":"abc","#,
            400,
            "malformed_request",
        ),
        (
            "not an object",
            "application/json",
            r#"["abc"]"#,
            400,
            "malformed_request",
        ),
        (
            "empty body",
            "application/json",
            "",
            400,
            "malformed_request",
        ),
        (
            "deep nesting",
            "application/json",
            &deep,
            400,
            "malformed_request",
        ),
        (
            "form encoding",
            "application/x-www-form-urlencoded",
            "name=abc",
            415,
            "unsupported_media_type",
        ),
        (
            "no content type",
            "",
            r#"{"name":"abc"}"#,
            415,
            "unsupported_media_type",
        ),
    ];
    for (case, content_type, body, status, code) in raw_cases {
        let mut request = server
            .client
            .post(server.url("/api/admin/users"))
            .bearer_auth(&token)
            .body(body.to_owned());
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{case}");
        let reply: Value = response.json().await.unwrap();
        assert_eq!(reply["error"]["code"], code, "{case}");
    }

    let huge = json!({"name": "abc", "traffic_limit_gb": 1, "expire_days": 1, "note": "x".repeat(2 * 1024 * 1024)});
    let (status, reply) = server
        .call(Method::POST, "/api/admin/users", Some(&token), Some(huge))
        .await;
    assert_eq!(status, 413, "{reply}");
    assert_eq!(reply["error"]["code"], "payload_too_large");
    assert_eq!(user_count(&server, &token).await, 0);

    let (status, _) = server
        .call(
            Method::POST,
            "/api/admin/users",
            Some(&token),
            Some(json!({"name": "ok_user", "traffic_limit_gb": 1, "expire_days": 1})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, reply) = server
        .call(
            Method::POST,
            "/api/admin/users",
            Some(&token),
            Some(json!({"name": "OK_USER", "traffic_limit_gb": 1, "expire_days": 1})),
        )
        .await;
    assert_eq!(status, 409, "{reply}");
    assert_eq!(reply["error"]["code"], "conflict");
    assert_eq!(user_count(&server, &token).await, 1);
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_error_body() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let (status, body) = server.call(Method::GET, "/no/such/path", None, None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = server
        .call(Method::PUT, "/api/admin/users", Some(&token), None)
        .await;
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "method_not_allowed");
    let (status, body) = server
        .call(Method::GET, "/api/admin/users/nobody", Some(&token), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}

/// Signs a token by hand with the server's own key, so only the claim under test is wrong.
fn forge(key: &[u8], header: Value, claims: Value) -> String {
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    let input = format!("{}.{}", encode(&header), encode(&claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn forged_and_damaged_tokens_are_401() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let key = std::fs::read(server.data_dir().join("secrets/jwt.key")).unwrap();
    let header = decode_part(&token, 0);
    let claims = decode_part(&token, 1);

    // The forged copy of a valid token is accepted, so each row below fails only for its flaw.
    let control = forge(&key, header.clone(), claims.clone());
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&control), None)
        .await;
    assert_eq!(status, 200);

    let with = |key_name: &str, value: Value| {
        let mut changed = claims.clone();
        changed[key_name] = value;
        changed
    };
    let without = |key_name: &str| {
        let mut changed = claims.clone();
        changed.as_object_mut().unwrap().remove(key_name);
        changed
    };
    let exp = claims["exp"].as_i64().unwrap();
    let mut none_header = header.clone();
    none_header["alg"] = json!("none");
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&none_header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    let mut hs512 = header.clone();
    hs512["alg"] = json!("HS512");
    let mut tampered_signature = token.clone();
    tampered_signature.pop();
    tampered_signature.push(if token.ends_with('A') { 'B' } else { 'A' });

    let cases: Vec<(&str, String)> = vec![
        ("alg none", unsigned),
        ("other algorithm", forge(&key, hs512, claims.clone())),
        ("bad signature", tampered_signature),
        (
            "past exp",
            forge(&key, header.clone(), with("exp", json!(exp - 4000))),
        ),
        ("missing exp", forge(&key, header.clone(), without("exp"))),
        (
            "exp as a string",
            forge(&key, header.clone(), with("exp", json!("never"))),
        ),
        (
            "nbf as a string",
            forge(&key, header.clone(), with("nbf", json!("now"))),
        ),
        (
            "nbf in the future",
            forge(&key, header.clone(), with("nbf", json!(exp))),
        ),
        (
            "wrong issuer",
            forge(&key, header.clone(), with("iss", json!("someone"))),
        ),
        (
            "wrong audience",
            forge(&key, header.clone(), with("aud", json!("other"))),
        ),
        (
            "wrong type",
            forge(&key, header.clone(), with("type", json!("refresh"))),
        ),
        ("garbage", "garbage".into()),
        ("empty", String::new()),
    ];
    for (case, forged) in cases {
        let (status, body) = server
            .call(Method::GET, "/api/admin/users", Some(&forged), None)
            .await;
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{case}");
    }

    // A revoked token id stays refused even when re-signed.
    let (status, _) = server
        .call(Method::POST, "/api/auth/logout", Some(&token), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&control), None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn long_unicode_passwords_are_not_truncated() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let long = "گذرواژه🔐".repeat(100);
    assert!(long.len() > 1024);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/password",
            Some(&token),
            Some(json!({"current": OWNER_PASSWORD, "new": long})),
        )
        .await;
    assert_eq!(status, 204);
    let mut shorter = long.clone();
    shorter.pop();
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "admin", "password": shorter})),
        )
        .await;
    assert_eq!(status, 401);
    server.login("admin", &long).await;

    let (status, body) = server
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": "admin", "password": "x".repeat(5000)})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
}
