//! The command line: `all` or one scenario, with the run's size and where results go, and
//! `check` for a results file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use crate::machine::Machine;
use crate::report::{Report, missing_scenarios};
use crate::scale::Scale;
use crate::scenarios::{self, Scenario};

#[derive(Debug, Parser)]
#[command(
    name = "spiritus-bench",
    about = "Benchmarks the Spiritus panel against ceilings measured in the same run"
)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every scenario, in one run.
    All(RunArgs),
    /// One stats round for every stored user.
    StatsIngestion(RunArgs),
    /// The user list's COUNT(*) beside its whole first page.
    UserCount(RunArgs),
    /// Audit append rate and verification beside raw SHA-256.
    Audit(RunArgs),
    /// Password login beside a bare Argon2id hash.
    Login(RunArgs),
    /// GET /api/admin/users?limit=100 under load beside a trivial handler.
    UsersList(RunArgs),
    /// GET /sub/{token} under load beside a trivial handler.
    Subscription(RunArgs),
    /// Idle and peak resident memory, cold start.
    Footprint(RunArgs),
    /// The user list with every middleware beside the bare handler.
    Defences(RunArgs),
    /// Checks that a results.json contains every scenario of `all`.
    Check {
        /// The results file.
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Small data and short loads (about 1 000 users, 10 000 audit entries), for CI.
    #[arg(long)]
    smoke: bool,
    /// Seed of the synthetic data set.
    #[arg(long, default_value_t = 12)]
    seed: u64,
    /// Folder for results.json and results.md.
    #[arg(long, default_value = "bench")]
    out: PathBuf,
    /// The `spiritus` binary to start; default: the one next to this binary.
    #[arg(long)]
    spiritus: Option<PathBuf>,
    /// Number of stored users (overrides the scale's).
    #[arg(long)]
    users: Option<u32>,
    /// Connections of the load generator (overrides the scale's).
    #[arg(long)]
    connections: Option<usize>,
    /// Seconds of each measured load (overrides the scale's).
    #[arg(long)]
    seconds: Option<u64>,
}

impl RunArgs {
    fn scale(&self) -> Scale {
        let mut scale = if self.smoke {
            Scale::smoke(self.seed)
        } else {
            Scale::full(self.seed)
        };
        if let Some(users) = self.users {
            scale.users = users;
        }
        if let Some(connections) = self.connections {
            scale.concurrency = connections.max(1);
        }
        if let Some(seconds) = self.seconds {
            scale.load_duration = Duration::from_secs(seconds.max(1));
        }
        scale
    }

    fn binary(&self) -> anyhow::Result<PathBuf> {
        let binary = match &self.spiritus {
            Some(path) => path.clone(),
            None => std::env::current_exe()?
                .parent()
                .context("this binary has no folder")?
                .join("spiritus"),
        };
        if !binary.is_file() {
            bail!(
                "{} does not exist; build it first (`cargo build --release -p spiritus-cli`, \
                 which scripts/bench does) or name it with --spiritus",
                binary.display()
            );
        }
        Ok(binary)
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (selection, run_args) = match &args.command {
        Command::All(run) => (Scenario::ALL.to_vec(), run),
        Command::StatsIngestion(run) => (vec![Scenario::StatsIngestion], run),
        Command::UserCount(run) => (vec![Scenario::UserCount], run),
        Command::Audit(run) => (vec![Scenario::Audit], run),
        Command::Login(run) => (vec![Scenario::Login], run),
        Command::UsersList(run) => (vec![Scenario::UsersList], run),
        Command::Subscription(run) => (vec![Scenario::Subscription], run),
        Command::Footprint(run) => (vec![Scenario::Footprint], run),
        Command::Defences(run) => (vec![Scenario::Defences], run),
        Command::Check { file } => return check(file),
    };
    measure(&selection, run_args).await
}

async fn measure(selection: &[Scenario], args: &RunArgs) -> anyhow::Result<()> {
    let scale = args.scale();
    let binary = args.binary()?;
    let mut machine = Machine::read(Path::new("."));
    let output = scenarios::run(selection, &scale, &binary).await?;
    machine.finish();
    let mut report = Report::new(machine, &scale, output.data_set, &binary);
    report.scenarios = output.results;
    report.write(&args.out)?;
    print!("{}", report.markdown());
    println!("\nwritten to {}", args.out.join("results.json").display());
    Ok(())
}

fn check(file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let results: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let missing = missing_scenarios(&results);
    if !missing.is_empty() {
        bail!(
            "{} lacks figures for: {}",
            file.display(),
            missing.join(", ")
        );
    }
    println!("{} contains every scenario", file.display());
    Ok(())
}
