//! Conversions between stored column values and domain values.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreError;

pub(crate) fn to_ms(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

pub(crate) fn from_ms(table: &'static str, id: &str, ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        table,
        id: id.to_owned(),
        detail: format!("time {ms} is out of range"),
    })
}

pub(crate) fn parse_uuid(table: &'static str, raw: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(raw).map_err(|_| StoreError::Corrupt {
        table,
        id: raw.to_owned(),
        detail: "id is not a UUID".into(),
    })
}

/// Converts a stored counter; a negative value can only come from a damaged row.
pub(crate) fn to_u64(table: &'static str, id: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        table,
        id: id.to_owned(),
        detail: format!("negative counter {value}"),
    })
}

/// Converts a byte count for storage, saturating at the largest signed value.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
