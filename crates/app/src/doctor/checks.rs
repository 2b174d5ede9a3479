//! The individual checklist items.

use std::path::Path;

use spiritus_secrets::{ResolveContext, SecretRef, resolve_setting};

use super::{Check, DoctorInputs};
use crate::bootstrap::DataDir;
use crate::config::Config;
use crate::files::mode_of;
use spiritus_core::account::Role;

/// Days before expiry at which a certificate is reported.
const CERT_WARN_DAYS: i64 = 21;
/// Estimated bits below which a key is called weak.
const MIN_SECRET_BITS: f64 = 128.0;

pub(super) fn tls(inputs: &DoctorInputs<'_>) -> Check {
    let id = "tls_certificate";
    let facts = match &inputs.certificate {
        Ok(facts) => facts,
        Err(reason) => {
            return Check::fail(
                id,
                format!("the certificate cannot be read: {reason}"),
                "set tls.cert and tls.key to a readable PEM certificate chain and key",
            );
        }
    };
    let days_left = (facts.not_after - inputs.now).num_days();
    if facts.not_after <= inputs.now {
        return Check::fail(
            id,
            format!(
                "{} expired on {}",
                facts.path.display(),
                facts.not_after.date_naive()
            ),
            "renew the certificate; the panel reloads the files when they change",
        );
    }
    if facts.self_signed {
        return Check::warn(
            id,
            format!(
                "{} is self-signed ({})",
                facts.path.display(),
                facts.subject
            ),
            "use a certificate from a CA (tls.cert, tls.key), or distribute the printed SPKI pin to every client",
        );
    }
    if days_left < CERT_WARN_DAYS {
        return Check::warn(
            id,
            format!("{} expires in {days_left} days", facts.path.display()),
            "renew the certificate soon; the panel reloads the files when they change",
        );
    }
    Check::pass(
        id,
        format!(
            "{} ({}), {days_left} days left",
            facts.path.display(),
            facts.subject
        ),
    )
}

/// Every secret setting with its name.
fn secret_settings(config: &Config) -> Vec<(String, String)> {
    let mut settings = Vec::new();
    for (position, key) in config.secrets.jwt_keys.iter().enumerate() {
        settings.push((format!("secrets.jwt_keys[{position}]"), key.clone()));
    }
    let optional = [
        ("secrets.pepper", &config.secrets.pepper),
        ("secrets.audit_key", &config.secrets.audit_key),
        ("database_url", &config.database_url),
        ("redis_url", &config.redis_url),
        ("metrics.bearer_token", &config.metrics.bearer_token),
        ("honey.bait_password", &config.honey.bait_password),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            settings.push((name.to_owned(), value.clone()));
        }
    }
    settings
}

/// A URL setting is only a secret when it carries a password.
fn url_holds_password(value: &str) -> bool {
    value
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once('@'))
        .is_some_and(|(credentials, _)| credentials.contains(':'))
}

pub(super) fn secrets_not_literal(config: &Config) -> Check {
    let id = "secrets_not_literal";
    let mut literal = Vec::new();
    for (name, value) in secret_settings(config) {
        let is_url = name == "database_url" || name == "redis_url";
        if is_url && !url_holds_password(&value) {
            continue;
        }
        if matches!(value.parse::<SecretRef>(), Ok(SecretRef::Literal(_))) {
            literal.push(name);
        }
    }
    if literal.is_empty() {
        return Check::pass(
            id,
            "every secret setting is a reference (env:, file:, vault:, sops:)",
        );
    }
    Check::fail(
        id,
        format!(
            "secrets written into the configuration: {}",
            literal.join(", ")
        ),
        "move each value to Vault (vault:), a sops file (sops:), a secret file (file:) or the environment (env:)",
    )
}

/// Whether a setting points at a key file generated into the data directory at first start.
pub fn uses_generated_secret(value: &str, data_dir: &DataDir) -> bool {
    let secrets = data_dir.secrets();
    match value.parse::<SecretRef>() {
        Ok(SecretRef::File { path }) => path.starts_with(&secrets),
        _ => false,
    }
}

pub(super) fn secrets_not_generated(config: &Config, data_dir: &DataDir) -> Check {
    let id = "secrets_not_generated_defaults";
    let generated: Vec<String> = secret_settings(config)
        .into_iter()
        .filter(|(_, value)| uses_generated_secret(value, data_dir))
        .map(|(name, _)| name)
        .collect();
    if generated.is_empty() {
        return Check::pass(
            id,
            "no secret comes from the files generated at first start",
        );
    }
    Check::fail(
        id,
        format!(
            "still using the development keys generated into {}: {}",
            data_dir.secrets().display(),
            generated.join(", ")
        ),
        "provision production keys in a secret store (vault:, sops:, env:) and point these settings at them; a production start refuses generated keys",
    )
}

/// Estimates the entropy of a secret in bits from its length and character variety.
pub fn secret_strength_bits(value: &str) -> f64 {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for byte in bytes {
        counts[usize::from(*byte)] += 1;
    }
    let total = bytes.len() as f64;
    let per_symbol: f64 = counts
        .iter()
        .filter(|count| **count > 0)
        .map(|count| {
            let p = *count as f64 / total;
            -p * p.log2()
        })
        .sum();
    per_symbol * total
}

pub(super) async fn secret_strength(inputs: &DoctorInputs<'_>) -> Check {
    let id = "secret_strength";
    let context = ResolveContext::from_process_env().with_base_dir(inputs.data_dir.root.clone());
    let mut weak = Vec::new();
    let mut unreadable = Vec::new();
    let mut keys: Vec<(String, String)> = inputs
        .config
        .secrets
        .jwt_keys
        .iter()
        .enumerate()
        .map(|(position, key)| (format!("secrets.jwt_keys[{position}]"), key.clone()))
        .collect();
    if let Some(pepper) = &inputs.config.secrets.pepper {
        keys.push(("secrets.pepper".into(), pepper.clone()));
    }
    for (name, reference) in keys {
        match resolve_setting(&name, &reference, &context).await {
            Ok(value) => {
                let bits = secret_strength_bits(value.expose());
                if value.len() < 32 || bits < MIN_SECRET_BITS {
                    weak.push(format!("{name} (~{bits:.0} bits)"));
                }
            }
            Err(error) => unreadable.push(error.to_string()),
        }
    }
    if !unreadable.is_empty() {
        return Check::fail(
            id,
            unreadable.join("; "),
            "fix the secret references named above",
        );
    }
    if weak.is_empty() {
        return Check::pass(
            id,
            "signing keys and pepper are at least 32 bytes with at least 128 bits of estimated entropy",
        );
    }
    Check::fail(
        id,
        format!("weak keys: {}", weak.join(", ")),
        "replace them with 32 random bytes or more, for example `openssl rand -hex 32`",
    )
}

pub(super) async fn database(inputs: &DoctorInputs<'_>) -> Check {
    let id = "database";
    let app = match &inputs.app {
        Ok(app) => app,
        Err(reason) => {
            return Check::fail(
                id,
                format!("the database cannot be opened: {reason}"),
                "fix database_url and make sure the database answers",
            );
        }
    };
    let store = app.store();
    match store.backend() {
        spiritus_store::Backend::Sqlite => Check::pass(
            id,
            "embedded SQLite in the private data directory (file permissions are checked below)",
        ),
        spiritus_store::Backend::Postgres => {
            let reference = inputs.config.database_url.clone().unwrap_or_default();
            let resolved = resolve_setting(
                "database_url",
                &reference,
                &ResolveContext::from_process_env(),
            )
            .await
            .map(|url| url_holds_password(url.expose()))
            .unwrap_or(false);
            match store.database_role_is_superuser().await {
                Ok(true) => Check::fail(
                    id,
                    format!("{} connects as a superuser", store.display_url()),
                    "create a role that owns only the Spiritus database and connect as it",
                ),
                Ok(false) if !resolved => Check::warn(
                    id,
                    format!("{} has no password in its URL", store.display_url()),
                    "use password or certificate authentication for the database role, not trust",
                ),
                Ok(false) => Check::pass(
                    id,
                    format!("{} with a least-privilege role", store.display_url()),
                ),
                Err(error) => Check::fail(
                    id,
                    format!("cannot inspect the database role: {error}"),
                    "make sure the database answers",
                ),
            }
        }
    }
}

pub(super) async fn second_factors(inputs: &DoctorInputs<'_>) -> Check {
    let id = "admins_second_factor";
    let app = match &inputs.app {
        Ok(app) => app,
        Err(reason) => {
            return Check::fail(
                id,
                format!("cannot open the database: {reason}"),
                "fix database_url",
            );
        }
    };
    let accounts = match app.store().list_accounts().await {
        Ok(accounts) => accounts,
        Err(error) => {
            return Check::fail(
                id,
                format!("cannot list accounts: {error}"),
                "make sure the database answers",
            );
        }
    };
    let mut without = Vec::new();
    let mut checked = 0;
    for account in accounts
        .iter()
        .filter(|account| account.role != Role::Agent)
    {
        if inputs.config.honey.is_honey_name(account.name.as_str()) {
            continue;
        }
        checked += 1;
        match app.store().factor_summary(account.id).await {
            Ok(summary) if summary.totp || summary.passkeys > 0 => {}
            Ok(_) => without.push(account.name.to_string()),
            Err(error) => {
                return Check::fail(
                    id,
                    format!("cannot read second factors: {error}"),
                    "make sure the database answers",
                );
            }
        }
    }
    if without.is_empty() {
        return Check::pass(
            id,
            format!("all {checked} owner and admin accounts have a second factor"),
        );
    }
    Check::fail(
        id,
        format!("without a second factor: {}", without.join(", ")),
        "each of them enrols TOTP or a passkey (POST /api/auth/totp/setup), and the owner can require it (PUT /api/admin/settings/security)",
    )
}

pub(super) fn admin_allowlist(config: &Config) -> Check {
    let id = "admin_allowlist";
    if config.admin_allowlist.is_empty() {
        return Check::fail(
            id,
            "admin_allowlist is empty: the admin API answers every address",
            "set admin_allowlist to the CIDRs your operators connect from",
        );
    }
    let ranges: Vec<String> = config
        .admin_allowlist
        .iter()
        .map(ToString::to_string)
        .collect();
    Check::pass(id, format!("admin API limited to {}", ranges.join(", ")))
}

pub(super) async fn audit_log(inputs: &DoctorInputs<'_>) -> Check {
    let id = "audit_log";
    match &inputs.app {
        Ok(app) => match app.store().audit_head().await {
            Ok((size, _)) => Check::pass(id, format!("audit log on, {size} entries appended")),
            Err(error) => Check::fail(
                id,
                format!("cannot read the audit log: {error}"),
                "make sure the database answers",
            ),
        },
        Err(reason) => Check::fail(
            id,
            format!("cannot open the database: {reason}"),
            "fix database_url",
        ),
    }
}

pub(super) fn backups(config: &Config) -> Check {
    let id = "backups";
    let backup = &config.backup;
    let Some(directory) = backup.directory.as_ref() else {
        return Check::fail(
            id,
            "no backup.directory: the panel writes no scheduled backups",
            "set backup.directory (off this disk), backup.recipients (age public keys whose private keys are kept offline) and backup.interval_hours",
        );
    };
    if backup.recipients.is_empty() || backup.interval_hours == 0 {
        return Check::fail(
            id,
            "scheduled backups are off (backup.recipients or backup.interval_hours unset)",
            "set backup.recipients to age public keys and backup.interval_hours, for example 24",
        );
    }
    match crate::backup::latest_backup(directory) {
        None => Check::warn(
            id,
            format!(
                "scheduled every {} h into {}, none written yet",
                backup.interval_hours,
                directory.display()
            ),
            "run `spiritus backup create` once and `spiritus backup verify` on the result",
        ),
        Some((path, _)) => Check::pass(
            id,
            format!(
                "every {} h into {}; newest {}",
                backup.interval_hours,
                directory.display(),
                path.display()
            ),
        ),
    }
}

pub(super) fn alerting(config: &Config) -> Check {
    let id = "alerting";
    let channels = &config.alerts.channels;
    if channels.is_empty() {
        return Check::fail(
            id,
            "no alert channel is configured, so nobody hears of an intrusion",
            "add an [[alerts.channels]] entry (email, slack, telegram, webhook or pagerduty); \
             see docs/incident-response.md",
        );
    }
    let names: Vec<String> = channels
        .iter()
        .map(|channel| format!("{} ({})", channel.name(), channel.type_name()))
        .collect();
    Check::pass(id, format!("alerts go to {}", names.join(", ")))
}

pub(super) fn rate_limits(config: &Config) -> Check {
    let id = "rate_limits";
    let limits = &config.rate_limits;
    if !limits.enabled {
        return Check::fail(
            id,
            "rate limits are off: logins and API calls are not throttled",
            "set rate_limits.enabled = true (the bench profile is for benchmarks only)",
        );
    }
    let defaults = crate::config::RateLimitConfig::default();
    if limits.login_attempts > defaults.login_attempts * 10
        || limits.per_ip_per_minute > defaults.per_ip_per_minute * 10
    {
        return Check::warn(
            id,
            format!(
                "rate limits are raised far above their defaults (login_attempts = {}, \
                 per_ip_per_minute = {})",
                limits.login_attempts, limits.per_ip_per_minute
            ),
            "remove the raised rate_limits values unless this is a benchmark deployment",
        );
    }
    Check::pass(
        id,
        format!(
            "{} requests/min per address, {} logins per 5 min per address",
            limits.per_ip_per_minute, limits.login_attempts
        ),
    )
}

pub(super) fn metrics_exposure(config: &Config) -> Check {
    let id = "metrics_not_public";
    let listen = config.metrics.listen.trim();
    if listen == "off" {
        return Check::pass(id, "metrics listener off");
    }
    let loopback = listen
        .parse::<std::net::SocketAddr>()
        .map(|address| address.ip().is_loopback())
        .unwrap_or(false);
    if loopback || config.metrics.bearer_token.is_some() {
        return Check::pass(id, format!("metrics on {listen}"));
    }
    Check::fail(
        id,
        format!("metrics listen on {listen} without a bearer token"),
        "bind metrics.listen to a loopback address or set metrics.bearer_token",
    )
}

pub(super) fn file_permissions(data_dir: &DataDir) -> Check {
    let id = "file_permissions";
    let mut loose = Vec::new();
    collect_loose(&data_dir.root, &mut loose);
    if loose.is_empty() {
        return Check::pass(
            id,
            format!("{} is 0700 and its files 0600", data_dir.root.display()),
        );
    }
    Check::fail(
        id,
        format!("too open: {}", loose.join(", ")),
        format!(
            "chmod 700 on directories and 600 on files under {}",
            data_dir.root.display()
        ),
    )
}

fn collect_loose(path: &Path, loose: &mut Vec<String>) {
    let Ok(mode) = mode_of(path) else {
        return;
    };
    let expected = if path.is_dir() { 0o700 } else { 0o600 };
    if mode & 0o077 != 0 {
        loose.push(format!(
            "{} ({:o}, expected {:o})",
            path.display(),
            mode,
            expected
        ));
    }
    if path.is_dir()
        && let Ok(entries) = std::fs::read_dir(path)
    {
        for entry in entries.flatten() {
            collect_loose(&entry.path(), loose);
        }
    }
}

pub(super) fn not_root(running_as_root: bool) -> Check {
    if running_as_root {
        return Check::warn(
            "not_root",
            "the panel runs as root",
            "run it as a dedicated user (deploy/systemd/spiritus.service does)",
        );
    }
    Check::pass("not_root", "running as an unprivileged user")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_estimate_separates_random_from_repetitive() {
        assert!(secret_strength_bits(&"a".repeat(64)) < 1.0);
        assert!(secret_strength_bits("changeme-changeme-changeme-changeme") < MIN_SECRET_BITS);
        let hex = "3f1a9c0b7e42d5f86a1c3e9b0d7f2a4c5e8b1d3f6a9c2e4b7d0f1a3c5e7b9d2f";
        assert!(
            secret_strength_bits(hex) >= MIN_SECRET_BITS,
            "{}",
            secret_strength_bits(hex)
        );
    }

    #[test]
    fn rate_limits_check_verdicts() {
        let verdict = |text: &str| {
            let config: Config = toml::from_str(text).unwrap();
            rate_limits(&config).verdict
        };
        assert_eq!(verdict(""), super::super::Verdict::Pass);
        assert_eq!(
            verdict("[rate_limits]\nenabled = false\n"),
            super::super::Verdict::Fail
        );
        assert_eq!(
            verdict("[rate_limits]\nlogin_attempts = 1000000\n"),
            super::super::Verdict::Warn
        );
    }

    #[test]
    fn url_password_detection() {
        assert!(url_holds_password("postgres://u:p@h/db"));
        assert!(!url_holds_password("postgres://u@h/db"));
        assert!(!url_holds_password("sqlite:///data/x.db"));
    }
}
