//! The tree-head signer: catching up from the store, publishing to the witness file, and
//! refusing to sign a log that no longer extends a head it published.

use spiritus_app::bootstrap::{DataDir, prepare};
use spiritus_audit::parse_witness;

use crate::support::{app_on, default_config, record, sqlite_app};

#[tokio::test]
async fn signer_catches_up_with_entries_it_did_not_write_and_witnesses_heads() {
    let witness_dir = tempfile::tempdir().unwrap();
    let witness = witness_dir.path().join("witness.jsonl");
    let mut config = default_config();
    config.audit.witness_file = Some(witness.clone());
    let test = sqlite_app(config.clone()).await;
    let app = &test.app;
    for i in 0..3 {
        record(app, &format!("a.{i}")).await;
    }
    assert_eq!(app.sign_tree_head().await.unwrap().tree_size, 3);

    // Another replica on the same database appends two entries.
    let other = app_on(app.store().clone(), config, tempfile::tempdir().unwrap());
    record(&other.app, "b.0").await;
    record(&other.app, "b.1").await;

    let grown = app.sign_tree_head_if_grown().await.unwrap().unwrap();
    assert_eq!(grown.tree_size, 5);
    assert_eq!(
        app.sign_tree_head_if_grown().await.unwrap(),
        None,
        "no growth, no head"
    );

    let heads = parse_witness(
        std::fs::File::open(&witness)
            .map(std::io::BufReader::new)
            .unwrap(),
    )
    .unwrap();
    let sizes: Vec<u64> = heads.iter().map(|head| head.tree_size).collect();
    assert_eq!(sizes, [3, 5]);
    let key = app.audit_key().verifying_key();
    assert!(heads.iter().all(|head| head.verify(&key).is_ok()));
}

#[tokio::test]
async fn signer_refuses_a_log_rewritten_behind_a_stored_head() {
    let test = sqlite_app(default_config()).await;
    for i in 0..4 {
        record(&test.app, &format!("a.{i}")).await;
    }
    test.app.sign_tree_head().await.unwrap();
    test.app
        .store()
        .execute_raw_for_tests("UPDATE audit_log SET leaf_hash = hash WHERE idx = 1")
        .await
        .unwrap();

    let restarted = app_on(
        test.app.store().clone(),
        default_config(),
        tempfile::tempdir().unwrap(),
    );
    let mut events = restarted.events.subscribe();
    assert!(restarted.app.sign_tree_head().await.is_err());
    assert_eq!(
        events.try_recv().unwrap().kind(),
        "audit_verification_failed"
    );
}

#[test]
fn witness_file_inside_the_data_directory_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    let env = vec![(
        "SPIRITUS_AUDIT__WITNESS_FILE".to_owned(),
        dir.path().join("data/witness.jsonl").display().to_string(),
    )];
    let error = prepare(&data, None, env).unwrap_err().to_string();
    assert!(error.contains("audit.witness_file"), "{error}");
    assert!(error.contains("outside"), "{error}");

    let outside = vec![(
        "SPIRITUS_AUDIT__WITNESS_FILE".to_owned(),
        dir.path().join("witness.jsonl").display().to_string(),
    )];
    assert!(prepare(&data, None, outside).is_ok());
}
