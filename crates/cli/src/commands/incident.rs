//! `spiritus incident …`: remediation from the server's shell.

use std::time::Duration;

use anyhow::Context as _;
use spiritus_app::Actor;
use spiritus_app::firewall::nftables_ruleset;
use spiritus_app::services::incident::parse_ip;

use crate::cli::{GlobalArgs, IncidentCommand};
use crate::context::open;

pub async fn run(global: &GlobalArgs, command: &IncidentCommand) -> anyhow::Result<()> {
    let opened = open(global).await?;
    let app = opened.app;
    let actor = Actor::Console;
    match command {
        IncidentCommand::RevokeSessions { name } => {
            let revoked = app.revoke_account_sessions(&actor, name).await?;
            println!("ended {revoked} session(s) of {name}");
        }
        IncidentCommand::ForcePasswordReset { name } => {
            let revoked = app.force_password_reset(&actor, name).await?;
            println!(
                "{name} must change its password at the next login; ended {revoked} session(s)"
            );
        }
        IncidentCommand::Suspend { name, reason } => {
            if app.suspend_account(&actor, name, reason).await? {
                println!("suspended {name}; its sessions were ended");
            } else {
                println!("{name} was already suspended");
            }
        }
        IncidentCommand::Unsuspend { name } => {
            if app.lift_suspension(&actor, name).await? {
                println!("lifted the suspension of {name}");
            } else {
                println!("{name} was not suspended");
            }
        }
        IncidentCommand::BlockIp {
            ip,
            seconds,
            reason,
        } => {
            let ip = parse_ip("ip", ip)?;
            let seconds = seconds.unwrap_or(app.config().rate_limits.block_seconds);
            let block = app
                .block_ip(&actor, ip, Duration::from_secs(seconds), reason)
                .await?;
            println!(
                "blocked {} until {}",
                block.ip,
                block.expires_at.to_rfc3339()
            );
        }
        IncidentCommand::UnblockIp { ip } => {
            let ip = parse_ip("ip", ip)?;
            if app.unblock_ip(&actor, ip).await? {
                println!("lifted the block of {ip}");
            } else {
                println!("{ip} was not blocked");
            }
        }
        IncidentCommand::Blocks => {
            let blocks = app.list_ip_blocks(&actor).await?;
            println!("{:<40} {:<22} reason", "address", "until");
            for block in blocks {
                println!(
                    "{:<40} {:<22} {}",
                    block.ip,
                    block.expires_at.format("%Y-%m-%d %H:%M:%S"),
                    block.reason
                );
            }
        }
        IncidentCommand::Nftables { output } => {
            let blocks = app.list_ip_blocks(&actor).await?;
            let ruleset = nftables_ruleset(&blocks, app.now());
            match output {
                Some(path) => spiritus_app::files::write_private_file(path, ruleset.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{ruleset}"),
            }
        }
    }
    app.store().close().await;
    Ok(())
}
