//! Brute-force suspension against a clock the test moves. The 11th wrong password within an
//! hour suspends the account (failures an hour old do not count), ends its sessions and
//! raises `account_suspended`. An account with a second factor still logs in by completing
//! it, while a guesser holding only the password gets no session. The owner gets step-up
//! instead of lockout, and lifts suspensions.

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
use spiritus_app::services::auth::{LoginOutcome, TokenPair};
use spiritus_app::services::suspension::BRUTE_FORCE_REASON;
use spiritus_app::{Actor, App, AppError, AppParts, EventBus, RequestContext};
use spiritus_audit::keys::AuditSigningKey;
use spiritus_auth::totp::{TotpSecret, step_of};
use spiritus_auth::{Password, SecretKey};
use spiritus_core::ManualClock;
use spiritus_core::account::Role;
use spiritus_core::events::SecurityEvent;
use spiritus_store::{MemoryStore, SqlStore};

const PASSWORD: &str = "a long and fine password";

struct Fixture {
    app: App,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
    /// Distinct guesser addresses, so the per-address login limit never decides.
    next_host: std::cell::Cell<u32>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("panel.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let start = DateTime::<Utc>::from_timestamp(1_900_000_005, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let config: Config = toml::from_str("[rate_limits]\nlogin_username_per_hour = 1000\n").unwrap();
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
        next_host: std::cell::Cell::new(1),
    }
}

fn holder() -> RequestContext {
    RequestContext::new("192.0.2.7".parse().unwrap())
}

impl Fixture {
    async fn create(&self, name: &str, role: Role) {
        self.app
            .create_account(
                &Actor::Console,
                name,
                role,
                Password::new(PASSWORD.into()),
                false,
            )
            .await
            .unwrap();
    }

    /// `count` wrong passwords for `name`, each from an address of its own.
    async fn guess_wrong(&self, name: &str, count: u32) {
        for _ in 0..count {
            let host = self.next_host.get();
            self.next_host.set(host + 1);
            let guesser = RequestContext::new(
                format!("10.66.{}.{}", host / 250, host % 250 + 1)
                    .parse()
                    .unwrap(),
            );
            let refused = self
                .app
                .login(name, Password::new("wrong guess".into()), &guesser)
                .await;
            assert!(
                matches!(refused, Err(AppError::InvalidCredentials)),
                "{refused:?}"
            );
        }
    }

    async fn login(&self, name: &str) -> Result<LoginOutcome, AppError> {
        self.app
            .login(name, Password::new(PASSWORD.into()), &holder())
            .await
    }

    async fn suspension_reason(&self, name: &str) -> Option<String> {
        let account = self
            .app
            .store()
            .account_by_name(name)
            .await
            .unwrap()
            .unwrap();
        account.suspension.map(|suspension| suspension.reason)
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

fn tokens(outcome: LoginOutcome) -> TokenPair {
    match outcome {
        LoginOutcome::Tokens(pair) => pair,
        LoginOutcome::SecondFactor(_) => panic!("tokens were expected, not a challenge"),
    }
}

fn challenge(outcome: LoginOutcome) -> String {
    match outcome {
        LoginOutcome::SecondFactor(challenge) => challenge.challenge.expose().to_owned(),
        LoginOutcome::Tokens(_) => panic!("a second factor was expected"),
    }
}

/// Turns TOTP on for `name` (logged in from the holder's address); returns the secret.
async fn enrol_totp(f: &Fixture, name: &str) -> TotpSecret {
    let pair = tokens(f.login(name).await.unwrap());
    let principal = f.app.authenticate(&pair.access_token).await.unwrap();
    let enrolment = f.app.totp_setup(&principal, &holder()).await.unwrap();
    let secret = TotpSecret::from_bytes(base32(&enrolment.secret));
    let step = step_of(f.app.now().timestamp());
    f.app
        .totp_confirm(&principal, &secret.code_at_step(step), &holder())
        .await
        .unwrap();
    f.advance(Duration::seconds(30));
    secret
}

fn base32(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut count, mut out) = (0u64, 0, Vec::new());
    for byte in text.bytes() {
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

#[tokio::test]
async fn eleventh_failure_in_hour_suspends() {
    let f = fixture().await;
    f.create("alice", Role::Admin).await;
    let mut events = f.app.events().subscribe();

    // Ten failures, then an hour passes: they no longer count.
    f.guess_wrong("alice", 10).await;
    f.advance(Duration::minutes(61));
    f.guess_wrong("alice", 10).await;
    assert_eq!(
        f.suspension_reason("alice").await,
        None,
        "ten within the hour"
    );
    let earlier = tokens(f.login("alice").await.unwrap());

    f.guess_wrong("alice", 1).await;
    assert_eq!(
        f.suspension_reason("alice").await.as_deref(),
        Some(BRUTE_FORCE_REASON)
    );
    let mut alerted = false;
    while let Ok(event) = events.try_recv() {
        alerted |= matches!(event.as_ref(), SecurityEvent::AccountSuspended { username, .. } if username == "alice");
    }
    assert!(alerted, "account_suspended raised");
    // Sessions ended; without a second factor even the right password is refused.
    assert!(matches!(
        f.app.authenticate(&earlier.access_token).await,
        Err(AppError::Unauthorized)
    ));
    assert!(matches!(
        f.login("alice").await,
        Err(AppError::InvalidCredentials)
    ));

    // The owner lifts it.
    f.create("root", Role::Owner).await;
    let owner = tokens(f.login("root").await.unwrap());
    let principal = f.app.authenticate(&owner.access_token).await.unwrap();
    let lifted = f
        .app
        .lift_suspension(&Actor::account(&principal, &holder()), "alice")
        .await
        .unwrap();
    assert!(lifted);
    tokens(f.login("alice").await.unwrap());
}

#[tokio::test]
async fn suspended_account_passes_with_factor() {
    let f = fixture().await;
    f.create("alice", Role::Admin).await;
    let secret = enrol_totp(&f, "alice").await;
    f.guess_wrong("alice", 11).await;
    assert!(f.suspension_reason("alice").await.is_some());

    // A guesser who has the password gets only a challenge, which a wrong code cannot pass.
    let guesser = RequestContext::new("203.0.113.9".parse().unwrap());
    let outcome = f
        .app
        .login("alice", Password::new(PASSWORD.into()), &guesser)
        .await
        .unwrap();
    let refused = f
        .app
        .login_second_factor(&challenge(outcome), "000000", &guesser)
        .await;
    assert!(refused.is_err(), "{:?}", refused.err());

    // The holder completes the factor and gets a working session.
    let outcome = f.login("alice").await.unwrap();
    let code = secret.code_at_step(step_of(f.app.now().timestamp()));
    let pair = f
        .app
        .login_second_factor(&challenge(outcome), &code, &holder())
        .await
        .unwrap();
    f.app.authenticate(&pair.access_token).await.unwrap();
}

#[tokio::test]
async fn owner_gets_step_up_not_lockout() {
    let f = fixture().await;
    f.create("root", Role::Owner).await;
    let mut events = f.app.events().subscribe();
    f.guess_wrong("root", 11).await;
    assert!(f.suspension_reason("root").await.is_some());

    // Without a second factor the owner is let in, with an alert urging enrolment.
    let pair = tokens(f.login("root").await.unwrap());
    let principal = f.app.authenticate(&pair.access_token).await.unwrap();
    let mut urged = false;
    while let Ok(event) = events.try_recv() {
        urged |= matches!(
            event.as_ref(),
            SecurityEvent::OwnerWithoutSecondFactor { .. }
        );
    }
    assert!(urged);

    // With one, every login needs it until the suspension is lifted.
    let secret = enrol_totp_for(&f, &principal).await;
    let outcome = f.login("root").await.unwrap();
    let code = secret.code_at_step(step_of(f.app.now().timestamp()));
    let pair = f
        .app
        .login_second_factor(&challenge(outcome), &code, &holder())
        .await
        .unwrap();
    let principal = f.app.authenticate(&pair.access_token).await.unwrap();
    f.app
        .lift_suspension(&Actor::account(&principal, &holder()), "root")
        .await
        .unwrap();
    assert_eq!(f.suspension_reason("root").await, None);
}

/// Turns TOTP on for an already authenticated principal.
async fn enrol_totp_for(f: &Fixture, principal: &spiritus_app::Principal) -> TotpSecret {
    let enrolment = f.app.totp_setup(principal, &holder()).await.unwrap();
    let secret = TotpSecret::from_bytes(base32(&enrolment.secret));
    let step = step_of(f.app.now().timestamp());
    f.app
        .totp_confirm(principal, &secret.code_at_step(step), &holder())
        .await
        .unwrap();
    f.advance(Duration::seconds(30));
    secret
}
