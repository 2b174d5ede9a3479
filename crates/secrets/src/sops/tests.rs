//! Layer-by-layer checks against the checkpoints recorded in
//! `testdata/sops/expected-plaintext.json`: the data key each identity recovers and
//! the MAC recomputed over the decrypted tree.

use std::path::PathBuf;

use super::*;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sops")
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(testdata().join("expected-plaintext.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Loads each identity of keys.txt on its own.
fn single_identities() -> Vec<AgeIdentities> {
    let text = std::fs::read_to_string(testdata().join("keys.txt")).unwrap();
    text.lines()
        .filter(|line| line.starts_with("AGE-SECRET-KEY-"))
        .map(|line| AgeIdentities::parse(line).unwrap())
        .collect()
}

const FILES: [&str; 4] = ["example.yaml", "example.json", "example.ini", "example.txt"];

#[test]
fn each_identity_recovers_the_recorded_data_key() {
    let expected = expected();
    let identities = single_identities();
    assert_eq!(identities.len(), 2);

    for file in FILES {
        let path = testdata().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let (_, metadata) = split_document(&text, SopsFormat::from_path(&path).unwrap()).unwrap();
        let metadata = Metadata::from_node(&metadata).unwrap();

        for identity in &identities {
            let key = recover_data_key(&metadata, identity).unwrap();
            assert_eq!(
                hex::encode(key.raw().expose()),
                expected[file]["data_key_hex"].as_str().unwrap(),
                "{file}"
            );
        }
    }
}

#[test]
fn recomputed_mac_matches_the_recorded_mac() {
    let expected = expected();
    let identities = single_identities();

    for file in FILES {
        let path = testdata().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let (mut tree, metadata) =
            split_document(&text, SopsFormat::from_path(&path).unwrap()).unwrap();
        let metadata = Metadata::from_node(&metadata).unwrap();
        let key = recover_data_key(&metadata, &identities[0]).unwrap();

        let computed = walk::decrypt_tree(&mut tree, &metadata, &key).unwrap();

        assert_eq!(
            computed.expose(),
            expected[file]["mac_sha512_upper_hex"].as_str().unwrap(),
            "{file}"
        );
        assert_eq!(
            metadata.mac_additional_data,
            expected[file]["lastmodified"].as_str().unwrap()
        );
    }
}

#[test]
fn recorded_values_open_with_their_aad() {
    let expected = expected();
    let identities = single_identities();
    let path = testdata().join("example.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let (tree, metadata) = split_document(&text, SopsFormat::Yaml).unwrap();
    let metadata = Metadata::from_node(&metadata).unwrap();
    let key = recover_data_key(&metadata, &identities[1]).unwrap();

    let mut ciphertexts = Vec::new();
    collect_encrypted(&tree, &mut ciphertexts);
    let recorded = expected["example.yaml"]["encrypted_values_in_order"]
        .as_array()
        .unwrap();

    assert_eq!(ciphertexts.len(), recorded.len());
    for (ciphertext, record) in ciphertexts.iter().zip(recorded) {
        let value = cipher::EncryptedValue::parse(ciphertext).unwrap();
        let plaintext = value.open(&key, record["aad"].as_str().unwrap()).unwrap();
        assert_eq!(
            plaintext.expose(),
            record["plaintext"].as_str().unwrap().as_bytes()
        );
    }
}

fn collect_encrypted(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::Map(entries) => entries
            .iter()
            .for_each(|(_, value)| collect_encrypted(value, out)),
        Node::List(items) => items.iter().for_each(|item| collect_encrypted(item, out)),
        Node::Scalar(Scalar::Text(text)) if text.starts_with("ENC[") => out.push(text.clone()),
        Node::Scalar(_) => {}
    }
}

#[test]
fn format_follows_the_extension() {
    // (file name, store or error)
    let rows = [
        ("a.yaml", Some(SopsFormat::Yaml)),  // YAML
        ("a.YML", Some(SopsFormat::Yaml)),   // case-insensitive
        ("a.json", Some(SopsFormat::Json)),  // JSON
        ("a.ini", Some(SopsFormat::Ini)),    // INI
        ("a.txt", Some(SopsFormat::Binary)), // anything else: binary
        ("noext", Some(SopsFormat::Binary)), // no extension: binary
        ("a.env", None),                     // dotenv store: refused
    ];
    for (name, expected) in rows {
        assert_eq!(
            SopsFormat::from_path(Path::new(name)).ok(),
            expected,
            "{name}"
        );
    }
}

#[test]
fn document_debug_shows_nothing() {
    let identities = single_identities();
    let document =
        SopsDocument::decrypt_file(&testdata().join("example.yaml"), &identities[0]).unwrap();

    assert_eq!(format!("{document:?}"), "SopsDocument(***)");
}
