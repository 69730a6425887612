//! The domain's vocabulary: data types as stored and as shown to clients,
//! the document formats, and small text helpers every layer may use.

pub mod characters;
pub mod events;
mod ids;
pub mod object_key;
pub mod text;
pub mod vector;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub use askdocs_extract::{Format, DOCX_CONTENT_TYPE};
pub use ids::{ConversationId, DocumentId, UserId};

/// What the caller hears when their documents don't say.
pub const NOT_FOUND_ANSWER: &str = "I couldn't find the answer in your documents.";

/// Timestamps are UTC, RFC 3339 with milliseconds, e.g. `2026-11-27T09:56:27.123Z`:
/// they sort as strings, which the stores rely on.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now() -> String {
    timestamp(Utc::now())
}

/// Bytes as lower-case hexadecimal (digests, signatures).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A stored account. The hash never leaves the domain: clients get [`Profile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub user_id: UserId,
    /// Trimmed and lower-cased. Unique among password accounts; a federated
    /// account keeps the address its identity provider gave (maybe empty),
    /// which may also be a password account's: the two are never merged.
    pub email: String,
    pub name: Option<String>,
    /// An argon2id PHC string; empty for a federated account, which has no
    /// password.
    pub password_hash: String,
    pub created_at: String,
    /// Who signed the account in: `None` for a password account of our own,
    /// else the identity provider (`Google`, `LoginWithAmazon`, an OpenID
    /// Connect issuer's name).
    pub provider: Option<String>,
}

/// What `Profile::provider` says of a password account of our own.
pub const PASSWORD_PROVIDER: &str = "askdocs";

/// What a client sees of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub user_id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub created_at: String,
    /// How the user signed in: `askdocs` (email and password) or the identity
    /// provider's name.
    pub provider: String,
}

impl From<&User> for Profile {
    fn from(user: &User) -> Self {
        Profile {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            created_at: user.created_at.clone(),
            provider: user
                .provider
                .clone()
                .unwrap_or_else(|| PASSWORD_PROVIDER.to_string()),
        }
    }
}

/// The caller of a request, established from a verified, unrevoked token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub email: String,
    /// The token's id, needed to revoke it on logout.
    pub token_id: String,
    /// When the token expires, as seconds since the Unix epoch.
    pub expires_at: i64,
}

/// Where a document is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    /// An upload URL was issued; its file has not arrived.
    Uploading,
    /// Its file has arrived; waiting to be processed.
    Pending,
    Processing,
    Ready,
    Failed,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Uploading => "uploading",
            DocumentStatus::Pending => "pending",
            DocumentStatus::Processing => "processing",
            DocumentStatus::Ready => "ready",
            DocumentStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "uploading" => Some(DocumentStatus::Uploading),
            "pending" => Some(DocumentStatus::Pending),
            "processing" => Some(DocumentStatus::Processing),
            "ready" => Some(DocumentStatus::Ready),
            "failed" => Some(DocumentStatus::Failed),
            _ => None,
        }
    }
}

/// A document's metadata, as stored and as listed (the owner is not shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    #[serde(skip_serializing)]
    pub user_id: UserId,
    pub document_id: DocumentId,
    /// The name as the uploader gave it.
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    /// `documents/{userId}/{documentId}/{safe name}`.
    #[serde(skip_serializing)]
    pub key: String,
    pub status: DocumentStatus,
    pub status_reason: Option<String>,
    pub pages: Option<u32>,
    pub chunks: Option<u32>,
    pub upload_date: String,
    pub updated_at: String,
    /// Processing runs started for the current file; a run that dies keeps its
    /// count, so a file that kills every run cannot be retried forever.
    #[serde(skip_serializing, default)]
    pub attempts: u32,
}

/// The end of a processing run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessingOutcome {
    /// `note`: what the owner should know of a usable document (pages left
    /// unread), kept as its status reason.
    Ready {
        pages: u32,
        chunks: u32,
        note: Option<String>,
    },
    Failed {
        reason: String,
    },
}

/// One page of results, newest first, with where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<ListPosition>,
}

impl<T: Listed> Page<T> {
    /// From up to `limit + 1` items fetched newest first: the extra item only
    /// says that another page follows, which starts after the last kept one.
    pub fn from_overfetch(mut items: Vec<T>, limit: usize) -> Self {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(Listed::position)
        } else {
            None
        };
        Page { items, next }
    }
}

/// Something listed newest first, by time and then id.
pub trait Listed {
    fn position(&self) -> ListPosition;
}

impl Listed for Document {
    fn position(&self) -> ListPosition {
        ListPosition {
            at: self.upload_date.clone(),
            id: self.document_id.to_string(),
        }
    }
}

impl Listed for HistoryEntry {
    fn position(&self) -> ListPosition {
        ListPosition {
            at: self.created_at.clone(),
            id: self.query_id.clone(),
        }
    }
}

/// A position in a newest-first listing: the last item's time and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPosition {
    #[serde(rename = "t")]
    pub at: String,
    #[serde(rename = "i")]
    pub id: String,
}

/// A passage of a document, ready to be indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub user_id: UserId,
    pub document_id: DocumentId,
    pub ordinal: u32,
    pub page: u32,
    pub text: String,
    pub embedding: Vec<f32>,
    /// One vector per sentence of `text` (in `text::sentence_spans` order),
    /// when the embedder gives them; empty otherwise.
    pub sentence_vectors: Vec<Vec<f32>>,
}

/// A passage found by a search, with its score (higher is better).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredChunk {
    pub document_id: DocumentId,
    pub ordinal: u32,
    pub page: u32,
    pub text: String,
    pub score: f32,
    /// The chunk's sentence vectors, where the index keeps them; empty
    /// otherwise. Shared, not copied: a search hands the same passages to
    /// the fusion, the ordering and the answerer, and the embedded index
    /// keeps them in memory between asks.
    pub sentence_vectors: std::sync::Arc<[Vec<f32>]>,
}

/// Whose chunks a search may see. The owner is not optional: there is no
/// way to search without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchScope {
    pub user_id: UserId,
    /// Restrict to these documents (all of the owner's when `None`).
    pub document_ids: Option<Vec<DocumentId>>,
}

/// What one owner stores: documents (every status), and their declared bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageUsage {
    pub documents: u64,
    pub bytes: u64,
}

/// A passage an answer rests on, as the client sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    pub document_id: DocumentId,
    pub file_name: String,
    pub page: u32,
    /// The words of the passage the answer rests on.
    pub snippet: String,
    /// The whole passage as indexed, so a reader can check the snippet in context.
    #[serde(default)]
    pub text: String,
    /// Relevance from 0 to 1.
    pub score: f32,
    /// The cited document was deleted since: its words (`snippet`, `text`)
    /// went with it; the answer and the file's name stay.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub document_deleted: bool,
}

impl Citation {
    /// Drops the passage's words: its document was deleted.
    pub fn forget_text(&mut self) {
        self.snippet.clear();
        self.text.clear();
        self.document_deleted = true;
    }

    /// Stored `citations` (JSON) with the words of `document_id`'s passages
    /// removed, or `None` when none cites it with words still.
    pub fn forget_document_in(
        citations: &str,
        document_id: &str,
    ) -> crate::error::Result<Option<String>> {
        let internal = |error: serde_json::Error| crate::error::Error::Internal(error.into());
        let mut citations: Vec<Citation> = serde_json::from_str(citations).map_err(internal)?;
        let mut changed = false;
        for citation in citations
            .iter_mut()
            .filter(|citation| citation.document_id.as_str() == document_id)
        {
            changed |= !citation.document_deleted;
            citation.forget_text();
        }
        if !changed {
            return Ok(None);
        }
        serde_json::to_string(&citations)
            .map(Some)
            .map_err(internal)
    }
}

/// A question asked and how it was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub query_id: String,
    #[serde(skip_serializing)]
    pub user_id: UserId,
    pub conversation_id: ConversationId,
    pub question: String,
    pub answer: String,
    pub citations: Vec<Citation>,
    pub model: String,
    pub created_at: String,
}

/// A numbered passage handed to a generator.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// 1-based, as the prompt and the answer's `[n]` markers name it.
    pub number: usize,
    pub file_name: String,
    pub page: u32,
    pub text: String,
    /// One vector per sentence of `text`, when known; empty otherwise.
    pub sentence_vectors: std::sync::Arc<[Vec<f32>]>,
}

/// An earlier question and answer of the same conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub question: String,
    pub answer: String,
}

/// What a generator is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    pub question: String,
    /// The question's embedding by the model the passages were indexed with,
    /// when retrieval searched with the question as asked (not widened by the
    /// conversation): an answerer that weighs sentences by meaning need not
    /// run the model on it again.
    pub question_vector: Option<Vec<f32>>,
    pub passages: Vec<Passage>,
    /// Oldest first, already bounded.
    pub history: Vec<Turn>,
    /// The same request as chat messages, for generators that are language models.
    pub prompt: ChatPrompt,
    /// How long the answer may take: what is left of the ask's deadline
    /// (`None`: no deadline). A language model sizes its answer to it.
    pub time_left: Option<std::time::Duration>,
}

/// A conversation to send to a chat model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPrompt {
    pub system: String,
    /// Alternating user / assistant turns, ending with the user's question.
    pub messages: Vec<ChatMessage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub text: String,
}

/// The words of a passage an answer quotes, when the generator knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The passage's number, as in `[n]`.
    pub number: usize,
    pub text: String,
}

/// How a generator's answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Complete,
    /// Cut at the output-token limit.
    Truncated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The answer, citing passages as `[n]`.
    pub answer: String,
    /// Quoted words per cited passage (empty for generators that don't know them).
    pub quotes: Vec<Quote>,
    pub model: String,
    pub completion: Completion,
}
