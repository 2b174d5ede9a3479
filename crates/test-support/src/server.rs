//! A real `spiritus serve` process on a free loopback port, with its own data directory, and
//! an HTTPS client that trusts exactly its generated certificate.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The "bench profile" of `docs/abuse-defences.md`: request and login limits raised far
/// above what a test sends, so tests that log in many times from one loopback address do
/// not trip them. A test of the limits themselves overrides these variables through
/// [`ServerOptions::env`], which is applied after them.
pub const BENCH_PROFILE: &[(&str, &str)] = &[
    ("SPIRITUS_RATE_LIMITS__PER_IP_PER_MINUTE", "1000000"),
    ("SPIRITUS_RATE_LIMITS__PER_USER_PER_HOUR", "1000000"),
    ("SPIRITUS_RATE_LIMITS__LOGIN_ATTEMPTS", "1000000"),
    ("SPIRITUS_RATE_LIMITS__LOGIN_USERNAME_PER_HOUR", "1000000"),
    ("SPIRITUS_RATE_LIMITS__SUSPEND_AFTER_FAILURES", "1000000"),
    ("SPIRITUS_RATE_LIMITS__BLOCK_AFTER_TRIPS", "0"),
];

/// How a test server is started.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Extra environment variables (configuration overrides).
    pub env: Vec<(String, String)>,
    /// Text of `spiritus.toml`, written before the first start.
    pub config: Option<String>,
    /// HTTPS address to listen on instead of `127.0.0.1:0` (for example `[::]:0`).
    pub listen: Option<String>,
    /// A data directory whose secrets (JWT keys, pepper, audit key) this server copies
    /// before its first start, so it can serve as another replica of the same panel.
    pub secrets_from: Option<PathBuf>,
}

impl ServerOptions {
    /// Adds one environment variable for the server process.
    pub fn with_env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }
}

/// A running panel.
pub struct TestServer {
    binary: PathBuf,
    data_dir: tempfile::TempDir,
    options: ServerOptions,
    child: Option<Child>,
    /// `https://127.0.0.1:PORT`.
    pub base_url: String,
    /// Everything the process printed on standard output, this start only.
    pub stdout: Vec<String>,
    /// The owner's one-time password, when this start printed one.
    pub owner_password: Option<String>,
    pub client: reqwest::Client,
    log_path: PathBuf,
}

impl TestServer {
    pub async fn start(binary: &str) -> Self {
        Self::start_with(binary, ServerOptions::default()).await
    }

    pub async fn start_with(binary: &str, options: ServerOptions) -> Self {
        let data_dir = tempfile::Builder::new()
            .prefix("spiritus-e2e")
            .tempdir()
            .unwrap();
        if let Some(config) = &options.config {
            std::fs::create_dir_all(data_dir.path()).unwrap();
            std::fs::write(data_dir.path().join("spiritus.toml"), config).unwrap();
        }
        if let Some(source) = &options.secrets_from {
            copy_secrets(&source.join("secrets"), &data_dir.path().join("secrets"));
        }
        let log_path = data_dir.path().join("server.log");
        let mut server = Self {
            binary: PathBuf::from(binary),
            data_dir,
            options,
            child: None,
            base_url: String::new(),
            stdout: Vec::new(),
            owner_password: None,
            client: reqwest::Client::new(),
            log_path,
        };
        server.launch().await;
        server
    }

    /// Another replica of this panel: a server with its own data directory, port and
    /// certificate, this server's secrets, and `options` (which name the shared database and
    /// Redis).
    pub async fn replica(&self, mut options: ServerOptions) -> Self {
        options.secrets_from = Some(self.data_dir().to_owned());
        Self::start_with(&self.binary.display().to_string(), options).await
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The file the server's standard error goes to.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    async fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap();
        let mut command = Command::new(&self.binary);
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .arg("--listen")
            .arg(self.options.listen.as_deref().unwrap_or("127.0.0.1:0"))
            .env_remove("RUST_LOG")
            .env("SPIRITUS_METRICS__LISTEN", "off")
            .env("SPIRITUS_CORE__ENABLED", "false")
            .envs(BENCH_PROFILE.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        for (name, value) in &self.options.env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", self.binary.display()));
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        self.stdout.clear();
        self.owner_password = None;

        let listening = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(password) = line.trim().strip_prefix("one-time password: ") {
                    self.owner_password = Some(password.to_owned());
                }
                let address = line
                    .strip_prefix("Spiritus is listening on ")
                    .map(str::to_owned);
                self.stdout.push(line);
                if let Some(address) = address {
                    return Some(address);
                }
            }
            None
        })
        .await;
        let Ok(Some(address)) = listening else {
            let _ = child.kill().await;
            panic!(
                "the server did not start; stdout: {:?}\nlog:\n{}",
                self.stdout,
                self.log_text()
            );
        };
        // Keep reading standard output so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        self.base_url = address;
        self.client = self.build_client();
        self.child = Some(child);
    }

    fn build_client(&self) -> reqwest::Client {
        let mut builder = reqwest::Client::builder();
        // Absent when the configuration names its own certificate (`tls.cert`).
        if let Ok(pem) = std::fs::read(self.data_dir.path().join("tls/cert.pem")) {
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        builder
            .https_only(true)
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    }

    /// Stops the process (SIGKILL) and starts it again on the same data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.launch().await;
    }

    /// The process id of the running panel.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Stops the process with SIGTERM, as a service manager would, and waits for it to exit
    /// (SIGKILL after 30 seconds).
    pub async fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// Starts the process again on the same data directory after [`TestServer::stop`] or
    /// [`TestServer::terminate`].
    pub async fn start_again(&mut self) {
        self.launch().await;
    }

    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }

    /// The binary under test, for running other subcommands on the same data directory.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends a JSON request with an optional bearer token; returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    /// Logs in as the owner with the one-time password, changes it to `new_password`, and
    /// returns a fresh access token.
    pub async fn owner_token(&self, new_password: &str) -> String {
        let one_time = self
            .owner_password
            .clone()
            .expect("this start printed no owner password");
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/auth/login",
                None,
                Some(serde_json::json!({"username": "admin", "password": one_time})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let first = body["access_token"].as_str().unwrap().to_owned();
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/auth/password",
                Some(&first),
                Some(serde_json::json!({"current": one_time, "new": new_password})),
            )
            .await;
        assert_eq!(status, 204, "{body}");
        self.login("admin", new_password).await
    }

    /// Logs in and returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/auth/login",
                None,
                Some(serde_json::json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// Copies secret files into a new private directory (0700, files 0600).
fn copy_secrets(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_file() {
            continue;
        }
        let target = to.join(entry.file_name());
        std::fs::copy(entry.path(), &target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
