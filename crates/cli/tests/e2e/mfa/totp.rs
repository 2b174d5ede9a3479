//! TOTP and backup codes end to end: enrolment, the challenge login, replays, simultaneous
//! submissions, every kind of bad input, and the attempt limit.

use base64::Engine;
use reqwest::Method;
use serde_json::json;
use spiritus_test_support::{ServerOptions, TestServer};

use super::support::{
    call_from, challenge_for, code_in, create_admin, enrol_totp, failure_reasons, post,
    submit_code, submit_concurrently,
};
use crate::{BINARY, OWNER_PASSWORD};

/// Starts a server whose second-factor limit does not get in the way of many deliberate failures.
async fn lenient_server() -> TestServer {
    TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some("trusted_proxies = [\"127.0.0.1/32\"]\n[rate_limits]\nsecond_factor_attempts = 1000\n".into()),
            ..ServerOptions::default()
        },
    )
    .await
}

#[tokio::test]
async fn totp_enrolment_login_and_replay_after_restart() {
    let mut server = TestServer::start(BINARY).await;
    let owner = server.owner_token(OWNER_PASSWORD).await;

    // Setup shows the secret, the URI and both QR codes once; nothing is on yet.
    let (status, setup) = post(&server, "/api/auth/totp/setup", Some(&owner), json!({})).await;
    assert_eq!(status, 200, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    assert_eq!(
        setup["otpauth_uri"],
        format!(
            "otpauth://totp/Spiritus:admin?secret={secret}&issuer=Spiritus&algorithm=SHA1&digits=6&period=30"
        )
    );
    assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(setup["qr_png"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let (status, body) = password_login_tokens(&server).await;
    assert_eq!(status, 200);
    assert!(
        body["access_token"].is_string(),
        "pending TOTP is not required yet"
    );

    // A wrong code does not turn it on; the right one does and returns ten backup codes.
    let (status, body) = post(
        &server,
        "/api/auth/totp/confirm",
        Some(&owner),
        json!({"code": code_in(&secret, -3)}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["error"]["field"].as_str()),
        (422, Some("code"))
    );
    let (status, body) = post(
        &server,
        "/api/auth/totp/confirm",
        Some(&owner),
        json!({"code": code_in(&secret, 0)}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let codes = body["backup_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let (status, body) = post(&server, "/api/auth/totp/setup", Some(&owner), json!({})).await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    let (status, overview, _) = call_from(
        &server,
        None,
        Method::GET,
        "/api/auth/second-factors",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(overview["totp"], true);
    assert_eq!(overview["backup_codes_left"], 10);
    assert!(
        !overview.to_string().contains(&secret),
        "the secret is never shown again"
    );

    // Login now needs the code; the confirming code's step is already spent.
    let code = code_in(&secret, 1);
    let challenge = challenge_for(&server, None, "admin", OWNER_PASSWORD).await;
    let (status, tokens, _) = submit_code(&server, None, &challenge, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(token), None)
        .await;
    assert_eq!(status, 200);

    // The same code again: refused in the window, and still refused after a restart.
    let challenge = challenge_for(&server, None, "admin", OWNER_PASSWORD).await;
    let (status, body, _) = submit_code(&server, None, &challenge, &code).await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    server.restart().await;
    let challenge = challenge_for(&server, None, "admin", OWNER_PASSWORD).await;
    let (status, _, _) = submit_code(&server, None, &challenge, &code).await;
    assert_eq!(status, 401);
    let reasons = failure_reasons(&server, "login.second_factor").await;
    assert_eq!(reasons, ["reused_code", "reused_code"]);
}

async fn password_login_tokens(server: &TestServer) -> (reqwest::StatusCode, serde_json::Value) {
    super::support::password_login(server, None, "admin", OWNER_PASSWORD).await
}

#[tokio::test]
async fn backup_code_login_consumes_the_code_and_binds_it_to_its_account() {
    let server = TestServer::start(BINARY).await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let owner_factors = enrol_totp(&server, &owner).await;
    let admin = create_admin(&server, &owner, "ops", "ops password 1234").await;
    let admin_factors = enrol_totp(&server, &admin).await;

    // Typed with a space and in capitals: still the code.
    let code = &owner_factors.backup_codes[0];
    let typed = code.to_uppercase().replace('-', " ");
    let challenge = challenge_for(&server, None, "admin", OWNER_PASSWORD).await;
    let (status, tokens, _) = submit_code(&server, None, &challenge, &typed).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    let (_, overview, _) = call_from(
        &server,
        None,
        Method::GET,
        "/api/auth/second-factors",
        Some(token),
        None,
    )
    .await;
    assert_eq!(overview["backup_codes_left"], 9);

    // Used once, never again.
    let challenge = challenge_for(&server, None, "admin", OWNER_PASSWORD).await;
    let (status, _, _) = submit_code(&server, None, &challenge, code).await;
    assert_eq!(status, 401);
    // Another account's valid backup code does not unlock this one, and is not used up.
    let challenge = challenge_for(&server, None, "admin", OWNER_PASSWORD).await;
    let (status, _, _) =
        submit_code(&server, None, &challenge, &admin_factors.backup_codes[0]).await;
    assert_eq!(status, 401);
    let challenge = challenge_for(&server, None, "ops", "ops password 1234").await;
    let (status, _, _) =
        submit_code(&server, None, &challenge, &admin_factors.backup_codes[0]).await;
    assert_eq!(status, 200);

    assert_eq!(
        super::support::audit_entries(&server, "backup_code.use")
            .await
            .len(),
        2
    );
    assert_eq!(
        failure_reasons(&server, "login.second_factor").await,
        ["wrong_backup_code", "wrong_backup_code"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_submissions_of_one_code_let_exactly_one_through() {
    let server = lenient_server().await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let factors = enrol_totp(&server, &owner).await;

    for code in [code_in(&factors.secret, 1), factors.backup_codes[3].clone()] {
        let mut challenges = Vec::new();
        for _ in 0..4 {
            challenges.push(challenge_for(&server, None, "admin", OWNER_PASSWORD).await);
        }
        let statuses = submit_concurrently(&server, &challenges, &code).await;
        assert_eq!(
            statuses.iter().filter(|status| **status == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(statuses.iter().filter(|status| **status == 401).count(), 3);
    }
}

#[tokio::test]
async fn bad_second_factor_input_is_refused_and_audited() {
    let server = lenient_server().await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let factors = enrol_totp(&server, &owner).await;
    let secret = &factors.secret;
    let ip = Some("203.0.113.10");

    let cases: Vec<(&str, String, u16, &str)> = vec![
        // A code of another moment: two steps old, or far in the future.
        (
            "expired code",
            code_in(secret, -2),
            401,
            "invalid_credentials",
        ),
        (
            "code from the future",
            code_in(secret, 5),
            401,
            "invalid_credentials",
        ),
        ("wrong code", "000000".into(), 401, "invalid_credentials"),
        ("non-numeric", "12345a".into(), 422, "validation_failed"),
        ("letters", "abcdef".into(), 422, "validation_failed"),
        ("too short", "12345".into(), 422, "validation_failed"),
        ("too long", "1234567".into(), 422, "validation_failed"),
        ("empty", "".into(), 422, "validation_failed"),
        ("huge", "9".repeat(5000), 422, "validation_failed"),
    ];
    for (case, code, status, error) in &cases {
        let challenge = challenge_for(&server, ip, "admin", OWNER_PASSWORD).await;
        let (got, body, _) = submit_code(&server, ip, &challenge, code).await;
        assert_eq!(got.as_u16(), *status, "{case}: {body}");
        assert_eq!(body["error"]["code"], *error, "{case}");
        assert!(body.get("access_token").is_none(), "{case}");
    }

    // Challenge misuse: from another address, twice, unknown, and a refused one reused.
    let challenge = challenge_for(&server, ip, "admin", OWNER_PASSWORD).await;
    let (got, body, _) = submit_code(
        &server,
        Some("198.51.100.66"),
        &challenge,
        &code_in(secret, 1),
    )
    .await;
    assert_eq!(
        (got.as_u16(), body["error"]["code"].as_str()),
        (401, Some("challenge_invalid"))
    );
    let (got, _, _) = submit_code(&server, ip, &challenge, &code_in(secret, 1)).await;
    assert_eq!(
        got, 401,
        "a challenge presented once is gone, even from the right address"
    );
    let (got, _, _) =
        submit_code(&server, ip, "mfa_not-a-real-challenge", &code_in(secret, 1)).await;
    assert_eq!(got, 401);

    // A Persian-digit code is the same code: it works once, and its challenge is used up.
    let persian: String = code_in(secret, 1)
        .chars()
        .map(|c| char::from_u32(0x06F0 + c.to_digit(10).unwrap()).unwrap())
        .collect();
    let challenge = challenge_for(&server, ip, "admin", OWNER_PASSWORD).await;
    let (got, body, _) = submit_code(&server, ip, &challenge, &persian).await;
    assert_eq!(got, 200, "{body}");
    let (got, body, _) = submit_code(&server, ip, &challenge, &persian).await;
    assert_eq!(
        (got.as_u16(), body["error"]["code"].as_str()),
        (401, Some("challenge_invalid"))
    );

    let reasons = failure_reasons(&server, "login.second_factor").await;
    assert_eq!(
        reasons,
        [
            "wrong_code",
            "wrong_code",
            "wrong_code",
            "code_not_numeric",
            "code_not_numeric",
            "code_too_short",
            "code_too_long",
            "code_empty",
            "code_too_long",
            "challenge_other_address",
            "challenge_unknown_or_used",
            "challenge_unknown_or_used",
            "challenge_unknown_or_used",
        ]
    );
    let log = server.log_text();
    assert!(
        log.contains("reason=\"wrong_second_factor\"")
            || log.contains("reason=wrong_second_factor"),
        "{log}"
    );
    assert!(log.contains("challenge_invalid"));
    assert!(
        !log.contains(secret.as_str()),
        "the secret never reaches the log"
    );
}

#[tokio::test]
async fn second_factor_attempts_are_limited_per_account() {
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some("[rate_limits]\nsecond_factor_attempts = 3\n".into()),
            ..ServerOptions::default()
        },
    )
    .await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let factors = enrol_totp(&server, &owner).await;
    for _ in 0..3 {
        let challenge = challenge_for(&server, None, "admin", OWNER_PASSWORD).await;
        let (status, _, _) = submit_code(&server, None, &challenge, "000000").await;
        assert_eq!(status, 401);
    }
    // Even the right code is refused now, with Retry-After.
    let challenge = challenge_for(&server, None, "admin", OWNER_PASSWORD).await;
    let (status, body, headers) =
        submit_code(&server, None, &challenge, &code_in(&factors.secret, 1)).await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry_after), "{retry_after}");
    assert!(
        failure_reasons(&server, "login.second_factor")
            .await
            .contains(&"rate_limited".to_owned())
    );
}
