//! The command-line grammar.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "spiritus",
    version,
    about = "Self-hosted VPN/proxy panel: users, quotas, subscriptions and a hardened admin API"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Data directory holding the database, secrets, certificates and configuration.
    #[arg(long, global = true, default_value = "./spiritus-data")]
    pub data_dir: PathBuf,
    /// Configuration file to use instead of <data-dir>/spiritus.toml.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the panel: HTTPS API, subscriptions and the proxy core.
    Serve(ServeArgs),
    /// Manage panel accounts (owner, admins, agents).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage VPN users.
    #[command(subcommand)]
    User(UserCommand),
    /// TLS helpers.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check whether this installation is ready for production; exits 1 when a check fails.
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTPS address to listen on (overrides `listen` in the configuration).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Owner,
    Admin,
    Agent,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a panel account; the password is read as one line from standard input.
    Create {
        name: String,
        #[arg(long, value_enum, default_value = "admin")]
        role: RoleArg,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Set an account's password, read as one line from standard input; ends its sessions.
    Passwd {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List panel accounts.
    List,
    /// Remove every second factor (TOTP, backup codes, passkeys) of an account and end its
    /// sessions; works while the panel is stopped, for an owner locked out of its own account.
    #[command(name = "reset-2fa")]
    Reset2fa { name: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List VPN users.
    List {
        /// Most users to show.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Create a VPN user.
    Create {
        name: String,
        /// Quota in decimal gigabytes; 0 means unlimited.
        #[arg(long)]
        traffic_limit_gb: f64,
        /// Days until the user expires (1 to 365).
        #[arg(long)]
        expire_days: i64,
        /// Free-text note.
        #[arg(long, default_value = "")]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Print the SPKI SHA-256 pin (base64) of the certificate the panel serves.
    Pin,
}
