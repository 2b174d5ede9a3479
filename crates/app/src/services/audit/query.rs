//! Reading the log: filtered pages, newest first, and the two export formats.
//!
//! The full export is the crate's JSON-lines format (header with the checkpoint, every
//! retained entry, then a signed head over the whole log) and is produced in chunks, so a
//! large log never sits in memory at once. A filtered export carries an inclusion proof per
//! entry instead ([`spiritus_audit::proof_export`]), because the entries between the selected
//! ones are missing and the chain cannot be followed.

use chrono::{DateTime, Utc};
use spiritus_audit::export::{EXPORT_FORMAT, EXPORT_VERSION, ExportHeader};
use spiritus_audit::{AuditEntry, ProofExportWriter, SignedTreeHead};
use spiritus_store::AuditQuery;

use super::READ_BATCH;
use crate::error::AppError;
use crate::state::App;

/// Maximum entries per page.
pub const MAX_PAGE: u32 = 1000;
/// Maximum entries in a filtered, proof-carrying export. The proofs share one pass over the
/// leaves, and each adds a few hundred hashes.
pub const MAX_PROVEN_ENTRIES: u32 = 1000;

/// Filters for reading entries. Every field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub success: Option<bool>,
    /// Page size, 1 to [`MAX_PAGE`].
    pub limit: u32,
    /// `next_cursor` of the previous page: only entries older than it.
    pub cursor: Option<String>,
}

impl AuditFilter {
    /// Reports whether any field narrows the selection (paging aside).
    pub fn selects(&self) -> bool {
        self.from.is_some()
            || self.to.is_some()
            || self.actor_id.is_some()
            || self.ip.is_some()
            || self.action.is_some()
            || self.resource_type.is_some()
            || self.resource_id.is_some()
            || self.success.is_some()
    }

    fn store_query(&self, before_index: Option<u64>) -> AuditQuery {
        AuditQuery {
            from: self.from,
            to: self.to,
            actor_id: self.actor_id.clone(),
            ip: self.ip.clone(),
            action: self.action.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            success: self.success,
            before_index,
            limit: self.limit.clamp(1, MAX_PAGE),
        }
    }
}

/// One page of entries, newest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Reads a cursor: the index of the oldest entry of the previous page, in decimal.
fn parse_cursor(cursor: Option<&str>) -> Result<Option<u64>, AppError> {
    cursor
        .map(|raw| {
            raw.parse::<u64>().map_err(|_| {
                AppError::validation(
                    "cursor",
                    "the cursor is invalid; pass next_cursor from the previous page unchanged",
                )
            })
        })
        .transpose()
}

impl App {
    /// Entries matching `filter`, newest first, one page at a time.
    pub async fn query_audit_log(&self, filter: &AuditFilter) -> Result<AuditPage, AppError> {
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            return Err(AppError::validation("from", "must not be after to"));
        }
        let before = parse_cursor(filter.cursor.as_deref())?;
        let query = filter.store_query(before);
        let items = self.store().query_audit(&query).await?;
        let next_cursor = (items.len() as u32 == query.limit)
            .then(|| items.last().map(|entry| entry.index.to_string()))
            .flatten();
        Ok(AuditPage { items, next_cursor })
    }

    /// Starts an export: the whole log, or the entries matching `filter` with their proofs.
    pub async fn start_audit_export(
        &self,
        filter: Option<AuditFilter>,
    ) -> Result<AuditExport, AppError> {
        let head = self.sign_tree_head().await?;
        match filter.filter(AuditFilter::selects) {
            Some(filter) => {
                let bytes = self.proven_export(&filter, &head).await?;
                Ok(AuditExport::Ready(Some(bytes)))
            }
            None => self.full_export(head).await,
        }
    }

    async fn full_export(&self, head: SignedTreeHead) -> Result<AuditExport, AppError> {
        let checkpoint = self.audit_checkpoint().await?;
        let next = checkpoint
            .as_ref()
            .map_or(0, |signed| signed.checkpoint.pruned_size());
        let header = ExportHeader {
            format: EXPORT_FORMAT.to_owned(),
            version: EXPORT_VERSION,
            public_key: self.audit_key().verifying_key(),
            checkpoint,
        };
        Ok(AuditExport::Streaming(Box::new(StreamState {
            app: self.clone(),
            header: Some(json_line(&header)?),
            next,
            head: Some(head),
        })))
    }

    /// The entries matching `filter` below the head's size, each with its inclusion proof.
    async fn proven_export(
        &self,
        filter: &AuditFilter,
        head: &SignedTreeHead,
    ) -> Result<Vec<u8>, AppError> {
        let mut query = filter.store_query(Some(head.tree_size));
        query.limit = filter.limit.clamp(1, MAX_PROVEN_ENTRIES);
        let mut entries = self.store().query_audit(&query).await?;
        entries.reverse();

        let material = self.proof_material("tree_size", head.tree_size).await?;
        let key = self.audit_key().verifying_key();
        let head = head.clone();
        tokio::task::spawn_blocking(move || {
            let indexes: Vec<u64> = entries.iter().map(|entry| entry.index).collect();
            let proofs = material
                .log()
                .inclusion_proofs(&indexes, head.tree_size)
                .map_err(|error| {
                    AppError::Internal(format!("cannot prove the entries: {error}"))
                })?;
            let mut writer = ProofExportWriter::new(Vec::new(), &key, &head)?;
            for (entry, proof) in entries.iter().zip(&proofs) {
                writer.write_entry(entry, proof)?;
            }
            Ok(writer.finish()?)
        })
        .await
        .map_err(|error| AppError::Internal(format!("export task failed: {error}")))?
    }
}

impl From<spiritus_audit::ExportError> for AppError {
    fn from(error: spiritus_audit::ExportError) -> Self {
        AppError::Internal(format!("cannot write the export: {error}"))
    }
}

/// An export in progress; read it with [`AuditExport::next_chunk`] until `None`.
pub enum AuditExport {
    /// A proof-carrying export, built whole (it is capped in size).
    Ready(Option<Vec<u8>>),
    /// A full export, read from the store batch by batch.
    Streaming(Box<StreamState>),
}

/// Where a full export stands.
pub struct StreamState {
    app: App,
    header: Option<Vec<u8>>,
    next: u64,
    /// The closing head; its size is where the export ends.
    head: Option<SignedTreeHead>,
}

impl AuditExport {
    /// The next piece of the file, or `None` when it is complete.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, AppError> {
        match self {
            AuditExport::Ready(bytes) => Ok(bytes.take()),
            AuditExport::Streaming(state) => state.next_chunk().await,
        }
    }
}

impl StreamState {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, AppError> {
        if let Some(header) = self.header.take() {
            return Ok(Some(header));
        }
        let Some(head) = &self.head else {
            return Ok(None);
        };
        let end = head.tree_size;
        if self.next >= end {
            let line = json_line(head)?;
            self.head = None;
            return Ok(Some(line));
        }
        let to = end.min(self.next.saturating_add(READ_BATCH));
        let entries = self.app.store().audit_entries(self.next, to).await?;
        if entries.len() as u64 != to - self.next {
            return Err(AppError::Unavailable(
                "entries were pruned while the export was read; start it again".into(),
            ));
        }
        let mut chunk = Vec::with_capacity(entries.len() * 512);
        for entry in &entries {
            chunk.extend(json_line(entry)?);
        }
        self.next = to;
        Ok(Some(chunk))
    }
}

fn json_line<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, AppError> {
    let mut line = serde_json::to_vec(value)
        .map_err(|error| AppError::Internal(format!("cannot encode an export line: {error}")))?;
    line.push(b'\n');
    Ok(line)
}
