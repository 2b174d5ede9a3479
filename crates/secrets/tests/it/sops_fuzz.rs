//! The sops reader on hostile input: random bytes and random mutations of the real fixture
//! files must produce an error or a document, never a panic.

use proptest::prelude::*;
use spiritus_secrets::sops::{AgeIdentities, SopsDocument, SopsFormat};

use crate::sops_testdata;

const FORMATS: [SopsFormat; 4] = [
    SopsFormat::Yaml,
    SopsFormat::Json,
    SopsFormat::Ini,
    SopsFormat::Binary,
];
const FILES: [&str; 4] = ["example.yaml", "example.json", "example.ini", "example.txt"];

fn identities() -> AgeIdentities {
    AgeIdentities::from_file(&sops_testdata().join("keys.txt")).unwrap()
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Delete { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Truncate { at: usize },
    Duplicate { from: usize, len: usize, to: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 1usize..200, any::<usize>())
            .prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match mutation {
        Mutation::Flip { at, bit } => bytes[at % len] ^= 1 << bit,
        Mutation::Delete { at, len: count } => {
            let start = at % len;
            bytes.drain(start..(start + count).min(len));
        }
        Mutation::Insert {
            at,
            bytes: inserted,
        } => {
            let at = at % (len + 1);
            bytes.splice(at..at, inserted.iter().copied());
        }
        Mutation::Truncate { at } => bytes.truncate(at % len),
        Mutation::Duplicate {
            from,
            len: count,
            to,
        } => {
            let start = from % len;
            let copied: Vec<u8> = bytes[start..(start + count).min(len)].to_vec();
            let to = to % (len + 1);
            bytes.splice(to..to, copied);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), format in 0usize..4) {
        let _ = SopsDocument::decrypt(&bytes, FORMATS[format], &identities());
    }

    #[test]
    fn mutated_fixtures_never_panic(file in 0usize..4, mutations in prop::collection::vec(mutation(), 1..6)) {
        let mut bytes = std::fs::read(sops_testdata().join(FILES[file])).unwrap();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        let _ = SopsDocument::decrypt(&bytes, FORMATS[file], &identities());
    }

    #[test]
    fn structured_noise_never_panics(text in "[\\[\\]{}:,#;=\\-\"' \\n\\ta-z0-9_|>&*!%@]{0,400}", format in 0usize..4) {
        let _ = SopsDocument::decrypt(text.as_bytes(), FORMATS[format], &identities());
    }
}

#[test]
fn ciphertext_change_is_detected() {
    let original = std::fs::read_to_string(sops_testdata().join("example.yaml")).unwrap();
    let identities = identities();
    let mut checked = 0;

    for (start, _) in original.match_indices("data:") {
        let mut bytes = original.clone().into_bytes();
        // Flip a bit of the first base64 character of the ciphertext, keeping it base64.
        let at = start + "data:".len();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let result = SopsDocument::decrypt(&bytes, SopsFormat::Yaml, &identities);
        let is_comment = original[at..]
            .split(']')
            .next()
            .unwrap()
            .contains("type:comment");
        if !is_comment {
            assert!(result.is_err(), "change at byte {at} went unnoticed");
            checked += 1;
        }
    }
    assert!(checked >= 12, "checked only {checked} values");
}
