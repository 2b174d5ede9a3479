//! Reading a sops JSON file (and the JSON wrapper of sops's binary store) into a [`Node`]
//! tree with key order kept.
//!
//! A dedicated visitor builds the tree, so the workspace's `serde_json` does not need its
//! `preserve_order` feature (which would change key order for every crate). `serde_json`
//! bounds nesting depth itself.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::sops::error::SopsError;
use crate::sops::tree::{Node, Scalar};

/// Parses `text` as one JSON document.
pub(crate) fn parse(text: &str) -> Result<Node, SopsError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let node = deserializer
        .deserialize_any(NodeVisitor)
        .and_then(|node| deserializer.end().map(|()| node))
        .map_err(|error| SopsError::Syntax {
            format: "JSON",
            reason: error.to_string(),
        })?;
    Ok(node)
}

/// Builds a [`Node`] from any JSON value.
struct NodeVisitor;

impl<'de> de::Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Bool(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Int(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Node, E> {
        i64::try_from(value)
            .map(|value| Node::Scalar(Scalar::Int(value)))
            .map_err(|_| E::custom("an integer is larger than a signed 64-bit integer"))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Float(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Text(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Text(value)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Scalar::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = access.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(key) = access.next_key::<String>()? {
            if entries.iter().any(|(existing, _)| *existing == key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?} in an object"
                )));
            }
            let value = access.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_and_order_is_kept() {
        let node = parse(r#"{"z": 1, "a": 2.5, "m": [true, null, "s"]}"#).unwrap();

        let expected = Node::Map(vec![
            ("z".into(), Node::Scalar(Scalar::Int(1))),
            ("a".into(), Node::Scalar(Scalar::Float(2.5))),
            (
                "m".into(),
                Node::List(vec![
                    Node::Scalar(Scalar::Bool(true)),
                    Node::Scalar(Scalar::Null),
                    Node::Scalar(Scalar::Text("s".into())),
                ]),
            ),
        ]);
        assert!(node == expected);
    }

    #[test]
    fn malformed_json_is_rejected() {
        // (text, part of the error)
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        let rows = [
            (r#"{"a": 1, "a": 2}"#, "duplicate key"), // duplicate key
            (r#"{"a": 1} trailing"#, "trailing"),     // trailing characters
            (r#"{"a": 18446744073709551615}"#, "larger"), // u64 out of range
            (deep.as_str(), "recursion limit"),       // depth bomb
            ("", "EOF"),                              // empty input
        ];
        for (text, expected) in rows {
            let message = parse(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(expected), "{text:.40}: {message}");
        }
    }
}
