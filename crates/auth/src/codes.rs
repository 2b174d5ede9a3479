//! The codes a person types as a second factor: 6-digit TOTP codes and backup codes.
//!
//! Input is normalised before it is judged: spaces and dashes are dropped, Persian
//! (U+06F0–U+06F9) and Arabic-Indic (U+0660–U+0669) digits become ASCII digits, letters become
//! lower case. Then a code of digits only is a TOTP code and must have exactly 6 of them, and
//! a code of letters only is a backup code and must have exactly 10. Backup codes use letters
//! only, so the two kinds can never be mistaken for each other.
//!
//! Backup codes are stored as HMAC-SHA256 under a server key over the account id and the
//! code, so a database dump yields no usable code and one account's code never matches
//! another account's row.

use std::fmt;

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::secret::SecretKey;
use crate::totp::DIGITS;

/// Letters of backup codes: lower case, without `i`, `l` and `o`, which read like digits.
const BACKUP_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz";
/// Letters per backup code: 10 of 23 is about 45 bits.
pub const BACKUP_CODE_LETTERS: usize = 10;
/// Backup codes issued at once.
pub const BACKUP_CODE_COUNT: usize = 10;
/// Maximum input length in characters; longer input is rejected before normalisation.
const MAX_INPUT_CHARS: usize = 64;

/// Reason a typed code was rejected before any secret was consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("enter the 6-digit code from the authenticator app or a backup code")]
    Empty,
    #[error("a code from the authenticator app has exactly 6 digits; this one is shorter")]
    TooShort,
    #[error("a code from the authenticator app has exactly 6 digits; this one is longer")]
    TooLong,
    #[error("a code is 6 digits, or a backup code of 10 letters such as abcde-fghjk")]
    NotNumeric,
}

impl CodeError {
    /// Returns a stable name for audit entries.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeError::Empty => "code_empty",
            CodeError::TooShort => "code_too_short",
            CodeError::TooLong => "code_too_long",
            CodeError::NotNumeric => "code_not_numeric",
        }
    }
}

/// A typed code after normalisation.
pub enum SecondFactorCode {
    Totp(TotpCode),
    Backup(BackupCode),
}

impl fmt::Debug for SecondFactorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecondFactorCode::Totp(_) => f.write_str("SecondFactorCode::Totp(***)"),
            SecondFactorCode::Backup(_) => f.write_str("SecondFactorCode::Backup(***)"),
        }
    }
}

/// Six ASCII digits.
pub struct TotpCode(Zeroizing<[u8; DIGITS]>);

impl TotpCode {
    pub fn digits(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(***)")
    }
}

/// A backup code in its normalised form: 10 lower-case letters.
pub struct BackupCode(Zeroizing<String>);

impl BackupCode {
    /// Generates a fresh random code.
    pub fn generate() -> Self {
        let mut rng = rand::rngs::OsRng;
        let letters: String = (0..BACKUP_CODE_LETTERS)
            .map(|_| char::from(BACKUP_ALPHABET[rng.gen_range(0..BACKUP_ALPHABET.len())]))
            .collect();
        Self(Zeroizing::new(letters))
    }

    /// Formats the code for its owner: two groups of five, `abcde-fghjk`.
    pub fn display(&self) -> Zeroizing<String> {
        let (first, second) = self.0.split_at(BACKUP_CODE_LETTERS / 2);
        Zeroizing::new(format!("{first}-{second}"))
    }

    /// Computes the stored form: HMAC-SHA256 under `key` over the account id and the code.
    pub fn keyed_hash(&self, key: &SecretKey, account_id: Uuid) -> [u8; 32] {
        // HMAC accepts keys of every length; the fallback key only keeps this total.
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose())
            .unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
        mac.update(b"spiritus backup code v1\0");
        mac.update(account_id.as_bytes());
        mac.update(self.0.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for BackupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupCode(***)")
    }
}

/// Generates a fresh set of backup codes.
pub fn generate_backup_codes() -> Vec<BackupCode> {
    (0..BACKUP_CODE_COUNT)
        .map(|_| BackupCode::generate())
        .collect()
}

/// Normalises and classifies a typed code.
pub fn parse_code(raw: &str) -> Result<SecondFactorCode, CodeError> {
    if raw.chars().count() > MAX_INPUT_CHARS {
        return Err(CodeError::TooLong);
    }
    let normalised = Zeroizing::new(normalise(raw));
    if normalised.is_empty() {
        return Err(CodeError::Empty);
    }
    if normalised.bytes().all(|byte| byte.is_ascii_digit()) {
        return totp_code(&normalised).map(SecondFactorCode::Totp);
    }
    let is_backup = normalised.len() == BACKUP_CODE_LETTERS
        && normalised
            .bytes()
            .all(|byte| BACKUP_ALPHABET.contains(&byte));
    if is_backup {
        return Ok(SecondFactorCode::Backup(BackupCode(Zeroizing::new(
            normalised.to_string(),
        ))));
    }
    Err(CodeError::NotNumeric)
}

fn totp_code(digits: &str) -> Result<TotpCode, CodeError> {
    let bytes = digits.as_bytes();
    if bytes.len() < DIGITS {
        return Err(CodeError::TooShort);
    }
    let array: [u8; DIGITS] = bytes.try_into().map_err(|_| CodeError::TooLong)?;
    Ok(TotpCode(Zeroizing::new(array)))
}

/// Drops separators, maps Persian and Arabic-Indic digits to ASCII and lowers letters.
fn normalise(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '\u{2010}'..='\u{2015}'))
        .map(|c| match c {
            '\u{06F0}'..='\u{06F9}' => ascii_digit(u32::from(c) - 0x06F0),
            '\u{0660}'..='\u{0669}' => ascii_digit(u32::from(c) - 0x0660),
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

fn ascii_digit(value: u32) -> char {
    char::from_digit(value, 10).unwrap_or('?')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(raw: &str) -> String {
        match parse_code(raw) {
            Ok(SecondFactorCode::Totp(code)) => {
                format!("totp {}", String::from_utf8_lossy(code.digits()))
            }
            Ok(SecondFactorCode::Backup(code)) => format!("backup {}", code.0.as_str()),
            Err(error) => format!("error {}", error.as_str()),
        }
    }

    #[test]
    fn codes_are_normalised_then_classified() {
        let cases = [
            // Plain and spaced codes, as apps show them.
            ("123456", "totp 123456"),
            ("123 456", "totp 123456"),
            (" 12 34 56 ", "totp 123456"),
            // Persian and Arabic-Indic digits, and a mix with ASCII.
            ("۱۲۳۴۵۶", "totp 123456"),
            ("١٢٣٤٥٦", "totp 123456"),
            ("۱۲۳ 456", "totp 123456"),
            // Backup codes with and without the dash, any case.
            ("abcde-fghjk", "backup abcdefghjk"),
            ("ABCDE FGHJK", "backup abcdefghjk"),
            // Refusals.
            ("", "error code_empty"),
            ("  - ", "error code_empty"),
            ("12345", "error code_too_short"),
            ("1234567", "error code_too_long"),
            ("12345a", "error code_not_numeric"),
            ("abcdef", "error code_not_numeric"),
            ("abcde-fghji", "error code_not_numeric"),
            ("12345٦x", "error code_not_numeric"),
        ];
        for (raw, expected) in cases {
            assert_eq!(shown(raw), expected, "input {raw:?}");
        }
        assert_eq!(shown(&"1".repeat(10_000)), "error code_too_long");
    }

    #[test]
    fn generated_backup_codes_parse_back_as_backup_codes() {
        let codes = generate_backup_codes();
        assert_eq!(codes.len(), 10);
        for code in &codes {
            let display = code.display();
            assert_eq!(display.len(), 11);
            assert!(matches!(
                parse_code(&display),
                Ok(SecondFactorCode::Backup(_))
            ));
        }
    }

    #[test]
    fn backup_hash_binding() {
        let key = SecretKey::from_bytes(vec![7; 32]);
        let other_key = SecretKey::from_bytes(vec![8; 32]);
        let code = BackupCode::generate();
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(code.keyed_hash(&key, alice), code.keyed_hash(&key, alice));
        assert_ne!(code.keyed_hash(&key, alice), code.keyed_hash(&key, bob));
        assert_ne!(
            code.keyed_hash(&key, alice),
            code.keyed_hash(&other_key, alice)
        );
    }

    #[test]
    fn code_debug_shows_no_digits() {
        let parsed = parse_code("987654").unwrap();
        assert!(!format!("{parsed:?}").contains("987654"));
        let backup = BackupCode::generate();
        assert!(!format!("{backup:?}").contains(backup.0.as_str()));
    }
}
