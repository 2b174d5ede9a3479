//! A full comparison of the stored users with the core's: who may connect, who must be marked
//! cut off, whose marker goes, and which rows could not be read.
//!
//! One damaged row never stops the job: it is reported, and a user whose row cannot be read
//! keeps whatever place in the core it had.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use spiritus_core::user::{UserStatus, VpnUser};
use spiritus_store::{CutoffOutcome, CutoffReason, StoreError};
use uuid::Uuid;

use crate::actor::Actor;
use crate::state::App;

/// Changes that a full load of the users calls for.
#[derive(Debug, Default)]
pub(crate) struct SyncPlan {
    /// Users that may connect, by core key.
    pub active: HashMap<String, VpnUser>,
    /// Keys of users whose row could not be read: left as they are.
    pub unreadable: HashSet<String>,
    /// Users over quota or expired without a cut-off marker yet.
    pub to_mark: Vec<Uuid>,
    /// Active users that still carry a cut-off marker.
    pub to_clear: Vec<Uuid>,
    /// Descriptions of the rows that could not be read.
    pub skipped: Vec<(String, String)>,
}

/// Sorts the loaded rows at `now`.
pub(crate) fn plan(
    rows: Vec<Result<VpnUser, StoreError>>,
    markers: &HashMap<Uuid, String>,
    now: DateTime<Utc>,
) -> SyncPlan {
    let mut plan = SyncPlan::default();
    for row in rows {
        let user = match row {
            Ok(user) => user,
            Err(error) => {
                let id = unreadable_id(&error);
                if let Some(key) = id.as_deref().and_then(core_key_of) {
                    plan.unreadable.insert(key);
                }
                plan.skipped
                    .push((id.unwrap_or_else(|| "unknown".into()), error.to_string()));
                continue;
            }
        };
        let marked = markers.contains_key(&user.id);
        match user.status(now) {
            UserStatus::Active => {
                if marked {
                    plan.to_clear.push(user.id);
                }
                plan.active.insert(user.core_key(), user);
            }
            status @ (UserStatus::Limited | UserStatus::Expired) => {
                let reason = CutoffReason::for_status(status).map(CutoffReason::as_str);
                if markers.get(&user.id).map(String::as_str) != reason {
                    plan.to_mark.push(user.id);
                }
            }
            UserStatus::Disabled => {}
        }
    }
    plan
}

fn unreadable_id(error: &StoreError) -> Option<String> {
    match error {
        StoreError::Corrupt { id, .. } => Some(id.clone()),
        _ => None,
    }
}

fn core_key_of(id: &str) -> Option<String> {
    Uuid::parse_str(id).ok().map(|id| id.simple().to_string())
}

/// Loads every user and the markers, and plans at the app's current time.
pub(crate) async fn load(app: &App) -> Result<SyncPlan, StoreError> {
    let rows = app.store().all_users().await?;
    let markers = match app.store().cutoff_markers().await {
        Ok(markers) => markers,
        Err(error) => {
            tracing::warn!(%error, "could not read the cut-off markers; marking is repeated where needed");
            HashMap::new()
        }
    };
    Ok(plan(rows, &markers, app.now()))
}

/// Marks a user cut off, audited as done by the system. Errors are logged.
pub(crate) async fn mark(app: &App, user_id: Uuid) -> Option<CutoffOutcome> {
    let now = app.now();
    let audit = Actor::System.audit(now, "user.cutoff", "user");
    match app.store().mark_cutoff(user_id, now, audit).await {
        Ok(outcome) => {
            if let CutoffOutcome::Cut {
                user,
                reason,
                newly: true,
            } = &outcome
            {
                tracing::info!(user = %user.name, reason = reason.as_str(), "cut a VPN user off the proxy core");
            }
            Some(outcome)
        }
        Err(error) => {
            tracing::warn!(%error, %user_id, "could not mark a VPN user cut off; trying again later");
            None
        }
    }
}

/// Clears the marker of a user who is active again, audited as done by the system.
pub(crate) async fn clear(app: &App, user_id: Uuid) {
    let now = app.now();
    let audit = Actor::System.audit(now, "user.reinstate", "user");
    match app.store().clear_cutoff(user_id, now, audit).await {
        Ok(true) => tracing::info!(%user_id, "a cut-off VPN user is active again"),
        Ok(false) => {}
        Err(error) => tracing::warn!(%error, %user_id, "could not clear a cut-off marker"),
    }
}

/// Applies the plan's marker changes.
pub(crate) async fn apply_markers(app: &App, plan: &SyncPlan) -> u64 {
    let mut newly = 0;
    for id in &plan.to_mark {
        if let Some(CutoffOutcome::Cut { newly: true, .. }) = mark(app, *id).await {
            newly += 1;
        }
    }
    for id in &plan.to_clear {
        clear(app, *id).await;
    }
    newly
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use spiritus_core::user::{Note, TrafficLimit, UserName};

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000, 0).unwrap()
    }

    fn user(n: u128, name: &str) -> VpnUser {
        VpnUser {
            id: Uuid::from_u128(n),
            name: UserName::parse("name", name).unwrap(),
            owner_id: None,
            enabled: true,
            traffic_limit: TrafficLimit::from_bytes(1000),
            upload_bytes: 0,
            download_bytes: 0,
            expire_at: now() + Duration::days(1),
            created_at: now(),
            updated_at: now(),
            note: Note::default(),
            subscription_revision: 0,
            proxy_uuid: Uuid::from_u128(n + 1000),
        }
    }

    #[test]
    fn plan_sorts_users_and_skips_damaged_rows() {
        let over = VpnUser {
            download_bytes: 1000,
            ..user(2, "over")
        };
        let expired = VpnUser {
            expire_at: now(),
            ..user(3, "gone")
        };
        let off = VpnUser {
            enabled: false,
            ..user(4, "off")
        };
        let back = user(5, "back");
        let damaged_id = Uuid::from_u128(6).to_string();
        let rows = vec![
            Ok(user(1, "fine")),
            Ok(over.clone()),
            Ok(expired.clone()),
            Ok(off),
            Ok(back.clone()),
            // a date far out of range
            Err(StoreError::Corrupt {
                table: "vpn_users",
                id: damaged_id.clone(),
                detail: "time 9223372036854775807 is out of range".into(),
            }),
            // a failure that names no row
            Err(StoreError::Backend("decode".into())),
        ];
        let markers = HashMap::from([
            (back.id, "quota".to_owned()),
            (expired.id, "expired".to_owned()),
        ]);

        let plan = plan(rows, &markers, now());

        let mut active: Vec<&str> = plan.active.values().map(|u| u.name.as_str()).collect();
        active.sort_unstable();
        assert_eq!(active, ["back", "fine"]);
        assert_eq!(
            plan.to_mark,
            [over.id],
            "the expired user is marked already"
        );
        assert_eq!(plan.to_clear, [back.id]);
        assert!(
            plan.unreadable
                .contains(&Uuid::from_u128(6).simple().to_string())
        );
        assert_eq!(plan.skipped.len(), 2);
        assert_eq!(plan.skipped[0].0, damaged_id);
    }
}
