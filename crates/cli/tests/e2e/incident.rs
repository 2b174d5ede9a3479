//! Remediation through the API (`/api/admin/incident`) and the command line
//! (`spiritus incident …`), and the nftables export checked by `nft -c`.

use std::path::Path;
use std::process::Stdio;

use reqwest::Method;
use serde_json::json;
use spiritus_test_support::TestServer;

use crate::monitoring::{create_account, run_cli};
use crate::{BINARY, OWNER_PASSWORD};

const AGENT_PASSWORD: &str = "agent password one";
const ADMIN_PASSWORD: &str = "second admin password";

async fn login_status(server: &TestServer, name: &str, password: &str) -> (u16, serde_json::Value) {
    let (status, body) = server
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": name, "password": password})),
        )
        .await;
    (status.as_u16(), body)
}

async fn post(
    server: &TestServer,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let (status, body) = server
        .call(Method::POST, path, Some(token), Some(body))
        .await;
    (status.as_u16(), body)
}

/// Checks a ruleset with `nft -c`, which parses it and validates it against the kernel
/// without changing anything.
fn nft_check(ruleset: &str) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), ruleset).unwrap();
    let output = std::process::Command::new("nft")
        .args(["-c", "-f"])
        .arg(file.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("nft is installed (scripts/test installs Debian's nftables package)");
    assert!(
        output.status.success(),
        "nft -c rejected the ruleset:\n{}\n{ruleset}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn account_remediation_through_the_api() {
    let server = TestServer::start(BINARY).await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    create_account(server.data_dir(), "agent1", "agent", AGENT_PASSWORD).await;
    create_account(server.data_dir(), "admin2", "admin", ADMIN_PASSWORD).await;
    let agent = server.login("agent1", AGENT_PASSWORD).await;
    let admin2 = server.login("admin2", ADMIN_PASSWORD).await;

    // Revoking sessions ends the agent's token at once.
    let (status, body) = post(
        &server,
        &owner,
        "/api/admin/incident/accounts/agent1/revoke-sessions",
        json!({}),
    )
    .await;
    assert_eq!((status, body["revoked"].as_u64()), (200, Some(1)), "{body}");
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&agent), None)
        .await;
    assert_eq!(status, 401);

    // A forced reset lets the agent in, but only to change its password.
    let (status, _) = post(
        &server,
        &owner,
        "/api/admin/incident/accounts/agent1/force-password-reset",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = login_status(&server, "agent1", AGENT_PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(body["must_change_password"], true);
    let forced = body["access_token"].as_str().unwrap().to_owned();
    let (status, body) = server
        .call(Method::GET, "/api/admin/users", Some(&forced), None)
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "password_change_required");

    // A suspended account cannot log in, even with the right password; lifting restores it.
    let (status, body) = post(
        &server,
        &admin2,
        "/api/admin/incident/accounts/agent1/suspend",
        json!({"reason": "investigation"}),
    )
    .await;
    assert_eq!(
        (status, body["suspended"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&forced), None)
        .await;
    assert_eq!(status, 401);
    let (status, body) = login_status(&server, "agent1", AGENT_PASSWORD).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_credentials");
    let (status, body) = post(
        &server,
        &owner,
        "/api/admin/incident/accounts/agent1/unsuspend",
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["lifted"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(login_status(&server, "agent1", AGENT_PASSWORD).await.0, 200);

    // Admins may not act on the owner; agents may not act at all; nobody suspends itself.
    let (status, body) = post(
        &server,
        &admin2,
        "/api/admin/incident/accounts/admin/revoke-sessions",
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let agent = server.login("agent1", AGENT_PASSWORD).await;
    let (status, _) = post(
        &server,
        &agent,
        "/api/admin/incident/accounts/agent1/revoke-sessions",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &server,
        &owner,
        "/api/admin/incident/accounts/admin/suspend",
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = post(
        &server,
        &owner,
        "/api/admin/incident/accounts/nobody/suspend",
        json!({}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = post(
        &server,
        &owner,
        "/api/admin/incident/accounts/agent1/suspend",
        json!({"reason": 5}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("reason")),
        "{body}"
    );
    let (status, _) = post(
        &server,
        &owner,
        "/api/admin/incident/accounts/agent1/suspend",
        json!({"extra": 1}),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn ip_blocks_through_the_api_export_as_valid_nftables() {
    let server = TestServer::start(BINARY).await;
    let owner = server.owner_token(OWNER_PASSWORD).await;

    let (status, block) = post(
        &server,
        &owner,
        "/api/admin/incident/ip-blocks",
        json!({"ip": "203.0.113.7", "seconds": 600, "reason": "scanner"}),
    )
    .await;
    assert_eq!(status, 201, "{block}");
    assert_eq!(block["ip"], "203.0.113.7");
    // IPv4-mapped IPv6 folds into IPv4; IPv6 stays IPv6.
    let (status, block) = post(
        &server,
        &owner,
        "/api/admin/incident/ip-blocks",
        json!({"ip": "::ffff:198.51.100.4"}),
    )
    .await;
    assert_eq!(
        (status, block["ip"].as_str()),
        (201, Some("198.51.100.4")),
        "{block}"
    );
    let (status, _) = post(
        &server,
        &owner,
        "/api/admin/incident/ip-blocks",
        json!({"ip": "2001:db8::42", "seconds": 60}),
    )
    .await;
    assert_eq!(status, 201);
    for (body, field) in [
        (json!({"ip": "203.0.113.300"}), "ip"),
        (json!({"ip": "203.0.113.0/24"}), "ip"),
        (json!({"ip": "203.0.113.8", "seconds": 0}), "seconds"),
        (json!({"ip": "203.0.113.8", "seconds": -5}), "seconds"),
        (json!({"ip": "203.0.113.8", "seconds": 1e12}), "seconds"),
    ] {
        let (status, answer) = post(
            &server,
            &owner,
            "/api/admin/incident/ip-blocks",
            body.clone(),
        )
        .await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}: {answer}"
        );
    }

    let (status, list) = server
        .call(
            Method::GET,
            "/api/admin/incident/ip-blocks",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let ips: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, vec!["198.51.100.4", "2001:db8::42", "203.0.113.7"]);

    let response = server
        .client
        .get(server.url("/api/admin/incident/ip-blocks/nftables"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ruleset = response.text().await.unwrap();
    assert!(ruleset.contains("203.0.113.7 timeout"), "{ruleset}");
    assert!(ruleset.contains("2001:db8::42 timeout"), "{ruleset}");
    nft_check(&ruleset);

    let (status, body) = server
        .call(
            Method::DELETE,
            "/api/admin/incident/ip-blocks/203.0.113.7",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["lifted"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let (_, body) = server
        .call(
            Method::DELETE,
            "/api/admin/incident/ip-blocks/203.0.113.7",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(body["lifted"], false);
    let (status, _) = server
        .call(
            Method::DELETE,
            "/api/admin/incident/ip-blocks/not-an-ip",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 422);

    // Blocks are durable: a restart keeps them.
    let mut server = server;
    server.restart().await;
    let owner = server.login("admin", OWNER_PASSWORD).await;
    let (_, list) = server
        .call(
            Method::GET,
            "/api/admin/incident/ip-blocks",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
}

async fn cli(data_dir: &Path, args: &[&str]) -> String {
    let mut full = vec!["incident"];
    full.extend_from_slice(args);
    let (ok, stdout, stderr) = run_cli(data_dir, &full, "").await;
    assert!(ok, "spiritus incident {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

#[tokio::test]
async fn remediation_from_the_command_line() {
    let mut server = TestServer::start(BINARY).await;
    server.owner_token(OWNER_PASSWORD).await;
    let data_dir = server.data_dir().to_owned();
    create_account(&data_dir, "agent2", "agent", AGENT_PASSWORD).await;
    let (_, pair) = login_status(&server, "agent2", AGENT_PASSWORD).await;
    let agent = pair["access_token"].as_str().unwrap().to_owned();

    // Ending sessions from the console stops their refresh tokens at once (the database is
    // shared); their access tokens stop at the panel's next start, when it reloads the
    // durable revocations into the in-process store.
    assert!(
        cli(&data_dir, &["revoke-sessions", "agent2"])
            .await
            .contains("ended 1 session")
    );
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_eq!(status, 401);
    // Suspensions and forced resets are read from the database on every call.
    cli(
        &data_dir,
        &["suspend", "agent2", "--reason", "console test"],
    )
    .await;
    assert_eq!(login_status(&server, "agent2", AGENT_PASSWORD).await.0, 401);
    assert!(
        cli(&data_dir, &["suspend", "agent2"])
            .await
            .contains("already")
    );
    cli(&data_dir, &["unsuspend", "agent2"]).await;
    assert_eq!(login_status(&server, "agent2", AGENT_PASSWORD).await.0, 200);
    cli(&data_dir, &["force-password-reset", "agent2"]).await;
    let (_, body) = login_status(&server, "agent2", AGENT_PASSWORD).await;
    assert_eq!(body["must_change_password"], true);

    // Blocks made from the console are stored; the running in-process store loads them at
    // its next start, and the export and listing show them at once.
    cli(&data_dir, &["block-ip", "192.0.2.55", "--seconds", "900"]).await;
    cli(&data_dir, &["block-ip", "2001:db8::55"]).await;
    let listing = cli(&data_dir, &["blocks"]).await;
    assert!(
        listing.contains("192.0.2.55") && listing.contains("2001:db8::55"),
        "{listing}"
    );
    let ruleset = cli(&data_dir, &["nftables"]).await;
    nft_check(&ruleset);
    let output = data_dir.join("blocklist.nft");
    cli(
        &data_dir,
        &["nftables", "--output", output.to_str().unwrap()],
    )
    .await;
    assert!(
        std::fs::read_to_string(&output)
            .unwrap()
            .contains("2001:db8::55 timeout")
    );
    assert!(
        cli(&data_dir, &["unblock-ip", "192.0.2.55"])
            .await
            .contains("lifted")
    );
    assert!(!cli(&data_dir, &["blocks"]).await.contains("192.0.2.55"));

    server.restart().await;
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&agent), None)
        .await;
    assert_eq!(
        status, 401,
        "a session ended from the console survived a restart"
    );
    let owner = server.login("admin", OWNER_PASSWORD).await;
    let (_, list) = server
        .call(
            Method::GET,
            "/api/admin/incident/ip-blocks",
            Some(&owner),
            None,
        )
        .await;
    let ips: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, vec!["2001:db8::55"]);

    // Bad input is a clear error that changes nothing.
    let (ok, _, stderr) = run_cli(&data_dir, &["incident", "block-ip", "999.1.1.1"], "").await;
    assert!(!ok);
    assert!(stderr.contains("IPv4 or IPv6"), "{stderr}");
    let (ok, _, stderr) = run_cli(&data_dir, &["incident", "suspend", "ghost"], "").await;
    assert!(!ok);
    assert!(stderr.contains("not found"), "{stderr}");
    let (ok, help, _) = run_cli(&data_dir, &["incident", "--help"], "").await;
    assert!(ok);
    assert!(help.contains("in-process"), "{help}");
}

/// Polls the block list until `ip` appears.
async fn wait_for_block(server: &TestServer, token: &str, ip: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, list) = server
            .call(
                Method::GET,
                "/api/admin/incident/ip-blocks",
                Some(token),
                None,
            )
            .await;
        if let Some(block) = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["ip"] == ip)
        {
            return block.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{ip} was never blocked: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn failed_login_from(server: &TestServer, ip: &str, name: &str) {
    let status = server
        .client
        .post(server.url("/api/auth/login"))
        .header("X-Forwarded-For", ip)
        .json(&json!({"username": name, "password": "not the password"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}

#[tokio::test]
async fn automatic_responses_follow_the_configured_rules() {
    let config = "trusted_proxies = [\"127.0.0.1/32\"]\n\n\
        [responses]\nexempt = [\"192.0.2.0/24\"]\n\n\
        [[responses.rules]]\nevent = \"refresh_token_reused\"\naction = \"revoke_sessions\"\n\n\
        [[responses.rules]]\nevent = \"login_failed\"\naction = \"block_ip\"\nthreshold = 3\n\
        window_seconds = 600\nblock_seconds = 120\n\n\
        [[responses.rules]]\nevent = \"login_failed\"\naction = \"suspend_account\"\nthreshold = 4\n";
    let server = TestServer::start_with(
        BINARY,
        spiritus_test_support::ServerOptions {
            env: Vec::new(),
            config: Some(config.into()),
            ..Default::default()
        },
    )
    .await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    create_account(server.data_dir(), "agent3", "agent", AGENT_PASSWORD).await;

    // Three failures from one address block it; two from another do not.
    for _ in 0..3 {
        failed_login_from(&server, "198.51.100.66", "nobody-here").await;
    }
    for _ in 0..2 {
        failed_login_from(&server, "198.51.100.67", "nobody-here").await;
    }
    // The exempt network is never blocked.
    for _ in 0..3 {
        failed_login_from(&server, "192.0.2.10", "nobody-here").await;
    }
    let block = wait_for_block(&server, &owner, "198.51.100.66").await;
    assert_eq!(block["reason"], "automatic: login_failed");
    let (_, list) = server
        .call(
            Method::GET,
            "/api/admin/incident/ip-blocks",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

    // Four failures for one account suspend it, whichever addresses they came from.
    for n in 0..4 {
        failed_login_from(&server, &format!("203.0.113.{}", 100 + n), "agent3").await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while login_status(&server, "agent3", AGENT_PASSWORD).await.0 != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "agent3 was never suspended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // A reused refresh token ends every session of its account, not only its own.
    let (_, first) = login_status(&server, "admin", OWNER_PASSWORD).await;
    let (_, second) = login_status(&server, "admin", OWNER_PASSWORD).await;
    let refresh = first["refresh_token"].clone();
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(status, 401);
    let other = second["access_token"].as_str().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while server
        .call(Method::GET, "/api/admin/users", Some(other), None)
        .await
        .0
        != 401
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the other session survived the reuse"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
