//! The JSON-lines export and the witness file: round trips, verification through the reader,
//! and hostile input that must fail with a line number instead of a panic.

use chrono::Duration;
use proptest::prelude::*;
use spiritus_audit::{
    AuditEntry, AuditSigningKey, Checkpoint, DamageKind, ExportError, ExportReader, ExportRecord,
    ExportWriter, LineError, LogState, SignedCheckpoint, SignedTreeHead, WitnessError,
    parse_witness, verify_export, witness_line,
};

use crate::support::{build_log, signed_log, signing_key, start_time};

fn export_bytes(
    key: &AuditSigningKey,
    checkpoint: Option<&SignedCheckpoint>,
    entries: &[AuditEntry],
    head: &SignedTreeHead,
) -> Vec<u8> {
    let mut writer = ExportWriter::new(Vec::new(), &key.verifying_key(), checkpoint).unwrap();
    for entry in entries {
        writer.write_entry(entry).unwrap();
    }
    writer.finish(head).unwrap()
}

fn lines_of(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut text = lines.join("\n");
    text.push('\n');
    text.into_bytes()
}

#[test]
fn export_round_trips_and_verifies() {
    let (key, entries, head) = signed_log(30);
    let bytes = export_bytes(&key, None, &entries, &head);

    let report = verify_export(bytes.as_slice(), Some(&key.verifying_key()), &[]).unwrap();

    assert_eq!(report.first_failure, None);
    assert_eq!(report.entries, 30);
    assert_eq!(lines_of(&bytes).len(), 32);
}

#[test]
fn export_reader_yields_entries_then_tree_head() {
    let (key, entries, head) = signed_log(3);
    let bytes = export_bytes(&key, None, &entries, &head);
    let mut reader = ExportReader::new(bytes.as_slice()).unwrap();

    assert_eq!(reader.header().public_key, key.verifying_key());
    for entry in &entries {
        assert_eq!(
            reader.next_record().unwrap(),
            Some(ExportRecord::Entry(Box::new(entry.clone())))
        );
    }
    assert_eq!(
        reader.next_record().unwrap(),
        Some(ExportRecord::TreeHead(head))
    );
    assert_eq!(reader.next_record().unwrap(), None);
}

#[test]
fn pruned_export_verifies_with_checkpoint() {
    let key = signing_key();
    let (state, entries) = build_log(50);
    let checkpoint = LogState::new()
        .to_checkpoint()
        .advance(&entries[..20])
        .unwrap();
    let signed = key.sign_checkpoint(checkpoint, start_time());
    let head = state.sign_head(&key, start_time());
    let bytes = export_bytes(&key, Some(&signed), &entries[20..], &head);

    let report = verify_export(bytes.as_slice(), Some(&key.verifying_key()), &[]).unwrap();

    assert_eq!(report.first_failure, None);
    assert_eq!(report.tree_size, 50);
    assert_eq!(report.entries, 30);
}

#[test]
fn pruned_export_with_forged_checkpoint_fails() {
    let key = signing_key();
    let (state, entries) = build_log(10);
    let checkpoint = Checkpoint::new(Default::default(), Default::default())
        .unwrap()
        .advance(&entries[..4])
        .unwrap();
    let mut signed = key.sign_checkpoint(checkpoint, start_time());
    signed.timestamp += Duration::seconds(1);
    let head = state.sign_head(&key, start_time());
    let bytes = export_bytes(&key, Some(&signed), &entries[4..], &head);

    let report = verify_export(bytes.as_slice(), Some(&key.verifying_key()), &[]).unwrap();

    assert_eq!(report.first_failure.unwrap().kind, DamageKind::BadSignature);
}

#[test]
fn empty_log_exports_header_and_head() {
    let key = signing_key();
    let head = LogState::new().sign_head(&key, start_time());
    let bytes = export_bytes(&key, None, &[], &head);

    let report = verify_export(bytes.as_slice(), None, &[]).unwrap();

    assert_eq!(report.first_failure, None);
    assert_eq!(lines_of(&bytes).len(), 2);
}

#[test]
fn export_under_replaced_key_needs_pin_or_witness() {
    let (key, entries, genuine_head) = signed_log(8);
    let attacker = AuditSigningKey::from_seed(&[0x77; 32]);
    let mut state = LogState::new();
    let forged: Vec<AuditEntry> = entries[..5]
        .iter()
        .map(|entry| {
            let mut draft = crate::support::draft(entry.index);
            draft.actor_id = "acc-innocent".to_owned();
            state.append(draft)
        })
        .collect();
    let forged_head = state.sign_head(&attacker, start_time());
    let bytes = export_bytes(&attacker, None, &forged, &forged_head);

    // The file agrees with itself: only a pin or a witness shows the swap.
    let unpinned = verify_export(bytes.as_slice(), None, &[]).unwrap();
    assert_eq!(unpinned.first_failure, None);
    assert_eq!(unpinned.key_id, attacker.key_id());

    let pinned = verify_export(bytes.as_slice(), Some(&key.verifying_key()), &[]).unwrap();
    assert_eq!(pinned.first_failure.unwrap().kind, DamageKind::BadSignature);

    let witnessed = verify_export(bytes.as_slice(), None, &[genuine_head]).unwrap();
    assert_eq!(
        witnessed.first_failure.unwrap().kind,
        DamageKind::BadSignature
    );
}

#[test]
fn export_edited_line_is_entry_hash_mismatch() {
    let (key, entries, head) = signed_log(6);
    let mut lines = lines_of(&export_bytes(&key, None, &entries, &head));
    // Line 5 is entry 3, a login by acc-3.
    assert!(lines[4].contains("\"actor_id\":\"acc-3\""));
    lines[4] = lines[4].replace("\"actor_id\":\"acc-3\"", "\"actor_id\":\"acc-9\"");
    let bytes = join(&lines);

    let report = verify_export(bytes.as_slice(), Some(&key.verifying_key()), &[]).unwrap();
    let failure = report.first_failure.unwrap();

    assert_eq!(failure.kind, DamageKind::EntryHashMismatch);
    assert_eq!(failure.index, Some(3));
}

fn read_all(bytes: &[u8]) -> Result<usize, ExportError> {
    let mut reader = ExportReader::with_max_line_bytes(bytes, 4096)?;
    let mut count = 0;
    while reader.next_record()?.is_some() {
        count += 1;
    }
    Ok(count)
}

#[test]
fn hostile_exports_fail_with_line_numbers() {
    let (key, entries, head) = signed_log(3);
    let good = lines_of(&export_bytes(&key, None, &entries, &head));
    let with = |edit: &dyn Fn(&mut Vec<String>)| {
        let mut lines = good.clone();
        edit(&mut lines);
        join(&lines)
    };

    type Check = fn(&ExportError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Check)> = vec![
        // Nothing at all.
        ("empty", Vec::new(), |error| {
            matches!(error, ExportError::Empty)
        }),
        // A header that is not JSON.
        ("garbage header", b"not json\n".to_vec(), |error| {
            matches!(error, ExportError::Header { .. })
        }),
        // Another file format.
        (
            "wrong format",
            with(&|lines| lines[0] = lines[0].replace("spiritus-audit-export", "other")),
            |error| matches!(error, ExportError::Format { .. }),
        ),
        // A newer version.
        (
            "future version",
            with(&|lines| lines[0] = lines[0].replace("\"version\":1", "\"version\":2")),
            |error| matches!(error, ExportError::Version { found: 2 }),
        ),
        // Header alone.
        ("header only", with(&|lines| lines.truncate(1)), |error| {
            matches!(error, ExportError::MissingTreeHead)
        }),
        // A broken entry line.
        (
            "bad entry",
            with(&|lines| lines[2] = "{\"index\":".to_owned()),
            |error| matches!(error, ExportError::Entry { line: 3, .. }),
        ),
        // An entry with a field the format does not have.
        (
            "unknown field",
            with(&|lines| lines[1] = lines[1].replacen('{', "{\"admin\":true,", 1)),
            |error| matches!(error, ExportError::Entry { line: 2, .. }),
        ),
        // The tree head replaced by an entry.
        (
            "no tree head",
            with(&|lines| {
                lines.pop();
            }),
            |error| matches!(error, ExportError::TreeHead { line: 4, .. }),
        ),
        // A blank line inside.
        (
            "blank line",
            with(&|lines| lines.insert(2, String::new())),
            |error| matches!(error, ExportError::EmptyLine { line: 3 }),
        ),
        // One endless line.
        (
            "overlong line",
            with(&|lines| lines[1] = "x".repeat(5000)),
            |error| matches!(error, ExportError::Line(LineError::TooLong { line: 2, .. })),
        ),
        // Bytes that are not UTF-8.
        ("not utf-8", [b"{\xff}\n".as_slice()].concat(), |error| {
            matches!(error, ExportError::Line(LineError::NotUtf8 { line: 1 }))
        }),
        // A hash of the wrong length.
        (
            "short hash",
            with(&|lines| lines[1] = lines[1].replacen("\"hash\":\"", "\"hash\":\"ab", 1)),
            |error| matches!(error, ExportError::Entry { line: 2, .. }),
        ),
    ];

    for (name, bytes, check) in cases {
        let error = read_all(&bytes).expect_err(name);
        assert!(check(&error), "{name}: {error}");
        assert!(!error.to_string().is_empty());
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic_the_reader(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = read_all(&bytes);
        let _ = parse_witness(bytes.as_slice());
    }

    #[test]
    fn mangled_export_never_panics_the_verifier(position in any::<usize>(), byte in any::<u8>()) {
        let (key, entries, head) = signed_log(4);
        let mut bytes = export_bytes(&key, None, &entries, &head);
        let position = position % bytes.len();
        bytes[position] = byte;

        let _ = verify_export(bytes.as_slice(), Some(&key.verifying_key()), &[]);
    }
}

#[test]
fn witness_file_round_trips() {
    let key = signing_key();
    let (_, entries) = build_log(9);
    let mut state = LogState::new();
    let mut file = String::new();
    let mut heads = Vec::new();
    for entry in &entries {
        state.replay(entry).unwrap();
        if state.size().is_multiple_of(3) {
            let head = state.sign_head(&key, start_time() + Duration::minutes(state.size() as i64));
            file.push_str(&witness_line(&head));
            heads.push(head);
        }
    }
    file.push('\n');

    assert_eq!(parse_witness(file.as_bytes()).unwrap(), heads);
}

#[test]
fn witness_file_reports_bad_line() {
    let (_, _, head) = signed_log(2);
    let file = format!("{}{{\"tree_size\":1}}\n", witness_line(&head));

    let error = parse_witness(file.as_bytes()).unwrap_err();

    assert!(
        matches!(error, WitnessError::TreeHead { line: 2, .. }),
        "{error}"
    );
}

#[test]
fn witness_heads_catch_truncated_export() {
    let key = signing_key();
    let (_, entries) = build_log(12);
    let mut state = LogState::new();
    let mut early_head = None;
    for entry in &entries {
        state.replay(entry).unwrap();
        if state.size() == 9 {
            early_head = Some(state.sign_head(&key, start_time()));
        }
    }
    let witness = witness_line(&state.sign_head(&key, start_time() + Duration::minutes(1)));
    let early_head = early_head.unwrap();

    // The export was cut back to 9 entries and closed with the genuine older head.
    let bytes = export_bytes(&key, None, &entries[..9], &early_head);
    let trusted = parse_witness(witness.as_bytes()).unwrap();
    let report = verify_export(bytes.as_slice(), Some(&key.verifying_key()), &trusted).unwrap();

    assert_eq!(report.first_failure.unwrap().kind, DamageKind::Truncated);
}
