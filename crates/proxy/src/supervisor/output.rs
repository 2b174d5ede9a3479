//! Forwards the core's standard output and error into tracing, at most a fixed number of
//! lines per second so a core stuck in a loop cannot flood the panel's log.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Lines forwarded per second and stream; the rest are counted and summarised.
const LINES_PER_SECOND: u32 = 20;
/// Maximum characters forwarded per line; longer lines are cut.
const MAX_FORWARDED_CHARS: usize = 1000;

/// Counts lines in one-second windows.
struct RateLimit {
    window_start: Instant,
    forwarded: u32,
    suppressed: u64,
}

impl RateLimit {
    fn new() -> Self {
        Self {
            window_start: Instant::now(),
            forwarded: 0,
            suppressed: 0,
        }
    }

    /// True when the line may be logged; reports lines dropped in the previous window.
    fn admit(&mut self, stream: &'static str) -> bool {
        if self.window_start.elapsed() >= Duration::from_secs(1) {
            if self.suppressed > 0 {
                tracing::warn!(target: "spiritus_proxy::core", stream, suppressed = self.suppressed, "core output lines dropped by the rate limit");
            }
            *self = Self::new();
        }

        if self.forwarded < LINES_PER_SECOND {
            self.forwarded += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }
}

/// Reads `reader` line by line until it closes, logging each admitted line.
pub async fn forward(reader: impl AsyncRead + Unpin, stream: &'static str, pid: u32) {
    let mut lines = BufReader::new(reader).lines();
    let mut limit = RateLimit::new();

    while let Ok(Some(line)) = lines.next_line().await {
        if !limit.admit(stream) {
            continue;
        }

        let line: String = line.chars().take(MAX_FORWARDED_CHARS).collect();
        if line.contains("[Error]") || line.contains("[Warning]") {
            tracing::warn!(target: "spiritus_proxy::core", stream, pid, "{line}");
        } else {
            tracing::debug!(target: "spiritus_proxy::core", stream, pid, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_admits_a_fixed_number_per_window() {
        let mut limit = RateLimit::new();

        let admitted = (0..100).filter(|_| limit.admit("stderr")).count();

        assert_eq!(admitted, LINES_PER_SECOND as usize);
        assert_eq!(limit.suppressed, 100 - u64::from(LINES_PER_SECOND));
    }
}
