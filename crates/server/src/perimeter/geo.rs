//! Geo-blocking: refusing API requests from configured countries.
//!
//! The country comes from a MaxMind GeoIP2/GeoLite2 Country database (`.mmdb`), looked up for
//! the client address that the trusted-proxy rules give. Addresses no database can place
//! (loopback, private, link-local and shared ranges) follow `geo.private`; public addresses
//! missing from the database, or present without a country, follow `geo.unknown`. The database
//! file is polled and swapped in when it changes; a broken new file is logged and the old one
//! stays in use.
//!
//! Scope: every `/api/*` path, login included. `/sub/*` and `/healthz` are not geo-blocked:
//! the people a panel serves often live in the very countries an operator blocks from the
//! admin side, their client apps fetch the subscription from there, and the subscription
//! endpoint already requires an unguessable token and shows only that token's own configs.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use maxminddb::{PathElement, Reader};
use spiritus_app::config::{GeoConfig, GeoPolicy, network_canonical_ip};

/// A geo-blocking setting or database that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("geo.database {path}: {detail}")]
    Database { path: PathBuf, detail: String },
    #[error("geo.blocked_countries: {0:?} is not a two-letter ISO 3166-1 country code")]
    BadCountry(String),
    #[error("geo.{0} is set but geo.database is not; set the path of a country database")]
    NoDatabase(&'static str),
}

/// The outcome of a geo check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeoDecision {
    Allow,
    /// Refused; the country when the database placed the address.
    Deny {
        country: Option<String>,
    },
}

/// Where the database put an address.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placement {
    Private,
    Unknown,
    Country(String),
}

/// The loaded country database and the policy applied to its answers.
pub struct GeoBlocker {
    database: PathBuf,
    reader: RwLock<Arc<Reader<Vec<u8>>>>,
    loaded_mtime: RwLock<Option<SystemTime>>,
    blocked: HashSet<String>,
    unknown: GeoPolicy,
    private: GeoPolicy,
}

impl std::fmt::Debug for GeoBlocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoBlocker")
            .field("database", &self.database)
            .field("blocked", &self.blocked)
            .finish_non_exhaustive()
    }
}

impl GeoBlocker {
    /// Builds the blocker the configuration asks for; `None` when no database is configured.
    pub fn from_config(config: &GeoConfig) -> Result<Option<Arc<Self>>, GeoError> {
        let blocked = config
            .blocked_countries
            .iter()
            .map(|code| parse_country(code))
            .collect::<Result<HashSet<_>, _>>()?;
        let Some(database) = &config.database else {
            if !blocked.is_empty() {
                return Err(GeoError::NoDatabase("blocked_countries"));
            }
            if config.unknown == GeoPolicy::Deny {
                return Err(GeoError::NoDatabase("unknown"));
            }
            return Ok(None);
        };
        let reader = open(database)?;
        Ok(Some(Arc::new(Self {
            database: database.clone(),
            reader: RwLock::new(Arc::new(reader)),
            loaded_mtime: RwLock::new(mtime(database)),
            blocked,
            unknown: config.unknown,
            private: config.private,
        })))
    }

    /// Decides whether requests from `ip` are served.
    pub fn check(&self, ip: IpAddr) -> GeoDecision {
        match self.place(ip) {
            Placement::Private => verdict(self.private, None),
            Placement::Unknown => verdict(self.unknown, None),
            Placement::Country(code) if self.blocked.contains(&code) => GeoDecision::Deny {
                country: Some(code),
            },
            Placement::Country(_) => GeoDecision::Allow,
        }
    }

    fn place(&self, ip: IpAddr) -> Placement {
        let ip = network_canonical_ip(ip);
        if is_unplaceable(ip) {
            return Placement::Private;
        }
        let Ok(reader) = self.reader.read().map(|reader| Arc::clone(&reader)) else {
            return Placement::Unknown;
        };
        let country = reader.lookup(ip).and_then(|result| {
            result
                .decode_path::<String>(&[PathElement::Key("country"), PathElement::Key("iso_code")])
        });
        match country {
            Ok(Some(code)) => Placement::Country(code.to_ascii_uppercase()),
            Ok(None) => Placement::Unknown,
            Err(error) => {
                tracing::warn!(%error, "geo database lookup failed; treating the address as unknown");
                Placement::Unknown
            }
        }
    }

    /// Loads the database again when its file changed. A file that does not open is logged
    /// and the loaded database stays in use.
    pub fn reload_if_changed(&self) -> bool {
        let current = mtime(&self.database);
        let unchanged = self
            .loaded_mtime
            .read()
            .map(|loaded| *loaded == current)
            .unwrap_or(true);
        if unchanged {
            return false;
        }
        match open(&self.database) {
            Ok(reader) => {
                if let Ok(mut slot) = self.reader.write() {
                    *slot = Arc::new(reader);
                }
                if let Ok(mut loaded) = self.loaded_mtime.write() {
                    *loaded = current;
                }
                tracing::info!(path = %self.database.display(), "reloaded the geo database");
                true
            }
            Err(error) => {
                tracing::error!(%error, "the changed geo database is unusable; keeping the loaded one");
                false
            }
        }
    }

    /// Polls the database file every `interval` until the process ends.
    pub fn watch(self: &Arc<Self>, interval: Duration) {
        let watched = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            loop {
                ticker.tick().await;
                // Opening and verifying a database reads the whole file: keep it off the
                // request workers.
                let blocker = Arc::clone(&watched);
                let _ = tokio::task::spawn_blocking(move || blocker.reload_if_changed()).await;
            }
        });
    }
}

fn verdict(policy: GeoPolicy, country: Option<String>) -> GeoDecision {
    match policy {
        GeoPolicy::Allow => GeoDecision::Allow,
        GeoPolicy::Deny => GeoDecision::Deny { country },
    }
}

fn open(path: &Path) -> Result<Reader<Vec<u8>>, GeoError> {
    let reader = Reader::open_readfile(path).map_err(|error| GeoError::Database {
        path: path.to_owned(),
        detail: error.to_string(),
    })?;
    reader.verify().map_err(|error| GeoError::Database {
        path: path.to_owned(),
        detail: error.to_string(),
    })?;
    Ok(reader)
}

/// Accepts `IR` or `ir`; stores upper case.
fn parse_country(raw: &str) -> Result<String, GeoError> {
    if raw.len() == 2 && raw.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err(GeoError::BadCountry(raw.to_owned()))
    }
}

/// Loopback, private, link-local, shared (CGNAT), unspecified and unique-local addresses,
/// which no country database places.
fn is_unplaceable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [first, second, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (first == 100 && (64..128).contains(&second))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/geoip/GeoIP2-Country-Test.mmdb")
    }

    fn blocker(blocked: &[&str], unknown: GeoPolicy, private: GeoPolicy) -> Arc<GeoBlocker> {
        let config = GeoConfig {
            database: Some(database()),
            blocked_countries: blocked.iter().map(|code| (*code).to_owned()).collect(),
            unknown,
            private,
        };
        GeoBlocker::from_config(&config).unwrap().unwrap()
    }

    #[test]
    fn geo_decisions_follow_country_and_policies() {
        let strict = blocker(&["IR", "gb"], GeoPolicy::Deny, GeoPolicy::Deny);
        let lenient = blocker(&["IR"], GeoPolicy::Allow, GeoPolicy::Allow);
        let deny = |code: &str| GeoDecision::Deny {
            country: Some(code.into()),
        };
        let cases: Vec<(&str, &Arc<GeoBlocker>, GeoDecision)> = vec![
            // IPv6 address in Iran
            ("2a02:d2c0::1", &lenient, deny("IR")),
            // a blocked code written in lower case in the configuration
            ("81.2.69.142", &strict, deny("GB")),
            // the same address through its IPv4-mapped IPv6 form
            ("::ffff:81.2.69.142", &strict, deny("GB")),
            // a country not on the list
            ("89.160.20.112", &strict, GeoDecision::Allow),
            // anycast address with no country, unknown = deny / allow
            ("214.1.1.1", &strict, GeoDecision::Deny { country: None }),
            ("214.1.1.1", &lenient, GeoDecision::Allow),
            // an address the database does not hold
            ("198.51.100.7", &strict, GeoDecision::Deny { country: None }),
            ("198.51.100.7", &lenient, GeoDecision::Allow),
            // private ranges follow geo.private
            ("127.0.0.1", &strict, GeoDecision::Deny { country: None }),
            ("10.1.2.3", &lenient, GeoDecision::Allow),
            ("fd00::1", &strict, GeoDecision::Deny { country: None }),
        ];
        for (ip, blocker, expected) in cases {
            assert_eq!(blocker.check(ip.parse().unwrap()), expected, "{ip}");
        }
    }

    #[test]
    fn configuration_mistakes_are_refused() {
        let bad_code = GeoConfig {
            database: Some(database()),
            blocked_countries: vec!["IRN".into()],
            ..GeoConfig::default()
        };
        assert!(matches!(
            GeoBlocker::from_config(&bad_code),
            Err(GeoError::BadCountry(code)) if code == "IRN"
        ));
        let no_database = GeoConfig {
            blocked_countries: vec!["IR".into()],
            ..GeoConfig::default()
        };
        assert!(matches!(
            GeoBlocker::from_config(&no_database),
            Err(GeoError::NoDatabase(_))
        ));
        let missing_file = GeoConfig {
            database: Some("/nonexistent/geo.mmdb".into()),
            ..GeoConfig::default()
        };
        assert!(matches!(
            GeoBlocker::from_config(&missing_file),
            Err(GeoError::Database { .. })
        ));
        assert!(
            GeoBlocker::from_config(&GeoConfig::default())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn changed_database_is_reloaded_and_broken_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("geo.mmdb");
        let lite = database().with_file_name("GeoLite2-Country-Test.mmdb");
        std::fs::copy(database(), &path).unwrap();
        let config = GeoConfig {
            database: Some(path.clone()),
            blocked_countries: vec!["IR".into()],
            ..GeoConfig::default()
        };
        let blocker = GeoBlocker::from_config(&config).unwrap().unwrap();
        assert!(!blocker.reload_if_changed());

        std::fs::write(&path, b"not a database").unwrap();
        bump_mtime(&path);
        assert!(!blocker.reload_if_changed());
        assert_ne!(
            blocker.check("2a02:d2c0::1".parse().unwrap()),
            GeoDecision::Allow
        );

        std::fs::copy(lite, &path).unwrap();
        bump_mtime(&path);
        assert!(blocker.reload_if_changed());
    }

    fn bump_mtime(path: &Path) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        let later = std::fs::metadata(path).unwrap().modified().unwrap() + Duration::from_secs(2);
        file.set_modified(later).unwrap();
    }
}
