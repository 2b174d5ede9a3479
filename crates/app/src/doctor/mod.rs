//! The production checklist (`spiritus doctor`): every item of the architecture document's
//! deployment checklist that software can check, each with a verdict and the fix.
//!
//! Doctor answers "is this ready for production?" whatever `environment` says, so a fresh
//! development setup fails it. Items whose feature does not exist in this build are listed as
//! unavailable rather than passed.

mod checks;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::App;
use crate::bootstrap::DataDir;
use crate::config::Config;

pub use checks::{secret_strength_bits, uses_generated_secret};

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    /// The feature this item checks is not part of this build.
    Unavailable,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
            Verdict::Unavailable => "n/a",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// A stable identifier, for scripts reading `--format json`.
    pub id: &'static str,
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do about it, when the verdict is not a pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(id: &'static str, detail: impl Into<String>) -> Self {
        Self {
            id,
            verdict: Verdict::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn warn(id: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id,
            verdict: Verdict::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn fail(id: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id,
            verdict: Verdict::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn unavailable(id: &'static str, detail: impl Into<String>) -> Self {
        Self {
            id,
            verdict: Verdict::Unavailable,
            detail: detail.into(),
            fix: None,
        }
    }
}

/// Facts about the served certificate, read by the caller (the TLS code lives in the server).
#[derive(Debug, Clone)]
pub struct CertificateFacts {
    pub path: PathBuf,
    pub self_signed: bool,
    pub not_after: DateTime<Utc>,
    pub subject: String,
}

/// Everything the checks look at.
pub struct DoctorInputs<'a> {
    pub config: &'a Config,
    pub data_dir: &'a DataDir,
    /// The certificate, or why it could not be read.
    pub certificate: Result<CertificateFacts, String>,
    /// The opened application, or why it could not be opened (then database-backed checks
    /// fail with that reason).
    pub app: Result<&'a App, String>,
    /// Whether the process runs as root.
    pub running_as_root: bool,
    pub now: DateTime<Utc>,
}

/// Runs every check, in checklist order.
pub async fn run_checks(inputs: &DoctorInputs<'_>) -> Vec<Check> {
    let mut results = vec![
        checks::tls(inputs),
        checks::secrets_not_literal(inputs.config),
        checks::secrets_not_generated(inputs.config, inputs.data_dir),
    ];
    results.push(checks::secret_strength(inputs).await);
    results.push(checks::database(inputs).await);
    results.push(checks::second_factors(inputs).await);
    results.push(checks::admin_allowlist(inputs.config));
    results.push(checks::audit_log(inputs).await);
    results.push(checks::backups(inputs.config));
    results.push(checks::alerting(inputs.config));
    results.push(checks::rate_limits(inputs.config));
    results.push(checks::metrics_exposure(inputs.config));
    results.push(checks::file_permissions(inputs.data_dir));
    results.push(checks::not_root(inputs.running_as_root));
    results
}

/// Whether any check failed.
pub fn any_failed(checks: &[Check]) -> bool {
    checks.iter().any(|check| check.verdict == Verdict::Fail)
}
