//! Document processing (the processing function's service): from an uploaded
//! object to indexed, searchable passages.
//!
//! `pending → processing → ready`, or `failed` with a reason a person
//! understands. A run never leaves a document half-indexed: the old passages
//! are replaced as a whole, and a failed run removes what it wrote. The user's
//! file is parsed in a sandboxed child process ([`sandbox`]); every run counts
//! as an attempt before it starts, so a file that kills its runs is failed
//! after the second death instead of being retried for ever.

pub mod chunk;
pub mod ocr;
pub mod runs;
pub mod sandbox;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::ProcessingSettings;
use crate::error::{Error, Result};
use crate::metrics::{self, Metric};
use crate::model::object_key::parse_object_key;
use crate::model::text::document_title;
use crate::model::{timestamp, Chunk, Document, DocumentStatus, Format, ProcessingOutcome};
use crate::ports::{DocumentStore, Embedder, ObjectStore, OcrRequest, OcrService, VectorIndex};
use askdocs_extract::Page as TextPage;
use runs::{Cancellation, RunningProcessing};
use sandbox::{OcrProgress, ParseFailure, Sandbox};

/// Runs of one document that may die before it is given up.
const MAX_INTERRUPTED_RUNS: u32 = 2;
pub const STOPPED_TWICE: &str = "processing stopped twice; upload it again";
/// What a document shows while a retry is waiting.
/// Why a document whose upload URL expired without its file is `failed`.
pub const UPLOAD_NEVER_ARRIVED: &str =
    "the upload never arrived before its URL expired; upload the file again";
pub const INTERRUPTED: &str = "processing was interrupted; it is being retried";

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
    /// Nothing to do: not a document key, an unknown or deleted document, one
    /// that is already processed, or a run that was cancelled.
    Skipped {
        reason: String,
    },
}

/// What a sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Documents whose run was interrupted, to process again.
    pub retry: Vec<Document>,
    /// Documents failed for good: they stopped twice, or their upload never came.
    pub failed: usize,
}

pub struct Processor {
    documents: Arc<dyn DocumentStore>,
    objects: Arc<dyn ObjectStore>,
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    sandbox: Sandbox,
    running: RunningProcessing,
    settings: ProcessingSettings,
    /// Reads scanned pages the sandbox left unread (Textract on AWS).
    ocr_service: Option<Arc<dyn OcrService>>,
}

/// A failure that ends the run: permanent ones become the document's reason.
enum RunError {
    Permanent(String),
    Retryable(Error),
    Cancelled,
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
        sandbox: Sandbox,
        running: RunningProcessing,
        settings: ProcessingSettings,
    ) -> Self {
        Processor {
            documents,
            objects,
            index,
            embedder,
            sandbox,
            running,
            settings,
            ocr_service: None,
        }
    }

    /// Scanned pages the sandbox leaves unread are read by `service`.
    pub fn with_ocr_service(mut self, service: Arc<dyn OcrService>) -> Self {
        self.ocr_service = Some(service);
        self
    }

    /// Processes the object at `key` (already URL-decoded).
    ///
    /// `Err` means a retry may succeed (throttling, timeouts, a broken backend):
    /// the document is then `failed` with a "will be retried" reason, which a
    /// retry may claim again. Permanent problems are `Ok(Processed::Failed)`.
    pub async fn process(&self, key: &str) -> Result<Processed> {
        let Some((ref user_id, ref document_id)) = parse_object_key(key) else {
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
        let Some(attempt) = self
            .documents
            .start_processing(user_id, document_id, &stale_before)
            .await?
        else {
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
        };
        tracing::info!(%user_id, %document_id, attempt, "processing started");

        let run = self.running.start(document_id);
        match self.run(&document, run.cancellation()).await {
            Ok(Indexed {
                pages,
                chunks,
                note,
            }) => {
                let outcome = ProcessingOutcome::Ready {
                    pages,
                    chunks,
                    note,
                };
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
                tracing::info!(%user_id, %document_id, pages, chunks, "document ready");
                metrics::count(Metric::DocumentsProcessed);
                Ok(Processed::Ready {
                    document_id: document_id.to_string(),
                    pages,
                    chunks,
                })
            }
            Err(RunError::Permanent(reason)) => {
                self.fail(&document, &reason).await?;
                tracing::info!(%user_id, %document_id, reason, "document failed");
                metrics::count(Metric::DocumentsFailed);
                Ok(Processed::Failed {
                    document_id: document_id.to_string(),
                    reason,
                })
            }
            Err(RunError::Cancelled) => {
                // Deleted (its record is gone or going) or the server is stopping
                // (the next start recovers the run): either way nothing to record.
                self.index.delete_document(user_id, document_id).await?;
                Ok(skipped(format!(
                    "processing of {document_id} was cancelled"
                )))
            }
            Err(RunError::Retryable(error)) => {
                tracing::warn!(%user_id, %document_id, error = %error, "processing failed; will be retried");
                self.fail(
                    &document,
                    "processing was interrupted by a temporary problem; it will be retried",
                )
                .await?;
                Err(error)
            }
        }
    }

    /// S3 reported the object at `key` removed: if its document is gone too,
    /// none of its passages may stay in the index.
    pub async fn forget(&self, key: &str) -> Result<Processed> {
        let Some((ref user_id, ref document_id)) = parse_object_key(key) else {
            return Ok(skipped(format!("{key} is not a document upload")));
        };
        if self.documents.get(user_id, document_id).await?.is_some() {
            return Ok(skipped(format!("document {document_id} still exists")));
        }
        self.index.delete_document(user_id, document_id).await?;
        tracing::info!(
            %user_id,
            %document_id,
            "passages of a deleted document removed"
        );
        Ok(skipped(format!(
            "passages of deleted document {document_id} removed"
        )))
    }

    /// Finds runs that died and uploads that never arrived (the scheduled
    /// sweep in AWS): see [`Self::recover_interrupted`] and
    /// [`Self::fail_abandoned_uploads`].
    pub async fn sweep(&self) -> Result<Swept> {
        let stale = timestamp(chrono::Utc::now() - self.settings.stale_after);
        let mut swept = self.recover_interrupted(&stale).await?;
        let abandoned = self.fail_abandoned_uploads().await?;
        swept.failed += abandoned.failed;
        swept.retry.extend(abandoned.retry);
        Ok(swept)
    }

    /// Documents still `processing` from before `before` — runs that died, or
    /// (when the only process that runs them restarts) any run — are given up
    /// after their second death and otherwise marked for a retry, whose object
    /// key is returned.
    pub async fn recover_interrupted(&self, before: &str) -> Result<Swept> {
        let mut swept = Swept::default();
        for document in self
            .documents
            .in_status_since(DocumentStatus::Processing, before, 1000)
            .await?
        {
            let ids = (&document.user_id, &document.document_id);
            if document.attempts >= MAX_INTERRUPTED_RUNS {
                self.fail(&document, STOPPED_TWICE).await?;
                tracing::warn!(user_id = %ids.0, document_id = %ids.1, "processing stopped twice; given up");
                swept.failed += 1;
            } else {
                self.fail(&document, INTERRUPTED).await?;
                tracing::warn!(user_id = %ids.0, document_id = %ids.1, "interrupted processing recovered");
                swept.retry.push(document);
            }
        }
        Ok(swept)
    }

    /// Documents still `uploading` after their upload URL expired, or
    /// `pending` long after their file came: a document whose file is stored
    /// lost its event (or waits in a long queue) and is returned to process
    /// again; one without a file is failed, its upload never arrived. A file
    /// that arrives after all is still processed: a `failed` document may be
    /// started again.
    pub async fn fail_abandoned_uploads(&self) -> Result<Swept> {
        let now = chrono::Utc::now();
        let mut swept = Swept::default();
        for (status, after) in [
            (
                DocumentStatus::Uploading,
                self.settings.abandon_upload_after,
            ),
            (DocumentStatus::Pending, self.settings.abandon_pending_after),
        ] {
            for document in self
                .documents
                .in_status_since(status, &timestamp(now - after), 1000)
                .await?
            {
                if self.objects.exists(&document.key).await? {
                    swept.retry.push(document);
                } else {
                    self.fail(&document, UPLOAD_NEVER_ARRIVED).await?;
                    swept.failed += 1;
                }
            }
        }
        Ok(swept)
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

    async fn run(
        &self,
        document: &Document,
        cancelled: &Cancellation,
    ) -> Result<Indexed, RunError> {
        let started = Instant::now();
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

        let mut parsed = match self.parse(document, bytes, format, cancelled).await {
            Ok(parsed) => parsed,
            Err(ParseFailure::Refused(reason)) => return Err(RunError::Permanent(reason)),
            Err(ParseFailure::Cancelled) => return Err(RunError::Cancelled),
            Err(ParseFailure::Unavailable(detail)) => {
                return Err(RunError::from(Error::Internal(anyhow::anyhow!(detail))))
            }
        };
        if !parsed.unread_pages.is_empty() {
            if let Some(service) = &self.ocr_service {
                let deadline = started + self.settings.stale_after.mul_f32(0.6);
                self.read_by_service(service.as_ref(), document, &mut parsed, deadline)
                    .await?;
            }
        }
        // Pages that are pictures of text OCR could not read here: the rest
        // of the document still indexes, and its owner is told.
        let mut note = None;
        if !parsed.unread_pages.is_empty() {
            let why = self.sandbox.why_ocr_is_unavailable();
            if parsed.chunks.is_empty() {
                return Err(RunError::Permanent(match parsed.format {
                    Format::Pdf => {
                        format!("the PDF has no text layer (a scan?) and was not read: {why}")
                    }
                    image => format!("the {} was not read: {why}", image.name()),
                }));
            }
            note = Some(format!(
                "{} without a text layer (scanned?) not read: {why}",
                page_list(&parsed.unread_pages)
            ));
        }
        if parsed.chunks.is_empty() {
            return Err(RunError::Permanent(match parsed.format {
                Format::Pdf if parsed.ocr_pages > 0 => {
                    "OCR found no text on the PDF's scanned pages".to_string()
                }
                Format::Pdf => "the PDF has no extractable text".to_string(),
                image if image.is_image() => format!("OCR found no text in the {}", image.name()),
                _ => "the file contains no text".to_string(),
            }));
        }

        // Embedding gets what is left of the run's time; a run that outlives
        // its lifetime would be taken for dead and started again.
        let deadline = started + self.settings.stale_after.mul_f32(0.9);
        let title = document_title(&document.file_name);
        let mut chunks = Vec::with_capacity(parsed.chunks.len());
        for batch in parsed.chunks.chunks(self.settings.embed_batch.max(1)) {
            if cancelled.is_cancelled() {
                return Err(RunError::Cancelled);
            }
            if Instant::now() > deadline {
                return Err(RunError::Permanent(format!(
                    "the document took longer than {} to process; split it into smaller files",
                    minutes(self.settings.stale_after.mul_f32(0.9))
                )));
            }
            let texts: Vec<String> = batch.iter().map(|draft| draft.text.clone()).collect();
            let vectors = tokio::select! {
                vectors = self.embedder.embed_passages(&title, &texts) => vectors?,
                _ = cancelled.cancelled() => return Err(RunError::Cancelled),
            };
            if vectors.len() != texts.len() {
                return Err(RunError::Retryable(Error::Internal(anyhow::anyhow!(
                    "the embedder returned {} vectors for {} texts",
                    vectors.len(),
                    texts.len()
                ))));
            }
            chunks.extend(batch.iter().zip(vectors).map(|(draft, vectors)| Chunk {
                user_id: document.user_id.clone(),
                document_id: document.document_id.clone(),
                ordinal: draft.ordinal,
                page: draft.page,
                text: draft.text.clone(),
                embedding: vectors.passage,
                sentence_vectors: vectors.sentences,
            }));
        }

        // Replace, never add to: a second delivery of the same upload leaves one copy.
        self.index
            .delete_document(&document.user_id, &document.document_id)
            .await?;
        self.index.upsert(&chunks).await?;
        Ok(Indexed {
            pages: parsed.pages,
            chunks: chunks.len() as u32,
            note,
        })
    }

    /// Reads the pages the sandbox left unread with the OCR service, and adds
    /// their passages in page order.
    async fn read_by_service(
        &self,
        service: &dyn OcrService,
        document: &Document,
        parsed: &mut sandbox::Parsed,
        deadline: Instant,
    ) -> Result<(), RunError> {
        let pages = std::mem::take(&mut parsed.unread_pages);
        let progress = format!("reading {} scanned pages by OCR", pages.len());
        if let Err(error) = self
            .documents
            .report_progress(&document.user_id, &document.document_id, &progress)
            .await
        {
            tracing::warn!(error = %error, "reporting OCR progress failed");
        }
        let read = service
            .read_pages(OcrRequest {
                key: &document.key,
                format: parsed.format,
                pages: &pages,
                run_token: document.document_id.as_str(),
                deadline,
            })
            .await
            .map_err(|error| match error {
                Error::Unprocessable { message, .. } => RunError::Permanent(message),
                other => RunError::from(other),
            })?;
        let texts: Vec<TextPage> = read
            .into_iter()
            .map(|(number, text)| TextPage { number, text })
            .collect();
        let room = self.settings.max_chunks.saturating_sub(parsed.chunks.len());
        let more =
            chunk::chunk_pages_bounded(&texts, self.settings.chunks, room).map_err(|_| {
                RunError::Permanent(format!(
                    "the document is too long: it makes more than {} passages",
                    self.settings.max_chunks
                ))
            })?;
        parsed.ocr_pages += pages.len() as u32;
        parsed.chunks.extend(more);
        // One page's passages all come from one reader: page order is enough.
        parsed.chunks.sort_by_key(|draft| draft.page);
        for (ordinal, draft) in parsed.chunks.iter_mut().enumerate() {
            draft.ordinal = ordinal as u32;
        }
        Ok(())
    }

    /// Parses in the sandbox; while OCR reads scanned pages, the document's
    /// status says how many are done.
    async fn parse(
        &self,
        document: &Document,
        bytes: Vec<u8>,
        format: Format,
        cancelled: &Cancellation,
    ) -> std::result::Result<sandbox::Parsed, ParseFailure> {
        let (progress, mut reported) = tokio::sync::mpsc::unbounded_channel::<OcrProgress>();
        let documents = self.documents.clone();
        let (user_id, document_id) = (document.user_id.clone(), document.document_id.clone());
        let reporter = tokio::spawn(async move {
            while let Some(step) = reported.recv().await {
                let text = format!(
                    "reading scanned pages by OCR: {} of {} done",
                    step.done, step.total
                );
                if let Err(error) = documents
                    .report_progress(&user_id, &document_id, &text)
                    .await
                {
                    tracing::warn!(error = %error, "reporting OCR progress failed");
                }
            }
        });
        let parsed = self
            .sandbox
            .parse_with_progress(bytes, format, cancelled, Some(&progress))
            .await;
        drop(progress);
        let _ = reporter.await;
        parsed
    }
}

/// What a run indexed.
struct Indexed {
    pages: u32,
    chunks: u32,
    note: Option<String>,
}

/// "page 3", "pages 2, 5 and 9", or the first few of many.
fn page_list(pages: &[u32]) -> String {
    const SHOWN: usize = 8;
    let names: Vec<String> = pages.iter().take(SHOWN).map(u32::to_string).collect();
    match pages.len() {
        1 => format!("page {}", names[0]),
        n if n <= SHOWN => format!("pages {} and {}", names[..n - 1].join(", "), names[n - 1]),
        n => format!("{n} pages ({}, …)", names.join(", ")),
    }
}

fn minutes(duration: Duration) -> String {
    format!("{} minutes", duration.as_secs().div_ceil(60))
}

fn skipped(reason: String) -> Processed {
    tracing::info!(reason, "nothing to process");
    Processed::Skipped { reason }
}
