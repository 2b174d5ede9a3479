//! Targets for access tokens and second-factor codes.

use chrono::DateTime;
use spiritus_auth::codes::parse_code;
use spiritus_auth::{JwtKeys, SecretKey, TokenSettings};

use crate::text;

/// Access tokens from `Authorization: Bearer …`, checked against two keys (rotation): a
/// token that was not issued with one of them never verifies.
pub fn jwt(data: &[u8]) {
    let keys = vec![
        ("current".to_owned(), SecretKey::from_bytes(vec![7; 32])),
        ("previous".to_owned(), SecretKey::from_bytes(vec![9; 32])),
    ];
    let Ok(keys) = JwtKeys::new(keys, TokenSettings::default()) else {
        panic!("creating JwtKeys from two valid keys failed");
    };
    let Some(now) = DateTime::from_timestamp(1_800_000_000, 0) else {
        return;
    };
    let token = text(data);
    assert!(
        keys.verify(&token, now).is_err() || token.split('.').count() == 3,
        "a token without three parts verified"
    );
}

/// TOTP and backup codes as typed at the login.
pub fn second_factor_code(data: &[u8]) {
    let _ = parse_code(&text(data));
}
