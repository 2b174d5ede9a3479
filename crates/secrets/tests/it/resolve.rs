//! `env:`, `file:` and literal references through the public API, and the shape of the
//! errors the config loader will show.

use spiritus_secrets::{EnvSource, RefKind, ResolveContext, SecretRef, resolve_setting};

fn context() -> ResolveContext {
    ResolveContext::new(EnvSource::from_pairs([
        ("SPIRITUS_PEPPER", "pepper-from-env"),
        ("EMPTY_VAR", ""),
    ]))
}

async fn resolve(ctx: &ResolveContext, setting: &str, text: &str) -> Result<String, String> {
    resolve_setting(setting, text, ctx)
        .await
        .map(|secret| secret.expose().to_owned())
        .map_err(|error| error.to_string())
}

#[tokio::test]
async fn env_and_literal_references_resolve() {
    let ctx = context();
    // (reference, value)
    let rows = [
        ("env:SPIRITUS_PEPPER", "pepper-from-env"), // environment
        ("plain-literal", "plain-literal"),         // literal
        ("literal:env:SPIRITUS_PEPPER", "env:SPIRITUS_PEPPER"), // forced literal
        (
            "postgres://spiritus:pw@db/spiritus",
            "postgres://spiritus:pw@db/spiritus",
        ), // URL
    ];
    for (reference, expected) in rows {
        assert_eq!(
            resolve(&ctx, "secrets.pepper", reference).await.as_deref(),
            Ok(expected)
        );
    }
}

#[tokio::test]
async fn file_references_resolve_relative_to_the_base_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pepper"), "from-file\n").unwrap();
    let ctx = context().with_base_dir(dir.path());
    let absolute = format!("file:{}", dir.path().join("pepper").display());

    assert_eq!(
        resolve(&ctx, "secrets.pepper", "file:pepper")
            .await
            .as_deref(),
        Ok("from-file")
    );
    assert_eq!(
        resolve(&ctx, "secrets.pepper", &absolute).await.as_deref(),
        Ok("from-file")
    );
}

#[tokio::test]
async fn errors_name_setting_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    let ctx = context().with_base_dir(dir.path());
    // (reference, expected message)
    let rows = [
        (
            "env:SPIRITUS_MISSING",
            "secrets.pepper: environment variable SPIRITUS_MISSING is not set; export it or point the setting at a file with file:/path",
        ),
        (
            "env:EMPTY_VAR",
            "secrets.pepper: the env reference resolved to an empty value; an empty secret is not allowed",
        ),
        (
            "file:empty",
            "secrets.pepper: the file reference resolved to an empty value; an empty secret is not allowed",
        ),
        ("file:absent", "does not exist; create it or fix the path"),
        (
            "vualt:kv/app#pepper",
            "secrets.pepper: the value starts with an unknown scheme \"vualt:\" (did you mean \"vault:\"?)",
        ),
        (
            "hunter2:letmein",
            "secrets.pepper: the value starts with an unknown scheme (the text before the first ':')",
        ),
    ];
    for (reference, expected) in rows {
        let message = resolve(&ctx, "secrets.pepper", reference)
            .await
            .unwrap_err();
        assert!(message.contains(expected), "{reference}: {message}");
        assert!(
            !message.contains("hunter2") && !message.contains("letmein"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn secret_error_reports_the_reference_kind() {
    let ctx = context();
    // (reference, kind)
    let rows = [
        ("env:NOPE", Some(RefKind::Env)),             // env failure
        ("file:/nonexistent/x", Some(RefKind::File)), // file failure
        ("vault:kv/a#b", Some(RefKind::Vault)),       // no Vault configured
        ("sops:x.yaml#a", Some(RefKind::Sops)),       // no identity configured
        ("vualt:x", None),                            // did not parse
    ];
    for (reference, kind) in rows {
        let error = resolve_setting("s", reference, &ctx).await.unwrap_err();
        assert_eq!(error.kind(), kind, "{reference}");
        assert_eq!(error.setting(), "s");
    }
}

#[test]
fn debug_output_never_shows_secrets() {
    let literal: SecretRef = "literal:top-secret-literal".parse().unwrap();
    let secret = spiritus_secrets::SecretString::from("top-secret-string");
    let bytes = spiritus_secrets::SecretBytes::from(b"top-secret-bytes".to_vec());

    let shown = format!("{literal:?} {literal} {secret:?} {bytes:?}");

    assert!(!shown.contains("top-secret"), "{shown}");
    assert_eq!(
        shown,
        "SecretRef(literal:***) literal:*** SecretString(***) SecretBytes(***)"
    );
}
