//! The canonical byte encoding of an audit entry, version 1.
//!
//! The entry hash is SHA-256 of these bytes (and the Merkle leaf hashes that entry hash), so
//! two implementations agree on every hash only if they agree on this layout. It covers every
//! field except `hash`, in a fixed order, each field self-delimiting:
//!
//! | # | field | encoding |
//! |---|---|---|
//! | 1 | version tag | str `spiritus-audit-entry-v1` |
//! | 2 | `index` | u64 |
//! | 3 | `time` | i64 Unix milliseconds |
//! | 4 | `actor_id` | str |
//! | 5 | `actor_role` | str |
//! | 6 | `ip` | opt str |
//! | 7 | `action` | str |
//! | 8 | `resource_type` | str |
//! | 9 | `resource_id` | opt str |
//! | 10 | `before` | opt json |
//! | 11 | `after` | opt json |
//! | 12 | `context` | opt json |
//! | 13 | `success` | bool |
//! | 14 | `error` | opt str |
//! | 15 | `prev_hash` | prev |
//!
//! - u64 / i64: 8 bytes, big-endian (i64 in two's complement).
//! - str: the UTF-8 byte length as u64, then the bytes.
//! - opt: one byte `0x00` when absent, or `0x01` followed by the value.
//! - bool: one byte, `0x00` false or `0x01` true.
//! - json: the canonical JSON text ([`json`]) encoded as a str. A JSON `null` encodes as an
//!   absent value, because `null` and a missing field read back from JSON as the same `None`.
//! - prev: `0x00` for genesis, or `0x01` followed by the 32 hash bytes.
//!
//! Because every field either has a fixed size or carries its length, the encoding is
//! injective: two entries that differ in any hashed field never share bytes.

pub mod json;

use serde_json::Value;

use crate::entry::AuditEntry;
use crate::hash::PrevHash;

/// Version tag that opens every canonical entry encoding.
pub const ENTRY_VERSION_TAG: &str = "spiritus-audit-entry-v1";

/// Appends the canonical encoding of `entry` (every field but `hash`) to `out`.
pub fn encode_entry(entry: &AuditEntry, out: &mut Vec<u8>) {
    put_str(out, ENTRY_VERSION_TAG);
    put_u64(out, entry.index);
    put_i64(out, entry.time.timestamp_millis());

    put_str(out, &entry.actor_id);
    put_str(out, &entry.actor_role);
    put_opt_str(out, entry.ip.as_deref());

    put_str(out, &entry.action);
    put_str(out, &entry.resource_type);
    put_opt_str(out, entry.resource_id.as_deref());

    put_opt_json(out, entry.before.as_ref());
    put_opt_json(out, entry.after.as_ref());
    put_opt_json(out, entry.context.as_ref());

    put_bool(out, entry.success);
    put_opt_str(out, entry.error.as_deref());
    put_prev(out, &entry.prev_hash);
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_bool(out: &mut Vec<u8>, value: bool) {
    out.push(u8::from(value));
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u64(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.push(0x00),
        Some(text) => {
            out.push(0x01);
            put_str(out, text);
        }
    }
}

fn put_opt_json(out: &mut Vec<u8>, value: Option<&Value>) {
    match value {
        None | Some(Value::Null) => out.push(0x00),
        Some(value) => {
            out.push(0x01);

            // Reserve the length, write the text in place, then fill the length in.
            let length_at = out.len();
            put_u64(out, 0);
            let text_at = out.len();
            json::write_canonical_json(value, out);
            let length = (out.len() - text_at) as u64;
            out[length_at..text_at].copy_from_slice(&length.to_be_bytes());
        }
    }
}

fn put_prev(out: &mut Vec<u8>, prev: &PrevHash) {
    match prev {
        PrevHash::Genesis => out.push(0x00),
        PrevHash::Entry(hash) => {
            out.push(0x01);
            out.extend_from_slice(hash.as_bytes());
        }
    }
}
