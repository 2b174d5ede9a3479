//! Helpers for the proxy-core tests: a panel started with the real v2ray on free loopback
//! ports, a second v2ray acting as the client (its outbounds built from parsed share links),
//! loopback servers to download from, and a SOCKS5 client that downloads through the proxy.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use spiritus_proxy::Protocol;
use spiritus_proxy::links::{ClientProfile, Credential};
use spiritus_test_support::{ServerOptions, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::{BINARY, OWNER_PASSWORD};

/// Finds `v2ray`; `None` (with a message) skips the test, except under `CI=true`.
pub fn v2ray() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("v2ray"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "v2ray is not installed but CI=true: apt-get install -y v2ray"
        );
        eprintln!("skipping: v2ray is not installed (apt-get install -y v2ray)");
    }
    found
}

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub async fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "port {port} did not open");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Ports the panel's core uses.
#[derive(Debug, Clone)]
pub struct CorePorts {
    pub api: u16,
    pub vmess: u16,
    pub vless: u16,
    pub trojan: u16,
}

impl CorePorts {
    pub fn free() -> Self {
        Self {
            api: free_port(),
            vmess: free_port(),
            vless: free_port(),
            trojan: free_port(),
        }
    }
}

/// A panel driving the real v2ray, with the owner logged in.
pub struct CorePanel {
    pub server: TestServer,
    pub token: String,
    pub ports: CorePorts,
}

impl CorePanel {
    /// Starts the panel with a core on loopback; `extra` adds or overrides variables.
    pub async fn start(binary: &Path, extra: &[(&str, String)]) -> Self {
        let ports = CorePorts::free();
        let mut env = vec![
            ("SPIRITUS_CORE__ENABLED".to_owned(), "true".to_owned()),
            (
                "SPIRITUS_CORE__BINARY".to_owned(),
                binary.display().to_string(),
            ),
            ("SPIRITUS_CORE__LISTEN".to_owned(), "127.0.0.1".to_owned()),
            ("SPIRITUS_CORE__API_PORT".to_owned(), ports.api.to_string()),
            (
                "SPIRITUS_CORE__INBOUNDS".to_owned(),
                format!(
                    "[{{protocol = \"vmess\", port = {}}}, {{protocol = \"vless\", port = {}}}, {{protocol = \"trojan\", port = {}}}]",
                    ports.vmess, ports.vless, ports.trojan
                ),
            ),
            ("SPIRITUS_CORE__BLOCKED_CIDRS".to_owned(), "[]".to_owned()),
            ("SPIRITUS_CORE__STATS_INTERVAL".to_owned(), "1".to_owned()),
            (
                "SPIRITUS_SUBSCRIPTION__PROXY_HOST".to_owned(),
                "127.0.0.1".to_owned(),
            ),
            ("SPIRITUS_LOG__LEVEL".to_owned(), "info".to_owned()),
        ];
        for (name, value) in extra {
            env.retain(|(existing, _)| existing != name);
            env.push(((*name).to_owned(), value.clone()));
        }
        let server = TestServer::start_with(
            BINARY,
            ServerOptions {
                env,
                ..Default::default()
            },
        )
        .await;
        let token = server.owner_token(OWNER_PASSWORD).await;
        let panel = Self {
            server,
            token,
            ports,
        };
        panel.wait_for_core_running().await;
        panel
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, body) = self
            .server
            .call(method, path, Some(&self.token), body)
            .await;
        (status.as_u16(), body)
    }

    pub async fn create_user(&self, name: &str, quota_gb: f64) -> Value {
        let (status, user) = self
            .call(
                Method::POST,
                "/api/admin/users",
                Some(json!({"name": name, "traffic_limit_gb": quota_gb, "expire_days": 30})),
            )
            .await;
        assert_eq!(status, 201, "{user}");
        user
    }

    pub async fn user(&self, name: &str) -> Value {
        let (status, user) = self
            .call(Method::GET, &format!("/api/admin/users/{name}"), None)
            .await;
        assert_eq!(status, 200, "{user}");
        user
    }

    pub async fn core_status(&self) -> Value {
        let (status, system) = self.call(Method::GET, "/api/admin/system", None).await;
        assert_eq!(status, 200, "{system}");
        system["core"].clone()
    }

    pub async fn wait_for_core_running(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let core = self.core_status().await;
            if core["state"] == "running" {
                break;
            }
            assert!(Instant::now() < deadline, "core did not start: {core}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for port in [self.ports.vmess, self.ports.vless, self.ports.trojan] {
            wait_for_port(port, Duration::from_secs(10)).await;
        }
    }

    /// Waits until `check` accepts the user's JSON; returns it.
    pub async fn wait_for_user(
        &self,
        name: &str,
        timeout: Duration,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let user = self.user(name).await;
            if check(&user) {
                return user;
            }
            assert!(Instant::now() < deadline, "{what}: {user}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fetches the user's base64 subscription and parses its share links.
    pub async fn profiles(&self, user: &Value) -> Vec<ClientProfile> {
        let url = user["subscription_url"].as_str().unwrap();
        let response = self.server.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        decode_links(&text)
            .iter()
            .map(|link| ClientProfile::parse_link(link).unwrap())
            .collect()
    }

    /// Stops the panel with SIGTERM (it stops its core).
    pub async fn shut_down(&mut self) {
        self.server.terminate().await;
    }

    /// Reads the core's process id from the run record the panel keeps.
    pub fn core_pid_from_record(&self) -> Option<u32> {
        let record = self.server.data_dir().join("core").join("core.run");
        let text = std::fs::read_to_string(record).ok()?;
        let value: Value = serde_json::from_str(&text).ok()?;
        value["pid"]
            .as_u64()
            .and_then(|pid| u32::try_from(pid).ok())
    }
}

impl Drop for CorePanel {
    /// Kills the panel, then the core it was running (recognised by its config path), so a
    /// test that failed half-way leaves no process behind.
    fn drop(&mut self) {
        if let Some(pid) = self.server.pid() {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
        let config = self.server.data_dir().join("core").join("config.json");
        if let Some(pid) = self.core_pid_from_record() {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let expected = config.as_os_str().as_encoded_bytes();
            if cmdline.split(|byte| *byte == 0).any(|arg| arg == expected) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// Decodes a base64 subscription body into its links.
pub fn decode_links(body: &str) -> Vec<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The client core: one SOCKS5 inbound per profile, routed to an outbound from that profile.
pub struct ClientCore {
    child: Child,
    pub socks_ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl ClientCore {
    pub async fn start(binary: &Path, profiles: &[ClientProfile]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socks_ports: Vec<u16> = profiles.iter().map(|_| free_port()).collect();
        let config = dir.path().join("client.json");
        std::fs::write(
            &config,
            serde_json::to_vec_pretty(&client_config(&socks_ports, profiles)).unwrap(),
        )
        .unwrap();
        let child = Command::new(binary)
            .arg("-config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        for port in &socks_ports {
            wait_for_port(*port, Duration::from_secs(10)).await;
        }
        Self {
            child,
            socks_ports,
            _dir: dir,
        }
    }
}

impl Drop for ClientCore {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn client_config(ports: &[u16], profiles: &[ClientProfile]) -> Value {
    let inbounds: Vec<Value> = ports
        .iter()
        .enumerate()
        .map(|(n, port)| {
            json!({ "tag": format!("in-{n}"), "listen": "127.0.0.1", "port": port,
                    "protocol": "socks", "settings": { "udp": false } })
        })
        .collect();
    let outbounds: Vec<Value> = profiles
        .iter()
        .enumerate()
        .map(|(n, profile)| outbound(profile, &format!("out-{n}")))
        .collect();
    let rules: Vec<Value> = (0..profiles.len())
        .map(|n| json!({ "type": "field", "inboundTag": [format!("in-{n}")], "outboundTag": format!("out-{n}") }))
        .collect();
    json!({
        "log": { "loglevel": "warning" },
        "inbounds": inbounds,
        "outbounds": outbounds,
        "routing": { "rules": rules },
    })
}

fn outbound(profile: &ClientProfile, tag: &str) -> Value {
    let (host, port) = (&profile.host, profile.port);
    let settings = match (&profile.protocol, &profile.credential) {
        (Protocol::Vmess, Credential::Id(id)) => json!({ "vnext": [{ "address": host, "port": port,
            "users": [{ "id": id.to_string(), "alterId": 0, "security": "auto" }] }] }),
        (Protocol::Vless, Credential::Id(id)) => json!({ "vnext": [{ "address": host, "port": port,
            "users": [{ "id": id.to_string(), "encryption": "none" }] }] }),
        (Protocol::Trojan, Credential::Password(password)) => {
            json!({ "servers": [{ "address": host, "port": port, "password": password }] })
        }
        other => panic!("the test client does not speak {:?}", other.0),
    };
    json!({ "tag": tag, "protocol": profile.protocol.as_str(), "settings": settings,
            "streamSettings": { "network": "tcp", "security": "none" } })
}

/// A loopback HTTP/1.0 server that responds to every request with `size` bytes.
pub struct PayloadServer {
    pub port: u16,
    task: JoinHandle<()>,
}

impl PayloadServer {
    pub async fn start(size: usize) -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").await.unwrap(), size)
    }

    /// Serves on a given port (for blocked and watched ports).
    pub async fn start_on(port: u16, size: usize) -> Self {
        Self::on(TcpListener::bind(("127.0.0.1", port)).await.unwrap(), size)
    }

    fn on(listener: TcpListener, size: usize) -> Self {
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_one(stream, size));
            }
        });
        Self { port, task }
    }
}

impl Drop for PayloadServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_one(mut stream: TcpStream, size: usize) {
    if read_request(&mut stream).await.is_none() {
        return;
    }
    let header = format!("HTTP/1.0 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(header.as_bytes()).await;
    let _ = stream.write_all(&vec![b'z'; size]).await;
    let _ = stream.shutdown().await;
}

async fn read_request(stream: &mut TcpStream) -> Option<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    Some(())
}

/// A loopback server that trickles 1 KiB every 100 ms for up to a minute, to hold a busy
/// connection open.
pub struct TrickleServer {
    pub port: u16,
    task: JoinHandle<()>,
}

impl TrickleServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if read_request(&mut stream).await.is_none() {
                        return;
                    }
                    let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n\r\n").await;
                    for _ in 0..600 {
                        if stream.write_all(&[b't'; 1024]).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                });
            }
        });
        Self { port, task }
    }
}

impl Drop for TrickleServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens a SOCKS5 connection through `socks_port` to `127.0.0.1:dest_port` and sends a GET.
pub async fn open_through(socks_port: u16, dest_port: u16) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", socks_port))
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_all(&[5, 1, 0])
        .await
        .map_err(|e| e.to_string())?;
    let mut greeting = [0u8; 2];
    stream
        .read_exact(&mut greeting)
        .await
        .map_err(|e| e.to_string())?;
    let mut connect = vec![5, 1, 0, 1, 127, 0, 0, 1];
    connect.extend_from_slice(&dest_port.to_be_bytes());
    stream
        .write_all(&connect)
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = [0u8; 10];
    stream
        .read_exact(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    if reply[1] != 0 {
        return Err(format!("socks connect refused with code {}", reply[1]));
    }
    let request = format!("GET / HTTP/1.0\r\nHost: 127.0.0.1:{dest_port}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// Downloads through the proxy; returns the body length or why it failed. Reading stops at
/// the announced length, so the proxies' half-close delays do not count.
pub async fn download(socks_port: u16, dest_port: u16, timeout: Duration) -> Result<usize, String> {
    let attempt = async {
        let mut stream = open_through(socks_port, dest_port).await?;
        let mut response = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            if let Some(length) = complete_body(&response) {
                return Ok(length);
            }
            let read = stream.read(&mut buffer).await.map_err(|e| e.to_string())?;
            if read == 0 {
                return Err(format!("connection closed after {} bytes", response.len()));
            }
            response.extend_from_slice(&buffer[..read]);
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// Returns the body length once a response with `Content-Length` has fully arrived.
fn complete_body(response: &[u8]) -> Option<usize> {
    let header_end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..header_end]);
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))?
        .trim()
        .parse()
        .ok()?;
    let body = response.len() - header_end - 4;
    (body >= length).then_some(body)
}
