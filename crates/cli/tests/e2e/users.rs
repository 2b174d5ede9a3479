//! VPN user management through HTTP: create, read, list, change, bulk operations, delete.

use reqwest::Method;
use serde_json::json;
use spiritus_test_support::TestServer;

use crate::{BINARY, OWNER_PASSWORD};

#[tokio::test]
async fn user_lifecycle_through_the_api() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let call = |method: Method, path: String, body: Option<serde_json::Value>| {
        let token = token.clone();
        let server = &server;
        async move { server.call(method, &path, Some(&token), body).await }
    };

    let (status, user) = call(
        Method::POST,
        "/api/admin/users".into(),
        Some(json!({"name": "alice", "traffic_limit_gb": 1.5, "expire_days": 30, "note": "VIP"})),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["traffic_limit_gb"], 1.5);
    assert_eq!(user["status"], "active");
    assert_eq!(user["note"], "VIP");
    assert_eq!(user["used_bytes"], 0);
    let url = user["subscription_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/sub/", server.base_url)),
        "{url}"
    );
    let fields: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "created_at",
            "download_bytes",
            "expire_at",
            "id",
            "name",
            "note",
            "status",
            "subscription_url",
            "traffic_limit_gb",
            "upload_bytes",
            "used_bytes"
        ]
    );

    let (status, same) = call(Method::GET, "/api/admin/users/ALICE".into(), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        same["subscription_url"], user["subscription_url"],
        "showing a link never mints a new one"
    );

    let (status, patched) = call(
        Method::PATCH,
        "/api/admin/users/alice".into(),
        Some(
            json!({"traffic_limit_gb": 3, "note": "changed", "expire_at": "2030-01-02T03:04:05Z"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["traffic_limit_gb"], 3.0);
    assert_eq!(patched["expire_at"], "2030-01-02T03:04:05Z");

    let (_, disabled) = call(Method::POST, "/api/admin/users/alice/disable".into(), None).await;
    assert_eq!(disabled["status"], "disabled");
    let (_, enabled) = call(Method::POST, "/api/admin/users/alice/enable".into(), None).await;
    assert_eq!(enabled["status"], "active");

    let (status, added) = call(
        Method::POST,
        "/api/admin/users/alice/add-traffic".into(),
        Some(json!({"gb": 0.5})),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["traffic_limit_gb"], 3.5);

    let (status, renewed) = call(
        Method::POST,
        "/api/admin/users/alice/renew".into(),
        Some(json!({"traffic_limit_gb": 20, "expire_days": 10})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(renewed["traffic_limit_gb"], 20.0);
    assert_ne!(renewed["expire_at"], patched["expire_at"]);

    let (_, reset) = call(
        Method::POST,
        "/api/admin/users/alice/reset-usage".into(),
        None,
    )
    .await;
    assert_eq!(reset["used_bytes"], 0);

    let (_, rotated) = call(
        Method::POST,
        "/api/admin/users/alice/rotate-subscription".into(),
        None,
    )
    .await;
    assert_ne!(rotated["subscription_url"], user["subscription_url"]);

    let (status, _) = call(Method::DELETE, "/api/admin/users/alice".into(), None).await;
    assert_eq!(status, 204);
    let (status, _) = call(Method::GET, "/api/admin/users/alice".into(), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bulk_create_list_and_delete() {
    let server = TestServer::start(BINARY).await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    let (status, created) = server
        .call(
            Method::POST,
            "/api/admin/users/bulk",
            Some(&token),
            Some(json!({"prefix": "shop_", "count": 12, "start": 7, "pad": 3, "traffic_limit_gb": 5, "expire_days": 30})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let names: Vec<&str> = created["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"shop_007"));
    assert_eq!(names.last(), Some(&"shop_018"));

    // A bulk request that collides with one existing name creates nothing.
    let (status, _) = server
        .call(
            Method::POST,
            "/api/admin/users/bulk",
            Some(&token),
            Some(json!({"prefix": "shop_", "count": 3, "start": 17, "pad": 3, "traffic_limit_gb": 5, "expire_days": 30})),
        )
        .await;
    assert_eq!(status, 409);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => {
                format!("/api/admin/users?limit=5&sort=-name&name_prefix=shop&cursor={cursor}")
            }
            None => "/api/admin/users?limit=5&sort=-name&name_prefix=shop".into(),
        };
        let (status, page) = server.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 12);
        for user in page["items"].as_array().unwrap() {
            seen.push(user["name"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert_eq!(seen[0], "shop_018");

    let (status, body) = server
        .call(
            Method::GET,
            "/api/admin/users?status=frozen",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "status");

    let (status, deleted) = server
        .call(
            Method::POST,
            "/api/admin/users/bulk-delete",
            Some(&token),
            Some(json!({"names": ["shop_007", "shop_008", "not_there"]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["deleted"], 2);
}
