//! The canonical entry encoding: stable golden bytes, deterministic JSON, and injectivity on
//! values built to confuse a naive encoding.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use spiritus_audit::{AuditDraft, AuditEntry, Hash, PrevHash, seal};

fn base_entry() -> AuditEntry {
    let time =
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(678);
    let mut draft = AuditDraft::new(time, "acc-7", "agent", "user.update", "user");
    draft.ip = Some("2001:db8::1".to_owned());
    draft.resource_id = Some("u-42".to_owned());
    draft.before = Some(json!({"name": "Zoë", "quota": 1.5, "tags": ["a", "\"b\""]}));
    draft.after = Some(json!({"quota": -3, "name": "Zoë\n"}));
    draft.success = false;
    draft.error = Some("quota_exceeded".to_owned());
    seal(draft, 9, PrevHash::Entry(Hash([0xcd; 32])))
}

/// Canonical bytes of `base_entry()`, frozen: a change here breaks every stored hash.
const GOLDEN_HEX: &str = concat!(
    "000000000000001773706972697475732d61756469742d656e7472792d763100000000000000090000019b7ca98f2e",
    "00000000000000056163632d3700000000000000056167656e7401000000000000000b323030313a6462383a3a31",
    "000000000000000b757365722e757064617465000000000000000475736572010000000000000004752d3432",
    "0100000000000000307b226e616d65223a225a6fc3ab222c2271756f7461223a312e352c2274616773223a5b2261",
    "222c225c22625c22225d7d01000000000000001c7b226e616d65223a225a6fc3ab5c6e222c2271756f7461223a2d",
    "337d000001000000000000000e71756f74615f657863656564656401cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
    "cdcdcdcdcdcdcdcdcdcdcdcdcdcd",
);

#[test]
fn golden_bytes_are_stable() {
    let entry = base_entry();

    assert_eq!(hex::encode(entry.canonical_bytes()), GOLDEN_HEX);
    assert_eq!(entry.hash, Hash::digest(&hex::decode(GOLDEN_HEX).unwrap()));
}

fn entry_with(edit: impl FnOnce(&mut AuditEntry)) -> AuditEntry {
    let mut entry = base_entry();
    edit(&mut entry);
    entry
}

#[test]
fn tricky_values_never_share_bytes() {
    let cases: Vec<(&str, AuditEntry, AuditEntry)> = vec![
        // A boundary moved between two adjacent strings.
        (
            "actor boundary",
            entry_with(|e| (e.actor_id, e.actor_role) = ("ab".into(), "c".into())),
            entry_with(|e| (e.actor_id, e.actor_role) = ("a".into(), "bc".into())),
        ),
        // Absent versus empty optional strings.
        (
            "ip none vs empty",
            entry_with(|e| e.ip = None),
            entry_with(|e| e.ip = Some(String::new())),
        ),
        (
            "error none vs empty",
            entry_with(|e| e.error = None),
            entry_with(|e| e.error = Some(String::new())),
        ),
        // Absent versus empty JSON values.
        (
            "before none vs empty string",
            entry_with(|e| e.before = None),
            entry_with(|e| e.before = Some(json!(""))),
        ),
        (
            "before {} vs []",
            entry_with(|e| e.before = Some(json!({}))),
            entry_with(|e| e.before = Some(json!([]))),
        ),
        // The same value in a different field.
        (
            "before vs after",
            entry_with(|e| (e.before, e.after) = (Some(json!(1)), None)),
            entry_with(|e| (e.before, e.after) = (None, Some(json!(1)))),
        ),
        // A string that spells the JSON of two members.
        (
            "quote injection",
            entry_with(|e| e.context = Some(json!({"a": "b\",\"c\":\"d"}))),
            entry_with(|e| e.context = Some(json!({"a": "b", "c": "d"}))),
        ),
        // Length-prefix look-alike bytes inside a string.
        (
            "embedded length bytes",
            entry_with(|e| {
                (e.action, e.resource_type) = ("x\0\0\0\0\0\0\0\u{1}y".into(), "z".into())
            }),
            entry_with(|e| {
                (e.action, e.resource_type) = ("x".into(), "y\0\0\0\0\0\0\0\u{1}z".into())
            }),
        ),
        // Unicode is not normalised: precomposed and combining forms differ.
        (
            "nfc vs nfd",
            entry_with(|e| e.actor_id = "é".into()),
            entry_with(|e| e.actor_id = "e\u{301}".into()),
        ),
        // A number and its string spelling.
        (
            "number vs string",
            entry_with(|e| e.after = Some(json!(1))),
            entry_with(|e| e.after = Some(json!("1"))),
        ),
        // Genesis versus an all-zero link.
        (
            "genesis vs zero hash",
            entry_with(|e| e.prev_hash = PrevHash::Genesis),
            entry_with(|e| e.prev_hash = PrevHash::Entry(Hash([0; 32]))),
        ),
        // One millisecond apart, and before versus after 1970.
        (
            "one millisecond",
            entry_with(|_| ()),
            entry_with(|e| e.time += chrono::Duration::milliseconds(1)),
        ),
        (
            "negative time",
            entry_with(|e| e.time = DateTime::from_timestamp_millis(-1).unwrap()),
            entry_with(|e| e.time = DateTime::from_timestamp_millis(1).unwrap()),
        ),
        // Escapes that look alike.
        (
            "tab vs escaped t",
            entry_with(|e| e.after = Some(json!("\t"))),
            entry_with(|e| e.after = Some(json!("\\t"))),
        ),
    ];

    for (name, left, right) in cases {
        assert_ne!(left.canonical_bytes(), right.canonical_bytes(), "{name}");
        assert_ne!(left.computed_hash(), right.computed_hash(), "{name}");
    }
}

#[test]
fn equal_json_values_share_bytes() {
    let cases: Vec<(&str, Value, Value)> = vec![
        // Key order, at every depth, as parsed from text.
        (
            "key order",
            serde_json::from_str(r#"{"b":{"y":1,"x":[{"q":1,"p":2}]},"a":null}"#).unwrap(),
            serde_json::from_str(r#"{"a":null,"b":{"x":[{"p":2,"q":1}],"y":1}}"#).unwrap(),
        ),
        // Insignificant whitespace and escape spelling.
        (
            "whitespace",
            serde_json::from_str("[ 1 ,\n\"\\u0041\" ]").unwrap(),
            json!([1, "A"]),
        ),
        // The same number written as an integer and as a float.
        ("3 vs 3.0", json!(3), json!(3.0)),
    ];

    for (name, left, right) in cases {
        let left = entry_with(|e| e.after = Some(left));
        let right = entry_with(|e| e.after = Some(right));
        assert_eq!(left.canonical_bytes(), right.canonical_bytes(), "{name}");
    }
}

#[test]
fn json_null_encodes_as_absent() {
    let null = entry_with(|e| e.context = Some(Value::Null));
    let absent = entry_with(|e| e.context = None);

    assert_eq!(null.canonical_bytes(), absent.canonical_bytes());
}

#[test]
fn floats_survive_export_round_trip() {
    let values = [
        0.1,
        1.0 / 3.0,
        2.5e-8,
        1e300,
        -123.456,
        9007199254740993.0,
        5e-324,
    ];
    for value in values {
        let entry = entry_with(|e| {
            e.after = Some(json!({"x": value}));
            e.hash = e.computed_hash();
        });

        let text = serde_json::to_string(&entry).unwrap();
        let back: AuditEntry = serde_json::from_str(&text).unwrap();

        assert_eq!(back.computed_hash(), entry.hash, "value {value:e}");
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(".{0,6}")
}

prop_compose! {
    fn entry()(
        index in any::<u64>(),
        millis in -10_000_000_000_000i64..10_000_000_000_000,
        actor_id in ".{0,6}",
        actor_role in ".{0,6}",
        ip in optional_text(),
        action in ".{0,6}",
        resource_type in ".{0,6}",
        resource_id in optional_text(),
        before in prop::option::of(json_value()),
        after in prop::option::of(json_value()),
        context in prop::option::of(json_value()),
        success in any::<bool>(),
        error in optional_text(),
        prev in prop::option::of(any::<[u8; 32]>()),
    ) -> AuditEntry {
        let time = DateTime::from_timestamp_millis(millis).unwrap();
        let mut draft = AuditDraft::new(time, actor_id, actor_role, action, resource_type);
        draft.ip = ip;
        draft.resource_id = resource_id;
        draft.before = before;
        draft.after = after;
        draft.context = context;
        draft.success = success;
        draft.error = error;
        seal(draft, index, prev.map_or(PrevHash::Genesis, |bytes| PrevHash::Entry(Hash(bytes))))
    }
}

/// Compares entries on the fields the encoding covers, so `hash` is ignored.
fn same_content(left: &AuditEntry, right: &AuditEntry) -> bool {
    let mut right = right.clone();
    right.hash = left.hash;
    *left == right
}

proptest! {
    #[test]
    fn encoding_is_injective_on_random_entries(left in entry(), right in entry()) {
        let same_bytes = left.canonical_bytes() == right.canonical_bytes();

        prop_assert_eq!(same_bytes, same_content(&left, &right));
    }

    #[test]
    fn encoding_survives_json_round_trip(entry in entry()) {
        let text = serde_json::to_string(&entry).unwrap();
        let back: AuditEntry = serde_json::from_str(&text).unwrap();

        prop_assert_eq!(back.canonical_bytes(), entry.canonical_bytes());
        prop_assert_eq!(back.computed_hash(), entry.hash);
    }
}
