//! Batched live user changes: many users added and removed with one config rewrite, then one
//! HandlerService call per user and inbound.
//!
//! With tens of thousands of users the config file is megabytes long, so writing it once per
//! user would cost far more than the changes themselves. The new user list is checked by
//! generating its config before anything is written; a refused list changes nothing.

use std::collections::HashSet;

use super::{CoreSupervisor, SupervisorError, write_config};
use crate::config::{generate, live_user_inbounds};
use crate::grpc::ApiError;
use crate::settings::CoreUser;
use crate::validate::validate_user_key;

/// A change the running core rejected. The config file contains it anyway, so the next start
/// of the core applies it.
#[derive(Debug)]
pub struct RefusedChange {
    pub key: String,
    pub error: ApiError,
}

impl CoreSupervisor {
    /// Removes the users of the `removed` keys and adds `added` (a key already present is
    /// replaced), writing the config file once, then applies every change to the running core.
    ///
    /// Keys in `removed` that are not configured are ignored. Every live change is attempted;
    /// the ones the core API refused are returned. Invalid users or an unwritable config are
    /// errors, and then nothing changed.
    pub async fn update_users(
        &self,
        added: Vec<CoreUser>,
        removed: Vec<String>,
    ) -> Result<Vec<RefusedChange>, SupervisorError> {
        if self.controls.is_none() {
            return Err(self.unavailable_error());
        }
        for user in &added {
            validate_user_key(&user.key)?;
        }

        let mut desired = self.shared.desired().clone();
        let configured: HashSet<String> =
            desired.users.iter().map(|user| user.key.clone()).collect();
        let removed: Vec<String> = removed
            .into_iter()
            .filter(|key| configured.contains(key))
            .collect();
        let dropped: HashSet<&str> = removed
            .iter()
            .map(String::as_str)
            .chain(added.iter().map(|user| user.key.as_str()))
            .collect();
        desired
            .users
            .retain(|user| !dropped.contains(user.key.as_str()));
        desired.users.extend(added.iter().cloned());

        let config = generate(&desired.settings, &desired.users)?;
        let bytes = config
            .to_bytes()
            .map_err(|error| SupervisorError::ConfigRefused(error.to_string()))?;
        write_config(&self.shared.options.config_path, &bytes).await?;
        let settings = desired.settings.clone();
        *self.shared.desired() = desired;

        let api = self.api()?;
        let inbounds = live_user_inbounds(&settings);
        let mut refused = Vec::new();
        for key in &removed {
            for inbound in &inbounds {
                if let Err(error) = api.remove_user(&inbound.tag(), key).await {
                    refused.push(RefusedChange {
                        key: key.clone(),
                        error,
                    });
                }
            }
        }
        for user in &added {
            for inbound in &inbounds {
                if configured.contains(&user.key) {
                    // The core refuses to add a key it already has; the old entry goes first.
                    let _ = api.remove_user(&inbound.tag(), &user.key).await;
                }
                if let Err(error) = api.add_user(inbound, user).await {
                    refused.push(RefusedChange {
                        key: user.key.clone(),
                        error,
                    });
                }
            }
        }
        Ok(refused)
    }

    /// Number of users in the config the core runs with.
    pub fn configured_users(&self) -> usize {
        self.shared.desired().users.len()
    }
}
