//! `.env.local` loading into the process environment. Variable names are unique to this
//! test so that parallel tests never see them.

use spiritus_secrets::dotenv::{ENV_LOCAL_FILE, load_env_local};

#[test]
fn env_local_keeps_existing_variables() {
    let dir = tempfile::tempdir().unwrap();
    let set_name = "SPIRITUS_SECRETS_IT_DOTENV_NEW_7F3A";
    let kept_name = "SPIRITUS_SECRETS_IT_DOTENV_KEPT_7F3A";
    std::fs::write(
        dir.path().join(ENV_LOCAL_FILE),
        format!("# dev only\n{set_name}=\"from file\"\n{kept_name}=from-file\n"),
    )
    .unwrap();
    // The variable that must be kept is created by the dotenv loader itself from a first
    // file, so this test never calls the (unsafe in edition 2024) `set_var`.
    let first = tempfile::tempdir().unwrap();
    std::fs::write(
        first.path().join(ENV_LOCAL_FILE),
        format!("{kept_name}=from-environment\n"),
    )
    .unwrap();
    load_env_local(first.path()).unwrap().unwrap();

    let report = load_env_local(dir.path()).unwrap().unwrap();

    assert_eq!(report.set, [set_name]);
    assert_eq!(report.kept, [kept_name]);
    assert_eq!(std::env::var(set_name).unwrap(), "from file");
    assert_eq!(std::env::var(kept_name).unwrap(), "from-environment");
}
