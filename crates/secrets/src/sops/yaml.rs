//! Reading a sops YAML file into a [`Node`] tree with mapping order kept.
//!
//! The tree is built from `yaml-rust2`'s event stream rather than its loader so that depth is
//! bounded, aliases are refused (the loader would copy them, and sops files never need
//! them), duplicate keys are errors and only one document is accepted. Comments are not
//! part of the event stream; they never enter the MAC, so dropping them is safe.
//! Plain scalars are typed with the YAML 1.2 core schema, as sops's YAML library does.

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;
use yaml_rust2::{ScanError, Yaml};

use crate::sops::error::SopsError;
use crate::sops::tree::{MAX_DEPTH, Node, Scalar};

/// The standard tag handle for `!!str`, `!!int` and friends.
const CORE_TAG_HANDLE: &str = "tag:yaml.org,2002:";

/// A collection still being read.
enum Frame {
    Map {
        entries: Vec<(String, Node)>,
        pending_key: Option<String>,
    },
    List(Vec<Node>),
}

/// Parses `text` into a single document tree.
pub(crate) fn parse(text: &str) -> Result<Node, SopsError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;

    loop {
        let (event, _) = parser.next_token().map_err(scan_error)?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(syntax("more than one YAML document; sops files hold one"));
                }
            }
            Event::Alias(_) => return Err(syntax("YAML aliases (*name) are not supported")),
            Event::MappingStart(..) => open(
                &mut stack,
                Frame::Map {
                    entries: Vec::new(),
                    pending_key: None,
                },
            )?,
            Event::SequenceStart(..) => open(&mut stack, Frame::List(Vec::new()))?,
            Event::MappingEnd | Event::SequenceEnd => {
                let node = close(&mut stack)?;
                place(&mut stack, &mut root, node)?;
            }
            Event::Scalar(value, style, _, tag) => {
                if let Some(Frame::Map {
                    pending_key: pending @ None,
                    ..
                }) = stack.last_mut()
                {
                    *pending = Some(value);
                } else {
                    let node = Node::Scalar(typed_scalar(value, style, tag.as_ref()));
                    place(&mut stack, &mut root, node)?;
                }
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => {}
        }
    }
    root.ok_or_else(|| syntax("the document is empty"))
}

fn syntax(reason: &str) -> SopsError {
    SopsError::Syntax {
        format: "YAML",
        reason: reason.to_owned(),
    }
}

fn scan_error(error: ScanError) -> SopsError {
    let marker = error.marker();
    SopsError::Syntax {
        format: "YAML",
        reason: format!(
            "line {}, column {}: {}",
            marker.line(),
            marker.col() + 1,
            error.info()
        ),
    }
}

/// Pushes a new collection, refusing complex keys and excessive depth.
fn open(stack: &mut Vec<Frame>, frame: Frame) -> Result<(), SopsError> {
    if let Some(Frame::Map {
        pending_key: None, ..
    }) = stack.last()
    {
        return Err(syntax(
            "mapping keys must be plain strings, not collections",
        ));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(syntax("the document is nested too deeply"));
    }
    stack.push(frame);
    Ok(())
}

fn close(stack: &mut Vec<Frame>) -> Result<Node, SopsError> {
    match stack.pop() {
        Some(Frame::Map {
            entries,
            pending_key: None,
        }) => Ok(Node::Map(entries)),
        Some(Frame::List(items)) => Ok(Node::List(items)),
        Some(Frame::Map { .. }) => Err(syntax("a mapping key has no value")),
        None => Err(syntax("unbalanced collection end")),
    }
}

/// Adds a finished node to the enclosing collection, or makes it the root.
fn place(stack: &mut [Frame], root: &mut Option<Node>, node: Node) -> Result<(), SopsError> {
    match stack.last_mut() {
        None if root.is_none() => {
            *root = Some(node);
            Ok(())
        }
        None => Err(syntax("more than one root node")),
        Some(Frame::List(items)) => {
            items.push(node);
            Ok(())
        }
        Some(Frame::Map {
            entries,
            pending_key,
        }) => {
            let key = pending_key
                .take()
                .ok_or_else(|| syntax("a value has no key"))?;
            if entries.iter().any(|(existing, _)| *existing == key) {
                return Err(SopsError::Syntax {
                    format: "YAML",
                    reason: format!("duplicate key {key:?} in a mapping"),
                });
            }
            entries.push((key, node));
            Ok(())
        }
    }
}

/// Types a scalar: quoted and `!!str` scalars are strings; plain scalars follow the core
/// schema (null, booleans, integers, floats, else string).
fn typed_scalar(value: String, style: TScalarStyle, tag: Option<&Tag>) -> Scalar {
    let core_suffix = tag
        .filter(|tag| tag.handle == CORE_TAG_HANDLE)
        .map(|tag| tag.suffix.as_str());
    let forced_string = style != TScalarStyle::Plain
        || core_suffix == Some("str")
        || (tag.is_some() && core_suffix.is_none());
    if forced_string {
        return Scalar::Text(value);
    }

    match Yaml::from_str(&value) {
        Yaml::Null => Scalar::Null,
        Yaml::Boolean(flag) => Scalar::Bool(flag),
        Yaml::Integer(number) => Scalar::Int(number),
        real @ Yaml::Real(_) => real.as_f64().map_or(Scalar::Text(value), Scalar::Float),
        _ => Scalar::Text(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> Scalar {
        match parse(&format!("k: {text}\n")).unwrap() {
            Node::Map(mut entries) => match entries.remove(0).1 {
                Node::Scalar(scalar) => scalar,
                _ => panic!("not a scalar"),
            },
            _ => panic!("not a mapping"),
        }
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        // (YAML text, typed value)
        let rows = [
            ("hello", Scalar::Text("hello".into())), // plain string
            ("'42'", Scalar::Text("42".into())),     // quoted number stays text
            ("42", Scalar::Int(42)),                 // integer
            ("-3", Scalar::Int(-3)),                 // negative integer
            ("0x1F", Scalar::Int(31)),               // hexadecimal
            ("2.5", Scalar::Float(2.5)),             // float
            ("true", Scalar::Bool(true)),            // boolean
            ("~", Scalar::Null),                     // null
            ("", Scalar::Null),                      // empty value is null
            ("!!str 42", Scalar::Text("42".into())), // explicit string tag
            ("2022-03-15", Scalar::Text("2022-03-15".into())), // no timestamp type
        ];
        for (text, expected) in rows {
            assert!(scalar(text) == expected, "{text}");
        }
    }

    #[test]
    fn mapping_order_is_kept() {
        let Node::Map(entries) = parse("b: 1\na: 2\nc: 3\n").unwrap() else {
            panic!("not a mapping");
        };

        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
    }

    #[test]
    fn hostile_or_unsupported_yaml_is_rejected() {
        // (YAML text, part of the error)
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let rows = [
            ("a: &x 1\nb: *x\n", "aliases"),                      // alias
            ("a: 1\n---\nb: 2\n", "more than one YAML document"), // two documents
            ("a: 1\na: 2\n", "duplicate key \"a\""),              // duplicate key
            ("? [a]\n: 1\n", "plain strings"),                    // complex key
            ("", "empty"),                                        // nothing
            ("a: [1, 2\n", "line"),                               // syntax error with position
            (deep.as_str(), "nested too deeply"),                 // depth bomb
        ];
        for (text, expected) in rows {
            let message = parse(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }
}
