//! `vault:` references against the mock Vault, a closed port and a server that never responds.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use spiritus_secrets::vault::{VaultAuth, VaultSettings};
use spiritus_secrets::{EnvSource, ResolveContext, resolve_setting};

use crate::mock_vault::MockVault;

const TOKEN: &str = "hvs.test-token";

fn mock() -> MockVault {
    let mut secrets = HashMap::new();
    secrets.insert(
        "secret/spiritus/prod".to_owned(),
        json!({ "pepper": "p3pp3r-value", "port": 5432, "nested": { "a": "b" } }),
    );
    let mut canned = HashMap::new();
    canned.insert(
        "secret/broken".to_owned(),
        (500, r#"{"errors":["internal error"]}"#.to_owned()),
    );
    canned.insert(
        "secret/sealed".to_owned(),
        (503, r#"{"errors":["Vault is sealed"]}"#.to_owned()),
    );
    canned.insert(
        "secret/garbage".to_owned(),
        (200, "<html>not json</html>".to_owned()),
    );
    canned.insert(
        "secret/v1engine".to_owned(),
        (200, r#"{"data":{"pepper":"x"}}"#.to_owned()),
    );
    canned.insert("secret/moved".to_owned(), (307, String::new()));
    MockVault {
        tokens: vec![TOKEN.to_owned()],
        secrets,
        canned,
        ..MockVault::default()
    }
}

fn token_context(addr: &str, token: &str) -> ResolveContext {
    ResolveContext::new(EnvSource::from_pairs([
        ("VAULT_ADDR", addr),
        ("VAULT_TOKEN", token),
    ]))
}

async fn resolve(ctx: &ResolveContext, reference: &str) -> Result<String, String> {
    resolve_setting("secrets.pepper", reference, ctx)
        .await
        .map(|secret| secret.expose().to_owned())
        .map_err(|error| error.to_string())
}

#[tokio::test]
async fn token_auth_reads_a_kv2_value() {
    let (addr, _) = mock().start().await;
    let ctx = token_context(&format!("http://{addr}"), TOKEN);

    let value = resolve(&ctx, "vault:secret/spiritus/prod#pepper").await;

    assert_eq!(value.as_deref(), Ok("p3pp3r-value"));
}

#[tokio::test]
async fn vault_errors_name_setting_and_fix() {
    let (addr, _) = mock().start().await;
    let ctx = token_context(&format!("http://{addr}"), TOKEN);
    // (reference, parts of the error message)
    let rows = [
        (
            "vault:secret/nowhere#pepper",
            vec![
                "secrets.pepper: vault secret secret/nowhere#pepper",
                "no secret at secret/nowhere (404)",
            ],
        ),
        (
            "vault:secret/spiritus/prod#salt",
            vec!["has no key \"salt\"", "keys present: nested, pepper, port"],
        ),
        (
            "vault:secret/spiritus/prod#port",
            vec!["contains a number, not a string"],
        ),
        (
            "vault:secret/spiritus/prod#nested",
            vec!["contains an object"],
        ),
        (
            "vault:secret/broken#k",
            vec!["responded 500", "internal error", "retry later"],
        ),
        (
            "vault:secret/sealed#k",
            vec!["responded 503", "Vault is sealed", "may be sealed"],
        ),
        ("vault:secret/garbage#k", vec!["malformed", "not JSON"]),
        (
            "vault:secret/v1engine#pepper",
            vec!["no data.data object", "KV version 2"],
        ),
        (
            "vault:secret/moved#k",
            vec!["307 (a redirect)", "active node"],
        ),
    ];
    for (reference, parts) in rows {
        let message = resolve(&ctx, reference).await.unwrap_err();
        for part in parts {
            assert!(message.contains(part), "{reference}: {message}");
        }
        assert!(!message.contains(TOKEN), "token leaked: {message}");
    }
}

#[tokio::test]
async fn bad_token_gets_403() {
    let (addr, _) = mock().start().await;
    let ctx = token_context(&format!("http://{addr}"), "hvs.wrong");

    let message = resolve(&ctx, "vault:secret/spiritus/prod#pepper")
        .await
        .unwrap_err();

    assert!(
        message.contains("403 forbidden: permission denied"),
        "{message}"
    );
    assert!(message.contains("check the token"), "{message}");
    assert!(!message.contains("hvs.wrong"), "{message}");
}

#[tokio::test]
async fn namespace_is_sent_as_a_header() {
    let (addr, _) = MockVault {
        namespace: Some("team-a".to_owned()),
        ..mock()
    }
    .start()
    .await;
    let addr = format!("http://{addr}");
    let with = ResolveContext::new(EnvSource::from_pairs([
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", TOKEN),
        ("VAULT_NAMESPACE", "team-a"),
    ]));
    let without = token_context(&addr, TOKEN);

    let allowed = resolve(&with, "vault:secret/spiritus/prod#pepper").await;
    let refused = resolve(&without, "vault:secret/spiritus/prod#pepper").await;

    assert_eq!(allowed.as_deref(), Ok("p3pp3r-value"));
    assert!(refused.unwrap_err().contains("403"));
}

#[tokio::test]
async fn approle_logs_in_once_and_reuses_the_token() {
    let (addr, vault) = MockVault {
        tokens: vec!["hvs.from-approle".to_owned()],
        approle: Some((
            "role-1".into(),
            "secret-1".into(),
            "hvs.from-approle".into(),
        )),
        ..mock()
    }
    .start()
    .await;
    let ctx = ResolveContext::new(EnvSource::from_pairs([
        ("VAULT_ADDR", format!("http://{addr}").as_str()),
        ("VAULT_ROLE_ID", "role-1"),
        ("VAULT_SECRET_ID", "secret-1"),
    ]));

    let first = resolve(&ctx, "vault:secret/spiritus/prod#pepper").await;
    let second = resolve(&ctx, "vault:secret/spiritus/prod#pepper").await;

    assert_eq!(first.as_deref(), Ok("p3pp3r-value"));
    assert_eq!(second.as_deref(), Ok("p3pp3r-value"));
    assert_eq!(vault.logins.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn approle_with_a_wrong_secret_id_is_rejected() {
    let (addr, _) = MockVault {
        approle: Some((
            "role-1".into(),
            "secret-1".into(),
            "hvs.from-approle".into(),
        )),
        ..mock()
    }
    .start()
    .await;
    let ctx = ResolveContext::new(EnvSource::from_pairs([
        ("VAULT_ADDR", format!("http://{addr}").as_str()),
        ("VAULT_ROLE_ID", "role-1"),
        ("VAULT_SECRET_ID", "wrong-secret"),
    ]));

    let message = resolve(&ctx, "vault:secret/spiritus/prod#pepper")
        .await
        .unwrap_err();

    assert!(
        message.contains("rejected the AppRole login (400: invalid role or secret ID)"),
        "{message}"
    );
    assert!(!message.contains("wrong-secret"), "{message}");
}

#[tokio::test]
async fn vault_down_is_reported_as_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let ctx = token_context(&format!("http://{addr}"), TOKEN);

    let message = resolve(&ctx, "vault:secret/spiritus/prod#pepper")
        .await
        .unwrap_err();

    assert!(
        message.contains(&format!("cannot reach Vault at http://{addr}")),
        "{message}"
    );
    assert!(message.contains("check that Vault is running"), "{message}");
}

#[tokio::test]
async fn hanging_vault_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut settings = VaultSettings::new(format!("http://{addr}"), VaultAuth::Token(TOKEN.into()));
    settings.timeout = Duration::from_millis(300);
    let ctx = ResolveContext::new(EnvSource::from_pairs::<&str, &str>([])).with_vault(settings);

    let started = Instant::now();
    let message = resolve(&ctx, "vault:secret/spiritus/prod#pepper")
        .await
        .unwrap_err();

    assert!(message.contains("Vault timed out"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn configuration_problems_are_reported_before_any_request() {
    // (environment, part of the error)
    let rows: [(Vec<(&str, &str)>, &str); 3] = [
        (vec![], "VAULT_ADDR is not set"), // no Vault
        (
            vec![
                ("VAULT_ADDR", "http://vault.example.org:8200"),
                ("VAULT_TOKEN", TOKEN),
            ],
            "refusing plain http",
        ), // not loopback
        (
            vec![("VAULT_ADDR", "http://127.0.0.1:1")],
            "no Vault credentials",
        ), // no token, no AppRole
    ];
    for (env, expected) in rows {
        let ctx = ResolveContext::new(EnvSource::from_pairs(env));
        let message = resolve(&ctx, "vault:secret/spiritus/prod#pepper")
            .await
            .unwrap_err();
        assert!(message.contains(expected), "{message}");
    }
}

#[tokio::test]
async fn missing_ca_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("ca.pem");
    let ctx = ResolveContext::new(EnvSource::from_pairs([
        ("VAULT_ADDR", "https://127.0.0.1:1"),
        ("VAULT_TOKEN", TOKEN),
        ("VAULT_CACERT", missing.to_str().unwrap()),
    ]));

    let message = resolve(&ctx, "vault:secret/spiritus/prod#pepper")
        .await
        .unwrap_err();

    assert!(
        message.contains("cannot use the CA certificate file"),
        "{message}"
    );
}
