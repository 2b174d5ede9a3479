//! Signing tree heads over the whole log, pruned entries included.
//!
//! The signer keeps the compact range of every leaf it has folded in and, on each call, reads
//! only the leaf hashes added since, up to the size in the store's `audit_head` row. Several
//! replicas append to one log, so the log's size comes from that row, never from this
//! process's own appends. When the range is first built (at start, or after another replica pruned past
//! it) the signer checks it against the newest stored head and the newest witnessed head, and
//! refuses to sign a log that no longer extends them: a head signed over a rewritten log would
//! bless the rewrite.
//!
//! Each new head is stored, appended to the witness file and written as one log line on the
//! `spiritus::audit` target, so a copy exists outside the database.

use base64::Engine as _;
use spiritus_audit::{CompactRange, Hash, SignedTreeHead};
use tokio::sync::Mutex;

use super::{READ_BATCH, hex, integrity_failure, witness};
use crate::error::AppError;
use crate::state::App;

/// The signer's state: the folded range and what was published last.
#[derive(Default)]
pub struct TreeHeadSigner {
    state: Mutex<SignerState>,
}

#[derive(Default)]
struct SignerState {
    /// Compact range of leaves `[0, size)`; `None` until first built.
    range: Option<CompactRange>,
    /// The newest head this process signed.
    last_signed: Option<SignedTreeHead>,
    /// Size of the newest head published (stored and witnessed) by this process.
    last_published: Option<u64>,
}

/// A head another copy vouches for, which the rebuilt range must reproduce.
struct Anchor {
    source: &'static str,
    head: SignedTreeHead,
}

impl App {
    /// Signs a fresh head over the whole log now and publishes it when its size is new.
    pub async fn sign_tree_head(&self) -> Result<SignedTreeHead, AppError> {
        let signer = &self.inner().audit.signer;
        let mut state = signer.state.lock().await;
        let range = self.caught_up_range(&mut state).await?;
        let head = self
            .audit_key()
            .sign_tree_head(range.size(), range.root(), self.now());
        if state.last_published != Some(head.tree_size) {
            self.publish_tree_head(&head).await?;
            state.last_published = Some(head.tree_size);
        }
        state.last_signed = Some(head.clone());
        Ok(head)
    }

    /// Signs and publishes a head only if entries were added since the last one.
    pub async fn sign_tree_head_if_grown(&self) -> Result<Option<SignedTreeHead>, AppError> {
        let size = {
            let signer = &self.inner().audit.signer;
            let mut state = signer.state.lock().await;
            let range = self.caught_up_range(&mut state).await?;
            if state.last_published.is_none() {
                let stored = self.store().latest_tree_head().await?;
                state.last_published = stored
                    .and_then(|body| serde_json::from_str::<SignedTreeHead>(&body).ok())
                    .map(|head| head.tree_size);
            }
            if state.last_published == Some(range.size()) {
                return Ok(None);
            }
            range.size()
        };
        tracing::debug!(target: "spiritus::audit", tree_size = size, "the audit log grew; signing a new tree head");
        self.sign_tree_head().await.map(Some)
    }

    /// Returns the newest head this process signed, if any.
    pub async fn last_signed_tree_head(&self) -> Option<SignedTreeHead> {
        self.inner()
            .audit
            .signer
            .state
            .lock()
            .await
            .last_signed
            .clone()
    }

    /// Brings the range up to the store's head and returns a copy of it.
    async fn caught_up_range(&self, state: &mut SignerState) -> Result<CompactRange, AppError> {
        let (size, _) = self.store().audit_head().await?;
        let checkpoint = self.audit_checkpoint().await?;
        let pruned = checkpoint
            .as_ref()
            .map_or(0, |signed| signed.checkpoint.pruned_size());

        let rebuilding = state
            .range
            .as_ref()
            .is_none_or(|range| range.size() < pruned);
        if rebuilding {
            state.range = Some(
                checkpoint
                    .as_ref()
                    .map(|signed| signed.checkpoint.range().clone())
                    .unwrap_or_default(),
            );
        }
        let mut range = state.range.clone().unwrap_or_default();
        if range.size() > size {
            return Err(integrity_failure(
                self,
                format!(
                    "the store's audit head counts {size} entries but {} were already signed: the newest entries were removed",
                    range.size()
                ),
            ));
        }

        let anchors = if rebuilding {
            self.anchors(pruned).await?
        } else {
            Vec::new()
        };
        let roots = self.fold_new_leaves(&mut range, size, &anchors).await?;
        check_anchors(self, &anchors, &roots, &range)?;
        state.range = Some(range.clone());
        Ok(range)
    }

    /// Appends leaf hashes `[range.size(), size)` from the store and returns the root at each
    /// anchor size passed on the way.
    async fn fold_new_leaves(
        &self,
        range: &mut CompactRange,
        size: u64,
        anchors: &[Anchor],
    ) -> Result<Vec<(u64, Hash)>, AppError> {
        let mut roots = Vec::new();
        while range.size() < size {
            let from = range.size();
            let to = size.min(from.saturating_add(READ_BATCH));
            let leaves = self.store().audit_leaf_hashes(from, to).await?;
            if leaves.len() as u64 != to - from {
                return Err(integrity_failure(
                    self,
                    format!(
                        "entries {from}..{to} should be stored but only {} are: entries were deleted",
                        leaves.len()
                    ),
                ));
            }
            for leaf in leaves {
                range.append(leaf);
                if anchors
                    .iter()
                    .any(|anchor| anchor.head.tree_size == range.size())
                {
                    roots.push((range.size(), range.root()));
                }
            }
        }
        Ok(roots)
    }

    /// Returns the newest stored head and the newest witnessed head, when they cover retained
    /// entries.
    async fn anchors(&self, pruned: u64) -> Result<Vec<Anchor>, AppError> {
        let mut anchors = Vec::new();
        if let Some(body) = self.store().latest_tree_head().await? {
            let head: SignedTreeHead = serde_json::from_str(&body).map_err(|error| {
                AppError::Internal(format!(
                    "the newest stored tree head is unreadable: {error}"
                ))
            })?;
            anchors.push(Anchor {
                source: "the newest stored tree head",
                head,
            });
        }
        if let Some(head) = witness::read_heads(self.config())?.pop() {
            anchors.push(Anchor {
                source: "the newest witnessed tree head",
                head,
            });
        }
        let key = self.audit_key().verifying_key();
        anchors.retain(|anchor| anchor.head.tree_size > pruned);
        for anchor in &anchors {
            anchor.head.verify(&key).map_err(|error| {
                integrity_failure(
                    self,
                    format!("{} has a bad signature: {error}", anchor.source),
                )
            })?;
        }
        Ok(anchors)
    }

    /// Stores a head, appends it to the witness file and writes its log line.
    async fn publish_tree_head(&self, head: &SignedTreeHead) -> Result<(), AppError> {
        let body = serde_json::to_string(head)
            .map_err(|error| AppError::Internal(format!("cannot encode a tree head: {error}")))?;
        self.store()
            .save_tree_head(head.tree_size, &body, self.now())
            .await?;
        if let Err(error) = witness::append(self.config(), head) {
            tracing::error!(target: "spiritus::audit", %error, "cannot append the tree head to the witness file");
        }
        tracing::info!(
            target: "spiritus::audit",
            event = "tree_head_signed",
            tree_size = head.tree_size,
            root_hash = %hex(&head.root_hash),
            timestamp = %head.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            key_id = %head.key_id,
            signature = %base64::engine::general_purpose::STANDARD.encode(head.signature),
            "signed audit tree head"
        );
        Ok(())
    }
}

/// Fails when the rebuilt range disagrees with a head that another copy vouches for.
fn check_anchors(
    app: &App,
    anchors: &[Anchor],
    roots: &[(u64, Hash)],
    range: &CompactRange,
) -> Result<(), AppError> {
    for anchor in anchors {
        let size = anchor.head.tree_size;
        if size > range.size() {
            return Err(integrity_failure(
                app,
                format!(
                    "{} covers {size} entries but the log holds {}: the newest entries were removed",
                    anchor.source,
                    range.size()
                ),
            ));
        }
        let root = roots
            .iter()
            .find(|(at, _)| *at == size)
            .map(|(_, root)| *root);
        if root.is_some_and(|root| root != anchor.head.root_hash) {
            return Err(integrity_failure(
                app,
                format!(
                    "the first {size} entries no longer match {}: the log was rewritten",
                    anchor.source
                ),
            ));
        }
    }
    Ok(())
}
