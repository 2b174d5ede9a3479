//! The load generator: many keep-alive HTTPS connections sending GETs for a fixed time, and
//! the latency distribution of what they got back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

/// What one load run measured (warm-up excluded).
#[derive(Debug, Clone, Serialize)]
pub struct LoadOutcome {
    pub connections: usize,
    pub seconds: f64,
    /// Requests answered with the expected status.
    pub requests: u64,
    /// Requests that failed or got another status.
    pub failures: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One GET request the generator repeats: the paths are used in turn.
#[derive(Clone)]
pub struct LoadTarget {
    pub base_url: String,
    pub paths: Arc<Vec<String>>,
    pub bearer: Option<String>,
}

/// How long and how wide a load run is.
#[derive(Debug, Clone, Copy)]
pub struct LoadPlan {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// Sends requests on `plan.connections` callers at once; counts only the requests started
/// after the warm-up and finished before the end.
pub async fn drive(client: &reqwest::Client, target: &LoadTarget, plan: LoadPlan) -> LoadOutcome {
    let measure_from = Instant::now() + plan.warmup;
    let end = measure_from + plan.duration;
    let callers: Vec<_> = (0..plan.connections)
        .map(|caller| {
            let client = client.clone();
            let target = target.clone();
            tokio::spawn(async move {
                run_caller(
                    &client,
                    &target,
                    caller,
                    plan.connections,
                    measure_from,
                    end,
                )
                .await
            })
        })
        .collect();

    let mut latencies = Vec::new();
    let mut failures = 0;
    for caller in callers {
        if let Ok((times, failed)) = caller.await {
            latencies.extend(times);
            failures += failed;
        }
    }
    summarise(plan, latencies, failures)
}

async fn run_caller(
    client: &reqwest::Client,
    target: &LoadTarget,
    caller: usize,
    stride: usize,
    measure_from: Instant,
    end: Instant,
) -> (Vec<u32>, u64) {
    let mut latencies = Vec::new();
    let mut failures = 0;
    let mut index = caller;
    loop {
        let started = Instant::now();
        if started >= end {
            break;
        }
        let path = &target.paths[index % target.paths.len()];
        index += stride;
        let ok = get(client, target, path).await;
        let finished = Instant::now();
        if started < measure_from || finished > end {
            continue;
        }
        if ok {
            let micros = finished.duration_since(started).as_micros();
            latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
        } else {
            failures += 1;
        }
    }
    (latencies, failures)
}

/// Sends one GET and reads the whole body; true when the answer was 200.
async fn get(client: &reqwest::Client, target: &LoadTarget, path: &str) -> bool {
    let mut request = client.get(format!("{}{path}", target.base_url));
    if let Some(token) = &target.bearer {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(response) => {
            let ok = response.status() == reqwest::StatusCode::OK;
            response.bytes().await.is_ok() && ok
        }
        Err(_) => false,
    }
}

fn summarise(plan: LoadPlan, mut latencies: Vec<u32>, failures: u64) -> LoadOutcome {
    latencies.sort_unstable();
    let seconds = plan.duration.as_secs_f64();
    let requests = latencies.len() as u64;
    LoadOutcome {
        connections: plan.connections,
        seconds,
        requests,
        failures,
        requests_per_second: requests as f64 / seconds.max(f64::MIN_POSITIVE),
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        max_ms: latencies
            .last()
            .map_or(0.0, |&micros| f64::from(micros) / 1000.0),
    }
}

/// The `quantile` of sorted microsecond latencies, in milliseconds (nearest rank).
pub fn percentile_ms(sorted_micros: &[u32], quantile: f64) -> f64 {
    if sorted_micros.is_empty() {
        return 0.0;
    }
    let rank = (quantile * sorted_micros.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_micros.len()) - 1;
    f64::from(sorted_micros[index]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();

        assert_eq!(percentile_ms(&sorted, 0.50), 50.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 99.0);
        assert_eq!(percentile_ms(&[7000], 0.99), 7.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}
