//! The streaming verifier behind [`super::verify_log`] and the export reader: it takes entries
//! one at a time, so memory stays O(log n) plus one root per trusted head.

use std::collections::BTreeMap;

use super::{ChainBreak, DamageKind, Failure, VerifyReport};
use crate::canonical::encode_entry;
use crate::checkpoint::SignedCheckpoint;
use crate::entry::AuditEntry;
use crate::hash::{Hash, PrevHash};
use crate::keys::AuditVerifyingKey;
use crate::merkle::{CompactRange, empty_root, entry_leaf_hash};
use crate::tree_head::SignedTreeHead;

/// A hole in the index sequence whose cause is still open: if the missing index turns up
/// later the entries were reordered, otherwise they were deleted.
#[derive(Debug)]
struct OpenGap {
    missing: u64,
    found: u64,
    seen_later: bool,
}

/// Verifies a log fed entry by entry; see the module docs of [`crate::verify`].
pub struct LogVerifier {
    key: AuditVerifyingKey,
    pruned: u64,
    checkpoint_root: Hash,
    range: CompactRange,
    expected_prev: PrevHash,
    entries: u64,
    trusted: Vec<SignedTreeHead>,
    trusted_roots: BTreeMap<u64, Option<Hash>>,
    setup_failure: Option<Failure>,
    entry_failure: Option<Failure>,
    open_gap: Option<OpenGap>,
    buffer: Vec<u8>,
}

impl LogVerifier {
    /// Starts a verification: checks the checkpoint's and the trusted heads' signatures now
    /// and notes which tree sizes need a root on the way.
    pub fn new(
        key: AuditVerifyingKey,
        checkpoint: Option<&SignedCheckpoint>,
        trusted_heads: &[SignedTreeHead],
    ) -> Self {
        let mut verifier = Self {
            key,
            pruned: 0,
            checkpoint_root: empty_root(),
            range: CompactRange::new(),
            expected_prev: PrevHash::Genesis,
            entries: 0,
            trusted: trusted_heads.to_vec(),
            trusted_roots: BTreeMap::new(),
            setup_failure: None,
            entry_failure: None,
            open_gap: None,
            buffer: Vec::with_capacity(1024),
        };

        if let Some(checkpoint) = checkpoint {
            verifier.start_from_checkpoint(checkpoint);
        }
        verifier.check_trusted_signatures();
        verifier
    }

    fn start_from_checkpoint(&mut self, signed: &SignedCheckpoint) {
        if let Err(error) = signed.verify(&self.key) {
            self.setup_failure = Some(Failure::log(
                DamageKind::BadSignature,
                format!(
                    "checkpoint of {} pruned entries: {error}",
                    signed.checkpoint.pruned_size()
                ),
            ));
        }

        let checkpoint = &signed.checkpoint;
        self.pruned = checkpoint.pruned_size();
        self.checkpoint_root = checkpoint.root();
        self.range = checkpoint.range().clone();
        self.expected_prev = *checkpoint.last_entry_hash();
    }

    fn check_trusted_signatures(&mut self) {
        self.trusted.sort_by_key(|head| head.tree_size);

        for head in &self.trusted {
            if let Err(error) = head.verify(&self.key) {
                self.setup_failure.get_or_insert_with(|| {
                    Failure::log(
                        DamageKind::BadSignature,
                        format!("trusted tree head of size {}: {error}", head.tree_size),
                    )
                });
            }
            if head.tree_size > self.pruned {
                self.trusted_roots.insert(head.tree_size, None);
            }
        }
    }

    /// Checks the next retained entry and adds it to the tree.
    pub fn push(&mut self, entry: &AuditEntry) {
        self.buffer.clear();
        encode_entry(entry, &mut self.buffer);
        let hashes = EntryHashes {
            computed: Hash::digest(&self.buffer),
            leaf: entry_leaf_hash(&entry.hash),
        };
        self.push_computed(entry, &hashes);
    }

    /// Checks the next retained entries in order, like [`Self::push`] on each. The entry
    /// hashes and leaf hashes cost most and each depends on one entry only, so a large batch
    /// computes them on every available core. The chain checks and the tree stay in order on
    /// this thread.
    pub fn push_batch(&mut self, entries: &[AuditEntry]) {
        let hashes = entry_hashes(entries);
        for (entry, hashes) in entries.iter().zip(&hashes) {
            self.push_computed(entry, hashes);
        }
    }

    fn push_computed(&mut self, entry: &AuditEntry, hashes: &EntryHashes) {
        let computed = &hashes.computed;
        let expected = self.pruned.saturating_add(self.entries);
        self.entries += 1;

        // The leaf commits to the stored hash; a stored hash that differs from `computed` is
        // reported below as an edited entry.
        self.range.append(hashes.leaf);

        if let Some(root) = self.trusted_roots.get_mut(&self.range.size()) {
            *root = Some(self.range.root());
        }

        if self.entry_failure.is_none() {
            self.entry_failure = self.check_entry(entry, expected, computed);
        } else if let Some(gap) = &mut self.open_gap {
            gap.seen_later |= entry.index == gap.missing;
        }

        self.expected_prev = PrevHash::Entry(entry.hash);
    }

    /// Checks `entry` at log position `expected` and returns its first damage, if any.
    fn check_entry(
        &mut self,
        entry: &AuditEntry,
        expected: u64,
        computed: &Hash,
    ) -> Option<Failure> {
        if *computed != entry.hash {
            return Some(Failure::at(
                expected,
                DamageKind::EntryHashMismatch,
                format!(
                    "stored hash {} but the entry's fields hash to {computed}: a field was edited",
                    entry.hash
                ),
            ));
        }
        if entry.has_sub_millisecond_time() {
            return Some(Failure::at(
                expected,
                DamageKind::EntryHashMismatch,
                "time has digits below a millisecond, which sealing never writes and the hash does not cover"
                    .to_owned(),
            ));
        }

        let linked = entry.prev_hash == self.expected_prev;
        let is_first_retained = expected == self.pruned;
        if is_first_retained && self.pruned > 0 && entry.index < self.pruned {
            return Some(Failure::at(
                expected,
                DamageKind::CheckpointInvalid,
                format!(
                    "the log still holds entry {} although the checkpoint pruned entries 0..{}",
                    entry.index, self.pruned
                ),
            ));
        }

        match (entry.index.cmp(&expected), linked) {
            (std::cmp::Ordering::Equal, true) => None,
            (std::cmp::Ordering::Equal, false) => Some(self.relinked(expected)),
            (std::cmp::Ordering::Greater, true) => Some(Failure::at(
                expected,
                DamageKind::IndexGap,
                format!(
                    "entry {} comes right after {} and links to it: entries {expected}..{} were cut out and the chain re-hashed",
                    entry.index,
                    self.predecessor(expected),
                    entry.index - 1
                ),
            )),
            (std::cmp::Ordering::Greater, false) => {
                self.open_gap = Some(OpenGap {
                    missing: expected,
                    found: entry.index,
                    seen_later: false,
                });
                Some(Failure::at(
                    expected,
                    DamageKind::ChainBroken(ChainBreak::Deleted),
                    String::new(),
                ))
            }
            (std::cmp::Ordering::Less, _) => Some(Failure::at(
                expected,
                DamageKind::ChainBroken(ChainBreak::Reordered),
                format!(
                    "position {expected} holds entry {}, which belongs earlier: entries were reordered or duplicated",
                    entry.index
                ),
            )),
        }
    }

    fn relinked(&self, index: u64) -> Failure {
        Failure::at(
            index,
            DamageKind::ChainBroken(ChainBreak::Relinked),
            format!(
                "prev_hash does not match {}: that entry was replaced and re-hashed, or this entry's link was changed",
                self.predecessor(index)
            ),
        )
    }

    /// Describes what the entry at position `index` must link to.
    fn predecessor(&self, index: u64) -> String {
        if index == self.pruned && self.pruned > 0 {
            "the checkpoint's last entry hash".to_owned()
        } else if index == 0 {
            "genesis".to_owned()
        } else {
            format!("entry {}", index - 1)
        }
    }

    /// Number of entries in the log so far, pruned ones included.
    pub fn tree_size(&self) -> u64 {
        self.range.size()
    }

    /// Merkle root recomputed over every entry so far.
    pub fn root(&self) -> Hash {
        self.range.root()
    }

    /// Ends the verification against the latest signed `tree_head`.
    pub fn finish(mut self, tree_head: &SignedTreeHead) -> VerifyReport {
        let first_failure = self.first_failure(tree_head);

        VerifyReport {
            entries: self.entries,
            tree_size: self.range.size(),
            root: self.range.root(),
            key_id: self.key.key_id(),
            trusted_heads_checked: self
                .trusted
                .iter()
                .filter(|head| self.is_checkable(head))
                .count(),
            trusted_heads_skipped: self
                .trusted
                .iter()
                .filter(|head| !self.is_checkable(head))
                .count(),
            first_failure,
        }
    }

    fn first_failure(&mut self, tree_head: &SignedTreeHead) -> Option<Failure> {
        if let Some(failure) = self.setup_failure.take() {
            return Some(failure);
        }
        if let Err(error) = tree_head.verify(&self.key) {
            return Some(Failure::log(
                DamageKind::BadSignature,
                format!("tree head of size {}: {error}", tree_head.tree_size),
            ));
        }
        if let Some(failure) = self.entry_failure.take() {
            return Some(self.settle_gap(failure));
        }
        if let Some(failure) = self.check_signed_size(tree_head) {
            return Some(failure);
        }
        self.check_trusted_heads(tree_head)
    }

    /// Fills in a deletion-or-reordering failure now that every entry has been seen.
    fn settle_gap(&self, failure: Failure) -> Failure {
        let Some(gap) = &self.open_gap else {
            return failure;
        };

        if gap.seen_later {
            return Failure::at(
                gap.missing,
                DamageKind::ChainBroken(ChainBreak::Reordered),
                format!(
                    "position {} holds entry {} and entry {} appears later: entries were reordered",
                    gap.missing, gap.found, gap.missing
                ),
            );
        }
        let missing = if gap.found - gap.missing == 1 {
            format!("entry {} is missing", gap.missing)
        } else {
            format!("entries {}..{} are missing", gap.missing, gap.found - 1)
        };
        Failure::at(
            gap.missing,
            DamageKind::ChainBroken(ChainBreak::Deleted),
            format!(
                "{missing}: entry {} links to a hash no retained entry has; deleted",
                gap.found
            ),
        )
    }

    fn check_signed_size(&self, tree_head: &SignedTreeHead) -> Option<Failure> {
        let log_size = self.range.size();
        let signed = tree_head.tree_size;

        if signed < self.pruned {
            return Some(Failure::log(
                DamageKind::CheckpointInvalid,
                format!(
                    "the checkpoint pruned {} entries but the tree head covers only {signed}: the tree head is older than the checkpoint",
                    self.pruned
                ),
            ));
        }
        if signed > log_size {
            return Some(Failure::at(
                log_size,
                DamageKind::Truncated,
                format!(
                    "the tree head covers {signed} entries but the log contains {log_size}: the newest entries were removed"
                ),
            ));
        }
        if signed < log_size {
            return Some(Failure::at(
                signed,
                DamageKind::UnsignedEntries,
                format!(
                    "the log contains {log_size} entries but the tree head covers only {signed}: the entries after it are not signed"
                ),
            ));
        }
        if tree_head.root_hash != self.range.root() {
            return Some(Failure::log(
                DamageKind::RootMismatch,
                format!(
                    "recomputed root {} differs from the signed root {}: entries were rewritten and re-hashed",
                    self.range.root(),
                    tree_head.root_hash
                ),
            ));
        }
        None
    }

    fn check_trusted_heads(&self, tree_head: &SignedTreeHead) -> Option<Failure> {
        let log_size = self.range.size();

        for trusted in &self.trusted {
            let size = trusted.tree_size;
            if size > log_size {
                return Some(Failure::at(
                    log_size,
                    DamageKind::Truncated,
                    format!(
                        "a trusted tree head signed at {} covers {size} entries but the log contains {log_size}: entries were removed",
                        trusted.timestamp
                    ),
                ));
            }
            if !self.is_checkable(trusted) {
                continue;
            }
            if self.root_at(size) != Some(trusted.root_hash) {
                return Some(inconsistent_trusted_head(trusted, tree_head));
            }
        }
        None
    }

    fn is_checkable(&self, head: &SignedTreeHead) -> bool {
        head.tree_size == 0 || head.tree_size >= self.pruned
    }

    fn root_at(&self, size: u64) -> Option<Hash> {
        if size == 0 {
            return Some(empty_root());
        }
        if size == self.pruned {
            return Some(self.checkpoint_root);
        }
        self.trusted_roots.get(&size).copied().flatten()
    }
}

fn inconsistent_trusted_head(trusted: &SignedTreeHead, tree_head: &SignedTreeHead) -> Failure {
    let size = trusted.tree_size;
    if size == tree_head.tree_size {
        return Failure::log(
            DamageKind::ForkDetected,
            format!(
                "a trusted tree head signed at {} has root {} for the same size {size}: two different logs were signed",
                trusted.timestamp, trusted.root_hash
            ),
        );
    }
    Failure::log(
        DamageKind::Truncated,
        format!(
            "the first {size} entries no longer match a trusted tree head signed at {}: the log was cut back and rewritten",
            trusted.timestamp
        ),
    )
}

/// Entries per thread below which a batch is hashed on the calling thread alone.
const MIN_ENTRIES_PER_THREAD: usize = 4096;

/// The two hashes of one entry, computed apart from its neighbours.
struct EntryHashes {
    /// SHA-256 of the canonical encoding, compared with the stored hash.
    computed: Hash,
    /// The Merkle leaf of the stored hash.
    leaf: Hash,
}

/// Entry and leaf hashes of each entry, in order, spread over the available cores.
fn entry_hashes(entries: &[AuditEntry]) -> Vec<EntryHashes> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(entries.len() / MIN_ENTRIES_PER_THREAD).max(1);
    if threads == 1 {
        return hash_sequentially(entries);
    }

    let chunk_len = entries.len().div_ceil(threads);
    let mut chunks = entries.chunks(chunk_len);
    let first = chunks.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let workers: Vec<_> = chunks
            .map(|chunk| (chunk, scope.spawn(move || hash_sequentially(chunk))))
            .collect();
        let mut hashes = hash_sequentially(first);
        for (chunk, worker) in workers {
            // A worker cannot panic on any entry; should it anyway, redo its share here.
            hashes.extend(worker.join().unwrap_or_else(|_| hash_sequentially(chunk)));
        }
        hashes
    })
}

fn hash_sequentially(entries: &[AuditEntry]) -> Vec<EntryHashes> {
    let mut buffer = Vec::with_capacity(1024);
    entries
        .iter()
        .map(|entry| {
            buffer.clear();
            encode_entry(entry, &mut buffer);
            EntryHashes {
                computed: Hash::digest(&buffer),
                leaf: entry_leaf_hash(&entry.hash),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_support::synthetic_log;

    #[test]
    fn batch_on_several_threads_reports_what_one_by_one_reports() {
        let (key, mut entries, head) = synthetic_log(3 * MIN_ENTRIES_PER_THREAD as u64);
        entries[5000].actor_role = "owner".into();
        let public = key.verifying_key();

        let mut one_by_one = LogVerifier::new(public, None, &[]);
        for entry in &entries {
            one_by_one.push(entry);
        }
        let mut batched = LogVerifier::new(public, None, &[]);
        batched.push_batch(&entries);

        let expected = one_by_one.finish(&head);
        assert_eq!(batched.finish(&head), expected);
        assert_eq!(
            expected.first_failure.map(|failure| failure.index),
            Some(Some(5000))
        );
    }
}
