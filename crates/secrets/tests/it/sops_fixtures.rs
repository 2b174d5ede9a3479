//! The real sops files in `shared/testdata/sops`: every file decrypts with each identity of
//! keys.txt to the recorded plaintext, tampered copies are rejected, and misconfiguration
//! gives errors that name the fix.

use std::path::Path;

use age::secrecy::ExposeSecret;
use serde_json::Value;
use spiritus_secrets::sops::{AgeIdentities, KeyPath, SopsDocument, SopsError};
use spiritus_secrets::{EnvSource, ResolveContext, resolve_setting};

use crate::sops_testdata;

const FILES: [&str; 4] = ["example.yaml", "example.json", "example.ini", "example.txt"];

fn expected() -> Value {
    let text = std::fs::read_to_string(sops_testdata().join("expected-plaintext.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Loads each identity of keys.txt on its own.
fn each_identity() -> Vec<AgeIdentities> {
    let text = std::fs::read_to_string(sops_testdata().join("keys.txt")).unwrap();
    let identities: Vec<AgeIdentities> = text
        .lines()
        .filter(|line| line.starts_with("AGE-SECRET-KEY-1"))
        .map(|line| AgeIdentities::parse(line).unwrap())
        .collect();
    assert_eq!(identities.len(), 2, "keys.txt holds two identities");
    identities
}

fn all_identities() -> AgeIdentities {
    AgeIdentities::from_file(&sops_testdata().join("keys.txt")).unwrap()
}

/// Leaves of the expected tree as (dot path, text the reader should return).
fn leaves(value: &Value, path: String, out: &mut Vec<(String, String)>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(entries) => entries
            .iter()
            .for_each(|(key, value)| leaves(value, join(key), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(index, item)| leaves(item, join(&index.to_string()), out)),
        Value::String(text) => out.push((path, text.clone())),
        Value::Number(number) => out.push((path, number.as_f64().unwrap().to_string())),
        Value::Bool(flag) => out.push((path, flag.to_string())),
        Value::Null => {}
    }
}

#[test]
fn fixtures_decrypt_with_each_identity() {
    let expected = expected();
    for file in FILES {
        let mut expected_leaves = Vec::new();
        leaves(
            &expected[file]["decrypted_tree"],
            String::new(),
            &mut expected_leaves,
        );
        assert!(!expected_leaves.is_empty());

        for identity in each_identity() {
            let document =
                SopsDocument::decrypt_file(&sops_testdata().join(file), &identity).unwrap();
            for (path, value) in &expected_leaves {
                let found = document.get(&path.parse::<KeyPath>().unwrap()).unwrap();
                assert_eq!(found.expose(), value, "{file} {path}");
            }
        }
    }
}

#[test]
fn tampered_files_are_rejected() {
    // (file, part of the error)
    let rows = [
        ("derived/example.tampered-unencrypted.yaml", "MAC mismatch"), // plain value changed
        (
            "derived/example.tampered-lastmodified.yaml",
            "MAC cannot be decrypted",
        ), // AAD changed
    ];
    for (file, expected) in rows {
        let error =
            SopsDocument::decrypt_file(&sops_testdata().join(file), &all_identities()).unwrap_err();
        assert!(error.to_string().contains(expected), "{file}: {error}");
    }
}

#[test]
fn wrong_identity_names_both_sides() {
    let stranger = age::x25519::Identity::generate();
    let identities = AgeIdentities::parse(stranger.to_string().expose_secret()).unwrap();
    let stranger_public = stranger.to_public().to_string();

    let error =
        SopsDocument::decrypt_file(&sops_testdata().join("example.yaml"), &identities).unwrap_err();

    let message = error.to_string();
    assert!(
        matches!(error, SopsError::NoMatchingIdentity { .. }),
        "{message}"
    );
    assert!(message.contains(&stranger_public), "{message}");
    assert!(
        message.contains("age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw"),
        "{message}"
    );
    assert!(message.contains("SOPS_AGE_KEY_FILE"), "{message}");
}

#[test]
fn missing_key_path_is_named() {
    let document =
        SopsDocument::decrypt_file(&sops_testdata().join("example.yaml"), &all_identities())
            .unwrap();
    // (key path, part of the error)
    let rows = [
        (
            "app2.db.pasword",
            "key path app2.db.pasword: app2.db has no key \"pasword\"",
        ), // typo
        ("an_array.9", "an_array is a list of 4 items"), // past the end
        ("app2.db", "points at a mapping"),              // not a leaf
    ];
    for (path, expected) in rows {
        let error = document.get(&path.parse().unwrap()).unwrap_err();
        assert!(error.to_string().contains(expected), "{path}: {error}");
    }
}

/// A text edit applied to a copy of example.yaml.
type Edit = fn(&str) -> String;

fn edited_copy(dir: &Path, name: &str, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let original = std::fs::read_to_string(sops_testdata().join("example.yaml")).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, edit(&original)).unwrap();
    path
}

#[test]
fn unsupported_sops_features_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    // (edit of example.yaml, part of the error)
    let rows: [(Edit, &str); 5] = [
        (
            |t| t.replace("sops:\n", "sops:\n    encrypted_regex: ^pass\n"),
            "uses encrypted_regex",
        ),
        (
            |t| t.replace("sops:\n", "sops:\n    key_groups:\n        - age: []\n"),
            "uses key_groups",
        ),
        (
            |t| {
                t.replace(
                    "    age:\n        - recipient",
                    "    age: []\n    pgp_old:\n        - recipient",
                )
                .replace("    pgp: []", "    pgp:\n        - fp: ABC")
            },
            "no age recipient (its data key is encrypted only to: pgp)",
        ),
        (
            |t| t.replace("sops:\n", "sops:\n    encrypted_suffix: _secret\n"),
            "both set",
        ),
        (|t| t.replace("sops:", "not_sops:"), "no sops metadata"),
    ];
    for (index, (edit, expected)) in rows.into_iter().enumerate() {
        let path = edited_copy(dir.path(), &format!("edited-{index}.yaml"), edit);
        let error = SopsDocument::decrypt_file(&path, &all_identities()).unwrap_err();
        assert!(error.to_string().contains(expected), "row {index}: {error}");
    }
}

#[tokio::test]
async fn sops_references_resolve_through_the_context() {
    let keys = sops_testdata().join("keys.txt");
    let second_identity = std::fs::read_to_string(&keys)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    // (environment, reference, expected value)
    let rows = [
        (
            ("SOPS_AGE_KEY_FILE", keys.to_str().unwrap().to_owned()),
            "sops:example.yaml#app2.db.password",
            "c4r1b0u",
        ),
        (
            ("SOPS_AGE_KEY", second_identity.clone()),
            "sops:example.json#phoneNumbers.1.number",
            "646 555-4567",
        ),
        (
            ("SOPS_AGE_KEY", second_identity),
            "sops:example.ini#not private.notsecret_unencrypted",
            "hi there!",
        ),
    ];
    for ((name, value), reference, expected) in rows {
        let ctx = ResolveContext::new(EnvSource::from_pairs([(name, value.as_str())]))
            .with_base_dir(sops_testdata());
        let secret = resolve_setting("database_url", reference, &ctx)
            .await
            .unwrap();
        assert_eq!(secret.expose(), expected, "{reference}");
    }
}

#[tokio::test]
async fn sops_errors_name_setting_and_file() {
    let ctx =
        ResolveContext::new(EnvSource::from_pairs::<&str, &str>([])).with_base_dir(sops_testdata());

    let error = resolve_setting("secrets.audit_key", "sops:example.yaml#app2.key", &ctx)
        .await
        .unwrap_err();

    let message = error.to_string();
    assert!(
        message.starts_with("secrets.audit_key: sops file "),
        "{message}"
    );
    assert!(message.contains("example.yaml (key app2.key)"), "{message}");
    assert!(message.contains("set SOPS_AGE_KEY_FILE"), "{message}");
}
