//! JSON spellings shared by the audit types: times as RFC 3339 with milliseconds, signatures
//! as standard base64.

/// `DateTime<Utc>` as RFC 3339 text with exactly three fraction digits and a `Z` suffix,
/// for example `2026-03-01T12:00:00.250Z`. Parsing accepts any RFC 3339 offset.
pub mod millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        time: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|error| {
                serde::de::Error::custom(format!("invalid RFC 3339 time {text:?}: {error}"))
            })
    }
}

/// Ed25519 signature bytes as standard base64 with padding (88 characters).
pub mod signature_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        signature: &[u8; 64],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(signature))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 64], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let bytes = STANDARD.decode(text.as_bytes()).map_err(|error| {
            serde::de::Error::custom(format!("invalid signature base64: {error}"))
        })?;
        let found = bytes.len();
        bytes.try_into().map_err(|_| {
            serde::de::Error::custom(format!(
                "invalid signature length: expected 64 bytes, found {found}"
            ))
        })
    }
}
