//! Decrypting a document tree and checking its MAC, the way sops's `Tree.Decrypt` does.
//!
//! The walk visits mappings in document order and lists in index order. Each non-null leaf
//! on an encrypted path is opened with its key path (`a:b:c:`, list indexes add nothing) as
//! additional data. Every leaf's plaintext bytes, encrypted or not, feed one SHA-512; with
//! `mac_only_encrypted` only the encrypted leaves do, after a fixed 32-byte seed. The stored
//! MAC is itself encrypted with `lastmodified` as additional data.

use sha2::{Digest, Sha512};

use crate::secret::SecretString;
use crate::sops::cipher::{DataKey, EncryptedValue, ValueType};
use crate::sops::error::SopsError;
use crate::sops::metadata::Metadata;
use crate::sops::tree::{Node, Scalar};

/// `sha256("sops")`, which seeds the MAC when `mac_only_encrypted` is set so such a MAC never
/// equals one computed over all values.
const MAC_ONLY_ENCRYPTED_SEED: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// Walk state: the metadata's rules, the key, the running hash and the current key path.
struct Walker<'a> {
    metadata: &'a Metadata,
    key: &'a DataKey,
    hash: Sha512,
    path: Vec<String>,
}

/// Decrypts every encrypted leaf of `data` in place and returns the recomputed MAC as
/// upper-case hex (sops's `%X`).
pub(crate) fn decrypt_tree(
    data: &mut Node,
    metadata: &Metadata,
    key: &DataKey,
) -> Result<SecretString, SopsError> {
    let mut walker = Walker {
        metadata,
        key,
        hash: Sha512::new(),
        path: Vec::new(),
    };
    if metadata.mac_only_encrypted {
        walker.hash.update(MAC_ONLY_ENCRYPTED_SEED);
    }

    walker.visit(data)?;
    Ok(SecretString::new(hex::encode_upper(walker.hash.finalize())))
}

/// Decrypts the stored MAC and compares it with `computed` in constant time.
pub(crate) fn verify_mac(
    metadata: &Metadata,
    key: &DataKey,
    computed: &SecretString,
) -> Result<(), SopsError> {
    let stored = EncryptedValue::parse(&metadata.mac)
        .and_then(|value| value.open(key, &metadata.mac_additional_data))
        .map_err(|source| SopsError::MacUndecryptable { source })?;
    let stored = stored
        .into_secret_string()
        .map_err(|_| SopsError::MacMismatch)?;

    if !stored.ct_eq(computed) {
        return Err(SopsError::MacMismatch);
    }
    Ok(())
}

impl Walker<'_> {
    fn visit(&mut self, node: &mut Node) -> Result<(), SopsError> {
        match node {
            Node::Map(entries) => {
                for (key, value) in entries.iter_mut() {
                    self.path.push(key.clone());
                    let visited = self.visit(value);
                    self.path.pop();
                    visited?;
                }
                Ok(())
            }
            Node::List(items) => items.iter_mut().try_for_each(|item| self.visit(item)),
            Node::Scalar(scalar) => self.visit_leaf(scalar),
        }
    }

    fn visit_leaf(&mut self, scalar: &mut Scalar) -> Result<(), SopsError> {
        if *scalar == Scalar::Null {
            return Ok(());
        }
        let encrypted = self.metadata.rule.is_encrypted(&self.path);

        if encrypted {
            *scalar = self.open_leaf(scalar)?;
        }
        let counted = encrypted || !self.metadata.mac_only_encrypted;
        if let Some(bytes) = scalar.mac_bytes().filter(|_| counted) {
            let bytes = crate::secret::SecretBytes::new(bytes);
            self.hash.update(bytes.expose());
        }
        Ok(())
    }

    fn open_leaf(&self, scalar: &Scalar) -> Result<Scalar, SopsError> {
        let aad = self.additional_data();
        let text = match scalar {
            Scalar::Text(text) => text,
            other => {
                return Err(SopsError::NotEncrypted {
                    path: aad,
                    found: other.type_name(),
                });
            }
        };
        // sops never encrypts the empty string.
        if text.is_empty() {
            return Ok(Scalar::Text(String::new()));
        }

        let value = EncryptedValue::parse(text).map_err(|_| SopsError::NotEncrypted {
            path: aad.clone(),
            found: "plain text",
        })?;
        if value.value_type == ValueType::Comment {
            return Err(SopsError::Metadata {
                reason: format!("the value at {aad} is an encrypted comment, not a value"),
            });
        }
        value
            .open_typed(self.key, &aad)
            .map_err(|source| SopsError::Value { path: aad, source })
    }

    /// Builds the additional data: the key path joined with `:` plus a trailing `:`.
    fn additional_data(&self) -> String {
        let mut aad = self.path.join(":");
        aad.push(':');
        aad
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sops::cipher::tests::{seal, test_key};
    use crate::sops::metadata::EncryptionRule;

    fn metadata(rule: EncryptionRule, mac_only_encrypted: bool, mac: String) -> Metadata {
        Metadata {
            age: Vec::new(),
            mac_additional_data: "2024-01-01T00:00:00Z".into(),
            mac,
            rule,
            mac_only_encrypted,
        }
    }

    fn text(value: &str) -> Node {
        Node::Scalar(Scalar::Text(value.to_owned()))
    }

    #[test]
    fn mac_covers_plain_leaves_unless_mac_only_encrypted() {
        let key = test_key();
        let tree = || {
            Node::Map(vec![
                (
                    "secret".into(),
                    text(&seal(&key, b"s3", "secret:", "str", [2; 32])),
                ),
                ("note_unencrypted".into(), text("visible")),
            ])
        };
        let rule = || EncryptionRule::UnencryptedSuffix("_unencrypted".into());

        let all = decrypt_tree(&mut tree(), &metadata(rule(), false, String::new()), &key).unwrap();
        let only = decrypt_tree(&mut tree(), &metadata(rule(), true, String::new()), &key).unwrap();

        let expected_all = hex::encode_upper(Sha512::digest(b"s3visible"));
        let mut seeded = Sha512::new();
        seeded.update(MAC_ONLY_ENCRYPTED_SEED);
        seeded.update(b"s3");
        assert_eq!(all.expose(), expected_all);
        assert_eq!(only.expose(), hex::encode_upper(seeded.finalize()));
    }

    #[test]
    fn mac_only_encrypted_seed_is_sha256_of_sops() {
        assert_eq!(
            sha2::Sha256::digest(b"sops")[..],
            MAC_ONLY_ENCRYPTED_SEED[..]
        );
    }

    #[test]
    fn plain_text_on_an_encrypted_path_is_rejected() {
        let key = test_key();
        let mut tree = Node::Map(vec![("password".into(), text("not encrypted"))]);
        let rule = EncryptionRule::UnencryptedSuffix("_unencrypted".into());

        let error =
            decrypt_tree(&mut tree, &metadata(rule, false, String::new()), &key).unwrap_err();

        assert!(
            error.to_string().contains("password: should be encrypted"),
            "{error}"
        );
    }

    #[test]
    fn encrypted_suffix_leaves_other_values_plain() {
        let key = test_key();
        let mut tree = Node::Map(vec![
            (
                "db_secret".into(),
                text(&seal(&key, b"pw", "db_secret:", "str", [3; 32])),
            ),
            (
                "host".into(),
                text("ENC[looks encrypted but is not under a marked key]"),
            ),
        ]);
        let rule = EncryptionRule::EncryptedSuffix("_secret".into());

        decrypt_tree(&mut tree, &metadata(rule, false, String::new()), &key).unwrap();

        assert!(tree.get("db_secret") == Some(&text("pw")));
    }

    #[test]
    fn verify_mac_checks_stored_mac() {
        let key = test_key();
        let computed = SecretString::from("ABCDEF");
        let aad = "2024-01-01T00:00:00Z";
        // (stored mac plaintext, additional data used to seal it, expected outcome)
        let rows = [
            ("ABCDEF", aad, "ok"),                                     // matches
            ("ABCDEE", aad, "MAC mismatch"),                           // one digit differs
            ("abcdef", aad, "MAC mismatch"),                           // case matters, as in sops
            ("ABCDEF", "2024-01-01T00:00:01Z", "cannot be decrypted"), // lastmodified moved
        ];
        for (stored, sealed_with, expected) in rows {
            let mac = seal(&key, stored.as_bytes(), sealed_with, "str", [4; 32]);
            let rule = EncryptionRule::UnencryptedSuffix("_unencrypted".into());
            let outcome = match verify_mac(&metadata(rule, false, mac), &key, &computed) {
                Ok(()) => "ok".to_owned(),
                Err(error) => error.to_string(),
            };
            assert!(outcome.contains(expected), "{stored}: {outcome}");
        }
    }
}
