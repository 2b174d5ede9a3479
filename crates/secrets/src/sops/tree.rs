//! The in-memory tree of a sops document and the key paths that address values in it.
//!
//! Mappings keep their keys in document order, because the sops MAC is computed over the
//! values in walk order. The same type stores the encrypted tree (values are `ENC[…]` text)
//! and the decrypted tree, and [`Node::wipe`] zeroes every string before a decrypted tree is
//! dropped.

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroize;

/// Deepest nesting accepted in a document; deeper input is rejected as hostile.
pub(crate) const MAX_DEPTH: usize = 64;

/// One node of a document.
#[derive(Clone, PartialEq)]
pub(crate) enum Node {
    /// A mapping with keys in document order.
    Map(Vec<(String, Node)>),
    /// A sequence.
    List(Vec<Node>),
    /// A leaf value.
    Scalar(Scalar),
}

/// A leaf value, typed as sops types it.
#[derive(Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Node {
    /// Returns the value under `key` when this node is a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Self::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Zeroes every key and string in the tree.
    pub(crate) fn wipe(&mut self) {
        match self {
            Self::Map(entries) => {
                for (key, value) in entries.iter_mut() {
                    key.zeroize();
                    value.wipe();
                }
            }
            Self::List(items) => items.iter_mut().for_each(Node::wipe),
            Self::Scalar(scalar) => scalar.wipe(),
        }
    }

    /// Returns a word for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Map(_) => "a mapping",
            Self::List(_) => "a list",
            Self::Scalar(scalar) => scalar.type_name(),
        }
    }
}

impl Scalar {
    fn wipe(&mut self) {
        match self {
            Self::Text(text) => text.zeroize(),
            Self::Bytes(bytes) => bytes.zeroize(),
            Self::Int(number) => number.zeroize(),
            Self::Float(number) => number.zeroize(),
            Self::Bool(flag) => flag.zeroize(),
            Self::Null => {}
        }
    }

    /// Returns a word for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Int(_) => "an integer",
            Self::Float(_) => "a number",
            Self::Text(_) => "a string",
            Self::Bytes(_) => "bytes",
        }
    }

    /// Returns the bytes sops feeds into the MAC for this value (`ToBytes` in sops): strings as
    /// UTF-8, integers in decimal, floats in Go's shortest `'f'` form, booleans as
    /// `True`/`False`. `None` for null, which adds nothing.
    pub(crate) fn mac_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Self::Null => None,
            Self::Bool(true) => Some(b"True".to_vec()),
            Self::Bool(false) => Some(b"False".to_vec()),
            Self::Int(number) => Some(number.to_string().into_bytes()),
            Self::Float(number) => Some(go_format_float(*number).into_bytes()),
            Self::Text(text) => Some(text.as_bytes().to_vec()),
            Self::Bytes(bytes) => Some(bytes.clone()),
        }
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest decimal that reads back as
/// `v`, never in exponent form. Rust's `Display` for `f64` has the same rule.
pub(crate) fn go_format_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

/// A dot-separated path to a value in a sops document, e.g. `app2.db.password` or
/// `an_array.0`. A segment addresses a mapping key, or an index when the node is a list.
/// Keys that themselves contain a dot cannot be addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath {
    segments: Vec<String>,
}

/// A key path that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyPathError {
    /// Nothing after `#`.
    #[error("the key path is empty; write it as key.subkey (e.g. app.db.password)")]
    Empty,
    /// `a..b`, `.a` or `a.`.
    #[error("the key path {path:?} has an empty segment; separate keys with single dots")]
    EmptySegment {
        /// The path as written.
        path: String,
    },
    /// More segments than any document may nest.
    #[error("the key path has more than {MAX_DEPTH} segments")]
    TooDeep,
}

impl KeyPath {
    /// Returns the segments in order.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }
}

impl FromStr for KeyPath {
    type Err = KeyPathError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(KeyPathError::Empty);
        }
        let segments: Vec<String> = text.split('.').map(str::to_owned).collect();

        if segments.iter().any(String::is_empty) {
            return Err(KeyPathError::EmptySegment {
                path: text.to_owned(),
            });
        }
        if segments.len() > MAX_DEPTH {
            return Err(KeyPathError::TooDeep);
        }
        Ok(Self { segments })
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

/// Errors from following a key path. Messages name keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// A mapping on the way has no such key.
    #[error("key path {path}: {parent} has no key {key:?}")]
    MissingKey {
        /// The whole path.
        path: String,
        /// The path where the lookup stopped (`the document` or `app2.db`).
        parent: String,
        /// The missing key.
        key: String,
    },
    /// A list index that is not a number or is past the end.
    #[error(
        "key path {path}: {parent} is a list of {len} items and {segment:?} is not an index in it"
    )]
    BadIndex {
        /// The whole path.
        path: String,
        /// The list's path.
        parent: String,
        /// The list's length.
        len: usize,
        /// The segment used as index.
        segment: String,
    },
    /// The path continues below a value.
    #[error("key path {path}: {parent} is {found}, so it has no key {segment:?}")]
    NotAContainer {
        /// The whole path.
        path: String,
        /// The value's path.
        parent: String,
        /// The type found.
        found: &'static str,
        /// The next segment.
        segment: String,
    },
    /// The path ends at a mapping, a list or null.
    #[error("key path {path} points at {found}, not a single value; extend the path to a leaf")]
    NotAValue {
        /// The whole path.
        path: String,
        /// The type found.
        found: &'static str,
    },
}

/// Follows `path` from `root` to a leaf.
pub(crate) fn lookup<'a>(root: &'a Node, path: &KeyPath) -> Result<&'a Scalar, LookupError> {
    let mut node = root;
    for (depth, segment) in path.segments.iter().enumerate() {
        let parent = || match depth {
            0 => "the document".to_owned(),
            _ => path.segments[..depth].join("."),
        };
        node = match node {
            Node::Map(_) => node.get(segment).ok_or_else(|| LookupError::MissingKey {
                path: path.to_string(),
                parent: parent(),
                key: segment.clone(),
            })?,
            Node::List(items) => segment
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get(index))
                .ok_or_else(|| LookupError::BadIndex {
                    path: path.to_string(),
                    parent: parent(),
                    len: items.len(),
                    segment: segment.clone(),
                })?,
            Node::Scalar(scalar) => {
                return Err(LookupError::NotAContainer {
                    path: path.to_string(),
                    parent: parent(),
                    found: scalar.type_name(),
                    segment: segment.clone(),
                });
            }
        };
    }

    match node {
        Node::Scalar(Scalar::Null) | Node::Map(_) | Node::List(_) => Err(LookupError::NotAValue {
            path: path.to_string(),
            found: node.type_name(),
        }),
        Node::Scalar(scalar) => Ok(scalar),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Node {
        Node::Scalar(Scalar::Text(value.to_owned()))
    }

    fn sample() -> Node {
        Node::Map(vec![
            (
                "app".to_owned(),
                Node::Map(vec![("password".to_owned(), text("pw"))]),
            ),
            (
                "list".to_owned(),
                Node::List(vec![text("first"), text("second")]),
            ),
            ("nothing".to_owned(), Node::Scalar(Scalar::Null)),
        ])
    }

    fn find(path: &str) -> Result<String, String> {
        let root = sample();
        let path: KeyPath = path.parse().map_err(|e: KeyPathError| e.to_string())?;
        match lookup(&root, &path) {
            Ok(Scalar::Text(value)) => Ok(value.clone()),
            Ok(_) => Err("not text".to_owned()),
            Err(error) => Err(error.to_string()),
        }
    }

    #[test]
    fn lookup_follows_keys_and_indexes() {
        // (path, expected value or part of the error)
        let rows: [(&str, Result<&str, &str>); 9] = [
            ("app.password", Ok("pw")),                             // nested key
            ("list.1", Ok("second")),                               // list index
            ("app.pasword", Err("app has no key \"pasword\"")),     // typo names the parent
            ("missing", Err("the document has no key")),            // top level
            ("list.2", Err("list of 2 items")),                     // past the end
            ("list.x", Err("\"x\" is not an index")),               // not a number
            ("app.password.more", Err("app.password is a string")), // below a leaf
            ("app", Err("points at a mapping")),                    // not a leaf
            ("nothing", Err("points at null")),                     // null leaf
        ];
        for (path, expected) in rows {
            let found = find(path);
            match expected {
                Ok(value) => assert_eq!(found.as_deref(), Ok(value), "{path}"),
                Err(part) => {
                    let message = found.unwrap_err();
                    assert!(message.contains(part), "{path}: {message}");
                }
            }
        }
    }

    #[test]
    fn key_paths_reject_empty_segments() {
        // (path, valid)
        let rows = [
            ("a", true),     // single key
            ("a.0.b", true), // index in the middle
            ("", false),     // empty
            ("a..b", false), // double dot
            (".a", false),   // leading dot
            ("a.", false),   // trailing dot
        ];
        for (path, valid) in rows {
            assert_eq!(path.parse::<KeyPath>().is_ok(), valid, "{path}");
        }
    }

    #[test]
    fn floats_are_formatted_like_go() {
        // (value, Go's FormatFloat(v, 'f', -1, 64))
        let rows = [
            (1_234_568_000.0, "1234568000"),  // integral float from example.yaml
            (25.4, "25.4"),                   // example.json
            (0.1, "0.1"),                     // shortest round-trip form
            (1e21, "1000000000000000000000"), // no exponent
            (1e-7, "0.0000001"),              // no exponent for small values
            (-0.0, "-0"),                     // negative zero keeps its sign
            (f64::INFINITY, "+Inf"),          // Go spelling
            (f64::NAN, "NaN"),                // Go spelling
        ];
        for (value, expected) in rows {
            assert_eq!(go_format_float(value), expected);
        }
    }

    #[test]
    fn wipe_zeroes_strings() {
        let mut root = sample();

        root.wipe();

        let Node::Map(entries) = &root else { panic!() };
        assert!(entries.iter().all(|(key, _)| key.is_empty()));
    }
}
