//! Where the test suite finds PostgreSQL and Redis.
//!
//! The test script exports `SPIRITUS_TEST_POSTGRES_URL` and `SPIRITUS_TEST_REDIS_URL`. When a
//! variable is missing, a test that needs the service is skipped with a message, except under
//! `CI=true`, where a missing service fails the run.

/// Whether this run must fail rather than skip when a service is missing.
pub fn ci_requires_services() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

fn service_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if ci_requires_services() => {
            panic!(
                "{variable} is not set, but CI=true requires the service; run the tests through scripts/test"
            )
        }
        _ => {
            eprintln!("skipping: {variable} is not set (run the tests through scripts/test)");
            None
        }
    }
}

/// The PostgreSQL server URL for tests, if configured.
pub fn postgres_url() -> Option<String> {
    service_url("SPIRITUS_TEST_POSTGRES_URL")
}

/// The Redis URL for tests, if configured.
pub fn redis_url() -> Option<String> {
    service_url("SPIRITUS_TEST_REDIS_URL")
}
