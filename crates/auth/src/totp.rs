//! Time-based one-time passwords: RFC 6238 over the HOTP construction of RFC 4226, with
//! HMAC-SHA1, 6 digits and a 30-second step, the parameters every common authenticator app
//! (Google Authenticator, Authy, Microsoft Authenticator) uses.
//!
//! Verification accepts the current step and one step either side, compares every candidate
//! in constant time, and returns the step that matched, so the caller can refuse a step it has
//! already accepted. Nothing here remembers steps: that is the store's conditional update.

use std::fmt;

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use zeroize::Zeroizing;

use crate::codes::TotpCode;
use crate::secret::constant_time_eq;

/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Bytes of a generated secret (160 bits, the size RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;
/// Steps accepted on either side of the current one, for clock drift and typing time.
pub const ACCEPTED_DRIFT_STEPS: u64 = 1;

/// The shared secret of one account's authenticator app.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A fresh random secret from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Encodes the secret in RFC 4648 base32 without padding, as authenticator apps expect it.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE32_NOPAD.encode(&self.0))
    }

    /// Computes the 6-digit code of a time step, zero-padded.
    pub fn code_at_step(&self, step: u64) -> Zeroizing<String> {
        let value = hotp(&self.0, step) % 10u32.pow(DIGITS as u32);
        Zeroizing::new(format!("{value:0width$}", width = DIGITS))
    }

    /// Checks a code against the steps around `unix_seconds`; returns the step it belongs to.
    ///
    /// Every candidate is computed and compared, so the time taken does not depend on which
    /// step (if any) matched. Should a code match two steps, the later one is returned.
    pub fn verify(&self, code: &TotpCode, unix_seconds: i64) -> Option<u64> {
        let current = step_of(unix_seconds);
        let first = current.saturating_sub(ACCEPTED_DRIFT_STEPS);
        let last = current.saturating_add(ACCEPTED_DRIFT_STEPS);
        let mut matched = None;
        for step in first..=last {
            let expected = self.code_at_step(step);
            if constant_time_eq(expected.as_bytes(), code.digits()) {
                matched = Some(step);
            }
        }
        matched
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

/// Returns the time step a moment falls in. Moments before 1970 fall in step 0.
pub fn step_of(unix_seconds: i64) -> u64 {
    u64::try_from(unix_seconds).unwrap_or(0) / STEP_SECONDS
}

/// RFC 4226 HOTP before the decimal reduction: HMAC-SHA1 of the big-endian counter, then
/// dynamic truncation to 31 bits.
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    // HMAC accepts keys of every length, so this cannot fail; an empty MAC would only make
    // every code wrong, never right.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let word = [
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ];
    u32::from_be_bytes(word)
}

/// Builds the `otpauth://` URI an authenticator app reads from the QR code.
///
/// The label is `issuer:account`, percent-encoded. The issuer is repeated as a parameter
/// because some apps read only one of the two.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> Zeroizing<String> {
    let label = format!("{}:{}", percent_encode(issuer), percent_encode(account));
    Zeroizing::new(format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        secret.to_base32().as_str(),
        percent_encode(issuer),
    ))
}

/// Percent-encodes everything but the RFC 3986 unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::codes::{SecondFactorCode, parse_code};

    fn rfc_vectors() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/totp/rfc6238-sha1.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn totp(raw: &str) -> TotpCode {
        match parse_code(raw).unwrap() {
            SecondFactorCode::Totp(code) => code,
            SecondFactorCode::Backup(_) => panic!("not a TOTP code"),
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let vectors = rfc_vectors();
        let seed = hex_decode(vectors["seed_hex"].as_str().unwrap());
        let secret = TotpSecret::from_bytes(seed);
        assert_eq!(
            secret.to_base32().as_str(),
            vectors["seed_base32"].as_str().unwrap()
        );
        for row in vectors["vectors"].as_array().unwrap() {
            let time = row["unix_time"].as_i64().unwrap();
            let step = step_of(time);
            assert_eq!(
                format!("{step:016X}"),
                row["counter_T_hex"].as_str().unwrap(),
                "step at {time}"
            );
            let truncated = hotp(secret.expose(), step);
            assert_eq!(
                u64::from(truncated),
                row["derived_truncated_31bit"].as_u64().unwrap()
            );
            let expected = row["totp_6"].as_str().unwrap();
            assert_eq!(secret.code_at_step(step).as_str(), expected, "at {time}");
            assert_eq!(
                secret.verify(&totp(expected), time),
                Some(step),
                "at {time}"
            );
        }
    }

    #[test]
    fn verify_drift_window() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_000_i64;
        let step = step_of(now);
        let cases = [
            ("previous step", step - 1, Some(step - 1)),
            ("current step", step, Some(step)),
            ("next step", step + 1, Some(step + 1)),
            ("two steps old", step - 2, None),
            ("two steps ahead", step + 2, None),
        ];
        for (case, code_step, expected) in cases {
            let code = totp(secret.code_at_step(code_step).as_str());
            assert_eq!(secret.verify(&code, now), expected, "{case}");
        }
    }

    #[test]
    fn otpauth_uri_has_the_documented_shape() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let uri = otpauth_uri(&secret, "Spiritus", "ops admin");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Spiritus:ops%20admin?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Spiritus&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn generated_secret_size_and_debug() {
        let secret = TotpSecret::generate();
        assert_eq!(secret.expose().len(), 20);
        let shown = format!("{secret:?}");
        assert!(!shown.contains(secret.to_base32().as_str()));
        assert_ne!(
            TotpSecret::generate().expose(),
            secret.expose(),
            "two secrets differ"
        );
    }

    fn hex_decode(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|index| u8::from_str_radix(&text[index..index + 2], 16).unwrap())
            .collect()
    }
}
