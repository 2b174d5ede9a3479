//! The `sops` metadata of a document: age stanzas, `lastmodified`, the stored MAC and the
//! rules that select the encrypted values.
//!
//! Features this reader does not implement are refused by name rather than guessed at:
//! key groups with Shamir secret sharing, and the regex rules (`encrypted_regex`,
//! `unencrypted_regex`, `encrypted_comment_regex`, `unencrypted_comment_regex`).

use crate::sops::error::SopsError;
use crate::sops::tree::{Node, Scalar};

/// sops's default when a file names no rule.
const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// Key sources other than age, named in the error when a file has no age stanza.
const OTHER_KEY_SOURCES: [&str; 6] = ["kms", "gcp_kms", "azure_kv", "hc_vault", "pgp", "hckms"];

/// Rules that would need a regular-expression engine.
const REGEX_RULES: [&str; 4] = [
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
];

/// One `sops.age[]` entry.
pub(crate) struct AgeStanza {
    pub(crate) recipient: String,
    pub(crate) armored: String,
}

/// Rule selecting the encrypted leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EncryptionRule {
    /// Leaves under a key ending in the suffix stay plain; all others are encrypted.
    UnencryptedSuffix(String),
    /// Only leaves under a key ending in the suffix are encrypted.
    EncryptedSuffix(String),
}

impl EncryptionRule {
    /// Checks whether the leaf at `path` is encrypted (`shouldBeEncrypted` in sops, suffix rules).
    pub(crate) fn is_encrypted(&self, path: &[String]) -> bool {
        match self {
            Self::UnencryptedSuffix(suffix) => {
                !path.iter().any(|key| key.ends_with(suffix.as_str()))
            }
            Self::EncryptedSuffix(suffix) => path.iter().any(|key| key.ends_with(suffix.as_str())),
        }
    }
}

/// The parsed metadata.
pub(crate) struct Metadata {
    pub(crate) age: Vec<AgeStanza>,
    /// `lastmodified` in the form sops uses as the MAC's additional data.
    pub(crate) mac_additional_data: String,
    pub(crate) mac: String,
    pub(crate) rule: EncryptionRule,
    pub(crate) mac_only_encrypted: bool,
}

impl Metadata {
    /// Reads the metadata mapping (the value of the top-level `sops` key).
    pub(crate) fn from_node(node: &Node) -> Result<Self, SopsError> {
        if !matches!(node, Node::Map(_)) {
            return Err(malformed("the sops metadata is not a mapping"));
        }
        reject_key_groups(node)?;
        let rule = encryption_rule(node)?;
        let age = age_stanzas(node)?;
        let lastmodified = required_text(node, "lastmodified")?;

        Ok(Self {
            age,
            mac_additional_data: normalize_rfc3339(&lastmodified)
                .ok_or_else(|| malformed("sops.lastmodified is not an RFC 3339 time"))?,
            mac: required_text(node, "mac")?,
            rule,
            mac_only_encrypted: flag(node, "mac_only_encrypted")?,
        })
    }
}

fn malformed(reason: &str) -> SopsError {
    SopsError::Metadata {
        reason: reason.to_owned(),
    }
}

fn text<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    match node.get(key) {
        Some(Node::Scalar(Scalar::Text(value))) if !value.is_empty() => Some(value),
        _ => None,
    }
}

fn required_text(node: &Node, key: &str) -> Result<String, SopsError> {
    text(node, key)
        .map(str::to_owned)
        .ok_or_else(|| malformed(&format!("sops.{key} is missing or not a string")))
}

fn flag(node: &Node, key: &str) -> Result<bool, SopsError> {
    match node.get(key) {
        None | Some(Node::Scalar(Scalar::Null)) => Ok(false),
        Some(Node::Scalar(Scalar::Bool(value))) => Ok(*value),
        // INI files store every metadata value as text.
        Some(Node::Scalar(Scalar::Text(value))) => Ok(value == "true"),
        Some(_) => Err(malformed(&format!("sops.{key} is not a boolean"))),
    }
}

fn is_non_empty_list(node: Option<&Node>) -> bool {
    matches!(node, Some(Node::List(items)) if !items.is_empty())
}

fn reject_key_groups(node: &Node) -> Result<(), SopsError> {
    if is_non_empty_list(node.get("key_groups")) {
        return Err(SopsError::Unsupported {
            feature: "key_groups (Shamir secret sharing of the data key)",
            hint: "re-encrypt the file with age recipients and no key groups",
        });
    }
    Ok(())
}

fn encryption_rule(node: &Node) -> Result<EncryptionRule, SopsError> {
    if let Some(rule) = REGEX_RULES
        .into_iter()
        .find(|rule| text(node, rule).is_some())
    {
        return Err(SopsError::Unsupported {
            feature: rule,
            hint: "re-encrypt the file with unencrypted_suffix or encrypted_suffix",
        });
    }

    match (
        text(node, "unencrypted_suffix"),
        text(node, "encrypted_suffix"),
    ) {
        (Some(_), Some(_)) => Err(malformed(
            "sops.unencrypted_suffix and sops.encrypted_suffix are both set; sops allows one rule",
        )),
        (Some(suffix), None) => Ok(EncryptionRule::UnencryptedSuffix(suffix.to_owned())),
        (None, Some(suffix)) => Ok(EncryptionRule::EncryptedSuffix(suffix.to_owned())),
        (None, None) => Ok(EncryptionRule::UnencryptedSuffix(
            DEFAULT_UNENCRYPTED_SUFFIX.to_owned(),
        )),
    }
}

fn age_stanzas(node: &Node) -> Result<Vec<AgeStanza>, SopsError> {
    let entries = match node.get("age") {
        Some(Node::List(entries)) => entries.as_slice(),
        None | Some(Node::Scalar(Scalar::Null)) => &[],
        Some(_) => return Err(malformed("sops.age is not a list")),
    };
    let stanzas = entries
        .iter()
        .map(|entry| {
            Ok(AgeStanza {
                recipient: text(entry, "recipient").unwrap_or_default().to_owned(),
                armored: required_text(entry, "enc")?,
            })
        })
        .collect::<Result<Vec<_>, SopsError>>()?;

    if stanzas.is_empty() {
        let sources = OTHER_KEY_SOURCES
            .into_iter()
            .filter(|source| is_non_empty_list(node.get(source)))
            .collect::<Vec<_>>();
        return Err(SopsError::NoAgeRecipient {
            other_sources: sources.join(", "),
        });
    }
    Ok(stanzas)
}

/// Rewrites an RFC 3339 time the way Go's `time.Parse` then `Format(time.RFC3339)` does:
/// fractional seconds dropped, a zero offset written as `Z`. `None` when it does not parse.
pub(crate) fn normalize_rfc3339(text: &str) -> Option<String> {
    let (date, rest) = text.split_once('T')?;
    let date_ok = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let clock = rest.get(..8)?;
    let clock_ok = clock.bytes().enumerate().all(|(i, b)| match i {
        2 | 5 => b == b':',
        _ => b.is_ascii_digit(),
    });
    let mut zone = &rest[8..];
    if let Some(fraction) = zone.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        zone = &fraction[digits..];
    }

    let zone = normalize_zone(zone)?;
    (date_ok && clock_ok).then(|| format!("{date}T{clock}{zone}"))
}

fn normalize_zone(zone: &str) -> Option<&str> {
    if zone == "Z" {
        return Some("Z");
    }
    let bytes = zone.as_bytes();
    let well_formed = bytes.len() == 6
        && matches!(bytes[0], b'+' | b'-')
        && bytes[3] == b':'
        && [1, 2, 4, 5].iter().all(|&i| bytes[i].is_ascii_digit());
    if !well_formed {
        return None;
    }
    Some(if &zone[1..] == "00:00" { "Z" } else { zone })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lastmodified_is_normalized_like_go() {
        // (as written, additional data sops uses or None)
        let rows = [
            ("2022-03-15T22:11:15Z", Some("2022-03-15T22:11:15Z")), // as sops writes it
            ("2022-03-15T22:11:15.123Z", Some("2022-03-15T22:11:15Z")), // fraction dropped
            ("2022-03-15T22:11:15+00:00", Some("2022-03-15T22:11:15Z")), // zero offset is Z
            ("2022-03-15T22:11:15-00:00", Some("2022-03-15T22:11:15Z")), // so is -00:00
            (
                "2022-03-15T23:11:15+01:00",
                Some("2022-03-15T23:11:15+01:00"),
            ), // kept
            ("2022-03-15 22:11:15Z", None),                         // no T
            ("2022-03-15T22:11Z", None),                            // no seconds
            ("2022-03-15T22:11:15", None),                          // no zone
            ("2022-03-15T22:11:15.Z", None),                        // empty fraction
            ("2022-3-15T22:11:15Z", None),                          // short month
        ];
        for (written, expected) in rows {
            assert_eq!(normalize_rfc3339(written).as_deref(), expected, "{written}");
        }
    }

    #[test]
    fn suffix_rules_select_encrypted_leaves() {
        let path = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        let plain = EncryptionRule::UnencryptedSuffix("_unencrypted".into());
        let only = EncryptionRule::EncryptedSuffix("_secret".into());
        // (rule, path, encrypted)
        let rows = [
            (&plain, path(&["db", "password"]), true), // default: encrypted
            (&plain, path(&["list_unencrypted"]), false), // suffix on the key
            (&plain, path(&["nested_unencrypted", "a", "b"]), false), // suffix on an ancestor
            (&only, path(&["db", "password"]), false), // not marked
            (&only, path(&["db_secret", "password"]), true), // marked ancestor
        ];
        for (rule, path, encrypted) in rows {
            assert_eq!(rule.is_encrypted(&path), encrypted, "{rule:?} {path:?}");
        }
    }
}
