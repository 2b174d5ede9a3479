//! `spiritus-bench`: measures the panel's hot paths against the real release server and
//! reports each figure beside a ceiling measured in the same run.
//!
//! The binary builds nothing itself: `scripts/bench` builds `spiritus` and this binary, then
//! runs `spiritus-bench all`. Every scenario prepares its data set from a seed, so two runs
//! with the same seed store the same users.

mod cli;
mod dataset;
mod figures;
mod inproc;
mod load;
mod machine;
mod offline;
mod panel;
mod report;
mod scale;
mod scenarios;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let args = cli::Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(cli::run(args))
}
