//! `spiritus doctor` on a fresh development setup and on a hardened one, and the production
//! start refusing generated keys.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::BINARY;

fn doctor(data_dir: &Path, env: &[(&str, String)]) -> (i32, Vec<Value>) {
    let mut command = Command::new(BINARY);
    command
        .args(["doctor", "--format", "json", "--data-dir"])
        .arg(data_dir)
        .env_remove("RUST_LOG");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let checks: Vec<Value> = serde_json::from_str(&stdout).unwrap_or_else(|error| {
        panic!(
            "doctor printed no JSON ({error}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), checks)
}

fn verdict<'a>(checks: &'a [Value], id: &str) -> &'a str {
    checks
        .iter()
        .find(|check| check["id"] == id)
        .and_then(|check| check["verdict"].as_str())
        .unwrap_or_else(|| panic!("no check {id}"))
}

#[test]
fn fresh_development_setup_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let (code, checks) = doctor(dir.path(), &[]);
    assert_eq!(code, 1);
    for id in [
        "secrets_not_generated_defaults",
        "admin_allowlist",
        "alerting",
    ] {
        assert_eq!(verdict(&checks, id), "fail", "{id}");
    }
    assert_eq!(verdict(&checks, "tls_certificate"), "warn");
    for check in &checks {
        if check["verdict"] == "fail" || check["verdict"] == "warn" {
            assert!(
                check["fix"].as_str().is_some_and(|fix| !fix.is_empty()),
                "{check}"
            );
        }
    }
}

#[test]
fn admin_without_second_factor_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BINARY)
        .args([
            "admin",
            "create",
            "operator",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough passphrase\n")
        .unwrap();
    assert!(child.wait().unwrap().success());

    let (code, checks) = doctor(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(verdict(&checks, "admins_second_factor"), "fail");
    let detail = checks
        .iter()
        .find(|check| check["id"] == "admins_second_factor")
        .and_then(|check| check["detail"].as_str())
        .unwrap();
    assert!(detail.contains("operator"), "{detail}");
}

#[test]
fn weak_literal_secrets_and_loose_permissions_fail() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spiritus.toml"),
        "metrics.listen = \"0.0.0.0:9464\"\n[secrets]\njwt_keys = [\"changeme-changeme-changeme-changeme\"]\npepper = \"pepperpepperpepperpepperpepperpepper\"\n",
    )
    .unwrap();
    // Run once so the data directory exists, then loosen one file.
    doctor(dir.path(), &[]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.path().join("spiritus.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (code, checks) = doctor(dir.path(), &[]);
    assert_eq!(code, 1);
    for id in [
        "secrets_not_literal",
        "secret_strength",
        "file_permissions",
        "metrics_not_public",
    ] {
        assert_eq!(verdict(&checks, id), "fail", "{id}");
    }
}

fn hex_key(byte: u8) -> String {
    // Varied bytes so the entropy estimate sees a random-looking key.
    (0..32u8)
        .map(|i| {
            format!(
                "{:02x}",
                i.wrapping_mul(37).wrapping_add(byte).wrapping_mul(101)
            )
        })
        .collect()
}

#[test]
fn hardened_setup_has_no_failure() {
    let dir = tempfile::tempdir().unwrap();
    let pki = tempfile::tempdir().unwrap();

    // A certificate issued by a CA, not self-signed.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params = rcgen::CertificateParams::new(vec!["panel.example.test".to_owned()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let cert_path = pki.path().join("cert.pem");
    let key_path = pki.path().join("key.pem");
    std::fs::write(&cert_path, format!("{}{}", leaf.pem(), ca.pem())).unwrap();
    std::fs::write(&key_path, leaf_key.serialize_pem()).unwrap();

    std::fs::write(
        dir.path().join("spiritus.toml"),
        format!(
            "environment = \"production\"\nadmin_allowlist = [\"10.0.0.0/8\"]\n\
             [tls]\ncert = {:?}\nkey = {:?}\n\
             [metrics]\nlisten = \"off\"\n\
             [backup]\nrecipients = [\"age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw\"]\n\
             directory = {:?}\ninterval_hours = 24\n\
             [[alerts.channels]]\ntype = \"webhook\"\nurl = \"https://siem.example.test/hook\"\n\
             secret = \"env:TEST_WEBHOOK_SECRET\"\n\
             [secrets]\njwt_keys = [\"env:TEST_JWT_KEY\"]\npepper = \"env:TEST_PEPPER\"\naudit_key = \"env:TEST_AUDIT_KEY\"\n",
            cert_path,
            key_path,
            pki.path().join("backups")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.path().join("spiritus.toml"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let env = [
        ("TEST_JWT_KEY", hex_key(1)),
        ("TEST_PEPPER", hex_key(2)),
        ("TEST_AUDIT_KEY", hex_key(3)),
    ];
    let (code, checks) = doctor(dir.path(), &env);
    let failed: Vec<&Value> = checks
        .iter()
        .filter(|check| check["verdict"] == "fail")
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(code, 0);
    assert_eq!(verdict(&checks, "tls_certificate"), "pass");
    assert_eq!(verdict(&checks, "alerting"), "pass");
    // No generated key file was written when every secret comes from elsewhere.
    assert!(!dir.path().join("secrets/pepper.key").exists());
}

#[test]
fn production_start_refuses_generated_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("spiritus.toml"),
        "environment = \"production\"\n",
    )
    .unwrap();
    let output = Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("SPIRITUS_METRICS__LISTEN", "off")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refuses the development keys"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("one-time password"));
}
