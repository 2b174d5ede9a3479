//! The admin allowlist: no path spelling and no forwarding header gets a client outside it
//! into `/api/admin/*` or `/api/auth/*`, and non-canonical allowlist entries stop the start.

use serde_json::json;
use spiritus_test_support::{ServerOptions, TestServer};

use crate::perimeter_support::{
    address, audit_log, client, connector, denials, generated_cert_pem, raw_request, run_binary,
    send_and_read, tls_connect,
};
use crate::{BINARY, OWNER_PASSWORD};

/// The loopback test client is outside this allowlist.
const EXCLUDING: &str = "admin_allowlist = [\"192.0.2.0/24\"]\n";

async fn start(config: &str) -> TestServer {
    TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some(config.to_owned()),
            ..ServerOptions::default()
        },
    )
    .await
}

/// Path spellings that mean an admin or auth route to a lenient reader.
const SPELLINGS: &[&str] = &[
    "/api/admin/users",
    "//api/admin/users",
    "/api//admin/users",
    "/api/./admin/users",
    "/api/x/../admin/users",
    "/api/%61dmin/users",
    "/api%2Fadmin/users",
    "/api%2fadmin%2fusers",
    "/api/%2561dmin/users",
    "/API/ADMIN/USERS",
    "/api/Admin/users",
    "/api/admin/users/",
    "/api/admin./users",
    "/api/admin;jsessionid=1/users",
    "/api/admin/users;x=1",
    "/api/admin\\users",
    "/api/auth/login",
    "/api/auth/login/",
    "/api/%61uth/login",
    "/api/admin",
    "/api/admin/does-not-exist",
];

#[tokio::test]
async fn allowlist_rejects_every_path_spelling() {
    let server = start(EXCLUDING).await;
    let before = audit_log(&server).await.len();
    for path in SPELLINGS {
        for method in ["GET", "POST"] {
            let body = br#"{"name":"intruder","traffic_limit_gb":1,"expire_days":1}"#;
            let head = format!(
                "{method} {path} HTTP/1.1\r\nContent-Type: application/json\r\nAuthorization: Bearer x"
            );
            let response = raw_request(&server, &head, body).await;
            assert_eq!(response.status, 403, "{method} {path}: {response:?}");
            assert_eq!(response.code(), "forbidden", "{method} {path}");
        }
    }
    // Paths outside the admin API stay reachable.
    let response = raw_request(&server, "GET /healthz HTTP/1.1", b"").await;
    assert_eq!(response.status, 200);

    // Every refusal was audited as an allowlist denial from the loopback address, and
    // nothing else was written: no login attempt, no user.
    let entries = audit_log(&server).await;
    let written = &entries[..entries.len() - before];
    let refused = denials(&server, "admin_allowlist").await;
    assert!(!refused.is_empty());
    assert!(
        refused
            .iter()
            .all(|entry| entry.ip.as_deref() == Some("127.0.0.1"))
    );
    assert_eq!(written.len(), refused.len(), "{written:#?}");
}

#[tokio::test]
async fn allowed_client_non_canonical_paths_rejected() {
    let server = start("admin_allowlist = [\"127.0.0.1/32\"]\n").await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let cases: &[(&str, u16)] = &[
        // the one canonical spelling reaches the handler
        ("/api/admin/users", 200),
        // a canonical spelling the router does not know
        ("/API/ADMIN/USERS", 404),
        ("/api/Admin/users", 404),
        // every other spelling is refused before routing
        ("//api/admin/users", 400),
        ("/api//admin/users", 400),
        ("/api/./admin/users", 400),
        ("/api/x/../admin/users", 400),
        ("/api/%61dmin/users", 400),
        ("/api%2Fadmin/users", 400),
        ("/api/%2561dmin/users", 400),
        ("/api/admin/users/", 400),
        ("/api/admin./users", 400),
        ("/api/admin;jsessionid=1/users", 400),
        ("/api/admin\\users", 400),
        ("/sub/../api/admin/users", 400),
    ];
    for (path, expected) in cases {
        let head = format!("GET {path} HTTP/1.1\r\nAuthorization: Bearer {token}");
        let response = raw_request(&server, &head, b"").await;
        assert_eq!(response.status, *expected, "{path}: {response:?}");
    }
}

#[tokio::test]
async fn untrusted_peer_forwarding_headers_ignored() {
    let server = start(EXCLUDING).await;
    let spoofs = [
        "X-Forwarded-For: 192.0.2.5",
        "X-Forwarded-For: 192.0.2.5, 192.0.2.6",
        "Forwarded: for=192.0.2.5",
        "Forwarded: for=\"[::ffff:192.0.2.5]\"",
        "X-Real-IP: 192.0.2.5",
        "True-Client-IP: 192.0.2.5",
        "CF-Connecting-IP: 192.0.2.5",
    ];
    for spoof in spoofs {
        let head = format!("GET /api/admin/users HTTP/1.1\r\n{spoof}");
        let response = raw_request(&server, &head, b"").await;
        assert_eq!(response.status, 403, "{spoof}");
    }
    let refused = denials(&server, "admin_allowlist").await;
    assert!(
        refused
            .iter()
            .all(|entry| entry.ip.as_deref() == Some("127.0.0.1")),
        "the audited address is the socket's, never a header's"
    );
}

#[tokio::test]
async fn forwarding_headers_trusted_only_from_proxies() {
    let server = start(
        "admin_allowlist = [\"192.0.2.0/24\", \"10.0.0.0/8\"]\n\
         trusted_proxies = [\"127.0.0.1/32\"]\n",
    )
    .await;
    let cases: &[(&str, u16)] = &[
        // an allowed client behind the proxy: past the perimeter, refused for lack of a token
        ("X-Forwarded-For: 192.0.2.5", 401),
        ("Forwarded: for=192.0.2.5;proto=https", 401),
        // IPv4-mapped IPv6 is the IPv4 address
        ("X-Forwarded-For: ::ffff:10.1.2.3", 401),
        // IPv4-compatible IPv6 is a plain IPv6 address, outside every IPv4 range
        ("X-Forwarded-For: ::10.1.2.3", 403),
        // the right-most untrusted hop counts, not a value the client put in front
        ("X-Forwarded-For: 192.0.2.5, 198.51.100.1", 403),
        // headers a client can set freely are never read
        ("X-Real-IP: 192.0.2.5", 403),
        ("True-Client-IP: 192.0.2.5", 403),
        // no header: the proxy itself is the client
        ("X-Nothing: 1", 403),
    ];
    for (header, expected) in cases {
        let head = format!("GET /api/admin/users HTTP/1.1\r\n{header}");
        let response = raw_request(&server, &head, b"").await;
        assert_eq!(response.status, *expected, "{header}: {response:?}");
    }
}

#[tokio::test]
async fn ipv4_mapped_clients_match_ipv4_ranges() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipping: this machine has no IPv6 loopback");
        return;
    }
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some("admin_allowlist = [\"127.0.0.1/32\"]\n".into()),
            listen: Some("[::]:0".into()),
            ..ServerOptions::default()
        },
    )
    .await;
    let port = address(&server).port();
    let pem = generated_cert_pem(&server);
    // A dual-stack listener sees an IPv4 client as ::ffff:127.0.0.1.
    let cases: &[(&str, u16)] = &[("127.0.0.1", 401), ("::1", 403)];
    for (ip, expected) in cases {
        let target = std::net::SocketAddr::new(ip.parse().unwrap(), port);
        let http = client(&[&pem], None, Some(target));
        let response = http
            .get(format!("https://localhost:{port}/api/admin/users"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), *expected, "{ip}");
        // The same through a raw connection, to be sure of the source address.
        let mut stream = tls_connect(target, &connector(&[&pem])).await.unwrap();
        let raw = send_and_read(&mut stream, "GET /api/admin/users HTTP/1.1", b"").await;
        assert_eq!(raw.status, *expected, "{ip} raw");
    }
    let refused = denials(&server, "admin_allowlist").await;
    assert!(
        refused
            .iter()
            .all(|entry| entry.ip.as_deref() == Some("::1"))
    );
}

#[tokio::test]
async fn non_canonical_entries_stop_start() {
    let cases = [
        ("admin_allowlist = [\"010.0.0.0/8\"]", "010.0.0.0/8"),
        ("admin_allowlist = [\"10.1/16\"]", "10.1/16"),
        ("admin_allowlist = [\"10.0.0.1/8\"]", "10.0.0.1/8"),
        ("trusted_proxies = [\"127.0.0.1/33\"]", "127.0.0.1/33"),
        ("trusted_proxies = [\"localhost\"]", "localhost"),
        (
            "[cors]\nallowed_origins = [\"https://Panel.example.com/\"]",
            "https://Panel.example.com/",
        ),
        ("[cors]\nallowed_origins = [\"null\"]", "null"),
        ("[geo]\nblocked_countries = [\"IR\"]", "geo.database"),
    ];
    for (config, named) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spiritus.toml"), format!("{config}\n")).unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let (ok, stdout, stderr) =
            run_binary(&["serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0"]);
        assert!(!ok, "{config}: started anyway");
        assert!(stderr.contains(named), "{config}: {stderr}");
        assert!(!stdout.contains("listening"), "{config}: {stdout}");
    }
}

#[tokio::test]
async fn allowlisted_admin_works_without_denials() {
    let server = start("admin_allowlist = [\"127.0.0.1/32\", \"::1\"]\n").await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let (status, body) = server
        .call(
            reqwest::Method::POST,
            "/api/admin/users",
            Some(&token),
            Some(json!({"name": "alice", "traffic_limit_gb": 1, "expire_days": 30})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(denials(&server, "admin_allowlist").await.is_empty());
}
