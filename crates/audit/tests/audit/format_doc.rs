//! The worked example in `docs/audit-format.md`: every byte string and hash printed there is
//! recomputed here, so the specification and the code cannot drift apart.
//!
//! After an intended format change, print the new values with
//! `cargo test -p spiritus-audit --test audit print_worked_example -- --ignored --nocapture`
//! and paste them into the document.

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use spiritus_audit::merkle::MerkleLog;
use spiritus_audit::{AuditDraft, AuditSigningKey, ExportWriter, LogState, witness_line};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Wraps hex at 64 digits per line, as the document prints it.
fn wrap(hex: &str) -> String {
    hex.as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Computes every value the document shows, keyed by the name of its marker.
fn worked_example() -> Vec<(&'static str, String)> {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let key = AuditSigningKey::from_seed(&seed);
    let public = key.verifying_key();

    let mut first = AuditDraft::new(
        at("2026-03-01T12:00:00.250Z"),
        "acc-1",
        "owner",
        "user.create",
        "user",
    );
    first.ip = Some("203.0.113.7".to_owned());
    first.resource_id = Some("u-1".to_owned());
    first.after = Some(json!({"name": "alice", "traffic_limit_gb": 10.5, "expire_days": 30}));
    first.context = Some(json!({"user_agent": "curl/8.5.0"}));

    let mut second = AuditDraft::new(
        at("2026-03-01T12:00:05Z"),
        "anonymous",
        "none",
        "login",
        "session",
    );
    second.ip = Some("198.51.100.23".to_owned());
    second.context = Some(json!({"username": "admin_backup", "attempt": 3}));
    second.success = false;
    second.error = Some("invalid credentials".to_owned());

    let mut state = LogState::new();
    let entries = vec![state.append(first), state.append(second)];
    let head = state.sign_head(&key, at("2026-03-01T12:01:00Z"));
    let proof = MerkleLog::new(entries.as_slice())
        .inclusion_proof(0, 2)
        .unwrap();

    let checkpoint = LogState::new()
        .to_checkpoint()
        .advance(&entries[..1])
        .unwrap();
    let checkpoint_time = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let signed_checkpoint = key.sign_checkpoint(checkpoint.clone(), checkpoint_time);

    let mut writer = ExportWriter::new(Vec::new(), &public, None).unwrap();
    for entry in &entries {
        writer.write_entry(entry).unwrap();
    }
    let export = String::from_utf8(writer.finish(&head).unwrap()).unwrap();

    vec![
        ("seed", wrap(&hex::encode(seed))),
        ("public-key", public.to_hex()),
        ("key-id", public.key_id()),
        (
            "entry0-canonical",
            wrap(&hex::encode(entries[0].canonical_bytes())),
        ),
        ("entry0-hash", entries[0].hash.to_hex()),
        ("entry0-leaf-hash", entries[0].leaf_hash().to_hex()),
        (
            "entry1-canonical",
            wrap(&hex::encode(entries[1].canonical_bytes())),
        ),
        ("entry1-hash", entries[1].hash.to_hex()),
        ("entry1-leaf-hash", entries[1].leaf_hash().to_hex()),
        ("root", state.root().to_hex()),
        (
            "tree-head-payload",
            wrap(&hex::encode(head.signing_payload())),
        ),
        ("tree-head", serde_json::to_string_pretty(&head).unwrap()),
        (
            "inclusion-proof",
            serde_json::to_string_pretty(&proof).unwrap(),
        ),
        (
            "checkpoint-payload",
            wrap(&hex::encode(checkpoint.signing_payload(checkpoint_time))),
        ),
        (
            "checkpoint",
            serde_json::to_string_pretty(&signed_checkpoint).unwrap(),
        ),
        ("export", export.trim_end().to_owned()),
        ("witness-line", witness_line(&head).trim_end().to_owned()),
    ]
}

fn format_doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/audit-format.md");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Extracts the fenced block right after `<!-- example:NAME -->`.
fn block_after_marker(doc: &str, name: &str) -> String {
    let marker = format!("<!-- example:{name} -->");
    let start = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("marker {marker} missing from the document"));
    let rest = &doc[start + marker.len()..];
    let fence = rest.find("```").unwrap();
    let body_start = fence + rest[fence..].find('\n').unwrap() + 1;
    let body_end = body_start + rest[body_start..].find("```").unwrap();
    rest[body_start..body_end].trim_end().to_owned()
}

#[test]
fn format_doc_example_matches_code() {
    let doc = format_doc();

    for (name, expected) in worked_example() {
        let printed = block_after_marker(&doc, name);
        match (json_lines(&printed), json_lines(&expected)) {
            // JSON is compared as values: serde_json may order map keys differently when a
            // crate in the build enables its `preserve_order` feature.
            (Some(printed), Some(expected)) => {
                assert_eq!(printed, expected, "example block {name}")
            }
            _ => assert_eq!(printed, expected, "example block {name}"),
        }
    }
}

/// Parses the block as one JSON value or as one JSON value per line; `None` for hex blocks.
fn json_lines(block: &str) -> Option<Vec<serde_json::Value>> {
    if !block.starts_with('{') {
        return None;
    }
    if let Ok(value) = serde_json::from_str(block) {
        return Some(vec![value]);
    }
    block
        .lines()
        .map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[test]
fn format_doc_example_export_verifies() {
    let doc = format_doc();
    let export = block_after_marker(&doc, "export");
    let public =
        spiritus_audit::AuditVerifyingKey::from_hex(&block_after_marker(&doc, "public-key"))
            .unwrap();

    let report = spiritus_audit::verify_export(export.as_bytes(), Some(&public), &[]).unwrap();

    assert_eq!(report.first_failure, None);
    assert_eq!(report.tree_size, 2);
}

#[test]
#[ignore = "prints the worked example for pasting into docs/audit-format.md"]
fn print_worked_example() {
    for (name, value) in worked_example() {
        println!("<!-- example:{name} -->\n```text\n{value}\n```\n");
    }
}
