//! The public subscription endpoint: every format parses with its required fields, the headers
//! match the admin API, HEAD works, users who may not connect get a clear empty answer,
//! rotation retires the old link, odd tokens get 404, and unknown tokens take as long as
//! known ones. No proxy core is needed: the configs come from the core settings.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use spiritus_proxy::links::ClientProfile;
use spiritus_test_support::{ServerOptions, TestServer};

use crate::core_support::decode_links;
use crate::{BINARY, OWNER_PASSWORD};

const NOTE: &str = "private-operator-note";

async fn fetch(
    server: &TestServer,
    url: &str,
    agent: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = server.client.get(url);
    if let Some(agent) = agent {
        request = request.header(USER_AGENT, agent);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Builds the userinfo header that the admin view of `user` implies.
fn expected_userinfo(user: &Value) -> String {
    let expire = chrono::DateTime::parse_from_rfc3339(user["expire_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let total = (user["traffic_limit_gb"].as_f64().unwrap() * 1e9).round() as u64;
    format!(
        "upload={}; download={}; total={total}; expire={expire}",
        user["upload_bytes"], user["download_bytes"]
    )
}

#[tokio::test]
async fn subscription_formats_headers_and_odd_tokens() {
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            env: vec![(
                "SPIRITUS_SUBSCRIPTION__PROXY_HOST".into(),
                "vpn.example.com".into(),
            )],
            config: None,
            ..Default::default()
        },
    )
    .await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let (status, user) = server
        .call(
            Method::POST,
            "/api/admin/users",
            Some(&token),
            Some(json!({"name": "bob", "traffic_limit_gb": 2.5, "expire_days": 10, "note": NOTE})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let url = user["subscription_url"].as_str().unwrap().to_owned();
    let id = user["id"].as_str().unwrap().to_owned();

    // Default: base64 share links, one per inbound, all parseable.
    let (status, headers, body) = fetch(&server, &url, None).await;
    assert_eq!(status, 200);
    let links = decode_links(&body);
    assert_eq!(links.len(), 3, "{links:?}");
    for link in &links {
        let profile = ClientProfile::parse_link(link).unwrap();
        assert_eq!(profile.host, "vpn.example.com");
    }
    assert_eq!(
        header(&headers, "subscription-userinfo"),
        expected_userinfo(&user)
    );
    assert_eq!(header(&headers, "profile-update-interval"), "12");
    assert_eq!(
        header(&headers, "content-disposition"),
        "attachment; filename=\"bob.txt\""
    );
    assert!(header(&headers, "content-type").starts_with("text/plain"));
    assert_eq!(header(&headers, "cache-control"), "no-store");

    let (_, _, plain) = fetch(&server, &format!("{url}?format=links"), None).await;
    assert_eq!(plain.lines().collect::<Vec<_>>(), links);

    check_singbox(&fetch(&server, &format!("{url}?format=singbox"), None).await);
    check_clash(&fetch(&server, &format!("{url}?format=clash"), None).await);
    check_html(
        &server,
        &fetch(&server, &format!("{url}?format=html"), None).await,
        &id,
    )
    .await;

    let agents = [
        ("ClashMeta/1.18.0", "application/yaml"),
        ("sing-box 1.8.0", "application/json"),
        ("v2rayNG/1.8.5", "text/plain"),
        ("Mozilla/5.0 (X11; Linux x86_64)", "text/html"),
    ];
    for (agent, content_type) in agents {
        let (status, headers, body) = fetch(&server, &url, Some(agent)).await;
        assert_eq!(status, 200, "{agent}");
        assert!(
            header(&headers, "content-type").starts_with(content_type),
            "{agent}"
        );
        assert!(
            !body.contains(NOTE) && !body.contains(&id),
            "{agent} leaks internals"
        );
    }
    let (status, _, _) = fetch(&server, &format!("{url}?format=bogus"), None).await;
    assert_eq!(status, 400);

    let head = server.client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        header(head.headers(), "subscription-userinfo"),
        expected_userinfo(&user)
    );
    assert!(head.text().await.unwrap().is_empty());

    // A switched-off user gets the usage header and no configs.
    let (status, _) = server
        .call(
            Method::POST,
            "/api/admin/users/bob/disable",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, headers, body) = fetch(&server, &url, None).await;
    assert_eq!(status, 200);
    assert!(decode_links(&body).is_empty());
    assert_eq!(
        header(&headers, "subscription-userinfo"),
        expected_userinfo(&user)
    );
    let (_, _, page) = fetch(&server, &format!("{url}?format=html"), None).await;
    assert!(page.contains("switched off"), "{page}");

    // Rotation retires the old link.
    let (status, rotated) = server
        .call(
            Method::POST,
            "/api/admin/users/bob/rotate-subscription",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let new_url = rotated["subscription_url"].as_str().unwrap();
    assert_ne!(new_url, url);
    assert_eq!(fetch(&server, &url, None).await.0, 404);
    assert_eq!(fetch(&server, new_url, None).await.0, 200);

    check_odd_tokens(&server).await;
    measure_known_and_unknown(&server, new_url).await;
}

fn check_singbox((status, headers, body): &(StatusCode, HeaderMap, String)) {
    assert_eq!(*status, 200);
    assert_eq!(
        header(headers, "content-disposition"),
        "attachment; filename=\"bob.json\""
    );
    let document: Value = serde_json::from_str(body).unwrap();
    let outbounds = document["outbounds"].as_array().unwrap();
    let proxies: Vec<&Value> = outbounds
        .iter()
        .filter(|o| matches!(o["type"].as_str(), Some("vmess" | "vless" | "trojan")))
        .collect();
    assert_eq!(proxies.len(), 3, "{body}");
    for proxy in proxies {
        assert_eq!(proxy["server"], "vpn.example.com");
        assert!(proxy["server_port"].as_u64().is_some());
        assert!(proxy["tag"].as_str().is_some());
        assert!(
            proxy["uuid"].is_string() || proxy["password"].is_string(),
            "{proxy}"
        );
    }
    assert!(document["route"]["final"].is_string());
}

fn check_clash((status, headers, body): &(StatusCode, HeaderMap, String)) {
    assert_eq!(*status, 200);
    assert_eq!(
        header(headers, "content-disposition"),
        "attachment; filename=\"bob.yaml\""
    );
    let document: Value = serde_yaml_ng::from_str(body).unwrap();
    let proxies = document["proxies"].as_array().unwrap();
    // Clash's trojan always speaks TLS, so the plain trojan inbound is left out.
    assert_eq!(proxies.len(), 2, "{body}");
    for proxy in proxies {
        assert!(proxy["name"].is_string());
        assert!(matches!(proxy["type"].as_str(), Some("vmess" | "vless")));
        assert_eq!(proxy["server"], "vpn.example.com");
        assert!(proxy["port"].as_u64().is_some());
        assert!(proxy["uuid"].is_string());
    }
    assert!(
        document["proxy-groups"]
            .as_array()
            .is_some_and(|g| !g.is_empty())
    );
    assert!(document["rules"].as_array().is_some_and(|r| !r.is_empty()));
}

async fn check_html(
    server: &TestServer,
    (status, headers, body): &(StatusCode, HeaderMap, String),
    id: &str,
) {
    assert_eq!(*status, 200);
    assert!(header(headers, "content-type").starts_with("text/html"));
    assert!(header(headers, "content-security-policy").contains("script-src 'self'"));
    assert_eq!(
        body.matches("<svg").count(),
        4,
        "one QR code per config and the link"
    );
    assert!(!body.contains("<script"));
    assert!(!body.contains("style="));
    assert!(!body.contains(NOTE));
    assert!(!body.contains(id));
    let (status, headers, css) = fetch(server, &server.url("/assets/subscription.css"), None).await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("text/css"));
    assert!(css.contains(".qr"));
}

async fn check_odd_tokens(server: &TestServer) {
    let long = "a".repeat(5000);
    let odd = [
        "/sub/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/sub/%2e%2e".to_owned(),
        format!("/sub/{long}"),
        "/sub/%E2%98%83%E2%98%83".to_owned(),
        "/sub/%ff%fe".to_owned(),
        format!("/sub/{}", "A".repeat(43)),
        format!("/sub/{}%00", "A".repeat(42)),
    ];
    for path in odd {
        let (status, headers, body) = fetch(server, &server.url(&path), None).await;
        assert!(
            header(&headers, "subscription-userinfo").is_empty(),
            "{path}"
        );
        // The client's URL parser resolves `%2e%2e` as a dot segment, so that request reaches
        // `/`, which is the dashboard's page.
        if path == "/sub/%2e%2e" {
            assert_eq!(status, 200, "{path}");
            assert!(body.starts_with("<!doctype html>"), "{path}: {body}");
            continue;
        }
        let error: Value = serde_json::from_str(&body).unwrap();
        // The perimeter refuses non-canonical paths (encoded slashes) before routing; every
        // other odd token reaches the subscription route, or no route, and is unknown.
        if path.contains("%2F") {
            assert_eq!(status, 400, "{path}: {body}");
            assert_eq!(error["error"]["code"], "malformed_request", "{path}");
        } else {
            assert_eq!(status, 404, "{path}: {body}");
            assert_eq!(error["error"]["code"], "not_found", "{path}");
        }
    }
}

/// Median time of known and unknown well-formed tokens, requests interleaved.
async fn measure_known_and_unknown(server: &TestServer, known: &str) {
    let unknown = format!("{}/sub/{}", server.base_url, "Z".repeat(43));
    let (mut known_times, mut unknown_times) = (Vec::new(), Vec::new());
    for _ in 0..60 {
        for (url, times, expected) in [
            (known, &mut known_times, 200),
            (unknown.as_str(), &mut unknown_times, 404),
        ] {
            let started = Instant::now();
            let response = server.client.get(url).send().await.unwrap();
            let status = response.status();
            let _ = response.bytes().await.unwrap();
            times.push(started.elapsed());
            assert_eq!(status, expected);
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (known_median, unknown_median) = (median(&mut known_times), median(&mut unknown_times));
    eprintln!(
        "subscription timing: known token median {known_median:?}, unknown token median {unknown_median:?}"
    );
    let ratio = unknown_median.as_secs_f64() / known_median.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown/known time ratio {ratio:.2}"
    );
}
