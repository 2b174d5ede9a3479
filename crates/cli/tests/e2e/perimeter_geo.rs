//! Geo-blocking by country, with client addresses presented through a trusted proxy.

use spiritus_test_support::{ServerOptions, TestServer};

use crate::BINARY;
use crate::perimeter_support::{audit_log, denials, raw_request};

fn geo_database() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/geoip/GeoIP2-Country-Test.mmdb");
    path.canonicalize().unwrap().display().to_string()
}

async fn start(unknown: &str) -> TestServer {
    let config = format!(
        "trusted_proxies = [\"127.0.0.1/32\"]\n\
         [geo]\ndatabase = {:?}\nblocked_countries = [\"IR\", \"gb\"]\nunknown = \"{unknown}\"\n",
        geo_database()
    );
    TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some(config),
            ..ServerOptions::default()
        },
    )
    .await
}

async fn status_from(server: &TestServer, method: &str, path: &str, client: &str) -> u16 {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nX-Forwarded-For: {client}\r\nContent-Type: application/json"
    );
    let body: &[u8] = if method == "POST" {
        br#"{"username":"admin","password":"whatever-password"}"#
    } else {
        b""
    };
    raw_request(server, &head, body).await.status
}

#[tokio::test]
async fn blocked_countries_rejected_on_api_only() {
    let server = start("allow").await;
    let cases: &[(&str, &str, &str, u16)] = &[
        // Iran (IPv6) and Great Britain (IPv4, written in lower case in the configuration)
        ("GET", "/api/admin/users", "2a02:d2c0::1", 403),
        ("GET", "/api/admin/users", "81.2.69.142", 403),
        ("GET", "/api/admin/users", "::ffff:81.2.69.142", 403),
        ("POST", "/api/auth/login", "81.2.69.142", 403),
        // Sweden and the United States pass the perimeter (and lack a token)
        ("GET", "/api/admin/users", "89.160.20.112", 401),
        ("GET", "/api/admin/users", "216.160.83.56", 401),
        // an address without a country follows geo.unknown = allow
        ("GET", "/api/admin/users", "214.1.1.1", 401),
        // subscriptions and health checks are never geo-blocked
        ("GET", "/sub/some-token", "2a02:d2c0::1", 404),
        ("GET", "/healthz", "2a02:d2c0::1", 200),
    ];
    for (method, path, client, expected) in cases {
        let status = status_from(&server, method, path, client).await;
        assert_eq!(status, *expected, "{method} {path} from {client}");
    }
    let refused = denials(&server, "geo_blocked").await;
    assert!(!refused.is_empty());
    let audited_ips: Vec<_> = refused
        .iter()
        .filter_map(|entry| entry.ip.clone())
        .collect();
    assert!(
        audited_ips.iter().any(|ip| ip == "2a02:d2c0::1"),
        "{audited_ips:?}"
    );
    assert!(
        audited_ips.iter().any(|ip| ip == "81.2.69.142"),
        "{audited_ips:?}"
    );
    // The refused login never reached the password check.
    assert!(
        !audit_log(&server)
            .await
            .iter()
            .any(|entry| entry.action == "login")
    );
}

#[tokio::test]
async fn unknown_policy_deny_rejects_unplaced() {
    let server = start("deny").await;
    let cases: &[(&str, u16)] = &[
        // no country in the database
        ("214.1.1.1", 403),
        // not in the database at all
        ("198.51.100.7", 403),
        // a placed, unblocked country
        ("89.160.20.112", 401),
        // loopback follows geo.private (allow by default)
        ("127.0.0.1", 401),
    ];
    for (client, expected) in cases {
        let status = status_from(&server, "GET", "/api/admin/users", client).await;
        assert_eq!(status, *expected, "{client}");
    }
}
