//! Attacks on access-token verification: every row is a token an attacker could send.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Sha256, Sha384};

use super::*;

const KEY: [u8; 32] = [7u8; 32];

fn keys() -> JwtKeys {
    JwtKeys::new(
        vec![("k1".into(), SecretKey::from_bytes(KEY.to_vec()))],
        TokenSettings::default(),
    )
    .unwrap()
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000, 0).unwrap()
}

fn good_claims() -> Value {
    json!({
        "sub": Uuid::nil().to_string(),
        "exp": now().timestamp() + 600,
        "iat": now().timestamp(),
        "iss": "spiritus",
        "aud": "spiritus-api",
        "jti": "0b8a2d6e-3c3c-4a55-9d51-6b8f1a0c9e11",
        "sid": Uuid::nil().to_string(),
        "type": "access",
    })
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Builds a token by hand so every part can be wrong on purpose.
fn forge(header: Value, claims: Value, sign: fn(&str) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let signature = URL_SAFE_NO_PAD.encode(sign(&input));
    format!("{input}.{signature}")
}

fn hs256(input: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&KEY).unwrap();
    mac.update(input.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hs384(input: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha384>::new_from_slice(&KEY).unwrap();
    mac.update(input.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn wrong_key(input: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&[8u8; 32]).unwrap();
    mac.update(input.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn no_signature(_: &str) -> Vec<u8> {
    Vec::new()
}

fn header() -> Value {
    json!({"alg": "HS256", "typ": "JWT", "kid": "k1"})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[test]
fn issued_token_verifies_with_all_claims() {
    let keys = keys();
    let issued = keys.issue(Uuid::nil(), Uuid::nil(), now()).unwrap();
    let claims = keys.verify(&issued.token, now()).unwrap();
    assert_eq!(claims.token_type, "access");
    assert_eq!(claims.exp - claims.iat, 1800);
    assert_eq!(claims.jti, issued.jti.to_string());
}

#[test]
fn hand_forged_good_token_verifies() {
    let token = forge(header(), good_claims(), hs256);
    assert!(keys().verify(&token, now()).is_ok());
}

#[test]
fn hostile_tokens_are_rejected() {
    let ts = now().timestamp();
    let cases: Vec<(&str, String, TokenError)> = vec![
        (
            "alg none without signature",
            forge(
                json!({"alg": "none", "kid": "k1"}),
                good_claims(),
                no_signature,
            ),
            TokenError::Malformed,
        ),
        (
            "alg HS384 signed with the same key",
            forge(json!({"alg": "HS384", "kid": "k1"}), good_claims(), hs384),
            TokenError::WrongAlgorithm,
        ),
        (
            "alg RS256 header with an HMAC signature",
            forge(json!({"alg": "RS256", "kid": "k1"}), good_claims(), hs256),
            TokenError::WrongAlgorithm,
        ),
        (
            "signature under another key",
            forge(header(), good_claims(), wrong_key),
            TokenError::BadSignature,
        ),
        (
            "unknown key id",
            forge(json!({"alg": "HS256", "kid": "k9"}), good_claims(), hs256),
            TokenError::UnknownKey,
        ),
        (
            "missing key id",
            forge(json!({"alg": "HS256"}), good_claims(), hs256),
            TokenError::UnknownKey,
        ),
        (
            "expired",
            forge(header(), with(good_claims(), "exp", json!(ts - 1)), hs256),
            TokenError::Expired,
        ),
        (
            "expires exactly now",
            forge(header(), with(good_claims(), "exp", json!(ts)), hs256),
            TokenError::Expired,
        ),
        (
            "missing exp",
            forge(header(), without(good_claims(), "exp"), hs256),
            TokenError::BadClaims,
        ),
        (
            "exp as a string",
            forge(header(), with(good_claims(), "exp", json!("never")), hs256),
            TokenError::BadClaims,
        ),
        (
            "exp as a numeric string",
            forge(
                header(),
                with(good_claims(), "exp", json!((ts + 600).to_string())),
                hs256,
            ),
            TokenError::BadClaims,
        ),
        (
            "exp as a float",
            forge(header(), with(good_claims(), "exp", json!(1.5e12)), hs256),
            TokenError::BadClaims,
        ),
        (
            "nbf as a string",
            forge(header(), with(good_claims(), "nbf", json!("later")), hs256),
            TokenError::BadClaims,
        ),
        (
            "nbf in the future",
            forge(header(), with(good_claims(), "nbf", json!(ts + 100)), hs256),
            TokenError::NotYetValid,
        ),
        (
            "wrong issuer",
            forge(header(), with(good_claims(), "iss", json!("evil")), hs256),
            TokenError::WrongIssuerOrAudience,
        ),
        (
            "wrong audience",
            forge(
                header(),
                with(good_claims(), "aud", json!("other-api")),
                hs256,
            ),
            TokenError::WrongIssuerOrAudience,
        ),
        (
            "audience as an array",
            forge(
                header(),
                with(good_claims(), "aud", json!(["spiritus-api"])),
                hs256,
            ),
            TokenError::BadClaims,
        ),
        (
            "refresh type",
            forge(
                header(),
                with(good_claims(), "type", json!("refresh")),
                hs256,
            ),
            TokenError::WrongType,
        ),
        (
            "missing type",
            forge(header(), without(good_claims(), "type"), hs256),
            TokenError::BadClaims,
        ),
        (
            "subject not an id",
            forge(header(), with(good_claims(), "sub", json!("admin")), hs256),
            TokenError::BadClaims,
        ),
        ("garbage", "not.a.jwt".into(), TokenError::Malformed),
        ("empty", String::new(), TokenError::Malformed),
    ];
    let keys = keys();
    for (case, token, expected) in cases {
        assert_eq!(keys.verify(&token, now()).unwrap_err(), expected, "{case}");
    }
}

#[test]
fn rotated_out_key_still_verifies_until_removed() {
    let old = JwtKeys::new(
        vec![("old".into(), SecretKey::from_bytes(vec![1; 32]))],
        TokenSettings::default(),
    )
    .unwrap();
    let token = old.issue(Uuid::nil(), Uuid::nil(), now()).unwrap().token;

    let rotated = JwtKeys::new(
        vec![
            ("new".into(), SecretKey::from_bytes(vec![2; 32])),
            ("old".into(), SecretKey::from_bytes(vec![1; 32])),
        ],
        TokenSettings::default(),
    )
    .unwrap();
    assert!(rotated.verify(&token, now()).is_ok());
    assert_eq!(rotated.active_kid(), "new");

    let removed = JwtKeys::new(
        vec![("new".into(), SecretKey::from_bytes(vec![2; 32]))],
        TokenSettings::default(),
    )
    .unwrap();
    assert_eq!(
        removed.verify(&token, now()).unwrap_err(),
        TokenError::UnknownKey
    );
}

#[test]
fn short_keys_are_rejected() {
    let result = JwtKeys::new(
        vec![("k".into(), SecretKey::from_bytes(vec![1; 31]))],
        TokenSettings::default(),
    );
    assert!(result.is_err());
}
