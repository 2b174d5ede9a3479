//! Full-verification throughput beside plain SHA-256 over the same canonical bytes.
//!
//! Run: `cargo bench -p spiritus-audit --bench verify` (1,000,000 entries), or set the entry
//! count with `SPIRITUS_AUDIT_BENCH_ENTRIES=10000` or a bare number argument for a quick run.
//! Prints one JSON object.

use spiritus_audit::bench_support::run_verify_bench;

const DEFAULT_ENTRIES: u64 = 1_000_000;

fn main() {
    let from_args = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<u64>().ok());
    let from_env = std::env::var("SPIRITUS_AUDIT_BENCH_ENTRIES")
        .ok()
        .and_then(|text| text.parse().ok());
    let entries = from_args.or(from_env).unwrap_or(DEFAULT_ENTRIES);

    let result = run_verify_bench(entries);
    match serde_json::to_string_pretty(&result) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("cannot print the benchmark result: {error}"),
    }
    if !result.valid {
        eprintln!("the synthetic log did not verify; the numbers above are meaningless");
        std::process::exit(1);
    }
}
