//! The real `spiritus serve` process on a free loopback port, and an HTTPS client that trusts
//! exactly its certificate.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::machine::process_memory_kib;

/// How long the panel may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the panel may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running panel started by the benchmark.
pub struct Panel {
    child: Child,
    pid: u32,
    /// `https://127.0.0.1:PORT`.
    pub base_url: String,
    /// From spawning the process to the first answered `GET /healthz`.
    pub cold_start_seconds: f64,
    log_path: PathBuf,
}

/// An HTTPS client for the benchmark's servers: trusts only the data set's certificate,
/// speaks HTTP/1.1 with keep-alive and opens up to `connections` connections.
pub fn https_client(tls_dir: &Path, connections: usize) -> anyhow::Result<reqwest::Client> {
    let pem = std::fs::read(tls_dir.join("cert.pem"))
        .with_context(|| format!("cannot read the certificate in {}", tls_dir.display()))?;
    Ok(reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
        .https_only(true)
        .http1_only()
        .no_proxy()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(60))
        .build()?)
}

impl Panel {
    /// Starts `binary serve` on `root` and waits until it answers `GET /healthz`.
    pub async fn start(binary: &Path, root: &Path) -> anyhow::Result<Self> {
        let log_path = root.join("server.log");
        let log = std::fs::File::create(&log_path)?;
        let started = Instant::now();
        let mut child = Command::new(binary)
            .arg("serve")
            .arg("--data-dir")
            .arg(root)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("the panel exited at once")?;
        let stdout = child.stdout.take().context("no standard output")?;
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.strip_prefix("Spiritus is listening on ") {
                    return Some(address.to_owned());
                }
            }
            None
        })
        .await;
        let Ok(Some(base_url)) = address else {
            let _ = child.kill().await;
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!("the panel did not start; its log:\n{log}");
        };
        // Keep reading standard output so the panel never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let mut panel = Self {
            child,
            pid,
            base_url,
            cold_start_seconds: 0.0,
            log_path,
        };
        panel.wait_until_healthy(root).await?;
        panel.cold_start_seconds = started.elapsed().as_secs_f64();
        Ok(panel)
    }

    async fn wait_until_healthy(&self, root: &Path) -> anyhow::Result<()> {
        let client = https_client(&root.join("tls"), 1)?;
        let url = format!("{}/healthz", self.base_url);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        bail!("the panel never answered GET /healthz")
    }

    /// Resident and peak resident memory of the panel, in KiB.
    pub fn memory_kib(&self) -> anyhow::Result<(u64, u64)> {
        process_memory_kib(self.pid).context("cannot read the panel's memory from /proc")
    }

    /// The panel's log (standard error), for a report on failure.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stops the panel with SIGTERM, as a service manager would; kills it after a timeout.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
            self.child.wait().await?;
        }
        Ok(())
    }
}
