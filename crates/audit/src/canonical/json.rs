//! Canonical JSON text for the `before`, `after` and `context` values of an entry.
//!
//! The rules follow the JSON Canonicalization Scheme (RFC 8785) with two differences that
//! `docs/audit-format.md` spells out:
//!
//! - object members are sorted by the UTF-8 bytes of their keys. RFC 8785 sorts by UTF-16
//!   code units, and the orders differ only for keys that mix characters above U+FFFF with
//!   characters in U+E000..U+FFFF.
//! - integers that JSON parsing keeps as 64-bit integers are written exactly in decimal, so
//!   ids above 2^53 keep every digit.
//!
//! Members are sorted here, explicitly, because `serde_json::Map` keeps insertion order when
//! any crate in the build enables serde_json's `preserve_order` feature.

use serde_json::{Number, Value};

/// Appends the canonical JSON text of `value` to `out`.
pub fn write_canonical_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(number, out),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => write_array(items, out),
        Value::Object(map) => write_object(map, out),
    }
}

/// Canonical JSON text of `value` as a string.
pub fn canonical_json_string(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical_json(value, &mut out);

    // Every byte written is either ASCII or copied from a `str`, so the text is UTF-8.
    String::from_utf8_lossy(&out).into_owned()
}

fn write_array(items: &[Value], out: &mut Vec<u8>) {
    out.push(b'[');
    for (position, item) in items.iter().enumerate() {
        if position > 0 {
            out.push(b',');
        }
        write_canonical_json(item, out);
    }
    out.push(b']');
}

fn write_object(map: &serde_json::Map<String, Value>, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(b'{');

    // The default `Map` is a BTreeMap and iterates in byte order already, so write members
    // as they come and check the order on the way. Only when a crate in the build switched
    // serde_json to insertion order and a key arrives out of order is the object rewritten,
    // sorted.
    if !write_members_if_sorted(map, out) {
        out.truncate(start);
        out.push(b'{');
        let mut members: Vec<(&String, &Value)> = map.iter().collect();
        members.sort_unstable_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
        write_members(members.into_iter(), out);
    }

    out.push(b'}');
}

/// Writes the members in iteration order; returns `false` as soon as a key is out of order.
fn write_members_if_sorted(map: &serde_json::Map<String, Value>, out: &mut Vec<u8>) -> bool {
    let mut previous: Option<&str> = None;
    for (position, (key, value)) in map.iter().enumerate() {
        if previous.is_some_and(|previous| previous.as_bytes() > key.as_bytes()) {
            return false;
        }
        previous = Some(key);
        if position > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_canonical_json(value, out);
    }
    true
}

fn write_members<'a>(members: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut Vec<u8>) {
    for (position, (key, value)) in members.enumerate() {
        if position > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_canonical_json(value, out);
    }
}

/// Writes a string with the RFC 8785 escapes: `"` and `\` escaped, control characters below
/// U+0020 as `\b \t \n \f \r` or `\u00xx` (lower-case hex), everything else as raw UTF-8.
fn write_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');

    // Copy runs of bytes that need no escape in one call; escape the rest one by one.
    let bytes = text.as_bytes();
    let mut run_start = 0;
    for (position, &byte) in bytes.iter().enumerate() {
        if byte >= 0x20 && byte != b'"' && byte != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[run_start..position]);
        write_escape(byte, out);
        run_start = position + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);

    out.push(b'"');
}

fn write_escape(byte: u8, out: &mut Vec<u8>) {
    match byte {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x09 => out.extend_from_slice(b"\\t"),
        0x0a => out.extend_from_slice(b"\\n"),
        0x0c => out.extend_from_slice(b"\\f"),
        0x0d => out.extend_from_slice(b"\\r"),
        _ => {
            out.extend_from_slice(b"\\u00");
            out.push(HEX_DIGITS[usize::from(byte >> 4)]);
            out.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
        }
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn write_number(number: &Number, out: &mut Vec<u8>) {
    if let Some(unsigned) = number.as_u64() {
        write_decimal(unsigned, false, out);
    } else if let Some(signed) = number.as_i64() {
        write_decimal(signed.unsigned_abs(), signed < 0, out);
    } else if let Some(float) = number.as_f64().filter(|float| float.is_finite()) {
        out.extend_from_slice(format_ecmascript(float).as_bytes());
    } else {
        // Only reachable with serde_json's `arbitrary_precision` feature, for a literal that
        // does not fit an f64: keep its own spelling.
        out.extend_from_slice(number.to_string().as_bytes());
    }
}

/// Writes an integer in decimal without allocating.
fn write_decimal(magnitude: u64, negative: bool, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = magnitude;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }

    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[start..]);
}

/// Formats a finite double the way ECMAScript's `Number::toString` does (RFC 8785 §3.2.2.3):
/// the shortest digits that round-trip, plain notation for decimal exponents from -6 to 20,
/// otherwise `d.ddde+x` / `d.ddde-x`. Negative zero is written `0`.
pub fn format_ecmascript(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }

    let sign = if value < 0.0 { "-" } else { "" };
    let (digits, exponent) = shortest_digits(value.abs());
    format!("{sign}{}", place_decimal_point(&digits, exponent))
}

/// Shortest round-trip digits of a positive finite double and the decimal exponent `n` such
/// that the value is `0.d1d2d3… × 10^n` (ECMAScript's `n`).
///
/// Rust's `{:e}` prints a shortest digit string that reads back to the same double, which
/// fixes the digit count `k`. When two `k`-digit strings read back, ECMAScript takes the one
/// closest to the exact value and, on a tie, the even one. Rust's fixed-precision `{:.*e}`
/// rounds the exact value to nearest with ties to even, so it yields that string.
fn shortest_digits(value: f64) -> (String, i32) {
    let (digits, exponent) = split_scientific(&format!("{value:e}"));
    let precision = digits.len().saturating_sub(1);
    let (closest, closest_exponent) = split_scientific(&format!("{value:.precision$e}"));

    let reads_back = format!("{closest}e{}", closest_exponent - precision as i32)
        .parse::<f64>()
        .is_ok_and(|parsed| parsed == value);
    if reads_back {
        (
            closest.trim_end_matches('0').to_owned(),
            closest_exponent + 1,
        )
    } else {
        (digits, exponent + 1)
    }
}

/// Splits Rust's `d.ddde±x` into its digits without the point and the exponent `x`.
fn split_scientific(text: &str) -> (String, i32) {
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let digits = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exponent.parse().unwrap_or(0))
}

fn place_decimal_point(digits: &str, n: i32) -> String {
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);

    if k <= n && n <= 21 {
        let zeros = "0".repeat(usize::try_from(n - k).unwrap_or(0));
        return format!("{digits}{zeros}");
    }
    if 0 < n && n <= 21 {
        let (whole, fraction) = digits.split_at(usize::try_from(n).unwrap_or(0));
        return format!("{whole}.{fraction}");
    }
    if -6 < n && n <= 0 {
        let zeros = "0".repeat(usize::try_from(-n).unwrap_or(0));
        return format!("0.{zeros}{digits}");
    }

    let (first, rest) = digits.split_at(1);
    let exponent = n - 1;
    let exponent_sign = if exponent < 0 { '-' } else { '+' };
    let point = if rest.is_empty() { "" } else { "." };
    format!("{first}{point}{rest}e{exponent_sign}{}", exponent.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_format_like_ecmascript() {
        let cases: &[(f64, &str)] = &[
            // plain integers held as doubles
            (1.0, "1"),
            (-0.0, "0"),
            (100.0, "100"),
            // fractions in plain notation
            (0.5, "0.5"),
            (1.5, "1.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            // the plain-notation limits: 10^-6 is plain, 10^-7 is not
            (0.000001, "0.000001"),
            (1.5e-7, "1.5e-7"),
            // 10^20 plain, 10^21 scientific
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (123e18, "123000000000000000000"),
            (-1.25e30, "-1.25e+30"),
            // a tie between two shortest digit strings goes to the even one, as in V8
            (f64::from_bits(0x4310_9dd1_99db_d871), "1169280795604508.2"),
            (f64::from_bits(0x42e5_4675_e3be_1c04), "187138958029024.12"),
            // extremes
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];

        for (value, expected) in cases {
            assert_eq!(format_ecmascript(*value), *expected, "value {value:e}");
        }
    }

    #[test]
    fn objects_sort_keys_at_every_depth() {
        let value = json!({"b": 1, "a": {"z": [true, null], "y": "x"}, "A": -2});

        assert_eq!(
            canonical_json_string(&value),
            r#"{"A":-2,"a":{"y":"x","z":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn strings_escape_only_quotes_backslash_and_controls() {
        let value = json!("q\"b\\n\n\u{1}\u{7f}é/\u{2028}");

        assert_eq!(
            canonical_json_string(&value),
            "\"q\\\"b\\\\n\\n\\u0001\u{7f}é/\u{2028}\""
        );
    }

    #[test]
    fn large_integers_keep_every_digit() {
        let value = json!([u64::MAX, i64::MIN, 9_007_199_254_740_993_u64]);

        assert_eq!(
            canonical_json_string(&value),
            "[18446744073709551615,-9223372036854775808,9007199254740993]"
        );
    }
}
