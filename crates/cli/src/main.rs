//! The `spiritus` command.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod context;
mod logging;
mod monitoring;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // A git-ignored .env.local in the working directory supplies development variables. It
    // is read before any thread starts, because it changes the process environment.
    if let Err(error) = spiritus_secrets::dotenv::load_env_local(std::path::Path::new(".")) {
        eprintln!("error: {error}");
        return std::process::ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if !matches!(cli.command, Command::Serve(_)) {
        logging::init_console();
    }
    match &cli.command {
        Command::Serve(args) => commands::serve::run(&cli.global, args).await,
        Command::Admin(command) => commands::admin::run(&cli.global, command).await,
        Command::User(command) => commands::user::run(&cli.global, command).await,
        Command::Tls(command) => commands::tls::run(&cli.global, command),
        Command::Migrate => commands::migrate::run(&cli.global).await,
        Command::Doctor(args) => {
            if commands::doctor::run(&cli.global, args).await? {
                Ok(())
            } else {
                std::process::exit(1);
            }
        }
        Command::Incident(command) => commands::incident::run(&cli.global, command).await,
        Command::Backup(command) => commands::backup::run(&cli.global, command).await,
        Command::Audit(command) => commands::audit::run(&cli.global, command).await,
    }
}
