//! `spiritus admin …`: panel accounts from the server's shell.

use spiritus_app::Actor;
use spiritus_auth::Password;
use spiritus_core::account::Role;

use super::read_password_line;
use crate::cli::{AdminCommand, GlobalArgs, RoleArg};
use crate::context::open;

pub async fn run(global: &GlobalArgs, command: &AdminCommand) -> anyhow::Result<()> {
    let opened = open(global).await?;
    let app = opened.app;
    match command {
        AdminCommand::Create { name, role, .. } => {
            let password = read_password_line()?;
            let role = match role {
                RoleArg::Owner => Role::Owner,
                RoleArg::Admin => Role::Admin,
                RoleArg::Agent => Role::Agent,
            };
            let account = app
                .create_account(
                    &Actor::Console,
                    name,
                    role,
                    Password::new(password.to_string()),
                    false,
                )
                .await?;
            println!("created {} {}", account.role, account.name);
        }
        AdminCommand::Passwd { name, .. } => {
            let password = read_password_line()?;
            app.set_account_password(
                &Actor::Console,
                name,
                Password::new(password.to_string()),
                false,
            )
            .await?;
            println!("password of {name} changed; its sessions were ended");
        }
        AdminCommand::Reset2fa { name } => {
            let before = app.reset_second_factors(&Actor::Console, name).await?;
            println!(
                "second factors of {name} removed (TOTP: {}, backup codes: {}, passkeys: {}); \
                 its sessions were ended",
                if before.totp { "on" } else { "off" },
                before.backup_codes_left,
                before.passkeys
            );
        }
        AdminCommand::List => {
            println!("{:<24} {:<8} {:<10} created", "name", "role", "state");
            for account in app.list_accounts().await? {
                let state = if account.suspension.is_some() {
                    "suspended"
                } else if account.must_change_password {
                    "new"
                } else {
                    "active"
                };
                println!(
                    "{:<24} {:<8} {:<10} {}",
                    account.name,
                    account.role,
                    state,
                    account.created_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
    }
    app.store().close().await;
    Ok(())
}
