//! Raises a reconnaissance event when a VPN user's traffic targets a watched port (SSH and
//! database ports by default), at most once per user per window. Time is passed in.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, Utc};

use super::AccessRecord;

/// Ports watched unless configured otherwise: SSH, MySQL, PostgreSQL, MongoDB.
pub const DEFAULT_WATCHED_PORTS: [u16; 4] = [22, 3306, 5432, 27017];

/// A user targeted a watched port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconEvent {
    pub user_key: String,
    pub dest_host: String,
    pub dest_port: u16,
    /// When the watcher saw it (the time passed in).
    pub observed_at: DateTime<Utc>,
}

/// Remembers when each user last raised an event.
#[derive(Debug, Clone)]
pub struct ReconWatcher {
    ports: BTreeSet<u16>,
    window: TimeDelta,
    last_event: HashMap<String, DateTime<Utc>>,
}

impl Default for ReconWatcher {
    fn default() -> Self {
        Self::new(DEFAULT_WATCHED_PORTS, TimeDelta::hours(1))
    }
}

impl ReconWatcher {
    pub fn new(ports: impl IntoIterator<Item = u16>, window: TimeDelta) -> Self {
        Self {
            ports: ports.into_iter().collect(),
            window,
            last_event: HashMap::new(),
        }
    }

    /// Looks at one record seen at `now`; returns an event when its user targets a watched
    /// port and has raised none within the window.
    pub fn observe(&mut self, record: &AccessRecord, now: DateTime<Utc>) -> Option<ReconEvent> {
        let user_key = record.user_key.as_ref()?;

        if !self.ports.contains(&record.dest_port) {
            return None;
        }

        if let Some(last) = self.last_event.get(user_key)
            && now.signed_duration_since(*last) < self.window
        {
            return None;
        }

        self.forget_before(now);
        self.last_event.insert(user_key.clone(), now);

        Some(ReconEvent {
            user_key: user_key.clone(),
            dest_host: record.dest_host.clone(),
            dest_port: record.dest_port,
            observed_at: now,
        })
    }

    /// Drops users whose window has passed, so memory follows active users only.
    fn forget_before(&mut self, now: DateTime<Utc>) {
        let window = self.window;
        self.last_event
            .retain(|_, last| now.signed_duration_since(*last) < window);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;
    use crate::access_log::Network;

    fn record(user: Option<&str>, port: u16) -> AccessRecord {
        AccessRecord {
            time: NaiveDate::from_ymd_opt(2026, 1, 2)
                .and_then(|d| d.and_hms_opt(3, 4, 5))
                .unwrap(),
            source: "127.0.0.1:5000".parse().unwrap(),
            network: Network::Tcp,
            dest_host: "db.internal".to_owned(),
            dest_port: port,
            inbound_tag: None,
            outbound_tag: Some("direct".to_owned()),
            user_key: user.map(str::to_owned),
        }
    }

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_767_225_600, 0).unwrap() + TimeDelta::minutes(minute)
    }

    #[test]
    fn watched_port_raises_once_per_user_per_window() {
        let mut watcher = ReconWatcher::new([22, 5432], TimeDelta::minutes(10));

        let steps = [
            // first SSH attempt by alice: event
            (record(Some("alice"), 22), 0, true),
            // alice again within the window, other watched port: quiet
            (record(Some("alice"), 5432), 5, false),
            // bob is counted on his own
            (record(Some("bob"), 5432), 6, true),
            // an ordinary port never raises
            (record(Some("carol"), 443), 7, false),
            // a record without user key is ignored
            (record(None, 22), 8, false),
            // alice after her window passed: event again
            (record(Some("alice"), 22), 10, true),
        ];

        for (index, (record, minute, expected)) in steps.into_iter().enumerate() {
            let event = watcher.observe(&record, at(minute));
            assert_eq!(event.is_some(), expected, "step {index}");
        }
    }

    #[test]
    fn event_names_user_and_target() {
        let mut watcher = ReconWatcher::default();

        let event = watcher
            .observe(&record(Some("alice"), 27017), at(0))
            .unwrap();

        assert_eq!(event.user_key, "alice");
        assert_eq!(event.dest_host, "db.internal");
        assert_eq!(event.dest_port, 27017);
        assert_eq!(event.observed_at, at(0));
    }
}
