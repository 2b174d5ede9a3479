//! `spiritus user …`: VPN users from the server's shell.

use spiritus_app::Actor;
use spiritus_app::services::users::CreateUser;
use spiritus_core::user::{ExpireDays, Note, TrafficLimit, UserName};
use spiritus_store::UserListQuery;

use crate::cli::{GlobalArgs, UserCommand};
use crate::context::open;

pub async fn run(global: &GlobalArgs, command: &UserCommand) -> anyhow::Result<()> {
    let opened = open(global).await?;
    let app = opened.app;
    match command {
        UserCommand::List { limit } => {
            let page = app
                .list_users(
                    &Actor::Console,
                    UserListQuery {
                        limit: (*limit).clamp(1, 1000),
                        ..UserListQuery::default()
                    },
                )
                .await?;
            let now = app.now();
            println!(
                "{:<32} {:<9} {:>12} {:>14} expires",
                "name", "status", "quota (GB)", "used (bytes)"
            );
            for user in &page.items {
                println!(
                    "{:<32} {:<9} {:>12} {:>14} {}",
                    user.name,
                    user.status(now).as_str(),
                    user.traffic_limit.as_gb(),
                    user.used_bytes(),
                    user.expire_at.format("%Y-%m-%d %H:%M UTC")
                );
            }
            println!("{} of {} users shown", page.items.len(), page.total);
        }
        UserCommand::Create {
            name,
            traffic_limit_gb,
            expire_days,
            note,
        } => {
            let create = CreateUser {
                name: UserName::parse("name", name)?,
                traffic_limit: TrafficLimit::from_gb("--traffic-limit-gb", *traffic_limit_gb)?,
                expire_days: ExpireDays::parse("--expire-days", *expire_days)?,
                note: Note::parse("--note", note)?,
            };
            let user = app.create_user(&Actor::Console, create).await?;
            println!("created {}", user.name);
            println!("subscription: {}", app.subscription_url(&user)?);
        }
    }
    app.store().close().await;
    Ok(())
}
