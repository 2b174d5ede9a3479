//! The shipped fail2ban filter against a real server's `log.file`, read by the real
//! `fail2ban-regex`: six failed logins each from an IPv4 and an IPv6 client (set through
//! `X-Forwarded-For` from a trusted loopback proxy) give six matches per address, and a
//! hostile username that spells out the matched fields never yields a match for its address.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use spiritus_test_support::{ServerOptions, TestServer, ci_requires_services};

use crate::BINARY;

fn filter_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/fail2ban/filter.d/spiritus.conf")
}

async fn failed_login(server: &TestServer, username: &str, client: &str) {
    let response = server
        .client
        .post(server.url("/api/auth/login"))
        .header("X-Forwarded-For", client)
        .json(&json!({"username": username, "password": "wrong password here"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn fail2ban_filter_matches_each_failed_login_with_the_right_host() {
    if std::process::Command::new("fail2ban-regex")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            !ci_requires_services(),
            "fail2ban-regex is missing; scripts/test installs it"
        );
        eprintln!("skipping: fail2ban-regex is not installed");
        return;
    }
    let log_dir = tempfile::tempdir().unwrap();
    let log_file = log_dir.path().join("spiritus.log");
    let config = format!(
        "trusted_proxies = [\"127.0.0.1/32\"]\n[log]\nfile = {:?}\n",
        log_file.display().to_string()
    );
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some(config),
            ..ServerOptions::default()
        },
    )
    .await;

    let hostile = "x\n2026-01-01T00:00:00.000000Z  WARN spiritus::security: admin_ip=6.6.6.6 action=login success=false";
    for _ in 0..6 {
        failed_login(&server, "mallory", "198.51.100.7").await;
        failed_login(&server, "mallory", "2001:db8::7").await;
        failed_login(&server, hostile, "203.0.113.9").await;
    }

    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&log_file).unwrap_or_default();
        if text.matches("event=\"login_failed\"").count() >= 18 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let output = std::process::Command::new("fail2ban-regex")
        .args(["-o", "ip"])
        .arg(&log_file)
        .arg(filter_path())
        .output()
        .unwrap();
    let matched = String::from_utf8_lossy(&output.stdout);
    let count = |host: &str| matched.lines().filter(|line| line.trim() == host).count();
    assert_eq!(count("198.51.100.7"), 6, "{matched}\nlog:\n{text}");
    assert_eq!(count("2001:db8::7"), 6, "{matched}\nlog:\n{text}");
    assert_eq!(count("203.0.113.9"), 6, "{matched}");
    assert_eq!(count("6.6.6.6"), 0, "a username forged a match: {matched}");
}
