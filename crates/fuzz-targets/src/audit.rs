//! Targets for audit proofs and tree heads as clients send them back, and for backup
//! archives given to `spiritus restore`.

use std::io::Write;
use std::str::FromStr;

use spiritus_app::backup::restore_backup;
use spiritus_audit::merkle::{verify_consistency, verify_inclusion};
use spiritus_audit::{ConsistencyProof, Hash, InclusionProof, SignedTreeHead, verify_proof_export};

/// The age identity backups are encrypted to in this target.
const BACKUP_IDENTITY: &str = include_str!("../../../testdata/sops/keys.txt");

/// Tree heads, inclusion and consistency proofs in JSON, and proof-carrying exports: any of
/// them parses or fails cleanly, and a random proof never verifies against a fixed root.
pub fn audit_json(data: &[u8]) {
    let root = Hash([0x5a; 32]);
    let other = Hash([0xa5; 32]);
    let _ = serde_json::from_slice::<SignedTreeHead>(data);
    if let Ok(proof) = serde_json::from_slice::<InclusionProof>(data) {
        let verified = verify_inclusion(
            &other,
            proof.leaf_index,
            proof.tree_size,
            &proof.path,
            &root,
        );
        assert!(
            verified.is_err() || proof.path.contains(&root) || !proof.path.is_empty(),
            "an empty inclusion proof verified a leaf that is not the root"
        );
    }
    if let Ok(proof) = serde_json::from_slice::<ConsistencyProof>(data) {
        let _ = verify_consistency(proof.old_size, proof.new_size, &other, &root, &proof.path);
    }
    let _ = verify_proof_export(data, None, &[]);
}

/// Backup archives: the raw bytes as an archive (the age header), and the bytes encrypted
/// to the restore identity (the tar stream and manifest inside). Nothing is ever written
/// outside the target folder.
pub fn backup_archive(data: &[u8]) {
    let Some(identity) = identity() else {
        panic!("parsing the age identity in testdata/sops/keys.txt failed");
    };
    let Ok(folder) = tempfile::tempdir() else {
        return;
    };
    let raw = folder.path().join("raw.age");
    let sealed = folder.path().join("sealed.age");
    if std::fs::write(&raw, data).is_err() || !seal(data, &identity, &sealed) {
        return;
    }
    for (index, archive) in [raw, sealed].iter().enumerate() {
        let target = folder.path().join(format!("restore-{index}"));
        let _ = restore_backup(archive, std::slice::from_ref(&identity), &target);
    }
    for entry in std::fs::read_dir(folder.path())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        assert!(
            name.ends_with(".age") || name.starts_with("restore-"),
            "a restore wrote {name} beside its target"
        );
    }
}

fn identity() -> Option<age::x25519::Identity> {
    BACKUP_IDENTITY
        .lines()
        .find(|line| line.starts_with("AGE-SECRET-KEY-"))
        .and_then(|line| age::x25519::Identity::from_str(line.trim()).ok())
}

/// Encrypts `data` as an age file to `identity`'s recipient.
fn seal(data: &[u8], identity: &age::x25519::Identity, output: &std::path::Path) -> bool {
    let recipient = identity.to_public();
    let Ok(encryptor) =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
    else {
        return false;
    };
    let Ok(file) = std::fs::File::create(output) else {
        return false;
    };
    let Ok(mut writer) = encryptor.wrap_output(file) else {
        return false;
    };
    writer.write_all(data).is_ok() && writer.finish().is_ok()
}
