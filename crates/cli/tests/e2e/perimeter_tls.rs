//! TLS on the perimeter: client certificates for the admin API, certificate reload without
//! dropping connections, the printed pin, and the plain-HTTP redirect.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use spiritus_test_support::{ServerOptions, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::perimeter_support::{
    TestCa, address, audit_log, client, denials, generated_cert_pem, parse_response, run_binary,
    server_certificate,
};
use crate::{BINARY, OWNER_PASSWORD};

async fn login(http: &reqwest::Client, base: &str, password: &str) -> (u16, Value) {
    let response = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn mutual_tls_guards_admin_not_public() {
    let ca = TestCa::new("Spiritus Operators CA");
    let operator = ca.client("ops-laptop");
    let stranger_ca = TestCa::new("Somebody Else CA");
    let stranger = stranger_ca.client("ops-laptop");
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("clients.pem");
    std::fs::write(&ca_path, &ca.pem).unwrap();
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some(format!("[tls]\nclient_ca = {:?}\n", ca_path)),
            ..ServerOptions::default()
        },
    )
    .await;
    let pem = generated_cert_pem(&server);
    let base = server.base_url.clone();
    let one_time = server.owner_password.clone().unwrap();

    // Without a certificate: public paths answer, the admin and auth APIs refuse.
    let anonymous = client(&[&pem], None, None);
    let health = anonymous
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let subscription = anonymous
        .get(format!("{base}/sub/unknown"))
        .send()
        .await
        .unwrap();
    assert_eq!(subscription.status(), 404);
    let (status, body) = login(&anonymous, &base, &one_time).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    let admin = anonymous
        .get(format!("{base}/api/admin/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 403);
    assert!(!denials(&server, "client_certificate").await.is_empty());
    assert!(
        !audit_log(&server)
            .await
            .iter()
            .any(|entry| entry.action == "login"),
        "the refused login never reached the password check"
    );

    // A certificate from another CA fails the handshake, so nothing is served at all.
    let foreign = client(&[&pem], Some(stranger.identity()), None);
    assert!(foreign.get(format!("{base}/healthz")).send().await.is_err());

    // The operator's certificate opens the admin API, and the audit trail names it.
    let operator_client = client(&[&pem], Some(operator.identity()), None);
    let (status, body) = login(&operator_client, &base, &one_time).await;
    assert_eq!(status, 200, "{body}");
    let first = body["access_token"].as_str().unwrap().to_owned();
    let changed = operator_client
        .post(format!("{base}/api/auth/password"))
        .bearer_auth(&first)
        .json(&json!({"current": one_time, "new": OWNER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 204);
    let (_, body) = login(&operator_client, &base, OWNER_PASSWORD).await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let created = operator_client
        .post(format!("{base}/api/admin/users"))
        .bearer_auth(&token)
        .json(&json!({"name": "alice", "traffic_limit_gb": 1, "expire_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let fingerprint: String = Sha256::digest(&operator.der)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let entries = audit_log(&server).await;
    for action in ["login", "password.change", "user.create"] {
        let entry = entries
            .iter()
            .find(|entry| entry.action == action && entry.success)
            .unwrap_or_else(|| panic!("no {action} entry in {entries:#?}"));
        let certificate = &entry.context.as_ref().unwrap()["client_certificate"];
        assert_eq!(certificate["sha256"], fingerprint.as_str(), "{action}");
        assert!(
            certificate["subject"]
                .as_str()
                .unwrap()
                .contains("ops-laptop"),
            "{action}"
        );
    }
}

#[tokio::test]
async fn certificate_reload_keeps_open_connections() {
    let first = server_certificate();
    let second = server_certificate();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, &first.cert_pem).unwrap();
    std::fs::write(&key_path, &first.key_pem).unwrap();
    let config = format!("[tls]\ncert = {cert_path:?}\nkey = {key_path:?}\n");
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some(config.clone()),
            ..ServerOptions::default()
        },
    )
    .await;
    let roots: [&[u8]; 2] = [first.cert_pem.as_bytes(), second.cert_pem.as_bytes()];
    let target = Some(address(&server));
    let url = format!("https://localhost:{}/healthz", address(&server).port());
    let served = |response: &reqwest::Response| -> Vec<u8> {
        response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .unwrap()
            .to_vec()
    };

    // One connection opened before the swap.
    let early = client(&roots, None, target);
    let response = early.get(&url).send().await.unwrap();
    assert_eq!(served(&response), first.der);

    // `tls pin` prints the pin of the certificate being served.
    let config_path = dir.path().join("spiritus.toml");
    std::fs::write(&config_path, &config).unwrap();
    let pin_of = |der: &[u8]| {
        spiritus_server::tls::spki_pin(&rustls_pki_types::CertificateDer::from(der.to_vec()))
            .unwrap()
    };
    let pin_command = || {
        let (ok, stdout, stderr) = run_binary(&[
            "tls",
            "pin",
            "--data-dir",
            server.data_dir().to_str().unwrap(),
            "--config",
            config_path.to_str().unwrap(),
        ]);
        assert!(ok, "{stderr}");
        stdout.trim().to_owned()
    };
    assert_eq!(pin_command(), pin_of(&first.der));
    assert!(
        server
            .stdout
            .iter()
            .any(|line| line.ends_with(&pin_of(&first.der)))
    );

    std::fs::write(&key_path, &second.key_pem).unwrap();
    std::fs::write(&cert_path, &second.cert_pem).unwrap();

    // New handshakes see the new certificate once the files are noticed.
    let mut swapped = false;
    for _ in 0..40 {
        let fresh = client(&roots, None, target);
        let response = fresh.get(&url).send().await.unwrap();
        if served(&response) == second.der {
            swapped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(swapped, "the new certificate was never served");
    assert_eq!(pin_command(), pin_of(&second.der));

    // The connection opened before the swap still works, still on the old certificate.
    let response = early.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(served(&response), first.der);
}

#[tokio::test]
async fn plain_http_only_redirects_same_path() {
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some(
                "http_redirect_listen = \"127.0.0.1:0\"\n[tls]\nhsts_preload = true\n".into(),
            ),
            ..ServerOptions::default()
        },
    )
    .await;
    let plain = server
        .stdout
        .iter()
        .find_map(|line| line.strip_prefix("Redirecting plain HTTP on http://"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the redirect address is printed")
        .to_owned();
    let cases = [
        (
            "GET /api/admin/users?limit=5&cursor=a%20b HTTP/1.1",
            "/api/admin/users?limit=5&cursor=a%20b",
        ),
        ("GET /healthz HTTP/1.1", "/healthz"),
        ("POST /api/auth/login HTTP/1.1", "/api/auth/login"),
        ("GET http://evil.test/sub/x HTTP/1.1", "/sub/x"),
        ("GET //evil.test/x HTTP/1.1", "//evil.test/x"),
    ];
    for (line, path) in cases {
        let mut stream = tokio::net::TcpStream::connect(&plain).await.unwrap();
        let body = r#"{"username":"admin","password":"x"}"#;
        let request = format!(
            "{line}\r\nHost: evil.test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .unwrap()
            .unwrap();
        let response = parse_response(&answer);
        assert_eq!(response.status, 308, "{line}");
        assert_eq!(
            response.header("location"),
            Some(format!("{}{path}", server.base_url).as_str()),
            "{line}"
        );
        assert!(response.header("strict-transport-security").is_none());
        assert!(response.body.is_empty(), "{line}: {}", response.body);
    }
    // The HTTPS side sends HSTS with preload, as configured.
    let response = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains; preload"
    );
    // Nothing was logged in: the redirect never served the API.
    assert!(
        !audit_log(&server)
            .await
            .iter()
            .any(|entry| entry.action == "login")
    );
}
