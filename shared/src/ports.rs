//! One small trait per capability. The domain talks only to these; each has an
//! embedded adapter (SQLite, files, in-process models) and an AWS adapter, and
//! every adapter of a port passes the same contract suite (`testing`).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::model::text::titled;

use crate::config::Quota;
use crate::error::Result;
use crate::model::{
    Chunk, ConversationId, Document, DocumentId, DocumentStatus, Format, Generated,
    GenerationRequest, HistoryEntry, ListPosition, Page, ProcessingOutcome, ScoredChunk,
    SearchScope, StorageUsage, User, UserId,
};

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new account. A taken email is `Error::email_taken()` and
    /// leaves the store unchanged.
    async fn create(&self, user: &User) -> Result<()>;
    async fn get(&self, user_id: &UserId) -> Result<Option<User>>;
    /// `email` is already normalised.
    async fn find_by_email(&self, email: &str) -> Result<Option<User>>;
}

/// Revoked tokens, remembered until they would have expired anyway.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// `expires_at` is seconds since the Unix epoch; revoking twice is harmless.
    async fn revoke(&self, token_id: &str, expires_at: i64) -> Result<()>;
    async fn is_revoked(&self, token_id: &str) -> Result<bool>;
}

/// The key tokens are signed with, fetched once when first needed (so a cold
/// start never waits on the network for it).
#[async_trait]
pub trait SigningSecret: Send + Sync {
    async fn load(&self) -> Result<Vec<u8>>;
}

/// Public JSON documents on the web: an OpenID Connect issuer's discovery
/// document and its signing keys (JWKS).
#[async_trait]
pub trait PublicDocuments: Send + Sync {
    /// The JSON at `url`. A network failure, a non-2xx answer or a body that
    /// is not JSON is `Error::Unavailable`.
    async fn fetch_json(&self, url: &str) -> Result<serde_json::Value>;
}

/// Pages that are pictures of text, for an OCR service to read.
#[derive(Debug, Clone)]
pub struct OcrRequest<'a> {
    /// Where the upload is stored.
    pub key: &'a str,
    pub format: Format,
    /// The pages wanted (1-based); the service may read the others too.
    pub pages: &'a [u32],
    /// The same for every run of one document, so a retried run resumes the
    /// service's work instead of starting it again.
    pub run_token: &'a str,
    /// When to stop waiting; past it the read is `Error::Unavailable` (the
    /// document's run is retried and resumes).
    pub deadline: std::time::Instant,
}

/// An OCR service that reads stored uploads (Amazon Textract).
#[async_trait]
pub trait OcrService: Send + Sync {
    /// (page number, text) of each requested page, in the order asked.
    async fn read_pages(&self, request: OcrRequest<'_>) -> Result<Vec<(u32, String)>>;
}

/// Orders retrieved passages by how well each answers a question (Bedrock's
/// rerank models on AWS, an option). Without one, retrieval orders them by
/// their best sentence itself.
#[async_trait]
pub trait Reranker: Send + Sync {
    /// Each passage's relevance to the question (higher is better), in the
    /// order the passages were given.
    async fn relevance(&self, question: &str, passages: &[&str]) -> Result<Vec<f32>>;
    fn model_id(&self) -> &str;
}

/// A request a client can make directly against the object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    pub url: String,
    pub method: &'static str,
    /// Headers the client must send exactly as given (they are part of the signature).
    pub headers: BTreeMap<String, String>,
}

/// File storage: S3 in AWS, the data directory locally.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()>;
    /// `None` when there is no such object.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Whether an object is stored at `key`, without reading it.
    async fn exists(&self, key: &str) -> Result<bool>;
    /// Removes the object and every earlier version of it; deleting a missing
    /// object is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// A URL that accepts exactly one upload of `size` bytes of `content_type`,
    /// and only while no object exists at `key`.
    async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest>;
    async fn presign_download(
        &self,
        key: &str,
        file_name: &str,
        expires_in: Duration,
    ) -> Result<String>;
}

/// Document metadata, always addressed through its owner.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Records a new document if its owner's documents, it included, stay
    /// within `quota` (every document counts, with its declared size, until
    /// deleted). `Ok(false)`: over the quota, nothing written. Concurrent
    /// creates never overshoot it together.
    async fn create(&self, document: &Document, quota: &Quota) -> Result<bool>;
    /// How many documents, and bytes of them, the owner has.
    async fn usage(&self, user_id: &UserId) -> Result<StorageUsage>;
    async fn get(&self, user_id: &UserId, document_id: &DocumentId) -> Result<Option<Document>>;
    /// The owner's documents among `document_ids`, in the order asked; ids
    /// that are unknown or another owner's are left out. One read where the
    /// store can batch (a search needs the documents of several passages).
    async fn get_many(
        &self,
        user_id: &UserId,
        document_ids: &[DocumentId],
    ) -> Result<Vec<Document>> {
        let mut found = Vec::with_capacity(document_ids.len());
        for document_id in document_ids {
            found.extend(self.get(user_id, document_id).await?);
        }
        Ok(found)
    }
    /// Newest first; `after` continues from a previous page's `next`.
    async fn list(
        &self,
        user_id: &UserId,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<Document>>;
    /// Moves a document to `processing` if it is `pending` or `failed`, or stuck in
    /// `processing` since before `stale_before` (a run that died), and counts the
    /// attempt. Returns the attempt's number when this caller won the document;
    /// only one concurrent caller can.
    async fn start_processing(
        &self,
        user_id: &UserId,
        document_id: &DocumentId,
        stale_before: &str,
    ) -> Result<Option<u32>>;
    /// Records how processing ended. Returns false when the document no longer exists.
    async fn finish_processing(
        &self,
        user_id: &UserId,
        document_id: &DocumentId,
        outcome: &ProcessingOutcome,
    ) -> Result<bool>;
    /// Says how far a run has got (e.g. "reading scanned pages: 3 of 12"),
    /// shown as the status reason while the document is `processing`; a
    /// document in any other state is left as it is.
    async fn report_progress(
        &self,
        user_id: &UserId,
        document_id: &DocumentId,
        progress: &str,
    ) -> Result<()>;
    /// Returns whether there was such a document.
    async fn delete(&self, user_id: &UserId, document_id: &DocumentId) -> Result<bool>;
    /// Documents of any owner in `status` since before `updated_before`
    /// (e.g. runs that died, uploads that never arrived), oldest first, at most `limit`.
    async fn in_status_since(
        &self,
        status: DocumentStatus,
        updated_before: &str,
        limit: usize,
    ) -> Result<Vec<Document>>;
}

/// What a search looks for: the question's meaning and its words.
#[derive(Debug, Clone, Copy)]
pub struct SearchQuery<'a> {
    pub vector: &'a [f32],
    pub text: &'a str,
}

/// Passages found by each method, best first; the domain fuses them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchHits {
    /// Nearest by cosine similarity (`score` is the similarity, -1 to 1).
    pub by_meaning: Vec<ScoredChunk>,
    /// Containing the query's words, by BM25 (`score`: higher is better).
    pub by_words: Vec<ScoredChunk>,
}

/// Vectors and keywords of every chunk, searchable only within an owner's scope.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// Adds chunks; a chunk with the same document and ordinal is replaced.
    async fn upsert(&self, chunks: &[Chunk]) -> Result<()>;
    /// Removes every chunk of a document.
    async fn delete_document(&self, user_id: &UserId, document_id: &DocumentId) -> Result<()>;
    /// Up to `limit` passages by meaning and up to `limit` by words. A store
    /// without a keyword index ranks the words of a wider set found by meaning.
    async fn search(
        &self,
        scope: &SearchScope,
        query: SearchQuery<'_>,
        limit: usize,
    ) -> Result<SearchHits>;
    /// How many chunks a document has in the index.
    async fn count(&self, user_id: &UserId, document_id: &DocumentId) -> Result<usize>;
}

/// A passage's vector and its sentences' vectors (empty when not given).
#[derive(Debug, Clone, PartialEq)]
pub struct PassageVectors {
    pub passage: Vec<f32>,
    pub sentences: Vec<Vec<f32>>,
}

/// Turns texts into vectors, many at a time.
#[async_trait]
pub trait Embedder: Send + Sync {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
    /// Each passage of the document titled `title` (see
    /// `model::text::document_title`): its vector, of the passage read under
    /// its title (a CSV's rows never say "Ubuntu"; `ubuntu.csv` does), and,
    /// where this embedder gives them in the same pass, one per sentence of
    /// the passage itself (`model::text::sentence_spans` order), so an answer
    /// can weigh sentences without running the model again. Others give no
    /// sentence vectors.
    async fn embed_passages(&self, title: &str, texts: &[String]) -> Result<Vec<PassageVectors>> {
        let titled: Vec<String> = texts.iter().map(|text| titled(title, text).0).collect();
        Ok(self
            .embed(&titled)
            .await?
            .into_iter()
            .map(|passage| PassageVectors {
                passage,
                sentences: Vec::new(),
            })
            .collect())
    }
    fn dimensions(&self) -> usize;
    fn model_id(&self) -> &str;
}

/// Questions and answers, per user, newest first.
#[async_trait]
pub trait HistoryStore: Send + Sync {
    async fn append(&self, entry: &HistoryEntry) -> Result<()>;
    /// Newest first, optionally one conversation only; `after` continues a listing.
    async fn list(
        &self,
        user_id: &UserId,
        conversation_id: Option<&ConversationId>,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<HistoryEntry>>;
    /// Removes the passages' words of `document_id` from every citation of
    /// the owner's past answers (the document is being deleted); the answers
    /// stay, their citations marked as from a deleted document.
    async fn forget_document(&self, user_id: &UserId, document_id: &DocumentId) -> Result<()>;
}

/// Writes an answer from numbered passages, citing the ones it used as `[n]`.
#[async_trait]
pub trait Generator: Send + Sync {
    async fn generate(&self, request: &GenerationRequest) -> Result<Generated>;

    /// As [`Generator::generate`], also sending the answer's text to
    /// `written` as it is written: the pieces, joined and trimmed, are the
    /// answer. A generator that cannot stream sends its answer in one piece.
    /// Dropping the returned future stops the generation (nothing more is
    /// billed); a closed `written` ends it with an error.
    async fn generate_streaming(
        &self,
        request: &GenerationRequest,
        written: &AnswerText,
    ) -> Result<Generated> {
        let generated = self.generate(request).await?;
        written.send(&generated.answer).await?;
        Ok(generated)
    }

    fn model_id(&self) -> &str;
}

/// Where a streaming answer's text goes as it is written: the pieces in the
/// order the client reads them.
#[derive(Debug, Clone)]
pub struct AnswerText(tokio::sync::mpsc::Sender<String>);

impl AnswerText {
    /// A sender, and the receiving end the pieces arrive at. A few pieces
    /// wait in between while the client is slower than the model.
    pub fn channel() -> (AnswerText, tokio::sync::mpsc::Receiver<String>) {
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        (AnswerText(sender), receiver)
    }

    /// Sends one piece; an empty piece is not sent. Fails once nobody listens
    /// (the client hung up), so the generator stops writing.
    pub async fn send(&self, piece: &str) -> Result<()> {
        if piece.is_empty() {
            return Ok(());
        }
        self.0.send(piece.to_string()).await.map_err(|_| {
            crate::error::Error::Internal(anyhow::anyhow!(
                "nobody reads the answer any more (the client hung up)"
            ))
        })
    }
}

/// Work for the processing function, each item run in an invocation of its
/// own (SQS in AWS, whose event source bounds how many run at once).
#[async_trait]
pub trait ProcessingQueue: Send + Sync {
    /// Queues the document's file to be processed again.
    async fn requeue(&self, document: &Document) -> Result<()>;
    /// A message whose work failed in a way a retry may fix is delivered
    /// again after `delay`, rather than after the queue's visibility timeout
    /// (which must outlast the longest run).
    async fn retry_later(&self, receipt_handle: &str, delay: Duration) -> Result<()>;
}

/// A message on the processing queue that is not an S3 notification: a
/// document to process again (the sweep's re-drive).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reprocess {
    pub user_id: UserId,
    pub document_id: DocumentId,
    /// The document's object key, as its S3 notification names it.
    pub key: String,
}

/// The body of a [`Reprocess`] message: `{"reprocess": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReprocessMessage {
    pub reprocess: Reprocess,
}

impl ReprocessMessage {
    pub fn for_document(document: &Document) -> Self {
        ReprocessMessage {
            reprocess: Reprocess {
                user_id: document.user_id.clone(),
                document_id: document.document_id.clone(),
                key: document.key.clone(),
            },
        }
    }
}
