//! One stats round (QueryStats over gRPC + parsing) against a stand-in core API holding
//! counters for many users; prints one JSON object per user count.
//!
//! Run: `cargo bench -p spiritus-proxy --bench stats_round` (user counts may be given as
//! arguments; default 1000, 10000 and 100000).

use spiritus_proxy::bench_support::measure_stats_round;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    if counts.is_empty() {
        counts = vec![1_000, 10_000, 100_000];
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    for users in counts {
        let report = runtime.block_on(measure_stats_round(users))?;
        println!("{}", serde_json::to_string(&report)?);
    }

    Ok(())
}
