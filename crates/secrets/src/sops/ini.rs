//! Reading a sops INI file: sections become top-level mappings of string values, and the
//! `[sops]` section contains the metadata flattened with `__map_<key>` and `__list_<n>`
//! separators and newlines written as a literal `\n`.
//!
//! The line syntax follows the INI library sops uses, for the files sops writes: `;` and `#`
//! comment lines, `key = value` or `key: value`, an inline comment cut at the first `;` or
//! `#`, surrounding quotes removed, keys before any section in a `DEFAULT` section.

use crate::sops::error::SopsError;
use crate::sops::tree::{MAX_DEPTH, Node, Scalar};

const MAP_SEPARATOR: &str = "__map_";
const LIST_SEPARATOR: &str = "__list_";

/// Largest list index accepted in flattened metadata (sops files have a few age entries).
const MAX_LIST_INDEX: usize = 255;

/// Parses an INI sops file into the data tree and the metadata tree.
pub(crate) fn parse(text: &str) -> Result<(Node, Option<Node>), SopsError> {
    let mut sections: Vec<(String, Vec<(String, Node)>)> = Vec::new();

    for (index, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            open_section(&mut sections, header, index + 1)?;
            continue;
        }

        let (key, value) = key_value(line, index + 1)?;
        if sections.is_empty() {
            sections.push(("DEFAULT".to_owned(), Vec::new()));
        }
        add_key(&mut sections, key, value, index + 1)?;
    }

    split_metadata(sections)
}

fn syntax(line: usize, reason: &str) -> SopsError {
    SopsError::Syntax {
        format: "INI",
        reason: format!("line {line}: {reason}"),
    }
}

fn open_section(
    sections: &mut Vec<(String, Vec<(String, Node)>)>,
    header: &str,
    line: usize,
) -> Result<(), SopsError> {
    let name = header
        .strip_suffix(']')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| syntax(line, "a section header must be [name]"))?;
    if sections.iter().any(|(existing, _)| existing == name) {
        return Err(syntax(line, "the section appears twice"));
    }
    sections.push((name.to_owned(), Vec::new()));
    Ok(())
}

fn key_value(line: &str, number: usize) -> Result<(&str, &str), SopsError> {
    let split = line
        .find(['=', ':'])
        .ok_or_else(|| syntax(number, "expected key = value"))?;
    let key = line[..split].trim();
    if key.is_empty() {
        return Err(syntax(number, "the key is empty"));
    }

    let mut value = &line[split + 1..];
    if let Some(comment) = value.find([';', '#']) {
        value = &value[..comment];
    }
    Ok((key, strip_quotes(value.trim())))
}

fn strip_quotes(value: &str) -> &str {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

fn add_key(
    sections: &mut [(String, Vec<(String, Node)>)],
    key: &str,
    value: &str,
    line: usize,
) -> Result<(), SopsError> {
    let Some((_, entries)) = sections.last_mut() else {
        return Err(syntax(line, "a key outside any section"));
    };
    if entries.iter().any(|(existing, _)| existing == key) {
        return Err(syntax(line, "the key appears twice in its section"));
    }
    entries.push((key.to_owned(), Node::Scalar(Scalar::Text(value.to_owned()))));
    Ok(())
}

/// Separates the `[sops]` section and rebuilds its nested structure.
fn split_metadata(
    sections: Vec<(String, Vec<(String, Node)>)>,
) -> Result<(Node, Option<Node>), SopsError> {
    let mut data = Vec::new();
    let mut metadata = None;
    for (name, entries) in sections {
        if name == "sops" {
            metadata = Some(unflatten(entries)?);
        } else {
            data.push((name, Node::Map(entries)));
        }
    }
    Ok((Node::Map(data), metadata))
}

/// One step of a flattened key.
enum Token {
    Key(String),
    Index(usize),
}

fn unflatten(entries: Vec<(String, Node)>) -> Result<Node, SopsError> {
    let mut root = Node::Map(Vec::new());
    for (flat_key, value) in entries {
        let value = match value {
            Node::Scalar(Scalar::Text(text)) => {
                Node::Scalar(Scalar::Text(text.replace("\\n", "\n")))
            }
            other => other,
        };
        let tokens = tokenize(&flat_key)?;
        insert(&mut root, &tokens, value)?;
    }
    Ok(root)
}

fn bad_metadata_key(key: &str) -> SopsError {
    SopsError::Metadata {
        reason: format!("the flattened metadata key {key:?} cannot be read"),
    }
}

/// Splits `age__list_0__map_enc` into `age`, `0`, `enc`.
fn tokenize(flat_key: &str) -> Result<Vec<Token>, SopsError> {
    let mut tokens = Vec::new();
    let mut rest = flat_key;
    let mut current = Token::Key(String::new());
    loop {
        let next = [MAP_SEPARATOR, LIST_SEPARATOR]
            .into_iter()
            .filter_map(|separator| rest.find(separator).map(|at| (at, separator)))
            .min_by_key(|(at, _)| *at);
        let (body, after) = match next {
            Some((at, separator)) => (
                &rest[..at],
                Some((separator, &rest[at + separator.len()..])),
            ),
            None => (rest, None),
        };

        tokens.push(finish(current, body).ok_or_else(|| bad_metadata_key(flat_key))?);
        if tokens.len() > MAX_DEPTH {
            return Err(bad_metadata_key(flat_key));
        }
        let Some((separator, remainder)) = after else {
            return Ok(tokens);
        };
        current = if separator == MAP_SEPARATOR {
            Token::Key(String::new())
        } else {
            Token::Index(0)
        };
        rest = remainder;
    }
}

fn finish(kind: Token, body: &str) -> Option<Token> {
    match kind {
        Token::Key(_) if !body.is_empty() => Some(Token::Key(body.to_owned())),
        Token::Index(_) => body
            .parse()
            .ok()
            .filter(|i| *i <= MAX_LIST_INDEX)
            .map(Token::Index),
        Token::Key(_) => None,
    }
}

fn insert(node: &mut Node, tokens: &[Token], value: Node) -> Result<(), SopsError> {
    let Some((token, rest)) = tokens.split_first() else {
        *node = value;
        return Ok(());
    };
    let conflict = || SopsError::Metadata {
        reason: "the flattened metadata mixes lists, mappings and values under one key".to_owned(),
    };
    match token {
        Token::Key(key) => {
            if let Node::Scalar(Scalar::Null) = node {
                *node = Node::Map(Vec::new());
            }
            let Node::Map(entries) = node else {
                return Err(conflict());
            };
            let position = match entries.iter().position(|(existing, _)| existing == key) {
                Some(position) => position,
                None => {
                    entries.push((key.clone(), Node::Scalar(Scalar::Null)));
                    entries.len() - 1
                }
            };
            insert(&mut entries[position].1, rest, value)
        }
        Token::Index(index) => {
            if let Node::Scalar(Scalar::Null) = node {
                *node = Node::List(Vec::new());
            }
            let Node::List(items) = node else {
                return Err(conflict());
            };
            if items.len() <= *index {
                items.resize(*index + 1, Node::Scalar(Scalar::Null));
            }
            insert(&mut items[*index], rest, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Node {
        Node::Scalar(Scalar::Text(value.to_owned()))
    }

    #[test]
    fn sections_become_mappings_and_sops_becomes_metadata() {
        let source = "; top comment\n[name]\nfirst = John ; note\nlast: 'Smith'\n\n\
                      [sops]\nage__list_1__map_enc = a\\nb\nage__list_0__map_recipient = r0\nversion = 3.7.1\n";

        let (data, metadata) = parse(source).unwrap();

        let expected_data = Node::Map(vec![(
            "name".into(),
            Node::Map(vec![
                ("first".into(), text("John")),
                ("last".into(), text("Smith")),
            ]),
        )]);
        let expected_metadata = Node::Map(vec![
            (
                "age".into(),
                Node::List(vec![
                    Node::Map(vec![("recipient".into(), text("r0"))]),
                    Node::Map(vec![("enc".into(), text("a\nb"))]),
                ]),
            ),
            ("version".into(), text("3.7.1")),
        ]);
        assert!(data == expected_data);
        assert!(metadata == Some(expected_metadata));
    }

    #[test]
    fn malformed_ini_is_rejected() {
        // (text, part of the error)
        let rows = [
            ("[a\nk = v\n", "section header"),             // unclosed header
            ("[a]\njust words\n", "expected key = value"), // no delimiter
            ("[a]\n= v\n", "key is empty"),                // empty key
            ("[a]\nk = 1\nk = 2\n", "appears twice"),      // duplicate key
            ("[a]\n[a]\n", "appears twice"),               // duplicate section
            ("[sops]\nage__list_999__map_enc = x\n", "cannot be read"), // huge index
            ("[sops]\nage__list_x = y\n", "cannot be read"), // index not a number
            ("[sops]\nage = x\nage__list_0 = y\n", "mixes"), // value and list at one key
        ];
        for (source, expected) in rows {
            let message = parse(source)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(message.contains(expected), "{source:?}: {message}");
        }
    }

    #[test]
    fn keys_before_any_section_go_to_default() {
        let (data, _) = parse("k = v\n").unwrap();

        assert!(data.get("DEFAULT").and_then(|s| s.get("k")) == Some(&text("v")));
    }
}
