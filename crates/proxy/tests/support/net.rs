//! Loopback networking for tests: free ports, waiting for a listener, a server that responds
//! to every request with a fixed-size body, and a SOCKS5 client that downloads through a proxy.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Waits until `127.0.0.1:port` accepts connections.
pub async fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "port {port} did not open within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An HTTP/1.0 server on a free loopback port responding to every request with `size` bytes.
pub struct PayloadServer {
    pub port: u16,
    task: JoinHandle<()>,
}

impl PayloadServer {
    pub async fn start(size: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
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
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }

    let header = format!("HTTP/1.0 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n");
    let body = vec![b'z'; size];
    let _ = stream.write_all(header.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

/// Downloads from `127.0.0.1:dest_port` through the SOCKS5 proxy on `socks_port`; returns the
/// body length, or why it failed (refused, closed early, timed out).
pub async fn download_via_socks(
    socks_port: u16,
    dest_port: u16,
    timeout: Duration,
) -> Result<usize, String> {
    match tokio::time::timeout(timeout, download(socks_port, dest_port)).await {
        Ok(result) => result,
        Err(_) => Err(format!("download did not finish within {timeout:?}")),
    }
}

async fn download(socks_port: u16, dest_port: u16) -> Result<usize, String> {
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
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;

    let header_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no HTTP response (got {} bytes)", response.len()))?;
    Ok(response.len() - header_end - 4)
}
