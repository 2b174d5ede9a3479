//! sops value encryption: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` strings opened with
//! AES-256-GCM under the document's data key.
//!
//! sops uses a 32-byte IV (not the usual 12) and passes the value's key path (`a:b:c:`) as
//! additional data, so a value moved to another key no longer decrypts.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::secret::SecretBytes;
use crate::sops::tree::Scalar;

/// AES-256-GCM with the 32-byte nonce sops uses.
type SopsAesGcm = AesGcm<Aes256, U32>;

const IV_LEN: usize = 32;
const TAG_LEN: usize = 16;
const DATA_KEY_LEN: usize = 32;

/// The document's data key, decrypted from an age stanza.
pub(crate) struct DataKey {
    cipher: SopsAesGcm,
    /// Kept for the checkpoint tests that compare it with the fixture's recorded key.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by unit tests only"))]
    raw: SecretBytes,
}

/// Errors from opening an `ENC[…]` value. Messages never include plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// The text is not of the form `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
    #[error("not a sops encrypted value (expected ENC[AES256_GCM,data:…,iv:…,tag:…,type:…])")]
    Malformed,
    /// A field is not standard base64.
    #[error("the {field} field of an encrypted value is not valid base64")]
    BadBase64 {
        /// `data`, `iv` or `tag`.
        field: &'static str,
    },
    /// The IV or tag has the wrong length.
    #[error("the {field} field of an encrypted value has {len} bytes, expected {expected}")]
    BadLength {
        /// `iv` or `tag`.
        field: &'static str,
        /// Found length.
        len: usize,
        /// Required length.
        expected: usize,
    },
    /// A `type:` this reader does not support.
    #[error("unknown value type {kind:?} in an encrypted value")]
    UnknownType {
        /// The type as written.
        kind: String,
    },
    /// The GCM tag did not verify: wrong key, changed ciphertext or a value moved to another key.
    #[error("an encrypted value failed authentication (wrong data key, or the file was changed)")]
    Authentication,
    /// The plaintext does not parse as the declared type.
    #[error("a decrypted value does not parse as its declared type {kind}")]
    BadPlaintext {
        /// The declared type.
        kind: &'static str,
    },
    /// The data key in the age stanza is not 32 bytes.
    #[error("the data key has {len} bytes, expected {DATA_KEY_LEN}")]
    BadDataKey {
        /// Found length.
        len: usize,
    },
}

/// The declared type of an encrypted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Str,
    Int,
    Float,
    Bool,
    Bytes,
    Time,
    Comment,
}

impl ValueType {
    fn parse(text: &str) -> Result<Self, CipherError> {
        Ok(match text {
            "str" => Self::Str,
            "int" => Self::Int,
            "float" => Self::Float,
            "bool" => Self::Bool,
            "bytes" => Self::Bytes,
            "time" => Self::Time,
            "comment" => Self::Comment,
            _ => {
                return Err(CipherError::UnknownType {
                    kind: text.chars().take(16).collect(),
                });
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Str => "str",
            Self::Int => "int",
            Self::Float => "float",
            Self::Bool => "bool",
            Self::Bytes => "bytes",
            Self::Time => "time",
            Self::Comment => "comment",
        }
    }
}

/// The parts of an `ENC[…]` string.
pub(crate) struct EncryptedValue {
    ciphertext_and_tag: Vec<u8>,
    iv: [u8; IV_LEN],
    pub(crate) value_type: ValueType,
}

impl EncryptedValue {
    /// Parses `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]`.
    pub(crate) fn parse(text: &str) -> Result<Self, CipherError> {
        let inner = text
            .strip_prefix("ENC[AES256_GCM,")
            .and_then(|rest| rest.strip_suffix(']'))
            .ok_or(CipherError::Malformed)?;
        let mut fields = inner.split(',');
        let mut field = |name: &str| {
            fields
                .next()
                .and_then(|part| part.strip_prefix(name))
                .ok_or(CipherError::Malformed)
        };
        let (data, iv, tag, kind) = (
            field("data:")?,
            field("iv:")?,
            field("tag:")?,
            field("type:")?,
        );
        if fields.next().is_some() {
            return Err(CipherError::Malformed);
        }

        let mut ciphertext_and_tag = decode_field("data", data)?;
        let iv: [u8; IV_LEN] = decode_exact("iv", iv, IV_LEN)?
            .try_into()
            .map_err(|_| CipherError::Malformed)?;
        ciphertext_and_tag.extend_from_slice(&decode_exact("tag", tag, TAG_LEN)?);
        Ok(Self {
            ciphertext_and_tag,
            iv,
            value_type: ValueType::parse(kind)?,
        })
    }

    /// Opens the value with `additional_data` (the key path, or `lastmodified` for the MAC).
    pub(crate) fn open(
        &self,
        key: &DataKey,
        additional_data: &str,
    ) -> Result<SecretBytes, CipherError> {
        let nonce = Nonce::<U32>::from(self.iv);
        let payload = Payload {
            msg: &self.ciphertext_and_tag,
            aad: additional_data.as_bytes(),
        };
        key.cipher
            .decrypt(&nonce, payload)
            .map(SecretBytes::new)
            .map_err(|_| CipherError::Authentication)
    }

    /// Opens the value and converts the plaintext to its declared type the way sops does.
    pub(crate) fn open_typed(
        &self,
        key: &DataKey,
        additional_data: &str,
    ) -> Result<Scalar, CipherError> {
        let plaintext = self.open(key, additional_data)?;
        let bad = || CipherError::BadPlaintext {
            kind: self.value_type.name(),
        };
        if self.value_type == ValueType::Bytes {
            return Ok(Scalar::Bytes(plaintext.expose().to_vec()));
        }
        let text = plaintext.into_secret_string().map_err(|_| bad())?;

        Ok(match self.value_type {
            ValueType::Int => Scalar::Int(text.expose().parse().map_err(|_| bad())?),
            ValueType::Float => Scalar::Float(parse_go_float(text.expose()).ok_or_else(bad)?),
            ValueType::Bool => Scalar::Bool(parse_go_bool(text.expose()).ok_or_else(bad)?),
            _ => Scalar::Text(text.expose().to_owned()),
        })
    }
}

impl DataKey {
    /// Wraps the raw key decrypted from an age stanza.
    pub(crate) fn new(raw: SecretBytes) -> Result<Self, CipherError> {
        let cipher = SopsAesGcm::new_from_slice(raw.expose())
            .map_err(|_| CipherError::BadDataKey { len: raw.len() })?;
        Ok(Self { cipher, raw })
    }

    #[cfg(test)]
    pub(crate) fn raw(&self) -> &SecretBytes {
        &self.raw
    }
}

fn decode_field(field: &'static str, text: &str) -> Result<Vec<u8>, CipherError> {
    STANDARD
        .decode(text)
        .map_err(|_| CipherError::BadBase64 { field })
}

fn decode_exact(field: &'static str, text: &str, expected: usize) -> Result<Vec<u8>, CipherError> {
    let bytes = decode_field(field, text)?;
    if bytes.len() != expected {
        return Err(CipherError::BadLength {
            field,
            len: bytes.len(),
            expected,
        });
    }
    Ok(bytes)
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseFloat(text, 64)` for the forms sops writes, plus Go's spellings of
/// infinity and NaN.
fn parse_go_float(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok().filter(|value: &f64| value.is_finite()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use aes_gcm::aead::AeadInPlace;

    use super::*;

    /// Encrypts like sops does; used by tests to build documents.
    pub(crate) fn seal(
        key: &DataKey,
        plaintext: &[u8],
        aad: &str,
        kind: &str,
        iv: [u8; 32],
    ) -> String {
        let mut buffer = plaintext.to_vec();
        let tag = key
            .cipher
            .encrypt_in_place_detached(&Nonce::<U32>::from(iv), aad.as_bytes(), &mut buffer)
            .unwrap();
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
            STANDARD.encode(&buffer),
            STANDARD.encode(iv),
            STANDARD.encode(tag)
        )
    }

    pub(crate) fn test_key() -> DataKey {
        DataKey::new(SecretBytes::new(vec![7; 32])).unwrap()
    }

    #[test]
    fn open_typed_converts_each_declared_type() {
        let key = test_key();
        // (plaintext, declared type, expected scalar)
        let rows = [
            ("hello", "str", Scalar::Text("hello".into())), // string
            ("42", "int", Scalar::Int(42)),                 // integer
            ("-7", "int", Scalar::Int(-7)),                 // negative integer
            ("25.4", "float", Scalar::Float(25.4)),         // float
            ("True", "bool", Scalar::Bool(true)),           // sops spelling
            ("false", "bool", Scalar::Bool(false)),         // Go ParseBool spelling
            ("raw", "bytes", Scalar::Bytes(b"raw".to_vec())), // bytes
            (
                "2022-03-15T22:11:15Z",
                "time",
                Scalar::Text("2022-03-15T22:11:15Z".into()),
            ),
        ];
        for (plaintext, kind, expected) in rows {
            let sealed = seal(&key, plaintext.as_bytes(), "a:b:", kind, [1; 32]);
            let value = EncryptedValue::parse(&sealed).unwrap();
            assert!(
                value.open_typed(&key, "a:b:").unwrap() == expected,
                "{kind}"
            );
        }
    }

    #[test]
    fn open_rejects_a_value_moved_to_another_key() {
        let key = test_key();
        let sealed = seal(&key, b"secret", "a:b:", "str", [1; 32]);

        let moved = EncryptedValue::parse(&sealed).unwrap().open(&key, "a:c:");

        assert_eq!(moved.err(), Some(CipherError::Authentication));
    }

    #[test]
    fn open_typed_rejects_plaintext_of_the_wrong_type() {
        let key = test_key();
        let sealed = seal(&key, b"twelve", "n:", "int", [1; 32]);

        let opened = EncryptedValue::parse(&sealed)
            .unwrap()
            .open_typed(&key, "n:");

        assert_eq!(
            opened.err(),
            Some(CipherError::BadPlaintext { kind: "int" })
        );
    }

    #[test]
    fn parse_rejects_malformed_values() {
        let iv = STANDARD.encode([0u8; 32]);
        let tag = STANDARD.encode([0u8; 16]);
        // (text, expected error)
        let rows = [
            ("plain text".to_owned(), CipherError::Malformed), // not ENC at all
            (
                "ENC[AES256_GCM,data:AA==]".to_owned(),
                CipherError::Malformed,
            ), // missing fields
            (
                format!("ENC[AES256_GCM,data:AA==,iv:{iv},tag:{tag},type:str,x:1]"),
                CipherError::Malformed,
            ),
            (
                format!("ENC[AES256_GCM,data:@@,iv:{iv},tag:{tag},type:str]"),
                CipherError::BadBase64 { field: "data" },
            ),
            (
                format!("ENC[AES256_GCM,data:AA==,iv:AAAA,tag:{tag},type:str]"),
                CipherError::BadLength {
                    field: "iv",
                    len: 3,
                    expected: 32,
                },
            ),
            (
                format!("ENC[AES256_GCM,data:AA==,iv:{iv},tag:AAAA,type:str]"),
                CipherError::BadLength {
                    field: "tag",
                    len: 3,
                    expected: 16,
                },
            ),
            (
                format!("ENC[AES256_GCM,data:AA==,iv:{iv},tag:{tag},type:blob]"),
                CipherError::UnknownType {
                    kind: "blob".into(),
                },
            ),
            (
                format!("ENC[AES128_GCM,data:AA==,iv:{iv},tag:{tag},type:str]"),
                CipherError::Malformed,
            ), // other cipher
        ];
        for (text, expected) in rows {
            assert_eq!(EncryptedValue::parse(&text).err(), Some(expected), "{text}");
        }
    }

    #[test]
    fn data_key_must_be_32_bytes() {
        let short = DataKey::new(SecretBytes::new(vec![1; 16]));

        assert!(matches!(short, Err(CipherError::BadDataKey { len: 16 })));
    }
}
