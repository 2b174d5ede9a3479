//! Published RFC 6962 / RFC 9162 test vectors: the hand-checked `vectors.json` and every
//! transparency-dev inclusion and consistency case file.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use spiritus_audit::merkle::{self, MerkleLog, verify_consistency, verify_inclusion};
use spiritus_audit::{Hash, HashParseError};

use crate::support::merkle_testdata;

fn load_vectors() -> Value {
    let path = merkle_testdata().join("vectors.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hex_hash(value: &Value) -> Hash {
    Hash::from_hex(value.as_str().unwrap()).unwrap()
}

fn hex_hashes(value: &Value) -> Vec<Hash> {
    value.as_array().unwrap().iter().map(hex_hash).collect()
}

fn leaf_hashes(vectors: &Value) -> Vec<Hash> {
    vectors["leaf_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|input| merkle::leaf_hash(&hex::decode(input.as_str().unwrap()).unwrap()))
        .collect()
}

#[test]
fn vectors_roots_match_every_size() {
    let vectors = load_vectors();
    let leaves = leaf_hashes(&vectors);

    assert_eq!(merkle::root_of(&[]), hex_hash(&vectors["empty_tree_root"]));
    for row in vectors["roots"].as_array().unwrap() {
        let size = row["tree_size"].as_u64().unwrap() as usize;
        let expected = hex_hash(&row["root"]);

        assert_eq!(
            merkle::root_of(&leaves[..size]),
            expected,
            "root of size {size}"
        );
        assert_eq!(
            MerkleLog::new(&leaves).root(size as u64).unwrap(),
            expected,
            "prover root of size {size}"
        );
    }
}

#[test]
fn vectors_leaf_hashes_match_node_level_zero() {
    let vectors = load_vectors();

    assert_eq!(
        leaf_hashes(&vectors),
        hex_hashes(&vectors["node_hashes"][0])
    );
}

#[test]
fn vectors_perfect_subtrees_match_node_hashes() {
    let vectors = load_vectors();
    let leaves = leaf_hashes(&vectors);

    for (level, hashes) in vectors["node_hashes"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let width = 1usize << level;
        for (position, expected) in hex_hashes(hashes).into_iter().enumerate() {
            let start = position * width;
            let subtree = merkle::root_of(&leaves[start..start + width]);
            assert_eq!(subtree, expected, "level {level} node {position}");
        }
    }
}

#[test]
fn vectors_inclusion_proofs_generate_and_verify() {
    let vectors = load_vectors();
    let leaves = leaf_hashes(&vectors);

    for row in vectors["inclusion_proofs"].as_array().unwrap() {
        let index = row["leaf_index"].as_u64().unwrap();
        let size = row["tree_size"].as_u64().unwrap();
        let path = hex_hashes(&row["path"]);
        let root = hex_hash(&row["root"]);
        let leaf = hex_hash(&row["leaf_hash"]);

        let generated = MerkleLog::new(&leaves[..size as usize])
            .inclusion_proof(index, size)
            .unwrap();
        assert_eq!(
            generated.path, path,
            "generated path for leaf {index} of {size}"
        );
        assert_eq!(verify_inclusion(&leaf, index, size, &path, &root), Ok(()));
    }
}

#[test]
fn vectors_consistency_proofs_generate_and_verify() {
    let vectors = load_vectors();
    let leaves = leaf_hashes(&vectors);

    for row in vectors["consistency_proofs"].as_array().unwrap() {
        let old_size = row["size1"].as_u64().unwrap();
        let new_size = row["size2"].as_u64().unwrap();
        let path = hex_hashes(&row["proof"]);
        let old_root = hex_hash(&row["root1"]);
        let new_root = hex_hash(&row["root2"]);

        let generated = MerkleLog::new(&leaves[..new_size as usize])
            .consistency_proof(old_size, new_size)
            .unwrap();
        assert_eq!(
            generated.path, path,
            "generated proof {old_size} -> {new_size}"
        );
        assert_eq!(
            verify_consistency(old_size, new_size, &old_root, &new_root, &path),
            Ok(())
        );
    }
}

#[test]
fn vectors_every_proof_up_to_eight_leaves_verifies() {
    let vectors = load_vectors();
    let leaves = leaf_hashes(&vectors);

    for size in 1..=8u64 {
        let log = MerkleLog::new(&leaves[..size as usize]);
        let root = log.root(size).unwrap();
        for index in 0..size {
            let proof = log.inclusion_proof(index, size).unwrap();
            assert_eq!(
                proof.verify(&leaves[index as usize], &root),
                Ok(()),
                "leaf {index} of {size}"
            );
        }
        for old_size in 1..=size {
            let proof = log.consistency_proof(old_size, size).unwrap();
            let old_root = log.root(old_size).unwrap();
            assert_eq!(
                proof.verify(&old_root, &root),
                Ok(()),
                "{old_size} -> {size}"
            );
        }
    }
}

fn case_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for item in std::fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        if path.is_dir() {
            case_files(&path, found);
        } else if path
            .extension()
            .is_some_and(|extension| extension == "json")
        {
            found.push(path);
        }
    }
}

/// Decodes a base64 field into a hash; a value of the wrong length is an error, as it must be.
fn b64_hash(value: &Value) -> Result<Hash, HashParseError> {
    let bytes = STANDARD.decode(value.as_str().unwrap()).unwrap();
    Hash::try_from(bytes.as_slice())
}

fn b64_hashes(value: &Value) -> Result<Vec<Hash>, HashParseError> {
    match value {
        Value::Null => Ok(Vec::new()),
        _ => value.as_array().unwrap().iter().map(b64_hash).collect(),
    }
}

fn run_inclusion_case(case: &Value) -> Result<(), String> {
    let leaf = b64_hash(&case["leafHash"]).map_err(|error| error.to_string())?;
    let root = b64_hash(&case["root"]).map_err(|error| error.to_string())?;
    let path = b64_hashes(&case["proof"]).map_err(|error| error.to_string())?;
    let index = case["leafIdx"].as_u64().unwrap();
    let size = case["treeSize"].as_u64().unwrap();

    verify_inclusion(&leaf, index, size, &path, &root).map_err(|error| error.to_string())
}

fn run_consistency_case(case: &Value) -> Result<(), String> {
    let old_root = b64_hash(&case["root1"]).map_err(|error| error.to_string())?;
    let new_root = b64_hash(&case["root2"]).map_err(|error| error.to_string())?;
    let path = b64_hashes(&case["proof"]).map_err(|error| error.to_string())?;
    let old_size = case["size1"].as_u64().unwrap();
    let new_size = case["size2"].as_u64().unwrap();

    verify_consistency(old_size, new_size, &old_root, &new_root, &path)
        .map_err(|error| error.to_string())
}

/// The one upstream positive case this crate rejects on purpose: its roots are the 12-byte
/// string "don't care 2", and every hash here must be exactly 32 bytes.
const SHORT_ROOT_CASE: &str = "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json";

#[test]
fn transparency_dev_cases_agree_with_want_err() {
    let root = merkle_testdata().join("transparency-dev-testdata");
    let mut files = Vec::new();
    case_files(&root, &mut files);
    files.sort();
    assert_eq!(
        files.len(),
        196,
        "expected 98 inclusion and 98 consistency case files"
    );

    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let want_err = case["wantErr"].as_bool().unwrap();

        let outcome = if relative.starts_with("inclusion/") {
            run_inclusion_case(&case)
        } else {
            run_consistency_case(&case)
        };

        if relative == SHORT_ROOT_CASE {
            let error = outcome.unwrap_err();
            assert!(
                error.contains("expected 32 bytes, found 12"),
                "{relative}: {error}"
            );
            continue;
        }
        assert_eq!(
            outcome.is_err(),
            want_err,
            "{relative}: outcome {outcome:?}, wantErr {want_err}"
        );
    }
}
