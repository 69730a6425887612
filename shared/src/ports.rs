//! One small trait per capability. The domain talks only to these; each has an
//! embedded adapter (SQLite, files) and an AWS adapter, and every adapter passes
//! the same shared test suite in [`crate::testing`].

use async_trait::async_trait;

use crate::error::Result;
use crate::model::User;

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new account. A taken email is `Error::Conflict { code: "email_taken" }`
    /// and leaves the store unchanged.
    async fn create(&self, user: &User) -> Result<()>;
    async fn get(&self, user_id: &str) -> Result<Option<User>>;
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

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{
    Chunk, Document, ListPosition, Page, ProcessingOutcome, ScoredChunk, SearchScope,
};

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
    /// Deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// A URL that accepts exactly one upload of `size` bytes of `content_type`.
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
    async fn create(&self, document: &Document) -> Result<()>;
    async fn get(&self, user_id: &str, document_id: &str) -> Result<Option<Document>>;
    /// Newest first; `after` continues from a previous page's `next`.
    async fn list(
        &self,
        user_id: &str,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<Document>>;
    /// Moves a document to `processing` if it is `pending` or `failed`, or stuck in
    /// `processing` since before `stale_before` (a crashed run). Returns whether this
    /// caller won the document; only one concurrent caller can.
    async fn start_processing(
        &self,
        user_id: &str,
        document_id: &str,
        stale_before: &str,
    ) -> Result<bool>;
    /// Records how processing ended. Returns false when the document no longer exists.
    async fn finish_processing(
        &self,
        user_id: &str,
        document_id: &str,
        outcome: &ProcessingOutcome,
    ) -> Result<bool>;
    /// Returns whether there was such a document.
    async fn delete(&self, user_id: &str, document_id: &str) -> Result<bool>;
    /// Documents of any owner still `processing` since before `updated_before`
    /// (runs that died), oldest first, at most `limit`.
    async fn stuck_in_processing(
        &self,
        updated_before: &str,
        limit: usize,
    ) -> Result<Vec<Document>>;
}

/// Vectors and keywords of every chunk, searchable only within an owner's scope.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// Adds chunks; a chunk with the same document and ordinal is replaced.
    async fn upsert(&self, chunks: &[Chunk]) -> Result<()>;
    /// Removes every chunk of a document.
    async fn delete_document(&self, user_id: &str, document_id: &str) -> Result<()>;
    /// Nearest chunks by cosine similarity.
    async fn search(
        &self,
        scope: &SearchScope,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<ScoredChunk>>;
    /// Chunks that contain the query's words, best first.
    async fn keyword_search(
        &self,
        scope: &SearchScope,
        query: &str,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>>;
    /// How many chunks a document has in the index.
    async fn count(&self, user_id: &str, document_id: &str) -> Result<usize>;
}

/// Turns texts into vectors, many at a time.
#[async_trait]
pub trait Embedder: Send + Sync {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
    fn dimensions(&self) -> usize;
    fn model_id(&self) -> &str;
}

use crate::model::{Generated, GenerationRequest, HistoryEntry};

/// Questions and answers, per user, newest first.
#[async_trait]
pub trait HistoryStore: Send + Sync {
    async fn append(&self, entry: &HistoryEntry) -> Result<()>;
    /// Newest first, optionally one conversation only; `after` continues a listing.
    async fn list(
        &self,
        user_id: &str,
        conversation_id: Option<&str>,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<HistoryEntry>>;
}

/// Writes an answer from numbered passages, citing the ones it used.
#[async_trait]
pub trait Generator: Send + Sync {
    async fn generate(&self, request: &GenerationRequest) -> Result<Generated>;
    fn model_id(&self) -> &str;
}
