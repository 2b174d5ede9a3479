//! A login flood far beyond the hashing bound while another client reads the user list. The
//! reads keep succeeding, every flood request gets a response (401, 429 or 503 with
//! `Retry-After`, never a timeout), and the server's peak memory stays under the bound.
//!
//! The request limits are the harness's raised bench profile here, so every flood request
//! reaches the password check and only the hashing bound stands between it and memory.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use spiritus_test_support::server::{ServerOptions, TestServer};
use tokio::task::JoinSet;

use crate::{BINARY, OWNER_PASSWORD};

/// Concurrent Argon2 computations allowed in this test.
const HASH_CONCURRENCY: u64 = 2;
/// Memory one Argon2 computation takes.
const HASH_MIB: u64 = 64;
/// Allowance over the pre-flood peak for everything else a flood costs (connections, TLS,
/// queued tasks, allocator slack).
const MARGIN_MIB: u64 = 96;
/// Concurrent login requests in the flood.
const FLOOD: usize = 300;

/// Reads the peak resident set (`VmHWM`) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn login_flood_bounded_while_reads_succeed() {
    let server = TestServer::start_with(
        BINARY,
        ServerOptions::default().with_env(
            "SPIRITUS_LIMITS__HASH_CONCURRENCY",
            HASH_CONCURRENCY.to_string(),
        ),
    )
    .await;
    let owner = server.owner_token(OWNER_PASSWORD).await;
    let (status, _) = server
        .call(Method::GET, "/api/admin/users", Some(&owner), None)
        .await;
    assert_eq!(status, 200);
    let pid = server.pid().unwrap();
    let before = peak_rss_kib(pid);

    let reader = {
        let client = server.client.clone();
        let url = server.url("/api/admin/users");
        let owner = owner.clone();
        tokio::spawn(async move {
            let mut reads = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(8);
            while Instant::now() < deadline {
                let started = Instant::now();
                let status = client
                    .get(&url)
                    .bearer_auth(&owner)
                    .send()
                    .await
                    .map(|response| response.status());
                reads.push((status.map_err(|error| error.to_string()), started.elapsed()));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            reads
        })
    };

    let mut flood = JoinSet::new();
    for index in 0..FLOOD {
        let client = server.client.clone();
        let url = server.url("/api/auth/login");
        flood.spawn(async move {
            let response = client
                .post(url)
                .json(&json!({"username": format!("flood{index}"), "password": "guess"}))
                .send()
                .await
                .map_err(|error| error.to_string())?;
            let retry_after = response.headers().contains_key("retry-after");
            Ok::<_, String>((response.status(), retry_after))
        });
    }
    let (mut checked, mut busy, mut limited) = (0, 0, 0);
    while let Some(outcome) = flood.join_next().await {
        let (status, retry_after) = outcome
            .unwrap()
            .expect("every flood request gets a response");
        match status {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry_after, "503 carries Retry-After");
                busy += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected flood status {other}"),
        }
    }
    let reads = reader.await.unwrap();
    let after = peak_rss_kib(pid);
    let growth_mib = after.saturating_sub(before) / 1024;
    let slowest = reads
        .iter()
        .map(|(_, took)| *took)
        .max()
        .unwrap_or_default();
    println!(
        "flood of {FLOOD}: {checked} checked (401), {busy} refused busy (503), {limited} \
         rate-limited (429); {} reads, slowest {slowest:?}; peak RSS {} MiB before, {} MiB \
         after (+{growth_mib} MiB)",
        reads.len(),
        before / 1024,
        after / 1024
    );
    assert!(busy > 0, "the flood went past the hashing bound");
    assert!(checked > 0, "some flood logins were checked");
    for (status, took) in &reads {
        assert_eq!(
            status.as_ref().ok(),
            Some(&StatusCode::OK),
            "read took {took:?}"
        );
    }
    assert!(reads.len() >= 10, "reads kept flowing: {}", reads.len());
    let bound = HASH_CONCURRENCY * HASH_MIB + MARGIN_MIB;
    assert!(
        growth_mib <= bound,
        "peak memory grew by {growth_mib} MiB, over the bound of {bound} MiB"
    );
}
