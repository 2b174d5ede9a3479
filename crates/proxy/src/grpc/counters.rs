//! Turns the core's counter list into per-user traffic. Only
//! `user>>>KEY>>>traffic>>>uplink|downlink` names count; anything else that matched the
//! query pattern is skipped and logged.

use std::collections::HashMap;

use super::messages::Stat;

/// Bytes one user sent (uplink) and received (downlink) since the counters were last reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserCounters {
    pub uplink: u64,
    pub downlink: u64,
}

enum Direction {
    Uplink,
    Downlink,
}

/// Per-user counters keyed by user key. A user without traffic since the core started has no
/// counter at all: callers treat a missing key as zero.
pub fn user_counters(stats: &[Stat]) -> HashMap<String, UserCounters> {
    let mut counters: HashMap<String, UserCounters> = HashMap::new();

    for stat in stats {
        let Some((key, direction)) = split_name(&stat.name) else {
            tracing::warn!(name = %stat.name, "skipping a counter name that is not a user traffic counter");
            continue;
        };

        let Ok(value) = u64::try_from(stat.value) else {
            tracing::warn!(name = %stat.name, value = stat.value, "skipping a negative counter");
            continue;
        };

        let entry = counters.entry(key.to_owned()).or_default();
        match direction {
            Direction::Uplink => entry.uplink = value,
            Direction::Downlink => entry.downlink = value,
        }
    }

    counters
}

fn split_name(name: &str) -> Option<(&str, Direction)> {
    let rest = name.strip_prefix("user>>>")?;

    let (key, direction) = if let Some(key) = rest.strip_suffix(">>>traffic>>>uplink") {
        (key, Direction::Uplink)
    } else {
        (
            rest.strip_suffix(">>>traffic>>>downlink")?,
            Direction::Downlink,
        )
    };

    let valid = !key.is_empty() && !key.contains(">>>");
    valid.then_some((key, direction))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(name: &str, value: i64) -> Stat {
        Stat {
            name: name.to_owned(),
            value,
        }
    }

    #[test]
    fn user_counters_skip_malformed_names() {
        let stats = [
            // a user's two directions
            stat("user>>>alice>>>traffic>>>uplink", 87),
            stat("user>>>alice>>>traffic>>>downlink", 5_000_205),
            // a user seen only downloading
            stat("user>>>bob>>>traffic>>>downlink", 12),
            // inbound counters are not user counters
            stat("inbound>>>vmess-tcp-10086>>>traffic>>>uplink", 1),
            // empty key
            stat("user>>>>>>traffic>>>uplink", 3),
            // unknown direction
            stat("user>>>carol>>>traffic>>>sideways", 3),
            // a separator inside the key
            stat("user>>>a>>>b>>>traffic>>>uplink", 3),
            // negative value
            stat("user>>>dave>>>traffic>>>uplink", -1),
        ];

        let counters = user_counters(&stats);

        assert_eq!(counters.len(), 2);
        assert_eq!(
            counters["alice"],
            UserCounters {
                uplink: 87,
                downlink: 5_000_205
            }
        );
        assert_eq!(
            counters["bob"],
            UserCounters {
                uplink: 0,
                downlink: 12
            }
        );
    }
}
