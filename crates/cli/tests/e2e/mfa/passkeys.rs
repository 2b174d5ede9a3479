//! Passkeys end to end with a software authenticator: registration, listing, renaming, the
//! passkey login, and the assertions an attacker could replay or forge (a used ceremony, a
//! counter that did not grow, another origin, another RP id, another account's credential).
//! Forged assertions are built at the authenticator's backend level, below the client-side
//! checks that would refuse to sign them.

use reqwest::Method;
use serde_json::{Value, json};
use spiritus_test_support::{ServerOptions, TestServer};
use webauthn_authenticator_rs::AuthenticatorBackend;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url,
    WebauthnAuthenticator,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use super::support::{challenge_for, create_admin, failure_reasons, post};
use crate::{BINARY, OWNER_PASSWORD};

/// Starts a panel whose public URL is `https://localhost:<port>`, so passkeys are on with RP id
/// `localhost`; the test client still connects to 127.0.0.1.
async fn passkey_server() -> (TestServer, Url) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("https://localhost:{port}");
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some(format!("public_url = \"{origin}\"\n")),
            listen: Some(format!("127.0.0.1:{port}")),
            ..ServerOptions::default()
        },
    )
    .await;
    (server, Url::parse(&origin).unwrap())
}

/// Registers a passkey of `authenticator` for the account of `token`.
async fn register(
    server: &TestServer,
    token: &str,
    authenticator: &mut SoftPasskey,
    origin: &Url,
    name: &str,
) -> Value {
    let (status, options) = post(
        server,
        "/api/auth/webauthn/register/start",
        Some(token),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{options}");
    let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let credential = authenticator
        .do_registration(origin.clone(), options)
        .unwrap();
    let (status, body) = post(
        server,
        "/api/auth/webauthn/register/finish",
        Some(token),
        json!({"name": name, "credential": credential}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Logs in with the password and starts the passkey step; returns the challenge and the
/// request options.
async fn start_passkey_login(
    server: &TestServer,
    username: &str,
    password: &str,
) -> (String, RequestChallengeResponse) {
    let challenge = challenge_for(server, None, username, password).await;
    let (status, options) = post(
        server,
        "/api/auth/webauthn/login/start",
        None,
        json!({"challenge": challenge}),
    )
    .await;
    assert_eq!(status, 200, "{options}");
    (challenge, serde_json::from_value(options).unwrap())
}

async fn finish(
    server: &TestServer,
    challenge: &str,
    assertion: &PublicKeyCredential,
) -> (u16, Value) {
    let (status, body) = post(
        server,
        "/api/auth/webauthn/login/finish",
        None,
        json!({"challenge": challenge, "credential": assertion}),
    )
    .await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn passkey_registration_login_and_management() {
    let (server, origin) = passkey_server().await;
    assert!(server.log_text().contains("passkeys are on"));
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let mut authenticator = SoftPasskey::new(true);

    let registered = register(&server, &owner, &mut authenticator, &origin, "laptop").await;
    assert_eq!(registered["name"], "laptop");
    let backup_codes = registered["backup_codes"].as_array().unwrap().clone();
    assert_eq!(
        backup_codes.len(),
        10,
        "the first passkey brings backup codes"
    );
    let id = registered["id"].as_str().unwrap().to_owned();

    let (status, _) = server
        .call(
            Method::PATCH,
            &format!("/api/auth/webauthn/credentials/{id}"),
            Some(&owner),
            Some(json!({"name": "work laptop"})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, listed) = server
        .call(
            Method::GET,
            "/api/auth/webauthn/credentials",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"][0]["name"], "work laptop");
    assert!(
        !listed.to_string().contains("cred"),
        "no key material: {listed}"
    );

    // The login offers the passkey and accepts its assertion.
    let challenge = challenge_for(&server, None, "admin", OWNER_PASSWORD).await;
    let (_, body) = super::support::password_login(&server, None, "admin", OWNER_PASSWORD).await;
    assert_eq!(body["methods"], json!(["backup_code", "webauthn"]));
    let (status, options) = post(
        &server,
        "/api/auth/webauthn/login/start",
        None,
        json!({"challenge": challenge}),
    )
    .await;
    assert_eq!(status, 200, "{options}");
    let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
    let assertion = authenticator
        .do_authentication(origin.clone(), options)
        .unwrap();
    let (status, tokens) = finish(&server, &challenge, &assertion).await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap().to_owned();

    // Replaying the same assertion: the ceremony state is gone.
    let (status, body) = finish(&server, &challenge, &assertion).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("challenge_invalid"))
    );

    // Removing it needs the password and a second factor.
    let path = format!("/api/auth/webauthn/credentials/{id}");
    let (status, _) = server
        .call(
            Method::DELETE,
            &path,
            Some(&token),
            Some(json!({"password": OWNER_PASSWORD, "code": "000000"})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = server
        .call(
            Method::DELETE,
            &path,
            Some(&token),
            Some(json!({"password": "wrong password!", "code": backup_codes[0]})),
        )
        .await;
    assert_eq!(status, 401);
    let (status, body) = server
        .call(
            Method::DELETE,
            &path,
            Some(&token),
            Some(json!({"password": OWNER_PASSWORD, "code": backup_codes[0]})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (_, overview) = server
        .call(Method::GET, "/api/auth/second-factors", Some(&token), None)
        .await;
    assert_eq!(overview["passkeys"], json!([]));
    assert_eq!(
        overview["backup_codes_left"], 0,
        "no factor left, so no backup codes"
    );
}

#[tokio::test]
async fn forged_and_replayed_passkey_assertions_are_refused() {
    let (server, origin) = passkey_server().await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let mut authenticator = SoftPasskey::new(true);
    register(&server, &owner, &mut authenticator, &origin, "key").await;
    let admin = create_admin(&server, &owner, "ops", "ops password 1234").await;
    let mut other_authenticator = SoftPasskey::new(true);
    register(
        &server,
        &admin,
        &mut other_authenticator,
        &origin,
        "ops key",
    )
    .await;

    // A counter that did not grow: sign two ceremonies, finish the later one first.
    let (first_challenge, first_options) =
        start_passkey_login(&server, "admin", OWNER_PASSWORD).await;
    let (second_challenge, second_options) =
        start_passkey_login(&server, "admin", OWNER_PASSWORD).await;
    let earlier = authenticator
        .do_authentication(origin.clone(), first_options)
        .unwrap();
    let later = authenticator
        .do_authentication(origin.clone(), second_options)
        .unwrap();
    assert_eq!(finish(&server, &second_challenge, &later).await.0, 200);
    assert_eq!(finish(&server, &first_challenge, &earlier).await.0, 401);

    // An assertion made for another origin.
    let (challenge, options) = start_passkey_login(&server, "admin", OWNER_PASSWORD).await;
    let evil = Url::parse("https://evil.example").unwrap();
    let forged = authenticator
        .perform_auth(evil, options.public_key, 60_000)
        .unwrap();
    assert_eq!(finish(&server, &challenge, &forged).await.0, 401);

    // An assertion over another RP id.
    let (challenge, mut options) = start_passkey_login(&server, "admin", OWNER_PASSWORD).await;
    options.public_key.rp_id = "example.org".into();
    let forged = authenticator
        .perform_auth(origin.clone(), options.public_key, 60_000)
        .unwrap();
    assert_eq!(finish(&server, &challenge, &forged).await.0, 401);

    // Another account's registered passkey, offered for this account's ceremony.
    let (challenge, mut options) = start_passkey_login(&server, "admin", OWNER_PASSWORD).await;
    options.public_key.allow_credentials.clear();
    let (_, ops_options) = start_passkey_login(&server, "ops", "ops password 1234").await;
    options.public_key.allow_credentials = ops_options.public_key.allow_credentials;
    let foreign = other_authenticator
        .perform_auth(origin.clone(), options.public_key, 60_000)
        .unwrap();
    assert_eq!(finish(&server, &challenge, &foreign).await.0, 401);

    // A ceremony finished with another account's challenge.
    let (_, options) = start_passkey_login(&server, "admin", OWNER_PASSWORD).await;
    let (ops_challenge, _) = start_passkey_login(&server, "ops", "ops password 1234").await;
    let assertion = authenticator
        .do_authentication(origin.clone(), options)
        .unwrap();
    assert_eq!(finish(&server, &ops_challenge, &assertion).await.0, 401);

    let reasons = failure_reasons(&server, "login.second_factor").await;
    assert_eq!(
        reasons,
        [
            "passkey_counter_not_increased",
            "passkey_wrong_origin",
            "passkey_wrong_rp_id",
            // Neither ceremony allows the other account's credential.
            "passkey_unknown_credential",
            "passkey_unknown_credential",
        ]
    );
}

#[tokio::test]
async fn passkeys_are_off_with_an_ip_address_public_url() {
    let server = TestServer::start(BINARY).await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let (status, body) = post(
        &server,
        "/api/auth/webauthn/register/start",
        Some(&owner),
        json!({}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (404, Some("passkeys_disabled"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("IP address")
    );
    assert!(server.log_text().contains("passkeys are off"));
}
