//! `spiritus audit …`: verify, export, query, sign a tree head, prune.
//!
//! `verify` works offline: on the data directory's database (the panel may be stopped), or on
//! an export file. It exits 0 when the log is intact and non-zero naming the first bad entry
//! and the kind of damage otherwise.

use std::io::{BufReader, Write};
use std::path::Path;

use anyhow::Context as _;
use spiritus_app::App;
use spiritus_app::services::audit::AuditFilter;
use spiritus_audit::{
    AuditVerifyingKey, SignedTreeHead, VerifyReport, is_proof_export_header, parse_witness,
    verify_export, verify_proof_export,
};

use crate::cli::{AuditCommand, AuditFilterArgs, AuditVerifyArgs, GlobalArgs};
use crate::context::open;

/// Below this many entries, verification prints no progress.
const PROGRESS_FROM: u64 = 50_000;

pub async fn run(global: &GlobalArgs, command: &AuditCommand) -> anyhow::Result<()> {
    if let AuditCommand::Verify(args) = command
        && let Some(export) = &args.export
    {
        return verify_export_file(global, args, export).await;
    }
    let app = open(global).await?.app;
    let result = match command {
        AuditCommand::Verify(args) => verify_database(&app, args).await,
        AuditCommand::Export { output, filter } => export(&app, output.as_deref(), filter).await,
        AuditCommand::Query { filter } => query(&app, filter).await,
        AuditCommand::TreeHead => {
            let head = app.sign_tree_head().await?;
            println!("{}", serde_json::to_string_pretty(&head)?);
            Ok(())
        }
        AuditCommand::Prune => {
            let outcome = app.prune_audit_log().await?;
            match outcome.pruned_size {
                Some(size) => println!(
                    "pruned {} entries; entries before index {size} are now covered by a signed checkpoint",
                    outcome.removed
                ),
                None => println!(
                    "no entry is older than the retention period ({})",
                    outcome.cutoff
                ),
            }
            Ok(())
        }
    };
    app.store().close().await;
    result
}

async fn verify_database(app: &App, args: &AuditVerifyArgs) -> anyhow::Result<()> {
    let extra = trusted_heads(args)?;
    let mut progress = |done: u64, total: u64| {
        if total >= PROGRESS_FROM {
            eprintln!("verified {done} of {total} entries");
        }
    };
    let outcome = app.verify_audit_log(&extra, &mut progress).await?;
    report(&outcome.report)?;
    println!(
        "checked against the checkpoint ({} pruned entries), {} stored and {} witnessed tree heads and {} given",
        outcome.pruned,
        outcome.stored_heads,
        outcome.witnessed_heads,
        extra.len()
    );
    Ok(())
}

async fn verify_export_file(
    global: &GlobalArgs,
    args: &AuditVerifyArgs,
    export: &Path,
) -> anyhow::Result<()> {
    let mut trusted = trusted_heads(args)?;
    let pinned = pinned_key(global, args, &mut trusted).await?;
    if pinned.is_none() {
        eprintln!(
            "warning: no key pinned (--public-key or a data directory); the export is checked against the key in its own header, which shows only that the file agrees with itself"
        );
    }
    let first_line = std::fs::read_to_string(export)
        .map(|text| text.lines().next().unwrap_or_default().to_owned())
        .with_context(|| format!("cannot read {}", export.display()))?;
    let file =
        std::fs::File::open(export).with_context(|| format!("cannot open {}", export.display()))?;
    let reader = BufReader::new(file);
    let verdict = if is_proof_export_header(&first_line) {
        verify_proof_export(reader, pinned.as_ref(), &trusted)
    } else {
        verify_export(reader, pinned.as_ref(), &trusted)
    }
    .with_context(|| format!("{} is not a readable audit export", export.display()))?;
    report(&verdict)
}

/// Returns the key to pin: `--public-key`, else the data directory's audit key when one
/// exists. The data directory's witness file joins the trusted heads too.
async fn pinned_key(
    global: &GlobalArgs,
    args: &AuditVerifyArgs,
    trusted: &mut Vec<SignedTreeHead>,
) -> anyhow::Result<Option<AuditVerifyingKey>> {
    if let Some(hex) = &args.public_key {
        return Ok(Some(
            AuditVerifyingKey::from_hex(hex).context("--public-key")?,
        ));
    }
    let has_data_dir = global.config.is_some() || global.data_dir.join("spiritus.toml").exists();
    if !has_data_dir {
        return Ok(None);
    }
    let app = open(global).await?.app;
    trusted.extend(spiritus_app::services::audit::witness::read_heads(
        app.config(),
    )?);
    let key = app.audit_key().verifying_key();
    app.store().close().await;
    Ok(Some(key))
}

/// Heads from `--tree-head` files (one head each) and `--witness` files (one per line).
fn trusted_heads(args: &AuditVerifyArgs) -> anyhow::Result<Vec<SignedTreeHead>> {
    let mut heads = Vec::new();
    for path in &args.tree_head {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let head: SignedTreeHead = serde_json::from_str(&text)
            .with_context(|| format!("{} does not hold a signed tree head", path.display()))?;
        heads.push(head);
    }
    for path in &args.witness {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        heads.extend(parse_witness(BufReader::new(file))?);
    }
    Ok(heads)
}

/// Prints the verdict; an error naming the first damage when there is one.
fn report(report: &VerifyReport) -> anyhow::Result<()> {
    match &report.first_failure {
        None => {
            println!(
                "audit log intact: {} entries verified, tree size {}, root {}, key {}",
                report.entries, report.tree_size, report.root, report.key_id
            );
            Ok(())
        }
        Some(failure) => match failure.index {
            Some(index) => anyhow::bail!(
                "audit log damaged: first bad entry {index}: {}: {}",
                failure.kind,
                failure.detail
            ),
            None => anyhow::bail!("audit log damaged: {}: {}", failure.kind, failure.detail),
        },
    }
}

async fn export(app: &App, output: Option<&Path>, args: &AuditFilterArgs) -> anyhow::Result<()> {
    let mut export = app.start_audit_export(Some(args.to_filter(1000)?)).await?;
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    while let Some(chunk) = export.next_chunk().await? {
        out.write_all(&chunk)?;
    }
    out.flush()?;
    Ok(())
}

async fn query(app: &App, args: &AuditFilterArgs) -> anyhow::Result<()> {
    let page = app.query_audit_log(&args.to_filter(50)?).await?;
    let mut out = std::io::stdout().lock();
    for entry in &page.items {
        writeln!(out, "{}", serde_json::to_string(entry)?)?;
    }
    if let Some(cursor) = page.next_cursor {
        eprintln!("more entries: add --cursor {cursor}");
    }
    Ok(())
}

impl AuditFilterArgs {
    fn to_filter(&self, default_limit: u32) -> anyhow::Result<AuditFilter> {
        let time = |flag: &str, raw: &Option<String>| -> anyhow::Result<_> {
            raw.as_deref()
                .map(|raw| {
                    chrono::DateTime::parse_from_rfc3339(raw)
                        .map(|time| time.with_timezone(&chrono::Utc))
                        .with_context(|| format!("{flag} must be an RFC 3339 time"))
                })
                .transpose()
        };
        Ok(AuditFilter {
            from: time("--from", &self.from)?,
            to: time("--to", &self.to)?,
            actor_id: self.actor.clone(),
            ip: self.ip.clone(),
            action: self.action.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            success: self.success,
            limit: self.limit.unwrap_or(default_limit).clamp(1, 1000),
            cursor: self.cursor.clone(),
        })
    }
}
