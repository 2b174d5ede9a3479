//! Choosing backends at start: clear, password-free errors when PostgreSQL or Redis cannot be
//! used, `spiritus migrate` on both engines, and refusal of a schema newer than the binary.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use spiritus_store::SqlStore;
use spiritus_test_support::{TestDatabase, postgres_url, redis_url};

use crate::BINARY;

const PASSWORD: &str = "s3cret-pw";

/// Runs the binary with `args` on `data_dir` and returns its output.
async fn spiritus(args: &[&str], data_dir: &Path, env: &[(&str, String)]) -> Output {
    let mut command = tokio::process::Command::new(BINARY);
    command
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("RUST_LOG")
        .env("SPIRITUS_METRICS__LISTEN", "off")
        .env("SPIRITUS_CORE__ENABLED", "false")
        .kill_on_drop(true);
    if args.first() == Some(&"serve") {
        command.args(["--listen", "127.0.0.1:0"]);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the command did not end within 60 s")
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The start failed with exactly one error line that shows `shown` and not the password.
fn assert_one_clear_error(output: &Output, shown: &str) {
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "the start must fail: {stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(shown), "{stderr}");
    let stdout = text(&output.stdout);
    for printed in [&stderr, &stdout] {
        assert!(
            !printed.contains(PASSWORD),
            "the password leaked: {printed}"
        );
    }
    assert!(!stdout.contains("listening"), "{stdout}");
}

#[tokio::test]
async fn unreachable_postgres_stops_the_start_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let url = format!("postgres://spiritus:{PASSWORD}@127.0.0.1:{port}/panel");
    let output = spiritus(&["serve"], dir.path(), &[("SPIRITUS_DATABASE_URL", url)]).await;
    assert_one_clear_error(
        &output,
        &format!("postgres://spiritus:***@127.0.0.1:{port}/panel"),
    );
    let stderr = text(&output.stderr);
    assert!(stderr.contains("refused"), "the cause is named: {stderr}");
}

#[tokio::test]
async fn missing_postgres_database_stops_the_start() {
    let Some(server) = postgres_url() else {
        return;
    };
    let Some((base, _)) = server
        .split('?')
        .next()
        .and_then(|url| url.rsplit_once('/'))
    else {
        panic!("unexpected test PostgreSQL URL: {server}");
    };
    let url = format!("{base}/spiritus_no_such_database");
    let dir = tempfile::tempdir().unwrap();
    let output = spiritus(&["serve"], dir.path(), &[("SPIRITUS_DATABASE_URL", url)]).await;
    assert_one_clear_error(&output, "spiritus_no_such_database\" does not exist");
}

#[tokio::test]
async fn unreachable_redis_stops_the_start_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{port}/0");
    let output = spiritus(&["serve"], dir.path(), &[("SPIRITUS_REDIS_URL", url)]).await;
    assert_one_clear_error(&output, &format!("redis://:***@127.0.0.1:{port}/0"));
}

#[tokio::test]
async fn misconfigured_redis_stops_the_start() {
    let Some(base) = redis_url() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The test Redis has no password, so presenting one is refused.
    let with_password = base.replacen("redis://", &format!("redis://:{PASSWORD}@"), 1);
    let shown = base.replacen("redis://", "redis://:***@", 1);
    let cases = [
        (with_password, shown.clone()),
        (
            format!("http://:{PASSWORD}@127.0.0.1:6379"),
            "redis_url".to_owned(),
        ),
    ];
    for (url, expected) in cases {
        let output = spiritus(&["serve"], dir.path(), &[("SPIRITUS_REDIS_URL", url)]).await;
        assert_one_clear_error(&output, &expected);
    }
    let output = spiritus(
        &["serve"],
        dir.path(),
        &[
            ("SPIRITUS_REDIS_URL", base),
            ("SPIRITUS_REDIS_KEY_PREFIX", "every*thing".to_owned()),
        ],
    )
    .await;
    assert_one_clear_error(&output, "redis_key_prefix");
}

/// A database for one engine: its URL and whatever keeps it alive.
struct Engine {
    url: String,
    env: Vec<(&'static str, String)>,
    /// SQL that records a migration this binary does not know.
    future_migration: &'static str,
    _database: Option<TestDatabase>,
}

async fn engines(dir: &Path) -> Vec<Engine> {
    let sqlite_url = format!("sqlite://{}", dir.join("spiritus.db").display());
    let mut engines = vec![Engine {
        url: sqlite_url,
        env: Vec::new(),
        future_migration: "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                           execution_time) VALUES (99990101000000, 'future', TRUE, X'00', 0)",
        _database: None,
    }];
    if let Some(database) = TestDatabase::create().await {
        engines.push(Engine {
            url: database.url().to_owned(),
            env: vec![("SPIRITUS_DATABASE_URL", database.url().to_owned())],
            future_migration: "INSERT INTO _sqlx_migrations (version, description, success, \
                               checksum, execution_time) VALUES (99990101000000, 'future', TRUE, \
                               '\\x00', 0)",
            _database: Some(database),
        });
    }
    engines
}

#[tokio::test]
async fn migrate_prepares_sqlite_and_postgres_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for engine in engines(dir.path()).await {
        let env: Vec<(&str, String)> = engine.env.clone();
        for _ in 0..2 {
            // Twice: the second run finds nothing to do.
            let output = spiritus(&["migrate"], dir.path(), &env).await;
            let stdout = text(&output.stdout);
            assert!(output.status.success(), "{}", text(&output.stderr));
            let store = SqlStore::connect(&engine.url).await.unwrap();
            let known = store.known_schema_version();
            assert!(
                stdout.contains(&format!(
                    "at schema version {known} (this binary knows {known})"
                )),
                "{stdout}"
            );
            store.close().await;
        }

        let store = SqlStore::connect(&engine.url).await.unwrap();
        store
            .execute_raw_for_tests(engine.future_migration)
            .await
            .unwrap();
        store.close().await;
        for command in ["serve", "migrate"] {
            let output = spiritus(&[command], dir.path(), &env).await;
            assert_one_clear_error(&output, "newer than this binary supports");
        }
    }
}
