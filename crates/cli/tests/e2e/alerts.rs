//! Alerts reach local receivers playing SMTP (STARTTLS and implicit TLS), Slack, the
//! Telegram Bot API, a signed generic webhook and PagerDuty Events v2: once per deduplicated
//! event, after retries, never holding a typed password, and never slowing a request even
//! while a receiver hangs or an alert storm overflows the queues.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use spiritus_test_support::{ServerOptions, TestServer};

use crate::monitoring::{create_account, metrics_url, scrape_until};
use crate::receivers::{HttpReceiver, Plays, SmtpReceiver};
use crate::{BINARY, OWNER_PASSWORD};

const BOT_TOKEN: &str = "123456:test-bot-token-AAbb";
const ROUTING_KEY: &str = "routing-key-0123456789abcdef";
const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";
const SMTP_PASSWORD: &str = "smtp-password-0123456789";
const SLACK_PATH: &str = "/services/T000/B000/slack-path-secret";
const SECOND_ADMIN_PASSWORD: &str = "second admin right password";

struct Receivers {
    slack: HttpReceiver,
    telegram: HttpReceiver,
    webhook: HttpReceiver,
    pagerduty: HttpReceiver,
    redirect: HttpReceiver,
    starttls: SmtpReceiver,
    implicit: SmtpReceiver,
    _ca_dir: tempfile::TempDir,
    config: String,
}

async fn receivers() -> Receivers {
    let slack = HttpReceiver::start(Plays::Slack, 0, false).await;
    let telegram = HttpReceiver::start(Plays::Telegram, 0, false).await;
    let webhook = HttpReceiver::start(Plays::Webhook, 1, false).await;
    let pagerduty = HttpReceiver::start(Plays::PagerDuty, 0, false).await;
    let redirect = HttpReceiver::start(Plays::Redirect, 0, false).await;
    let starttls = SmtpReceiver::start(false).await;
    let implicit = SmtpReceiver::start(true).await;
    let ca_dir = tempfile::tempdir().unwrap();
    let starttls_ca = ca_dir.path().join("starttls.pem");
    let implicit_ca = ca_dir.path().join("implicit.pem");
    std::fs::write(&starttls_ca, &starttls.certificate_pem).unwrap();
    std::fs::write(&implicit_ca, &implicit.certificate_pem).unwrap();
    let email = |name: &str, tls: &str, port: u16, ca: &std::path::Path| {
        format!(
            "[[alerts.channels]]\ntype = \"email\"\nname = \"{name}\"\nhost = \"localhost\"\n\
             port = {port}\ntls = \"{tls}\"\nusername = \"alerts\"\n\
             password = \"env:MONITORING_TEST_SMTP_PASSWORD\"\n\
             from = \"Spiritus <alerts@example.test>\"\n\
             to = [\"ops@example.test\", \"oncall@example.test\"]\nca_file = \"{}\"\n\n",
            ca.display()
        )
    };
    let config = format!(
        "trusted_proxies = [\"127.0.0.1/32\"]\n\n\
         [alerts]\ndedup_window_seconds = 300\nretry_initial_ms = 100\nretry_max_seconds = 1\n\
         timeout_seconds = 5\n\n\
         [[alerts.channels]]\ntype = \"slack\"\nurl = \"{slack}\"\n\n\
         [[alerts.channels]]\ntype = \"telegram\"\nbot_token = \"env:MONITORING_TEST_BOT_TOKEN\"\n\
         chat_ids = [4242, \"@ops\"]\napi_base_url = \"{telegram}\"\n\n\
         [[alerts.channels]]\ntype = \"webhook\"\nurl = \"{webhook}\"\n\
         secret = \"env:MONITORING_TEST_WEBHOOK_SECRET\"\n\n\
         [[alerts.channels]]\ntype = \"pagerduty\"\nrouting_key = \"env:MONITORING_TEST_ROUTING_KEY\"\n\
         base_url = \"{pagerduty}\"\n\n\
         [[alerts.channels]]\ntype = \"slack\"\nname = \"moved\"\nurl = \"{redirect}\"\n\n\
         {starttls_channel}{implicit_channel}",
        slack = slack.url(SLACK_PATH),
        telegram = telegram.url(""),
        webhook = webhook.url("/hook"),
        pagerduty = pagerduty.url(""),
        redirect = redirect.url("/moved"),
        starttls_channel = email(
            "mail-starttls",
            "starttls",
            starttls.address.port(),
            &starttls_ca
        ),
        implicit_channel = email(
            "mail-implicit",
            "implicit",
            implicit.address.port(),
            &implicit_ca
        ),
    );
    Receivers {
        slack,
        telegram,
        webhook,
        pagerduty,
        redirect,
        starttls,
        implicit,
        _ca_dir: ca_dir,
        config,
    }
}

fn secret_env() -> Vec<(String, String)> {
    vec![
        ("SPIRITUS_METRICS__LISTEN".into(), "127.0.0.1:0".into()),
        ("MONITORING_TEST_BOT_TOKEN".into(), BOT_TOKEN.into()),
        ("MONITORING_TEST_ROUTING_KEY".into(), ROUTING_KEY.into()),
        (
            "MONITORING_TEST_WEBHOOK_SECRET".into(),
            WEBHOOK_SECRET.into(),
        ),
        ("MONITORING_TEST_SMTP_PASSWORD".into(), SMTP_PASSWORD.into()),
    ]
}

async fn login_from(server: &TestServer, ip: &str, username: &str, password: &str) -> u16 {
    server
        .client
        .post(server.url("/api/auth/login"))
        .header("X-Forwarded-For", ip)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn verify_signature(request: &crate::receivers::Received) {
    let timestamp = request.header("X-Spiritus-Timestamp");
    let signature = request.header("X-Spiritus-Signature");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&request.body);
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(signature, expected, "the webhook signature does not verify");
}

/// Waits a little and checks nothing more arrived.
async fn settles(receiver: &HttpReceiver, count: usize) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.count(), count, "{:?}", receiver.requests());
}

#[tokio::test]
async fn every_channel_delivers_one_alert_per_deduplicated_event() {
    let receivers = receivers().await;
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            env: secret_env(),
            config: Some(receivers.config.clone()),
            ..Default::default()
        },
    )
    .await;
    let owner = server.owner_token(OWNER_PASSWORD).await;

    // Three failed logins from one address: one alert per channel.
    for _ in 0..3 {
        assert_eq!(
            login_from(&server, "198.51.100.7", "admin", "wrong password").await,
            401
        );
    }
    let timeout = Duration::from_secs(20);
    let slack = receivers.slack.wait_for(1, timeout).await;
    let telegram = receivers.telegram.wait_for(2, timeout).await;
    // The webhook answered 500 first: the alert was sent again and accepted.
    let webhook = receivers.webhook.wait_for(2, timeout).await;
    let pagerduty = receivers.pagerduty.wait_for(1, timeout).await;
    settles(&receivers.webhook, 2).await;
    assert_eq!(receivers.slack.count(), 1);
    assert_eq!(receivers.telegram.count(), 2);
    assert_eq!(receivers.pagerduty.count(), 1);

    assert_eq!(slack[0].path, SLACK_PATH);
    assert!(
        slack[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("failed login")
    );
    let mut chats = Vec::new();
    for request in &telegram {
        assert_eq!(request.path, format!("/bot{BOT_TOKEN}/sendMessage"));
        chats.push(request.json()["chat_id"].clone());
    }
    assert_eq!(chats, vec![json!(4242), json!("@ops")]);
    assert_eq!(webhook[0].body, webhook[1].body);
    for request in &webhook {
        verify_signature(request);
    }
    let body = webhook[1].json();
    assert_eq!(body["event"], "login_failed");
    assert_eq!(body["dedup_key"], "spiritus/login_failed/198.51.100.7");
    let event = pagerduty[0].json();
    assert_eq!(pagerduty[0].path, "/v2/enqueue");
    assert_eq!(event["routing_key"], ROUTING_KEY);
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(event["dedup_key"], "spiritus/login_failed/198.51.100.7");
    assert_eq!(event["payload"]["severity"], "warning");
    assert_eq!(event["payload"]["source"], "spiritus");

    for smtp in [&receivers.starttls, &receivers.implicit] {
        let deadline = Instant::now() + timeout;
        while smtp.mails().is_empty() {
            assert!(Instant::now() < deadline, "no mail arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mails = smtp.mails();
        assert_eq!(mails.len(), 1);
        assert!(mails[0].encrypted);
        assert_eq!(mails[0].auth, format!("alerts\0{SMTP_PASSWORD}"));
        assert_eq!(
            mails[0].recipients,
            vec!["<ops@example.test>", "<oncall@example.test>"]
        );
        assert!(mails[0].data.contains("failed login"), "{}", mails[0].data);
    }

    // A suspended account logs in with its right password: the login fails, and the alert
    // about it names the account but not the password.
    create_account(server.data_dir(), "admin2", "admin", SECOND_ADMIN_PASSWORD).await;
    let (status, _) = server
        .call(
            Method::POST,
            "/api/admin/incident/accounts/admin2/suspend",
            Some(&owner),
            Some(json!({"reason": "under investigation"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        login_from(&server, "203.0.113.50", "admin2", SECOND_ADMIN_PASSWORD).await,
        401
    );
    let pagerduty = receivers.pagerduty.wait_for(3, timeout).await;
    let kinds: Vec<String> = pagerduty
        .iter()
        .map(|request| {
            request.json()["payload"]["class"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert!(
        kinds.iter().any(|kind| kind == "account_suspended"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|kind| *kind == "login_failed").count(),
        2,
        "{kinds:?}"
    );

    // Blocking and unblocking an address opens and resolves one PagerDuty incident.
    let (status, _) = server
        .call(
            Method::POST,
            "/api/admin/incident/ip-blocks",
            Some(&owner),
            Some(json!({"ip": "203.0.113.77"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .call(
            Method::DELETE,
            "/api/admin/incident/ip-blocks/203.0.113.77",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let pagerduty = receivers.pagerduty.wait_for(5, timeout).await;
    let block_events: Vec<Value> = pagerduty
        .iter()
        .map(|request| request.json())
        .filter(|event| event["dedup_key"] == "spiritus/ip_blocked/203.0.113.77")
        .collect();
    let actions: Vec<&str> = block_events
        .iter()
        .map(|event| event["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["trigger", "resolve"]);

    // Nothing any receiver got, and nothing in the log, holds a password or a channel secret.
    let one_time = server.owner_password.clone().unwrap();
    let mut everything = String::new();
    for receiver in [
        &receivers.slack,
        &receivers.telegram,
        &receivers.webhook,
        &receivers.pagerduty,
    ] {
        for request in receiver.requests() {
            everything.push_str(&String::from_utf8_lossy(&request.body));
        }
    }
    for smtp in [&receivers.starttls, &receivers.implicit] {
        for mail in smtp.mails() {
            everything.push_str(&mail.data);
        }
    }
    assert!(everything.contains("admin2"));
    for secret in [
        SECOND_ADMIN_PASSWORD,
        OWNER_PASSWORD,
        &one_time,
        "wrong password",
    ] {
        assert!(
            !everything.contains(secret),
            "an alert holds a typed password"
        );
    }
    let log = server.log_text();
    for secret in [
        BOT_TOKEN,
        ROUTING_KEY,
        WEBHOOK_SECRET,
        SMTP_PASSWORD,
        "slack-path-secret",
        SECOND_ADMIN_PASSWORD,
    ] {
        assert!(!log.contains(secret), "the log holds {secret}");
    }

    // A receiver that redirects gets one attempt per alert, never followed and never retried.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let slack_count = receivers.slack.count();
    let moved = receivers.redirect.wait_for(slack_count, timeout).await;
    assert!(
        moved.iter().all(|request| request.path == "/moved"),
        "{moved:?}"
    );
    settles(&receivers.redirect, slack_count).await;
    assert!(
        server.log_text().contains("redirect"),
        "the redirect failure was not logged"
    );

    let url = metrics_url(&server);
    let text = scrape_until(
        &url,
        &[
            "spiritus_alerts_failed_total{channel=\"moved\"}",
            "spiritus_alerts_retried_total{channel=\"webhook\"} 1",
            "spiritus_alerts_sent_total{channel=\"mail-implicit\"}",
            "spiritus_alerts_deduplicated_total 2",
        ],
    )
    .await;
    assert!(!text.contains("spiritus_alerts_retried_total{channel=\"moved\"}"));
}

/// Resident memory of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_hanging_receiver_and_an_alert_storm_never_slow_requests() {
    const STORM: usize = 10_000;
    let hanging = HttpReceiver::start(Plays::Webhook, 0, true).await;
    let config = format!(
        "trusted_proxies = [\"127.0.0.1/32\"]\n\n[rate_limits]\nenabled = false\n\n\
         [alerts]\nqueue_capacity = 100\ntimeout_seconds = 600\n\n\
         [[alerts.channels]]\ntype = \"webhook\"\nname = \"stuck\"\nurl = \"{}\"\n\
         secret = \"env:MONITORING_TEST_WEBHOOK_SECRET\"\n",
        hanging.url("/hook")
    );
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            env: secret_env(),
            config: Some(config),
            ..Default::default()
        },
    )
    .await;
    server.owner_token(OWNER_PASSWORD).await;
    create_account(server.data_dir(), "agent9", "agent", "agent nine password").await;
    let agent = server.login("agent9", "agent nine password").await;

    // The receiver now holds the first alert forever; requests go on at their usual pace.
    let started = Instant::now();
    assert_eq!(
        login_from(&server, "198.51.100.9", "admin", "wrong").await,
        401
    );
    hanging.wait_for(1, Duration::from_secs(20)).await;
    let started_second = Instant::now();
    assert_eq!(
        login_from(&server, "198.51.100.10", "admin", "wrong").await,
        401
    );
    let second = started_second.elapsed();
    assert!(
        second < Duration::from_secs(5),
        "a request waited on the receiver: {second:?}"
    );
    eprintln!(
        "failed logins took {:?} and {second:?}",
        started.elapsed() - second
    );

    let pid = server.pid().unwrap();
    let rss_before = rss_kib(pid);
    let storm_started = Instant::now();
    let storm_over = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let client = server.client.clone();
        let health = server.url("/healthz");
        let storm_over = std::sync::Arc::clone(&storm_over);
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            while !storm_over.load(std::sync::atomic::Ordering::SeqCst) {
                let asked = Instant::now();
                let response = client.get(&health).send().await.unwrap();
                assert_eq!(response.status(), 200);
                slowest = slowest.max(asked.elapsed());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            slowest
        })
    };
    // Every request is refused by role from its own address, so no two alerts deduplicate.
    let mut workers = Vec::new();
    for worker in 0..16usize {
        let client = server.client.clone();
        let url = server.url("/api/admin/incident/ip-blocks");
        let agent = agent.clone();
        workers.push(tokio::spawn(async move {
            for n in (worker..STORM).step_by(16) {
                let status = client
                    .get(&url)
                    .bearer_auth(&agent)
                    .header("X-Forwarded-For", format!("2001:db8::{n:x}"))
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(status, 403);
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let storm = storm_started.elapsed();
    storm_over.store(true, std::sync::atomic::Ordering::SeqCst);
    let slowest = watcher.await.unwrap();
    let rss_after = rss_kib(pid);

    let url = metrics_url(&server);
    let text = scrape_until(&url, &["spiritus_alerts_dropped_total{channel=\"stuck\"}"]).await;
    let dropped = metric_value(&text, "spiritus_alerts_dropped_total{channel=\"stuck\"}");
    let lost = metric_value(
        &text,
        "spiritus_security_events_lost_total{consumer=\"alerts\"}",
    );
    let denied = metric_value(&text, "spiritus_unauthorized_access_total{reason=\"role\"}");
    eprintln!(
        "storm of {STORM} denials took {storm:?}; \
         slowest health check {slowest:?}; RSS {rss_before} KiB -> {rss_after} KiB; dropped {dropped}, lost {lost}, counted {denied}"
    );
    assert_eq!(
        hanging.count(),
        1,
        "the stuck channel sent more than its first alert"
    );
    // All but the queue's 100 and the one in flight were dropped (or skipped by the bus).
    assert!(
        dropped + lost >= (STORM - 101) as f64,
        "dropped {dropped}, lost {lost}"
    );
    assert!(dropped > 0.0);
    assert!(
        rss_after.saturating_sub(rss_before) < 64 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert!(slowest < Duration::from_secs(2));
    let (status, _) = server
        .call(
            Method::GET,
            "/api/admin/users",
            Some(&server.login("admin", OWNER_PASSWORD).await),
            None,
        )
        .await;
    assert_eq!(status, 200);
}
