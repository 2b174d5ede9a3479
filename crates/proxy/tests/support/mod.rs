//! Helpers for the real-core tests: finding `v2ray`, free loopback ports, waiting for a port,
//! a payload HTTP server, a SOCKS5 download client, and a second v2ray run as the client whose
//! outbounds are built from parsed share links.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

pub mod client;
pub mod net;

use std::path::PathBuf;

/// Finds the `v2ray` binary, or returns `None` (with a printed message) when it is missing. With `CI=true`
/// a missing binary fails the test instead of skipping it.
pub fn core_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("v2ray"))
            .find(|candidate| candidate.is_file())
    });

    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "v2ray is not installed but CI=true: install it with `apt-get install -y v2ray`"
            );
        }
        eprintln!("skipping: v2ray is not installed (apt-get install -y v2ray)");
    }

    found
}

/// Self-signed certificate and key for `localhost`, written into `dir`.
pub fn write_test_certificate(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key)
}
