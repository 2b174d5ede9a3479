//! Integration tests of `spiritus-secrets`, one module per area. Everything runs in this
//! process: fixture files from `testdata/sops`, temp dirs, and mock servers bound to
//! 127.0.0.1:0.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions should fail loudly on a broken fixture"
)]

mod dotenv_process;
mod mock_vault;
mod resolve;
mod sops_fixtures;
mod sops_fuzz;
mod vault;

use std::path::PathBuf;

/// `testdata/sops` in the repository.
pub fn sops_testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sops")
}
