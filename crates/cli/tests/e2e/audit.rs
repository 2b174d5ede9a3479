//! The audit trail end to end: tampering with a real server's database is found both by
//! `spiritus audit verify` on the stopped server's data directory and by
//! `POST /api/admin/audit/verify`, with the first bad position; proofs from the API verify
//! with the crate's verifiers.

use std::path::{Path, PathBuf};
use std::process::Output;

use reqwest::Method;
use serde_json::{Value, json};
use spiritus_audit::{
    AuditEntry, AuditSigningKey, ConsistencyProof, InclusionProof, LogState, SignedTreeHead,
};
use spiritus_store::SqlStore;
use spiritus_test_support::{ServerOptions, TestServer};

use crate::{BINARY, OWNER_PASSWORD};

/// A server with some audited history, a saved tree head and a witness file.
struct Scene {
    server: TestServer,
    _witness_dir: tempfile::TempDir,
    head_file: PathBuf,
    head: SignedTreeHead,
}

async fn scene(with_witness: bool) -> Scene {
    let witness_dir = tempfile::tempdir().unwrap();
    let witness = witness_dir.path().join("witness.jsonl");
    let config = if with_witness {
        format!(
            "[audit]\nwitness_file = {:?}\n",
            witness.display().to_string()
        )
    } else {
        String::new()
    };
    let server = TestServer::start_with(
        BINARY,
        ServerOptions {
            config: Some(config),
            ..ServerOptions::default()
        },
    )
    .await;
    let token = server.owner_token(OWNER_PASSWORD).await;
    for name in ["alice", "bobby", "carol", "david"] {
        let (status, body) = server
            .call(
                Method::POST,
                "/api/admin/users",
                Some(&token),
                Some(json!({"name": name, "traffic_limit_gb": 1, "expire_days": 30})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, head) = server
        .call(
            Method::GET,
            "/api/admin/audit/tree-head",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{head}");
    let head_file = witness_dir.path().join("head.json");
    std::fs::write(&head_file, head.to_string()).unwrap();
    if with_witness {
        let witnessed = std::fs::read_to_string(&witness).unwrap();
        assert!(
            witnessed.contains(head["root_hash"].as_str().unwrap()),
            "{witnessed}"
        );
    }
    Scene {
        server,
        _witness_dir: witness_dir,
        head_file,
        head: serde_json::from_value(head).unwrap(),
    }
}

fn verify_cli(data_dir: &Path, extra: &[&str]) -> Output {
    std::process::Command::new(BINARY)
        .args(["audit", "verify", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

async fn store_of(server: &TestServer) -> SqlStore {
    let url = format!(
        "sqlite://{}",
        server.data_dir().join("spiritus.db").display()
    );
    SqlStore::connect(&url).await.unwrap()
}

async fn raw(server: &TestServer, statements: &[String]) {
    let store = store_of(server).await;
    for sql in statements {
        store.execute_raw_for_tests(sql).await.unwrap();
    }
    store.close().await;
}

/// Asserts the CLI names the damage, then restarts the server and asserts the API does too.
async fn assert_detected(
    scene: &mut Scene,
    cli_extra: &[&str],
    kind: &str,
    index: Option<u64>,
) -> Value {
    let output = verify_cli(scene.server.data_dir(), cli_extra);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "verify passed: {stderr}");
    assert!(stderr.contains(kind), "expected {kind}: {stderr}");
    if let Some(index) = index {
        assert!(
            stderr.contains(&format!("first bad entry {index}:")),
            "expected entry {index}: {stderr}"
        );
    }

    scene.server.restart().await;
    let token = scene.server.login("admin", OWNER_PASSWORD).await;
    let (status, report) = scene
        .server
        .call(Method::POST, "/api/admin/audit/verify", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], false, "{report}");
    assert_eq!(report["first_failure"]["kind"], kind, "{report}");
    if let Some(index) = index {
        assert_eq!(report["first_failure"]["index"], index, "{report}");
    }
    report
}

#[tokio::test]
async fn intact_log_verifies_offline_and_online() {
    let mut scene = scene(true).await;
    scene.server.stop().await;
    let head = scene.head_file.display().to_string();
    let output = verify_cli(scene.server.data_dir(), &["--tree-head", &head]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("audit log intact"));

    scene.server.restart().await;
    let token = scene.server.login("admin", OWNER_PASSWORD).await;
    let (status, report) = scene
        .server
        .call(Method::POST, "/api/admin/audit/verify", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["valid"], true, "{report}");
    assert!(report["stored_heads"].as_u64().unwrap() >= 1, "{report}");
}

#[tokio::test]
async fn edited_field_is_found_at_its_entry() {
    let mut scene = scene(false).await;
    scene.server.stop().await;
    raw(
        &scene.server,
        &["UPDATE audit_log SET actor_role = 'auditor' WHERE idx = 3".into()],
    )
    .await;
    assert_detected(&mut scene, &[], "entry_hash_mismatch", Some(3)).await;
}

#[tokio::test]
async fn entry_deleted_from_the_middle_is_found() {
    let mut scene = scene(false).await;
    scene.server.stop().await;
    raw(
        &scene.server,
        &["DELETE FROM audit_log WHERE idx = 4".into()],
    )
    .await;
    assert_detected(&mut scene, &[], "chain_broken_deleted", Some(4)).await;
}

#[tokio::test]
async fn swapped_entries_are_found_at_the_first() {
    let mut scene = scene(false).await;
    scene.server.stop().await;
    raw(
        &scene.server,
        &[
            "UPDATE audit_log SET idx = -1 WHERE idx = 2".into(),
            "UPDATE audit_log SET idx = 2 WHERE idx = 3".into(),
            "UPDATE audit_log SET idx = 3 WHERE idx = -1".into(),
        ],
    )
    .await;
    assert_detected(&mut scene, &[], "entry_hash_mismatch", Some(2)).await;
}

/// Deletes the newest entries, rewinds the head row and removes every stored head, as an
/// intruder with the database would.
async fn cut_newest(scene: &Scene, keep: u64) {
    let store = store_of(&scene.server).await;
    let kept = store.audit_entries(keep - 1, keep).await.unwrap();
    let last = kept[0].hash.to_hex();
    for sql in [
        format!("DELETE FROM audit_log WHERE idx >= {keep}"),
        format!("UPDATE audit_head SET size = {keep}, last_hash = '{last}' WHERE id = 1"),
        "DELETE FROM audit_tree_heads".into(),
    ] {
        store.execute_raw_for_tests(&sql).await.unwrap();
    }
    store.close().await;
}

#[tokio::test]
async fn newest_entries_deleted_are_found_through_a_saved_head() {
    let mut scene = scene(false).await;
    scene.server.stop().await;
    let keep = scene.head.tree_size - 2;
    cut_newest(&scene, keep).await;

    let intact = verify_cli(scene.server.data_dir(), &[]);
    assert!(
        intact.status.success(),
        "without a saved head the cut cannot show: {}",
        String::from_utf8_lossy(&intact.stderr)
    );
    let head = scene.head_file.display().to_string();
    let output = verify_cli(scene.server.data_dir(), &["--tree-head", &head]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("first bad entry {keep}: truncated")),
        "{stderr}"
    );
}

#[tokio::test]
async fn newest_entries_deleted_are_found_through_the_witness_file() {
    let mut scene = scene(true).await;
    scene.server.stop().await;
    let keep = scene.head.tree_size - 2;
    cut_newest(&scene, keep).await;
    assert_detected(&mut scene, &[], "truncated", None).await;
}

#[tokio::test]
async fn log_rewritten_without_the_key_is_found() {
    let mut scene = scene(true).await;
    scene.server.stop().await;
    let store = store_of(&scene.server).await;
    let (size, _) = store.audit_head().await.unwrap();
    let mut state = LogState::new();
    for entry in store.audit_entries(0, size).await.unwrap() {
        let forged = forge(&mut state, entry);
        let sql = format!(
            "UPDATE audit_log SET actor_role = '{}', prev_hash = '{}', hash = X'{}', leaf_hash = X'{}' WHERE idx = {}",
            forged.actor_role,
            forged.prev_hash,
            forged.hash.to_hex(),
            forged.leaf_hash().to_hex(),
            forged.index
        );
        store.execute_raw_for_tests(&sql).await.unwrap();
    }
    let intruder = AuditSigningKey::from_seed(&[66; 32]);
    let fake_head = state.sign_head(
        &intruder,
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
    );
    for sql in [
        format!(
            "UPDATE audit_head SET last_hash = '{}' WHERE id = 1",
            state.last_entry_hash()
        ),
        "DELETE FROM audit_tree_heads".into(),
        format!(
            "INSERT INTO audit_tree_heads (tree_size, body, created_at) VALUES ({}, '{}', 0)",
            fake_head.tree_size,
            serde_json::to_string(&fake_head).unwrap()
        ),
    ] {
        store.execute_raw_for_tests(&sql).await.unwrap();
    }
    store.close().await;
    assert_detected(&mut scene, &[], "bad_signature", None).await;
}

/// Re-seals `entry` with a changed role onto `state`, as a rewrite without the key would.
fn forge(state: &mut LogState, entry: AuditEntry) -> AuditEntry {
    let mut draft = spiritus_audit::AuditDraft::new(
        entry.time,
        entry.actor_id,
        "forged",
        entry.action,
        entry.resource_type,
    );
    draft.ip = entry.ip;
    draft.resource_id = entry.resource_id;
    draft.before = entry.before;
    draft.after = entry.after;
    draft.context = entry.context;
    draft.success = entry.success;
    draft.error = entry.error;
    state.append(draft)
}

#[tokio::test]
async fn forged_tree_head_signature_is_found() {
    let mut scene = scene(false).await;
    scene.server.stop().await;
    let mut forged = scene.head.clone();
    forged.signature[7] ^= 1;
    let body = serde_json::to_string(&forged).unwrap();
    raw(
        &scene.server,
        &[format!(
            "UPDATE audit_tree_heads SET body = '{body}' WHERE tree_size = {}",
            forged.tree_size
        )],
    )
    .await;
    std::fs::write(&scene.head_file, &body).unwrap();
    let head = scene.head_file.display().to_string();
    assert_detected(&mut scene, &["--tree-head", &head], "bad_signature", None).await;
}

#[tokio::test]
async fn proofs_from_the_api_verify_and_a_flipped_bit_fails() {
    let scene = scene(false).await;
    let server = &scene.server;
    let token = server.login("admin", OWNER_PASSWORD).await;
    let first = scene.head.clone();
    let (_, second) = server
        .call(
            Method::GET,
            "/api/admin/audit/tree-head",
            Some(&token),
            None,
        )
        .await;
    let second: SignedTreeHead = serde_json::from_value(second).unwrap();
    assert!(second.tree_size > first.tree_size);

    let (status, page) = server
        .call(
            Method::GET,
            "/api/admin/audit?action=user.create&limit=1",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let entry: AuditEntry = serde_json::from_value(page["items"][0].clone()).unwrap();
    assert!(page["next_cursor"].is_string(), "{page}");

    let path = format!(
        "/api/admin/audit/proof/inclusion?index={}&tree_size={}",
        entry.index, second.tree_size
    );
    let (status, proof) = server.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(status, 200, "{proof}");
    let mut proof: InclusionProof = serde_json::from_value(proof).unwrap();
    proof.verify(&entry.leaf_hash(), &second.root_hash).unwrap();
    proof.path[0].0[0] ^= 1;
    assert!(proof.verify(&entry.leaf_hash(), &second.root_hash).is_err());

    let path = format!(
        "/api/admin/audit/proof/consistency?first={}&second={}",
        first.tree_size, second.tree_size
    );
    let (status, proof) = server.call(Method::GET, &path, Some(&token), None).await;
    assert_eq!(status, 200, "{proof}");
    let mut proof: ConsistencyProof = serde_json::from_value(proof).unwrap();
    proof.verify(&first.root_hash, &second.root_hash).unwrap();
    let last = proof.path.len() - 1;
    proof.path[last].0[31] ^= 1;
    assert!(proof.verify(&first.root_hash, &second.root_hash).is_err());

    for (path, field) in [
        (
            "/api/admin/audit/proof/inclusion?index=x&tree_size=3",
            "index",
        ),
        (
            "/api/admin/audit/proof/inclusion?index=0&tree_size=999999",
            "tree_size",
        ),
        (
            "/api/admin/audit/proof/consistency?first=0&second=2",
            "first",
        ),
        ("/api/admin/audit?success=maybe", "success"),
        ("/api/admin/audit?from=yesterday", "from"),
        ("/api/admin/audit?cursor=abc", "cursor"),
    ] {
        let (status, body) = server.call(Method::GET, path, Some(&token), None).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
}

#[tokio::test]
async fn exports_verify_offline_and_filtered_ones_carry_proofs() {
    let scene = scene(true).await;
    let server = &scene.server;
    let token = server.login("admin", OWNER_PASSWORD).await;
    let dir = tempfile::tempdir().unwrap();
    let key = spiritus_audit::AuditVerifyingKey::from_hex(
        &std::fs::read_to_string(server.data_dir().join("secrets/audit.key"))
            .map(|seed| {
                AuditSigningKey::from_seed_slice(&hex::decode(seed.trim()).unwrap())
                    .unwrap()
                    .verifying_key()
                    .to_hex()
            })
            .unwrap(),
    )
    .unwrap()
    .to_hex();

    for (query, name) in [
        ("", "full.jsonl"),
        ("?action=user.create", "filtered.jsonl"),
    ] {
        let response = server
            .client
            .get(server.url(&format!("/api/admin/audit/export{query}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        if name == "filtered.jsonl" {
            assert_eq!(text.lines().count(), 5, "header and four users: {text}");
        }
        let file = dir.path().join(name);
        std::fs::write(&file, &text).unwrap();
        let output = std::process::Command::new(BINARY)
            .args(["audit", "verify", "--data-dir"])
            .arg(dir.path().join("no-data-dir"))
            .arg("--export")
            .arg(&file)
            .args(["--public-key", &key])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );

        let tampered = text.replacen("\"user.create\"", "\"user.delete\"", 1);
        std::fs::write(&file, tampered).unwrap();
        let output = std::process::Command::new(BINARY)
            .args(["audit", "verify", "--export"])
            .arg(&file)
            .args(["--public-key", &key])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name}: tampered export verified");
        assert!(String::from_utf8_lossy(&output.stderr).contains("entry_hash_mismatch"));
    }
    assert!(!dir.path().join("no-data-dir").exists());
}

#[tokio::test]
async fn agents_are_refused_every_audit_route_and_the_refusal_is_rolled_up() {
    let scene = scene(false).await;
    let server = &scene.server;
    let mut create = std::process::Command::new(BINARY)
        .args([
            "admin",
            "create",
            "reseller",
            "--role",
            "agent",
            "--password-stdin",
            "--data-dir",
        ])
        .arg(server.data_dir())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = create.stdin.take().unwrap();
        writeln!(stdin, "a long agent password 42").unwrap();
    }
    assert!(create.wait().unwrap().success());
    let agent = server.login("reseller", "a long agent password 42").await;

    let routes = [
        (Method::GET, "/api/admin/audit"),
        (Method::GET, "/api/admin/audit/tree-head"),
        (
            Method::GET,
            "/api/admin/audit/proof/inclusion?index=0&tree_size=1",
        ),
        (
            Method::GET,
            "/api/admin/audit/proof/consistency?first=1&second=2",
        ),
        (Method::POST, "/api/admin/audit/verify"),
        (Method::GET, "/api/admin/audit/export"),
    ];
    for (method, path) in routes {
        let (status, body) = server.call(method, path, Some(&agent), None).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "forbidden", "{path}: {body}");
    }

    let owner = server.login("admin", OWNER_PASSWORD).await;
    let (_, page) = server
        .call(
            Method::GET,
            "/api/admin/audit?action=access.denied",
            Some(&owner),
            None,
        )
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "six refusals, one entry: {page}");
    assert_eq!(items[0]["context"]["reason"], "role");
}
