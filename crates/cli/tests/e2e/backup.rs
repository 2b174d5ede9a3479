//! Encrypted backups: written while the panel runs, verified, restored into a new data
//! directory that serves the same users, and refused when damaged or for the wrong key.

use std::path::Path;
use std::process::Command;

use reqwest::Method;
use serde_json::json;
use spiritus_test_support::TestServer;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{BINARY, OWNER_PASSWORD};

/// The test identities of testdata/sops/keys.txt and the first one's recipient.
const RECIPIENT: &str = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";

fn identity_file() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sops/keys.txt")
}

fn spiritus(args: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .args(args)
        .env("SPIRITUS_METRICS__LISTEN", "off")
        .env("SPIRITUS_CORE__ENABLED", "false")
        .output()
        .unwrap()
}

#[tokio::test]
async fn backup_restores_into_a_working_panel() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let (status, _) = server
        .call(
            Method::POST,
            "/api/admin/users",
            Some(&token),
            Some(json!({"name": "kept_user", "traffic_limit_gb": 5, "expire_days": 30})),
        )
        .await;
    assert_eq!(status, 201);

    // Written while the panel runs.
    let scratch = tempfile::tempdir().unwrap();
    let archive = scratch.path().join("panel.tar.age");
    let data_dir = server.data_dir().to_str().unwrap().to_owned();
    let output = spiritus(&[
        "backup",
        "create",
        "--data-dir",
        &data_dir,
        "--output",
        archive.to_str().unwrap(),
        "--recipient",
        RECIPIENT,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&archive).unwrap();
    let pepper = std::fs::read(server.data_dir().join("secrets/pepper.key")).unwrap();
    assert!(
        !bytes
            .windows(pepper.len())
            .any(|window| window == pepper.as_slice()),
        "the pepper is readable in the backup"
    );

    let identity = identity_file();
    let output = spiritus(&[
        "backup",
        "verify",
        "--input",
        archive.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Move the original keys away: the restored panel must work from its own copies.
    std::fs::rename(
        server.data_dir().join("secrets"),
        scratch.path().join("original-secrets"),
    )
    .unwrap();
    let restored = scratch.path().join("restored");
    let output = spiritus(&[
        "backup",
        "restore",
        "--input",
        archive.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--target",
        restored.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The restored directory serves the same owner and user.
    let output = spiritus(&["user", "list", "--data-dir", restored.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("kept_user"));
    let base_url = serve_restored(&restored).await;
    let client = client_for(&restored);
    let response = client
        .post(format!("{base_url}/api/auth/login"))
        .json(&json!({"username": "admin", "password": OWNER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the restored pepper and database accept the password"
    );

    // Restoring over a non-empty directory is refused.
    let output = spiritus(&[
        "backup",
        "restore",
        "--input",
        archive.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--target",
        restored.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not empty"));
}

#[tokio::test]
async fn damaged_or_foreign_backups_are_refused() {
    let server = TestServer::start(BINARY).await;
    let scratch = tempfile::tempdir().unwrap();
    let archive = scratch.path().join("panel.tar.age");
    let data_dir = server.data_dir().to_str().unwrap().to_owned();
    let output = spiritus(&[
        "backup",
        "create",
        "--data-dir",
        &data_dir,
        "--output",
        archive.to_str().unwrap(),
        "--recipient",
        RECIPIENT,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A flipped byte in the ciphertext.
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let damaged = scratch.path().join("damaged.tar.age");
    std::fs::write(&damaged, &bytes).unwrap();
    let identity = identity_file();
    let output = spiritus(&[
        "backup",
        "verify",
        "--input",
        damaged.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]);
    assert!(!output.status.success());

    // An identity that is not a recipient.
    let foreign = scratch.path().join("foreign.txt");
    // The second test identity is valid but the backup was encrypted to the first only.
    std::fs::write(
        &foreign,
        "AGE-SECRET-KEY-1T0Z66WSXS6RMNCPSL7P2E8N4Q7SUD8VMG9ND27S08JL7Y2XAU9EQECHDS7\n",
    )
    .unwrap();
    let output = spiritus(&[
        "backup",
        "verify",
        "--input",
        archive.to_str().unwrap(),
        "--identity",
        foreign.to_str().unwrap(),
    ]);
    assert!(!output.status.success());

    // No recipient configured.
    let output = spiritus(&[
        "backup",
        "create",
        "--data-dir",
        &data_dir,
        "--output",
        scratch.path().join("x").to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("recipient"));
}

/// Starts `spiritus serve` on a restored data directory; the child dies with the test.
async fn serve_restored(data_dir: &Path) -> String {
    let mut child = tokio::process::Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("SPIRITUS_METRICS__LISTEN", "off")
        .env("SPIRITUS_CORE__ENABLED", "false")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines.next_line().await.unwrap().expect("serve exited");
        if let Some(address) = line.strip_prefix("Spiritus is listening on ") {
            break address.to_owned();
        }
    };
    tokio::spawn(async move {
        while let Ok(Some(_)) = lines.next_line().await {}
        let _ = child.wait().await;
    });
    address
}

fn client_for(data_dir: &Path) -> reqwest::Client {
    let pem = std::fs::read(data_dir.join("tls/cert.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .no_proxy()
        .build()
        .unwrap()
}
