//! Document processing: from an uploaded object to indexed, searchable chunks.
//!
//! `pending → processing → ready`, or `failed` with a reason a person
//! understands. A run never leaves a document half-indexed: the old chunks are
//! replaced as a whole, and a failed run removes what it wrote.

use std::sync::Arc;
use std::time::Duration;

use crate::chunk::{chunk_pages, ChunkSettings};
use crate::documents::parse_object_key;
use crate::error::{Error, Result};
use crate::extract::{extract, Format};
use crate::model::{timestamp, Chunk, Document, DocumentStatus, ProcessingOutcome};
use crate::ports::{DocumentStore, Embedder, ObjectStore, VectorIndex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingSettings {
    pub chunks: ChunkSettings,
    pub max_upload_bytes: u64,
    /// Texts per call to the embedder.
    pub embed_batch: usize,
    /// A run still `processing` after this long has died (Lambda's limit is 15 min).
    pub stale_after: Duration,
    /// Passages one document may have: bounds the work (and time) of one run.
    pub max_chunks: usize,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        ProcessingSettings {
            chunks: ChunkSettings::default(),
            max_upload_bytes: 50 * 1024 * 1024,
            embed_batch: 32,
            stale_after: Duration::from_secs(15 * 60),
            max_chunks: 5_000,
        }
    }
}

/// What one processing run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    Ready {
        document_id: String,
        pages: u32,
        chunks: u32,
    },
    Failed {
        document_id: String,
        reason: String,
    },
    /// Nothing to do: not a document key, an unknown or deleted document, or one
    /// that is already processed or being processed.
    Skipped {
        reason: String,
    },
}

pub struct Processor {
    documents: Arc<dyn DocumentStore>,
    objects: Arc<dyn ObjectStore>,
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    settings: ProcessingSettings,
}

/// A failure that ends the run: permanent ones become the document's reason.
enum RunError {
    Permanent(String),
    Retryable(Error),
}

impl From<Error> for RunError {
    fn from(error: Error) -> Self {
        if error.is_retryable() {
            RunError::Retryable(error)
        } else {
            // Logged in full here; the owner reads a sentence, never backend detail.
            tracing::error!(error = %error, "processing failed permanently");
            RunError::Permanent(
                "processing failed on our side; please upload the file again".into(),
            )
        }
    }
}

impl Processor {
    pub fn new(
        documents: Arc<dyn DocumentStore>,
        objects: Arc<dyn ObjectStore>,
        index: Arc<dyn VectorIndex>,
        embedder: Arc<dyn Embedder>,
        settings: ProcessingSettings,
    ) -> Self {
        Processor {
            documents,
            objects,
            index,
            embedder,
            settings,
        }
    }

    /// Processes the object at `key` (already URL-decoded).
    ///
    /// `Err` means a retry may succeed (throttling, timeouts, a broken backend):
    /// the document is then `failed` with a "will be retried" reason, which a
    /// retry may claim again. Permanent problems are `Ok(Processed::Failed)`.
    pub async fn process(&self, key: &str) -> Result<Processed> {
        let Some((user_id, document_id)) = parse_object_key(key) else {
            return Ok(skipped(format!("{key} is not a document upload")));
        };
        let Some(document) = self.documents.get(user_id, document_id).await? else {
            // Every upload is recorded before its file can arrive, so a file without a
            // record was PUT after its document was deleted: it must not linger.
            self.objects.delete(key).await?;
            return Ok(skipped(format!(
                "no document {document_id} for this key (deleted?); file removed"
            )));
        };
        if document.key != key {
            return Ok(skipped(format!(
                "{key} is not the file of document {document_id}"
            )));
        }
        let stale_before = timestamp(chrono::Utc::now() - self.settings.stale_after);
        if !self
            .documents
            .start_processing(user_id, document_id, &stale_before)
            .await?
        {
            if document.status == DocumentStatus::Processing {
                // Another run holds it. If that run dies, only a later retry can take
                // over, so ask for one rather than dropping this event.
                return Err(Error::Unavailable(anyhow::anyhow!(
                    "document {document_id} is being processed by another run"
                )));
            }
            return Ok(skipped(format!(
                "document {document_id} is already {}",
                document.status.as_str()
            )));
        }
        tracing::info!(user_id, document_id, "processing started");

        match self.run(&document).await {
            Ok((pages, chunks)) => {
                let outcome = ProcessingOutcome::Ready { pages, chunks };
                if !self
                    .documents
                    .finish_processing(user_id, document_id, &outcome)
                    .await?
                {
                    // Deleted while we worked: take back what we indexed.
                    self.index.delete_document(user_id, document_id).await?;
                    return Ok(skipped(format!(
                        "document {document_id} was deleted during processing"
                    )));
                }
                tracing::info!(user_id, document_id, pages, chunks, "document ready");
                Ok(Processed::Ready {
                    document_id: document_id.to_string(),
                    pages,
                    chunks,
                })
            }
            Err(RunError::Permanent(reason)) => {
                self.fail(&document, &reason).await?;
                tracing::info!(user_id, document_id, reason, "document failed");
                Ok(Processed::Failed {
                    document_id: document_id.to_string(),
                    reason,
                })
            }
            Err(RunError::Retryable(error)) => {
                tracing::warn!(user_id, document_id, error = %error, "processing failed; will be retried");
                self.fail(
                    &document,
                    "processing was interrupted by a temporary problem; it will be retried",
                )
                .await?;
                Err(error)
            }
        }
    }

    /// Marks runs that died (still `processing` after the stale window, or any
    /// run when `all` — e.g. when the only process that runs them restarts) as
    /// `failed`, so a retry can claim them; returns their object keys and sizes
    /// for the caller to process again.
    pub async fn recover_interrupted(&self, all: bool) -> Result<Vec<(String, u64)>> {
        let before = if all {
            // Later than any timestamp: every run still marked `processing`.
            "9999-12-31T23:59:59.999Z".to_string()
        } else {
            timestamp(chrono::Utc::now() - self.settings.stale_after)
        };
        let stuck = self.documents.stuck_in_processing(&before, 1000).await?;
        let mut keys = Vec::with_capacity(stuck.len());
        for document in stuck {
            self.fail(&document, "processing was interrupted; it is being retried")
                .await?;
            tracing::warn!(user_id = %document.user_id, document_id = %document.document_id, "interrupted processing recovered");
            keys.push((document.key, document.size));
        }
        Ok(keys)
    }

    /// `failed`, with nothing of this run left in the index.
    async fn fail(&self, document: &Document, reason: &str) -> Result<()> {
        self.index
            .delete_document(&document.user_id, &document.document_id)
            .await?;
        let outcome = ProcessingOutcome::Failed {
            reason: reason.to_string(),
        };
        self.documents
            .finish_processing(&document.user_id, &document.document_id, &outcome)
            .await?;
        Ok(())
    }

    async fn run(&self, document: &Document) -> Result<(u32, u32), RunError> {
        let limit = self.settings.max_upload_bytes;
        let bytes = self
            .objects
            .get(&document.key)
            .await?
            .ok_or_else(|| RunError::Permanent("the uploaded file is missing".into()))?;
        if bytes.len() as u64 > limit {
            return Err(RunError::Permanent(format!(
                "the file is larger than {} MB",
                limit / (1024 * 1024)
            )));
        }
        let format = Format::resolve(Some(&document.content_type), &document.file_name)
            .ok_or_else(|| {
                RunError::Permanent(format!("{} files are not supported", document.content_type))
            })?;

        // Parsing is CPU work that may panic on hostile input: off the async threads.
        let extracted = tokio::task::spawn_blocking(move || extract(&bytes, format))
            .await
            .map_err(|_| RunError::Permanent("the file could not be read".into()))?
            .map_err(|error| RunError::Permanent(error.0))?;
        let pages = extracted.pages.len() as u32;

        let drafts = chunk_pages(&extracted.pages, self.settings.chunks);
        if drafts.is_empty() {
            return Err(RunError::Permanent(match extracted.format {
                Format::Pdf => "the PDF has no extractable text (scanned?)".to_string(),
                _ => "the file contains no text".to_string(),
            }));
        }

        if drafts.len() > self.settings.max_chunks {
            return Err(RunError::Permanent(format!(
                "the document is too long: it makes {} passages and the most is {}",
                drafts.len(),
                self.settings.max_chunks
            )));
        }

        let mut chunks = Vec::with_capacity(drafts.len());
        for batch in drafts.chunks(self.settings.embed_batch.max(1)) {
            let texts: Vec<String> = batch.iter().map(|draft| draft.text.clone()).collect();
            let vectors = self.embedder.embed(&texts).await?;
            if vectors.len() != texts.len() {
                return Err(RunError::Retryable(Error::Internal(anyhow::anyhow!(
                    "the embedder returned {} vectors for {} texts",
                    vectors.len(),
                    texts.len()
                ))));
            }
            chunks.extend(batch.iter().zip(vectors).map(|(draft, embedding)| Chunk {
                user_id: document.user_id.clone(),
                document_id: document.document_id.clone(),
                ordinal: draft.ordinal,
                page: draft.page,
                text: draft.text.clone(),
                embedding,
            }));
        }

        // Replace, never add to: a second delivery of the same upload leaves one copy.
        self.index
            .delete_document(&document.user_id, &document.document_id)
            .await?;
        self.index.upsert(&chunks).await?;
        Ok((pages, chunks.len() as u32))
    }
}

fn skipped(reason: String) -> Processed {
    tracing::info!(reason, "nothing to process");
    Processed::Skipped { reason }
}
