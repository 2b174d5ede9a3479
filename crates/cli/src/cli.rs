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
    /// Verify, export and query the tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Respond to an incident: end sessions, force password resets, suspend accounts, block
    /// addresses and export the blocks as firewall rules.
    #[command(subcommand, long_about = INCIDENT_ABOUT)]
    Incident(IncidentCommand),
    /// Check whether this installation is ready for production; exits 1 when a check fails.
    Doctor(DoctorArgs),
    /// Write, check and restore encrypted backups.
    #[command(subcommand)]
    Backup(BackupCommand),
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write an encrypted backup of the data directory (database snapshot, configuration,
    /// secret files, TLS files), safe while the panel runs.
    Create {
        /// File to write; defaults to backup.directory/spiritus-<time>.tar.age.
        #[arg(long)]
        output: Option<PathBuf>,
        /// age recipient (public key, age1…) to encrypt to; repeatable. Defaults to
        /// backup.recipients.
        #[arg(long = "recipient")]
        recipients: Vec<String>,
    },
    /// Decrypt a backup into a new data directory and check the restored database.
    Restore {
        /// The backup file.
        #[arg(long)]
        input: PathBuf,
        /// age identity file (AGE-SECRET-KEY-1… lines) matching a recipient of the backup.
        #[arg(long)]
        identity: PathBuf,
        /// The new data directory; it must not exist or be empty.
        #[arg(long)]
        target: PathBuf,
    },
    /// Restore a backup into a temporary folder, check it, and delete the folder.
    Verify {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        identity: PathBuf,
    },
}

const INCIDENT_ABOUT: &str = "\
Respond to an incident: end sessions, force password resets, suspend accounts, block
addresses and export the blocks as firewall rules. Every command is audited with the actor
`console`.

Suspensions and forced password resets take effect at once, also on a running panel, which
reads them from the database on every call. Ended sessions and IP blocks are written to the
database and to the ephemeral store. With Redis (redis_url set) that store is shared, so
`revoke-sessions`, `block-ip` and `unblock-ip` here reach a running panel at once. With the
default in-process store a running panel reloads them only when it starts (refresh tokens of
ended sessions stop at once; their access tokens at the next start): while the panel runs,
use the API instead (POST /api/admin/incident/accounts/{name}/revoke-sessions,
POST /api/admin/incident/ip-blocks, DELETE /api/admin/incident/ip-blocks/{ip}). `blocks` and
`nftables` here always show what the database holds.";

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// End every session of an account (its tokens stop working at once).
    RevokeSessions { name: String },
    /// Make an account change its password at its next login, and end its sessions.
    ForcePasswordReset { name: String },
    /// Suspend an account: it can no longer log in, and its sessions end.
    Suspend {
        name: String,
        #[arg(long, default_value = "suspended from the console")]
        reason: String,
    },
    /// Lift the suspension of an account.
    Unsuspend { name: String },
    /// Block a client address (IPv4 or IPv6).
    BlockIp {
        ip: String,
        /// How long the block lasts; defaults to rate_limits.block_seconds.
        #[arg(long)]
        seconds: Option<u64>,
        #[arg(long, default_value = "blocked from the console")]
        reason: String,
    },
    /// Lift the block of a client address.
    UnblockIp { ip: String },
    /// List the blocked addresses.
    Blocks,
    /// Print the blocked addresses as an nftables ruleset (load it with `nft -f FILE`).
    Nftables {
        /// Write the ruleset to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
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

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the audit log offline: the data directory's database, or an export file.
    /// Exits 0 when intact; otherwise names the first bad entry and the kind of damage.
    Verify(AuditVerifyArgs),
    /// Write the log as JSON lines; any filter gives a proof-carrying export of the matches.
    Export {
        /// File to write; standard output when unset.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        filter: AuditFilterArgs,
    },
    /// Print the entries matching the filters, newest first, one JSON line each.
    Query {
        #[command(flatten)]
        filter: AuditFilterArgs,
    },
    /// Sign a tree head over the whole log now, store and witness it, and print it.
    TreeHead,
    /// Prune the entries older than audit.retention_days behind a signed checkpoint.
    Prune,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// A signed tree head saved earlier (the body of GET /api/admin/audit/tree-head); the
    /// log must still extend it. May be given more than once.
    #[arg(long = "tree-head", value_name = "FILE")]
    pub tree_head: Vec<PathBuf>,
    /// A witness file (one tree head per line) in addition to the configured one.
    #[arg(long, value_name = "FILE")]
    pub witness: Vec<PathBuf>,
    /// Verify this export file instead of the database.
    #[arg(long, value_name = "FILE")]
    pub export: Option<PathBuf>,
    /// The audit public key (64 hex digits) to pin when verifying an export.
    #[arg(long, value_name = "HEX")]
    pub public_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditFilterArgs {
    /// Entries at or after this RFC 3339 time.
    #[arg(long)]
    pub from: Option<String>,
    /// Entries before this RFC 3339 time.
    #[arg(long)]
    pub to: Option<String>,
    /// Actor id (an account id, `system`, `anonymous` or `console`).
    #[arg(long)]
    pub actor: Option<String>,
    /// Client IP address.
    #[arg(long)]
    pub ip: Option<String>,
    /// Action, for example `login` or `user.create`.
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub resource_type: Option<String>,
    #[arg(long)]
    pub resource_id: Option<String>,
    /// Only successful (true) or failed (false) actions.
    #[arg(long)]
    pub success: Option<bool>,
    /// Most entries to print (1 to 1000).
    #[arg(long)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
}
