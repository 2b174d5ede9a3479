//! Redis for tests: a private key prefix on the shared test Redis, deleted when the test ends,
//! and a private `redis-server` process that a test may stop and start again.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A key prefix of its own on the test Redis. Every key under it is deleted on drop, so a
/// failing test leaves nothing behind either.
pub struct TestRedisPrefix {
    url: String,
    prefix: String,
}

impl TestRedisPrefix {
    /// Creates a fresh prefix on the Redis at `SPIRITUS_TEST_REDIS_URL`, or returns `None`
    /// when that is not set (and CI does not require it).
    pub fn create() -> Option<Self> {
        let url = crate::services::redis_url()?;
        Some(Self::on(&url))
    }

    /// Creates a fresh prefix on the Redis at `url`.
    pub fn on(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: format!("spiritus-test:{}:", uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The keys under this prefix (for checking that a test cleaned up).
    pub fn keys(&self) -> Vec<String> {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return Vec::new();
        };
        let Ok(mut connection) = client.get_connection() else {
            return Vec::new();
        };
        redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut connection)
            .unwrap_or_default()
    }
}

impl Drop for TestRedisPrefix {
    fn drop(&mut self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        if let Ok(client) = redis::Client::open(self.url.as_str())
            && let Ok(mut connection) = client.get_connection()
        {
            let _: Result<u64, _> = redis::cmd("DEL").arg(&keys).query(&mut connection);
        }
    }
}

/// A `redis-server` of the test's own on a free loopback port, without persistence, so a
/// restart brings it back empty.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap();
        let dir = tempfile::Builder::new()
            .prefix("spiritus-redis")
            .tempdir()
            .unwrap();
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        server.launch().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    async fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start redis-server (is it installed?): {error}")
            });
        self.child = Some(child);
        wait_until_answering(self.port, self.dir.path()).await;
    }

    /// Kills the server; its data is gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// Starts the server again on the same port, empty.
    pub async fn start_again(&mut self) {
        self.stop().await;
        self.launch().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

async fn wait_until_answering(port: u16, dir: &Path) {
    let url = format!("redis://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(client) = redis::Client::open(url.as_str())
            && let Ok(mut connection) = client.get_connection_with_timeout(Duration::from_secs(1))
            && redis::cmd("PING").query::<String>(&mut connection).is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
    panic!("redis-server on port {port} did not answer; log:\n{log}");
}
