//! Targets for secret references and sops files.

use spiritus_secrets::SecretRef;
use spiritus_secrets::sops::{AgeIdentities, SopsDocument, SopsFormat};

use crate::text;

/// The age identities of the sops test files, so fuzzed documents can reach the parts past
/// the key recovery when they are mutations of the real files.
const TEST_IDENTITIES: &str = include_str!("../../../testdata/sops/keys.txt");

/// `env:`, `file:`, `vault:`, `sops:` references and literals: a literal never shows in
/// `Debug` or `Display`, and a reference reads back the same.
pub fn secret_reference(data: &[u8]) {
    let raw = text(data);
    let Ok(reference) = raw.parse::<SecretRef>() else {
        return;
    };
    match &reference {
        SecretRef::Literal(_) => {
            assert_eq!(reference.to_string(), "literal:***");
            assert_eq!(format!("{reference:?}"), "SecretRef(literal:***)");
        }
        other => {
            let again = other.to_string().parse::<SecretRef>();
            assert!(
                again.is_ok_and(|again| again.to_string() == other.to_string()),
                "a parsed reference does not read back: {other}"
            );
        }
    }
}

/// sops documents in YAML and JSON: decryption of hostile input fails cleanly.
pub fn sops_document(data: &[u8]) {
    let Ok(identities) = AgeIdentities::parse(TEST_IDENTITIES) else {
        panic!("parsing the age identities in testdata/sops/keys.txt failed");
    };
    for format in [SopsFormat::Yaml, SopsFormat::Json] {
        let _ = SopsDocument::decrypt(data, format, &identities);
    }
}
