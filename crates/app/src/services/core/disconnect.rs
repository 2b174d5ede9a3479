//! When to restart the core so that removed users' open connections end.
//!
//! Removing a user through the core API rejects their new connections at once. V2Ray keeps
//! the connections that are already open: an idle one ends after the policy's `connIdle`
//! seconds, a busy one only when the core restarts, which drops everybody's connections. So
//! the panel restarts the core, at most once per `disconnect_after` and only while a removed
//! user may still hold a connection. A user may hold one when the manager saw traffic from
//! them within the last `connIdle` seconds (an older connection would have idled out), or
//! when the panel started less than `connIdle` seconds ago (it has not watched long enough).
//!
//! The bound on a removed user's busy connection is therefore `disconnect_after` plus one
//! check tick; idle connections end within `connIdle` whatever the setting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Decides the restarts; time is passed in.
#[derive(Debug)]
pub(crate) struct DisconnectPolicy {
    /// 0 = never restart for disconnects.
    after: Duration,
    conn_idle: Duration,
    watching_since: Instant,
    last_restart: Option<Instant>,
    /// When the oldest removal not yet covered by a restart happened, per user key.
    pending: HashMap<String, Instant>,
    /// When traffic of each user was last counted.
    last_traffic: HashMap<String, Instant>,
}

impl DisconnectPolicy {
    pub fn new(after: Duration, conn_idle: Duration, now: Instant) -> Self {
        Self {
            after,
            conn_idle,
            watching_since: now,
            last_restart: None,
            pending: HashMap::new(),
            last_traffic: HashMap::new(),
        }
    }

    /// Records that traffic of the user was counted at `now`.
    pub fn saw_traffic(&mut self, key: &str, now: Instant) {
        self.last_traffic.insert(key.to_owned(), now);
    }

    /// Records that the user was removed from the core at `now`.
    pub fn removed(&mut self, key: &str, now: Instant) {
        if self.may_hold_connection(key, now) {
            self.pending.entry(key.to_owned()).or_insert(now);
        }
        self.last_traffic.remove(key);
    }

    /// Records that a user is back in the core: its old connections no longer matter.
    pub fn readded(&mut self, key: &str) {
        self.pending.remove(key);
    }

    fn may_hold_connection(&self, key: &str, now: Instant) -> bool {
        let recent = |since: Instant| now.saturating_duration_since(since) < self.conn_idle;
        recent(self.watching_since) || self.last_traffic.get(key).is_some_and(|at| recent(*at))
    }

    /// Returns whether a restart is due at `now`.
    pub fn restart_due(&mut self, now: Instant) -> bool {
        self.forget_idle(now);
        if self.after.is_zero() || self.pending.is_empty() {
            return false;
        }
        self.last_restart
            .is_none_or(|last| now.saturating_duration_since(last) >= self.after)
    }

    /// Removals whose users' connections would have idled out by now need no restart.
    fn forget_idle(&mut self, now: Instant) {
        let idle = self.conn_idle;
        self.pending
            .retain(|_, removed_at| now.saturating_duration_since(*removed_at) < idle);
    }

    /// Records a restart of the core at `now` (requested or not): every connection ended.
    pub fn restarted(&mut self, now: Instant) {
        self.last_restart = Some(now);
        self.pending.clear();
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(300);
    const AFTER: Duration = Duration::from_secs(60);

    fn settled(start: Instant) -> (DisconnectPolicy, Instant) {
        let policy = DisconnectPolicy::new(AFTER, IDLE, start);
        (policy, start + IDLE + Duration::from_secs(1))
    }

    #[test]
    fn busy_removed_user_triggers_one_restart_per_interval() {
        let start = Instant::now();
        let (mut policy, now) = settled(start);

        policy.saw_traffic("alice", now);
        policy.removed("alice", now);
        assert!(policy.restart_due(now), "first restart is not held back");
        policy.restarted(now);

        policy.saw_traffic("bob", now + Duration::from_secs(1));
        policy.removed("bob", now + Duration::from_secs(1));
        assert!(!policy.restart_due(now + Duration::from_secs(30)));
        assert!(policy.restart_due(now + AFTER));
    }

    #[test]
    fn quiet_removed_user_needs_no_restart() {
        let start = Instant::now();
        let (mut policy, now) = settled(start);

        policy.saw_traffic("carol", start);
        policy.removed("carol", now);

        assert!(!policy.restart_due(now));
    }

    #[test]
    fn removal_soon_after_start_counts_as_busy() {
        let start = Instant::now();
        let mut policy = DisconnectPolicy::new(AFTER, IDLE, start);

        policy.removed("dave", start + Duration::from_secs(5));

        assert!(policy.restart_due(start + Duration::from_secs(5)));
    }

    #[test]
    fn readded_user_or_zero_setting_needs_no_restart() {
        let start = Instant::now();
        let (mut policy, now) = settled(start);
        policy.saw_traffic("erin", now);
        policy.removed("erin", now);
        policy.readded("erin");
        assert!(!policy.restart_due(now));

        let mut off = DisconnectPolicy::new(Duration::ZERO, IDLE, start);
        off.removed("frank", start);
        assert!(!off.restart_due(start));
    }

    #[test]
    fn pending_removal_expires_after_conn_idle() {
        let start = Instant::now();
        let (mut policy, now) = settled(start);
        policy.restarted(now);
        let later = now + Duration::from_secs(1);
        policy.saw_traffic("gina", later);
        policy.removed("gina", later);

        assert!(policy.restart_due(later + AFTER));
        assert!(
            !policy.restart_due(later + IDLE),
            "the idle timeout ended the connection already"
        );
    }
}
