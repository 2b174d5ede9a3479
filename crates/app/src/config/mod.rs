//! The panel's configuration: `spiritus.toml` in the data directory (or the file given with
//! `--config`), overridden by `SPIRITUS_*` environment variables.
//!
//! Every section rejects unknown keys, so a typo is a start-up error rather than a silently
//! ignored setting. Secret settings hold references (`env:`, `file:`, `vault:`, `sops:` or a
//! literal) that [`crate::secrets`] resolves.

mod alerts;
mod load;
mod network;
mod responses;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use spiritus_proxy::settings::CoreSettings;

pub use alerts::{
    AlertsConfig, ChannelConfig, ChatId, EmailChannel, PagerDutyChannel, SlackChannel, SmtpTls,
    TelegramChannel, WebhookChannel,
};
pub use load::{ConfigError, ENV_PREFIX, load_config, render_default_config};
pub use network::{Cidr, CidrList, canonical_ip as network_canonical_ip, parse_cidr};
pub use responses::{EventKind, ResponseAction, ResponseRule, ResponsesConfig};

/// Where the panel runs: production makes `serve` refuse generated development secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    #[default]
    Development,
    Production,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTPS address.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Base URL clients see; defaults to `https://` + `listen`.
    pub public_url: Option<String>,
    #[serde(default)]
    pub environment: Environment,
    /// `sqlite://…` or `postgres://…`, or a secret reference to one.
    pub database_url: Option<String>,
    /// Redis for ephemeral state (or a secret reference); unset keeps it in process.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key of this deployment (default `spiritus:`), so several
    /// deployments can share one Redis.
    pub redis_key_prefix: Option<String>,
    #[serde(default)]
    pub core: CoreSettings,
    #[serde(default)]
    pub tls: TlsConfig,
    /// A plain-HTTP listener that only redirects to HTTPS.
    pub http_redirect_listen: Option<SocketAddr>,
    /// Peers whose forwarding headers are believed.
    #[serde(default)]
    pub trusted_proxies: CidrList,
    /// Addresses allowed on the admin API and admin login; empty allows all.
    #[serde(default)]
    pub admin_allowlist: CidrList,
    #[serde(default)]
    pub geo: GeoConfig,
    #[serde(default)]
    pub cors: CorsConfig,
    #[serde(default)]
    pub headers: HeadersConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub secrets: SecretsConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub honey: HoneyConfig,
    #[serde(default)]
    pub webauthn: WebauthnConfig,
    #[serde(default)]
    pub mfa: MfaConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    #[serde(default)]
    pub subscription: SubscriptionConfig,
    #[serde(default)]
    pub backup: BackupConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default)]
    pub responses: ResponsesConfig,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}

impl Config {
    /// The base URL clients use, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://{}", self.listen),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; unset uses the generated self-signed certificate.
    pub cert: Option<PathBuf>,
    /// PEM private key for `cert`.
    pub key: Option<PathBuf>,
    /// PEM bundle of CAs whose client certificates the admin API requires.
    pub client_ca: Option<PathBuf>,
    /// Adds `preload` to HSTS.
    #[serde(default)]
    pub hsts_preload: bool,
}

/// What to do with an address the geo database cannot place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeoPolicy {
    #[default]
    Allow,
    Deny,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoConfig {
    /// MaxMind country database (`.mmdb`).
    pub database: Option<PathBuf>,
    /// ISO 3166-1 alpha-2 codes to refuse.
    #[serde(default)]
    pub blocked_countries: Vec<String>,
    /// Policy for addresses the database does not know.
    #[serde(default)]
    pub unknown: GeoPolicy,
    /// Policy for loopback and private ranges, which no database places.
    #[serde(default)]
    pub private: GeoPolicy,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins allowed to call the API from a browser.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// Which origins may embed the panel's responses (`Cross-Origin-Resource-Policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourcePolicy {
    SameOrigin,
    SameSite,
    #[default]
    CrossOrigin,
}

impl ResourcePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourcePolicy::SameOrigin => "same-origin",
            ResourcePolicy::SameSite => "same-site",
            ResourcePolicy::CrossOrigin => "cross-origin",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadersConfig {
    /// `Cross-Origin-Resource-Policy` on every response; `cross-origin` lets other sites load
    /// subscription documents and QR images.
    #[serde(default)]
    pub cross_origin_resource_policy: ResourcePolicy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Plain-HTTP metrics listener address, or `off`.
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
    /// Secret reference to a bearer token the scraper must send; unset = no token.
    pub bearer_token: Option<String>,
}

fn default_metrics_listen() -> String {
    "127.0.0.1:9464".into()
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: default_metrics_listen(),
            bearer_token: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Also write log lines to this file (fail2ban reads it).
    pub file: Option<PathBuf>,
    /// `tracing` filter, for example `info` or `spiritus=debug`.
    #[serde(default = "default_log_level")]
    pub level: String,
}

fn default_log_level() -> String {
    "info".into()
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            file: None,
            level: default_log_level(),
        }
    }
}

/// Secret references for the keys the panel generates at first start.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// JWT signing keys, newest first: the first signs, all verify.
    #[serde(default)]
    pub jwt_keys: Vec<String>,
    pub pepper: Option<String>,
    pub audit_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Entries older than this many days are pruned behind a signed checkpoint.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// Append-only file outside the data directory that receives every signed tree head.
    pub witness_file: Option<PathBuf>,
    /// Seconds between signed tree heads while entries are being added.
    #[serde(default = "default_tree_head_interval")]
    pub tree_head_interval_seconds: u64,
    /// Seconds during which repeated denials from one address share one audit entry.
    #[serde(default = "default_denial_window")]
    pub denial_window_seconds: u64,
}

fn default_retention_days() -> u32 {
    90
}

fn default_tree_head_interval() -> u64 {
    60
}

fn default_denial_window() -> u64 {
    300
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_days: default_retention_days(),
            witness_file: None,
            tree_head_interval_seconds: default_tree_head_interval(),
            denial_window_seconds: default_denial_window(),
        }
    }
}

/// Which passwords a decoy account accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoneyAccept {
    /// Any password "succeeds".
    #[default]
    Any,
    /// Only `bait_password` succeeds.
    Bait,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoneyConfig {
    /// Decoy account names; compared without regard to letter case.
    #[serde(default = "default_honey_names")]
    pub usernames: Vec<String>,
    #[serde(default)]
    pub accept: HoneyAccept,
    /// Secret reference to the bait password when `accept = "bait"`.
    pub bait_password: Option<String>,
}

fn default_honey_names() -> Vec<String> {
    vec!["admin_backup".into(), "system_test".into()]
}

impl Default for HoneyConfig {
    fn default() -> Self {
        Self {
            usernames: default_honey_names(),
            accept: HoneyAccept::default(),
            bait_password: None,
        }
    }
}

impl HoneyConfig {
    pub fn is_honey_name(&self, name: &str) -> bool {
        self.usernames
            .iter()
            .any(|honey| honey.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebauthnConfig {
    pub rp_id: Option<String>,
    pub origin: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaConfig {
    /// Every admin must enrol a second factor before doing anything else.
    #[serde(default)]
    pub required_for_admins: bool,
    /// Known addresses may skip the second factor for this many hours (0 = never skip).
    #[serde(default)]
    pub skip_on_known_ips_hours: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body in bytes.
    #[serde(default = "default_body_bytes")]
    pub body_bytes: usize,
    /// Largest body for bulk operations in bytes.
    #[serde(default = "default_bulk_body_bytes")]
    pub bulk_body_bytes: usize,
    /// Seconds a client may take to send the request headers.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_seconds: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: u64,
    /// Seconds a request may take before it is answered with 503.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u64,
    /// Most simultaneous connections.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most Argon2 computations at once (each takes 64 MiB); 0 = number of CPU cores.
    #[serde(default)]
    pub hash_concurrency: usize,
    /// Seconds a login waits for a free hashing slot before it is refused with 503.
    #[serde(default = "default_hash_wait")]
    pub hash_wait_seconds: u64,
}

fn default_body_bytes() -> usize {
    1024 * 1024
}

fn default_bulk_body_bytes() -> usize {
    8 * 1024 * 1024
}

fn default_header_timeout() -> u64 {
    10
}

fn default_idle_timeout() -> u64 {
    60
}

fn default_request_timeout() -> u64 {
    30
}

fn default_max_connections() -> usize {
    4096
}

fn default_hash_wait() -> u64 {
    2
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            body_bytes: default_body_bytes(),
            bulk_body_bytes: default_bulk_body_bytes(),
            header_timeout_seconds: default_header_timeout(),
            idle_timeout_seconds: default_idle_timeout(),
            request_timeout_seconds: default_request_timeout(),
            max_connections: default_max_connections(),
            hash_concurrency: 0,
            hash_wait_seconds: default_hash_wait(),
        }
    }
}

/// Request limits per sliding window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Requests per minute per client address.
    #[serde(default = "default_per_ip_per_minute")]
    pub per_ip_per_minute: u64,
    /// Requests per hour per authenticated account.
    #[serde(default = "default_per_user_per_hour")]
    pub per_user_per_hour: u64,
    /// Password attempts per 5 minutes per address and per (username, address).
    #[serde(default = "default_login_attempts")]
    pub login_attempts: u64,
    /// Password attempts per hour for one username from all addresses, past which the
    /// second factor is required.
    #[serde(default = "default_login_username_global")]
    pub login_username_per_hour: u64,
    /// Second-factor codes per 5 minutes per account.
    #[serde(default = "default_second_factor_attempts")]
    pub second_factor_attempts: u64,
    /// Failed logins per hour after which an account is suspended.
    #[serde(default = "default_suspend_after")]
    pub suspend_after_failures: u64,
    /// Login-limit trips per hour after which an address is blocked.
    #[serde(default = "default_block_after")]
    pub block_after_trips: u64,
    /// Seconds an automatic IP block lasts.
    #[serde(default = "default_block_seconds")]
    pub block_seconds: u64,
    /// Extra limits for single routes, counted per client address.
    #[serde(default)]
    pub routes: Vec<RouteLimit>,
}

/// A request limit of its own for one route or a family of routes.
///
/// ```toml
/// [[rate_limits.routes]]
/// path = "/api/admin/users/bulk"   # exact; "/api/admin/audit/*" covers everything below
/// limit = 10
/// window_seconds = 60
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteLimit {
    pub path: String,
    pub limit: u64,
    #[serde(default = "default_route_window")]
    pub window_seconds: u64,
}

fn default_route_window() -> u64 {
    60
}

impl RouteLimit {
    /// Whether a request path falls under this limit.
    pub fn covers(&self, path: &str) -> bool {
        match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_per_ip_per_minute() -> u64 {
    100
}

fn default_per_user_per_hour() -> u64 {
    1000
}

fn default_login_attempts() -> u64 {
    5
}

fn default_login_username_global() -> u64 {
    20
}

fn default_second_factor_attempts() -> u64 {
    5
}

fn default_suspend_after() -> u64 {
    10
}

fn default_block_after() -> u64 {
    3
}

fn default_block_seconds() -> u64 {
    3600
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            per_ip_per_minute: default_per_ip_per_minute(),
            per_user_per_hour: default_per_user_per_hour(),
            login_attempts: default_login_attempts(),
            login_username_per_hour: default_login_username_global(),
            second_factor_attempts: default_second_factor_attempts(),
            suspend_after_failures: default_suspend_after(),
            block_after_trips: default_block_after(),
            block_seconds: default_block_seconds(),
            routes: Vec::new(),
        }
    }
}

/// Encrypted backups written by the panel itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// age recipients (public keys, `age1…`) every backup is encrypted to.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Folder that receives scheduled backups; keep it off the data directory's disk.
    pub directory: Option<std::path::PathBuf>,
    /// Hours between scheduled backups; 0 turns them off.
    #[serde(default)]
    pub interval_hours: u32,
    /// Scheduled backups kept in `directory`; older ones are deleted.
    #[serde(default = "default_backups_kept")]
    pub keep: u32,
}

fn default_backups_kept() -> u32 {
    14
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// Hours between client refreshes, sent as `Profile-Update-Interval`.
    #[serde(default = "default_update_interval")]
    pub update_interval_hours: u32,
    /// Host clients dial for the proxy; defaults to the host of `public_url`.
    pub proxy_host: Option<String>,
}

fn default_update_interval() -> u32 {
    12
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        Self {
            update_interval_hours: default_update_interval(),
            proxy_host: None,
        }
    }
}
