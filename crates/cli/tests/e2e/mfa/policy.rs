//! Step-up on unknown addresses, the owner's second-factor policy, account management and
//! the recovery reset through the API and the command line.

use reqwest::Method;
use serde_json::json;
use spiritus_test_support::{ServerOptions, TestServer};

use super::support::{
    audit_entries, call_from, challenge_for, code_in, create_admin, enrol_totp, password_login,
    post, submit_code,
};
use crate::{BINARY, OWNER_PASSWORD};

#[tokio::test]
async fn unknown_address_requires_the_second_factor_and_raises_new_location() {
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some(
                "trusted_proxies = [\"127.0.0.1/32\"]\n[mfa]\nskip_on_known_ips_hours = 24\n"
                    .into(),
            ),
            ..ServerOptions::default()
        },
    )
    .await;
    let home = Some("203.0.113.1");
    let owner = server.owner_token(OWNER_PASSWORD).await;
    // Without a second factor a new address cannot be stepped up, but it is reported.
    let (status, _) = password_login(&server, home, "admin", OWNER_PASSWORD).await;
    assert_eq!(status, 200);
    let new_locations = audit_entries(&server, "login.new_location").await;
    assert_eq!(
        new_locations.len(),
        1,
        "127.0.0.1 was first, 203.0.113.1 is new"
    );
    assert_eq!(
        new_locations[0].after.as_ref().unwrap()["ip"],
        "203.0.113.1"
    );

    let factors = enrol_totp(&server, &owner).await;
    // A known address where no second factor was ever passed still needs one.
    let challenge = challenge_for(&server, home, "admin", OWNER_PASSWORD).await;
    let (status, _, _) = submit_code(&server, home, &challenge, &code_in(&factors.secret, 1)).await;
    assert_eq!(status, 200);
    // Now it was verified there within 24 hours: the password is enough from there.
    let (status, body) = password_login(&server, home, "admin", OWNER_PASSWORD).await;
    assert_eq!(status, 200);
    assert!(body["access_token"].is_string(), "{body}");

    // An address the account never used always needs the second factor.
    let away = Some("198.51.100.23");
    let challenge = challenge_for(&server, away, "admin", OWNER_PASSWORD).await;
    let (status, _, _) = submit_code(&server, away, &challenge, &factors.backup_codes[0]).await;
    assert_eq!(status, 200);
    let new_locations = audit_entries(&server, "login.new_location").await;
    assert_eq!(new_locations.len(), 2);
    assert_eq!(
        new_locations[0].after.as_ref().unwrap()["ip"],
        "198.51.100.23"
    );
    let log = server.log_text();
    assert!(log.contains("new_location"), "the security event is logged");
    // The next login from there skips the factor, since it was passed there.
    let (_, body) = password_login(&server, away, "admin", OWNER_PASSWORD).await;
    assert!(body["access_token"].is_string(), "{body}");
}

#[tokio::test]
async fn owner_policy_holds_admins_without_a_second_factor_to_enrolment() {
    let server = TestServer::start(BINARY).await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let owner_factors = enrol_totp(&server, &owner).await;
    let admin = create_admin(&server, &owner, "ops", "ops password 1234").await;

    let (status, body) = server
        .call(
            Method::GET,
            "/api/admin/settings/security",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"mfa_required_for_admins": false, "source": "config"})
    );
    // Only the owner may change it.
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/admin/settings/security",
            Some(&admin),
            Some(json!({"mfa_required_for_admins": true})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/admin/settings/security",
            Some(&owner),
            Some(json!({"mfa_required_for_admins": "yes"})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["error"]["field"].as_str()),
        (422, Some("mfa_required_for_admins"))
    );
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/admin/settings/security",
            Some(&owner),
            Some(json!({"mfa_required_for_admins": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["source"], "setting");
    assert_eq!(audit_entries(&server, "settings.update").await.len(), 1);

    // The admin still logs in, but may only enrol, look at its factors, or leave.
    let token = server.login("ops", "ops password 1234").await;
    let (status, body) = server
        .call(Method::GET, "/api/admin/users", Some(&token), None)
        .await;
    assert_eq!(
        (status.as_u16(), body["error"]["code"].as_str()),
        (403, Some("second_factor_enrolment_required"))
    );
    let (status, body) = server
        .call(Method::GET, "/api/auth/second-factors", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["enrolment_required"], true);
    enrol_totp(&server, &token).await;
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    // The owner has TOTP, so the policy does not hold it back.
    let challenge = challenge_for(&server, None, "admin", OWNER_PASSWORD).await;
    let (status, tokens, _) =
        submit_code(&server, None, &challenge, &owner_factors.backup_codes[0]).await;
    assert_eq!(status, 200);
    let owner = tokens["access_token"].as_str().unwrap();
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(owner), None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn owner_lists_and_creates_accounts() {
    let server = TestServer::start(BINARY).await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let cases = [
        // A decoy name is reserved.
        (
            json!({"name": "admin_backup", "role": "admin", "password": "long enough password"}),
            422,
            "name",
        ),
        // Only one owner.
        (
            json!({"name": "second", "role": "owner", "password": "long enough password"}),
            422,
            "role",
        ),
        (
            json!({"name": "x", "role": "admin", "password": "long enough password"}),
            422,
            "name",
        ),
    ];
    for (body, status, field) in cases {
        let (got, answer) = post(&server, "/api/admin/accounts", Some(&owner), body.clone()).await;
        assert_eq!(
            (got.as_u16(), answer["error"]["field"].as_str()),
            (status, Some(field)),
            "{body}"
        );
    }
    let (status, created) = post(
        &server,
        "/api/admin/accounts",
        Some(&owner),
        json!({"name": "reseller", "role": "agent", "password": "long enough password"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["must_change_password"], true);
    let (status, listed) = server
        .call(Method::GET, "/api/admin/accounts", Some(&owner), None)
        .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "reseller"]);
    let text = listed.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("password_hash"),
        "{text}"
    );
    assert_eq!(listed["items"][0]["second_factors"]["totp"], false);

    // An agent may not list accounts, and an admin may not create them.
    let agent = create_agent_token(&server).await;
    let (status, _) = server
        .call(Method::GET, "/api/admin/accounts", Some(&agent), None)
        .await;
    assert_eq!(status, 403);
    let admin = create_admin(&server, &owner, "ops", "ops password 1234").await;
    let (status, _) = post(
        &server,
        "/api/admin/accounts",
        Some(&admin),
        json!({"name": "sneaky", "role": "admin", "password": "long enough password"}),
    )
    .await;
    assert_eq!(status, 403);
}

async fn create_agent_token(server: &TestServer) -> String {
    let token = server.login("reseller", "long enough password").await;
    let (status, _) = post(
        server,
        "/api/auth/password",
        Some(&token),
        json!({"current": "long enough password", "new": "the agent's own password"}),
    )
    .await;
    assert_eq!(status, 204);
    server.login("reseller", "the agent's own password").await
}

#[tokio::test]
async fn owner_resets_another_admins_factors_by_api_and_by_command_line() {
    let mut server = TestServer::start(BINARY).await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    enrol_totp(&server, &owner).await;
    let admin = create_admin(&server, &owner, "ops", "ops password 1234").await;
    enrol_totp(&server, &admin).await;

    // Neither the admin nor the owner for itself may use the API reset.
    let (status, _) = post(
        &server,
        "/api/admin/accounts/admin/reset-2fa",
        Some(&admin),
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = post(
        &server,
        "/api/admin/accounts/admin/reset-2fa",
        Some(&owner),
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = post(
        &server,
        "/api/admin/accounts/nobody/reset-2fa",
        Some(&owner),
        json!({}),
    )
    .await;
    assert_eq!(status, 404);

    let (status, body) = post(
        &server,
        "/api/admin/accounts/ops/reset-2fa",
        Some(&owner),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["removed"]["totp"], true);
    assert_eq!(body["removed"]["backup_codes"], 10);
    // The admin's sessions ended; its next login needs only the password.
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&admin), None)
        .await;
    assert_eq!(status, 401);
    let (_, body) = password_login(&server, None, "ops", "ops password 1234").await;
    assert!(body["access_token"].is_string(), "{body}");
    let resets = audit_entries(&server, "account.reset_2fa").await;
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0].before.as_ref().unwrap()["totp"], true);

    // The owner locked out of its own account: the console resets it while the panel is down.
    server.stop().await;
    let output = std::process::Command::new(server.binary())
        .args(["admin", "reset-2fa", "admin", "--data-dir"])
        .arg(server.data_dir())
        .env("SPIRITUS_METRICS__LISTEN", "off")
        .env("SPIRITUS_CORE__ENABLED", "false")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("second factors of admin removed"),
        "{printed}"
    );
    server.restart().await;
    let (_, body) = password_login(&server, None, "admin", OWNER_PASSWORD).await;
    assert!(body["access_token"].is_string(), "{body}");
    let (status, _, _) = call_from(
        &server,
        None,
        Method::GET,
        "/api/auth/second-factors",
        body["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        audit_entries(&server, "account.reset_2fa").await[0].actor_id,
        "console"
    );
}
