//! `spiritus doctor`: the production checklist.

use spiritus_app::doctor::{Check, DoctorInputs, Verdict, any_failed, run_checks};
use spiritus_server::tls::{certificate_facts, default_paths, ensure_self_signed};

use crate::cli::{DoctorArgs, GlobalArgs, OutputFormat};
use crate::context::{build, load};

pub async fn run(global: &GlobalArgs, args: &DoctorArgs) -> anyhow::Result<bool> {
    let loaded = load(global)?;
    let config = loaded.config.clone();
    let data_dir = loaded.data_dir.clone();
    let opened = build(global, loaded).await;

    let cert_path = match &config.tls.cert {
        Some(path) => path.clone(),
        None => {
            // Every command prepares the data directory as `serve` would, certificate included.
            ensure_self_signed(&data_dir.tls(), &[])?;
            default_paths(&data_dir.tls()).0
        }
    };
    let certificate = certificate_facts(&cert_path).map_err(|error| error.to_string());
    let app = opened
        .as_ref()
        .map(|opened| &opened.app)
        .map_err(|error| format!("{error:#}"));
    let now = match &app {
        Ok(app) => app.now(),
        Err(_) => spiritus_core::Clock::now(&spiritus_core::SystemClock),
    };
    let inputs = DoctorInputs {
        config: &config,
        data_dir: &data_dir,
        certificate,
        app,
        running_as_root: running_as_root(),
        now,
    };
    let checks = run_checks(&inputs).await;
    match args.format {
        OutputFormat::Text => print_text(&checks),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&checks)?),
    }
    if let Ok(opened) = &opened {
        opened.app.store().close().await;
    }
    Ok(!any_failed(&checks))
}

fn print_text(checks: &[Check]) {
    for check in checks {
        println!(
            "[{:>4}] {:<32} {}",
            check.verdict.label(),
            check.id,
            check.detail
        );
        if let Some(fix) = &check.fix {
            println!("       {:<32} fix: {fix}", "");
        }
    }
    let failed = checks
        .iter()
        .filter(|check| check.verdict == Verdict::Fail)
        .count();
    let warned = checks
        .iter()
        .filter(|check| check.verdict == Verdict::Warn)
        .count();
    if failed == 0 {
        println!("ready for production ({warned} warnings)");
    } else {
        println!("NOT ready for production: {failed} checks failed, {warned} warnings");
    }
}

#[cfg(unix)]
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|meta| meta.uid() == 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn running_as_root() -> bool {
    false
}
