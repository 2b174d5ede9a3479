//! The second-factor login against a clock the test moves: a challenge dies after five
//! minutes, a code of a past step stops working, and each refusal is raised as an event.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly on the first broken step"
)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use spiritus_app::config::Config;
use spiritus_app::keys::PanelKeys;
use spiritus_app::services::auth::LoginOutcome;
use spiritus_app::{Actor, App, AppError, AppParts, EventBus, RequestContext};
use spiritus_audit::keys::AuditSigningKey;
use spiritus_auth::totp::{TotpSecret, step_of};
use spiritus_auth::{Password, SecretKey};
use spiritus_core::ManualClock;
use spiritus_core::account::Role;
use spiritus_core::events::{LoginFailure, SecurityEvent};
use spiritus_store::{MemoryStore, SqlStore};

const PASSWORD: &str = "a long and fine password";

struct Fixture {
    app: App,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn start_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_005, 0).unwrap()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("panel.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let clock = Arc::new(ManualClock::new(start_time()));
    // The password logins here exceed the login limit on purpose: the second factor's own
    // limit is what these tests look at.
    let config: Config = toml::from_str("[rate_limits]\nlogin_attempts = 1000\n").unwrap();
    let keys = PanelKeys {
        jwt: vec![("test".into(), SecretKey::generate(32))],
        pepper: SecretKey::generate(32),
        audit: AuditSigningKey::generate(),
        subscription: SecretKey::generate(32),
        totp_encryption: SecretKey::generate(32),
        core_password: SecretKey::generate(32),
    };
    let app = App::new(AppParts {
        config,
        clock: clock.clone(),
        store,
        ephemeral: Arc::new(MemoryStore::new(clock.clone())),
        keys,
        events: EventBus::new(),
    })
    .unwrap();
    Fixture {
        app,
        clock,
        _dir: dir,
    }
}

fn client() -> RequestContext {
    RequestContext::new("192.0.2.7".parse().unwrap())
}

async fn login(app: &App) -> LoginOutcome {
    app.login("alice", Password::new(PASSWORD.into()), &client())
        .await
        .unwrap()
}

/// Creates `alice` with TOTP on; returns her secret.
async fn enrolled_alice(app: &App) -> TotpSecret {
    app.create_account(
        &Actor::Console,
        "alice",
        Role::Admin,
        Password::new(PASSWORD.into()),
        false,
    )
    .await
    .unwrap();
    let LoginOutcome::Tokens(pair) = login(app).await else {
        panic!("no second factor yet");
    };
    let principal = app.authenticate(&pair.access_token).await.unwrap();
    let enrolment = app.totp_setup(&principal, &client()).await.unwrap();
    let bytes = data_encoding_decode(&enrolment.secret);
    let secret = TotpSecret::from_bytes(bytes);
    let step = step_of(app.now().timestamp());
    app.totp_confirm(&principal, &secret.code_at_step(step), &client())
        .await
        .unwrap();
    secret
}

fn data_encoding_decode(base32: &str) -> Vec<u8> {
    // Base32 without padding, decoded by hand to stay independent of the server's encoder.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in base32.bytes() {
        let value = alphabet.iter().position(|c| *c == byte).unwrap() as u64;
        bits = (bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

fn challenge_of(outcome: LoginOutcome) -> String {
    match outcome {
        LoginOutcome::SecondFactor(challenge) => challenge.challenge.expose().to_owned(),
        LoginOutcome::Tokens(_) => panic!("a second factor was expected"),
    }
}

#[tokio::test]
async fn challenge_expires_after_five_minutes() {
    let Fixture { app, clock, _dir } = fixture().await;
    let secret = enrolled_alice(&app).await;
    let mut events = app.events().subscribe();

    let challenge = challenge_of(login(&app).await);
    clock.advance(Duration::seconds(301));
    let step = step_of(app.now().timestamp());
    let refused = app
        .login_second_factor(&challenge, &secret.code_at_step(step), &client())
        .await;
    assert!(
        matches!(refused, Err(AppError::ChallengeInvalid)),
        "{refused:?}"
    );
    let mut saw_refusal = false;
    while let Ok(event) = events.try_recv() {
        if let SecurityEvent::LoginFailed { reason, .. } = event.as_ref() {
            saw_refusal |= *reason == LoginFailure::ChallengeInvalid;
        }
    }
    assert!(saw_refusal);

    // A fresh challenge used within its lifetime works with the same code.
    let challenge = challenge_of(login(&app).await);
    clock.advance(Duration::seconds(240));
    let step = step_of(app.now().timestamp());
    let pair = app
        .login_second_factor(&challenge, &secret.code_at_step(step), &client())
        .await
        .unwrap();
    assert!(!pair.access_token.is_empty());
}

#[tokio::test]
async fn code_of_a_past_step_stops_working() {
    let Fixture { app, clock, _dir } = fixture().await;
    let secret = enrolled_alice(&app).await;
    let old_step = step_of(app.now().timestamp()) + 1;
    let old_code = secret.code_at_step(old_step);
    clock.advance(Duration::seconds(90));

    let challenge = challenge_of(login(&app).await);
    let refused = app
        .login_second_factor(&challenge, &old_code, &client())
        .await;
    assert!(
        matches!(refused, Err(AppError::InvalidCredentials)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn attempt_limit_resets_when_its_window_passes() {
    let Fixture { app, clock, _dir } = fixture().await;
    let secret = enrolled_alice(&app).await;
    for _ in 0..5 {
        let challenge = challenge_of(login(&app).await);
        let refused = app
            .login_second_factor(&challenge, "000000", &client())
            .await;
        assert!(matches!(refused, Err(AppError::InvalidCredentials)));
    }
    let challenge = challenge_of(login(&app).await);
    let code = secret.code_at_step(step_of(app.now().timestamp()) + 1);
    let limited = app.login_second_factor(&challenge, &code, &client()).await;
    assert!(
        matches!(limited, Err(AppError::RateLimited { .. })),
        "{limited:?}"
    );

    clock.advance(Duration::seconds(301));
    let challenge = challenge_of(login(&app).await);
    let code = secret.code_at_step(step_of(app.now().timestamp()));
    app.login_second_factor(&challenge, &code, &client())
        .await
        .unwrap();
}
