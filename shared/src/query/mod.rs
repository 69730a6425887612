//! Answering questions (the query function's service): hybrid retrieval from
//! the caller's ready documents, a generator that cites numbered passages, a
//! relevance floor so nothing is invented, and the history of what was asked.

pub mod answer;
pub mod citations;
pub mod prompt;
pub mod retrieve;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::RetrievalSettings;
use crate::error::{Error, Result};
use crate::metrics::{self, Metric};
use crate::model::characters::has_visible;
use crate::model::text::shorten;
use crate::model::{
    now, Citation, Completion, ConversationId, Document, DocumentId, DocumentStatus,
    GenerationRequest, HistoryEntry, Passage, SearchScope, Turn, UserId, NOT_FOUND_ANSWER,
};
use crate::pagination::{decode_cursor, page_size, Listing};
use crate::ports::{
    AnswerText, DocumentStore, Embedder, Generator, HistoryStore, Reranker, SearchQuery,
    VectorIndex,
};
use answer::relevance::QuestionTerms;
use citations::{cited_passages, renumber_citations};
use retrieve::{fuse, order_by_best_sentence, Candidate};

pub const MAX_QUESTION_CHARS: usize = 2000;
pub const DEFAULT_TOP_K: usize = 5;
pub const MAX_TOP_K: usize = 20;
/// With the owner, a query's filter then stays within the 100 constraints an
/// S3 Vectors ENHANCED index accepts.
const MAX_DOCUMENT_IDS: usize = 99;
const SNIPPET_CHARS: usize = 300;
/// A question this short continues the one before it ("and on page 3?").
const FOLLOW_UP_WORDS: usize = 6;
/// Kept from an ask's deadline for writing its history once answered.
const HISTORY_WRITE_TIME: Duration = Duration::from_secs(1);

fn out_of_time() -> Error {
    Error::TimedOut(
        "the answer could not be written in the time a request is allowed; please try again".into(),
    )
}

/// `work`, unless `deadline` passes first: then it is dropped, and the ask
/// answers 504 (nothing after it, the history write included, happens).
async fn before<T>(deadline: Instant, work: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), work)
        .await
        .unwrap_or_else(|_| Err(out_of_time()))
}

/// A question, as the caller asked it.
#[derive(Debug, Clone, Default)]
pub struct Question {
    pub question: String,
    pub document_ids: Option<Vec<String>>,
    pub top_k: Option<i64>,
    pub conversation_id: Option<String>,
    /// The time the caller can wait at most (what is left of a Lambda
    /// invocation); the ask ends by then or by its configured deadline,
    /// whichever comes first.
    pub time_budget: Option<Duration>,
}

/// The answer, its citations, and where it was filed.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub answer: String,
    pub citations: Vec<Citation>,
    pub conversation_id: ConversationId,
    pub query_id: String,
    pub model: String,
    /// The generator stopped at its length limit: the answer is cut short.
    pub truncated: bool,
    /// Documents in the question's scope not searchable yet (pending or processing).
    pub still_processing: usize,
    /// Where the time went (sent as `Server-Timing`, not in the body).
    pub timings: AskTimings,
}

/// Time spent in each stage of one ask, in milliseconds: the model's share
/// (embedding the question, then the generator) apart from the query path's
/// own (ownership checks, search, fusion, history).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AskTimings {
    /// Embedding the question.
    pub embed: f64,
    /// Index search, fusion and the ready-document filter.
    pub search: f64,
    /// The generator (Claude, or the local extractive answerer).
    pub answer: f64,
    /// The whole ask, from validation to the history write.
    pub total: f64,
}

impl AskTimings {
    /// The query path's own time: everything but the model and the generator.
    pub fn overhead(&self) -> f64 {
        (self.total - self.embed - self.answer).max(0.0)
    }

    /// The `Server-Timing` header value (W3C Server Timing), durations in ms.
    pub fn server_timing(&self) -> String {
        format!(
            "embed;dur={:.2}, search;dur={:.2}, answer;dur={:.2}, overhead;dur={:.2}, total;dur={:.2}",
            self.embed,
            self.search,
            self.answer,
            self.overhead(),
            self.total
        )
    }
}

fn milliseconds_since(started: std::time::Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// A passage retrieved for a question, as `askdocs search` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieved {
    pub document_id: DocumentId,
    pub file_name: String,
    pub page: u32,
    pub ordinal: u32,
    pub text: String,
    pub score: f32,
}

/// A question checked and its passages found, waiting to be answered
/// ([`Asker::prepare`], then [`Asker::answer`]).
pub struct PreparedAsk {
    user_id: UserId,
    question: String,
    conversation_id: ConversationId,
    still_processing: usize,
    history: Vec<Turn>,
    search_text: String,
    question_vector: Option<Vec<f32>>,
    found: Vec<(Candidate, Document)>,
    started: Instant,
    deadline: Instant,
    answer_deadline: Instant,
    timings: AskTimings,
}

impl PreparedAsk {
    /// The passages the answer is written from, in the order `[n]` numbers
    /// them while it streams: what was retrieved, with each passage's text.
    pub fn sources(&self) -> Vec<Citation> {
        self.found
            .iter()
            .map(|(candidate, document)| cite(candidate, document, &self.search_text, None))
            .collect()
    }

    pub fn conversation_id(&self) -> &ConversationId {
        &self.conversation_id
    }
}

pub struct Asker {
    documents: Arc<dyn DocumentStore>,
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    generator: Arc<dyn Generator>,
    history: Arc<dyn HistoryStore>,
    settings: RetrievalSettings,
    reranker: Option<Arc<dyn Reranker>>,
}

/// With a reranker, this many of the fused passages (or topK, if more) are
/// reranked and the best topK kept: one Rerank call prices up to 100.
const RERANKED: usize = 20;

fn validate_question(question: &str) -> Result<String> {
    let question = question.trim();
    if !has_visible(question) {
        return Err(Error::Validation(
            "question must have visible text (not only spaces or control characters)".into(),
        ));
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(Error::Validation(format!(
            "question must be at most {MAX_QUESTION_CHARS} characters"
        )));
    }
    Ok(question.to_string())
}

fn validate_top_k(top_k: Option<i64>) -> Result<usize> {
    match top_k {
        None => Ok(DEFAULT_TOP_K),
        Some(k) if (1..=MAX_TOP_K as i64).contains(&k) => Ok(k as usize),
        Some(_) => Err(Error::Validation(format!(
            "topK must be between 1 and {MAX_TOP_K}"
        ))),
    }
}

fn validate_conversation_id(id: &str) -> Result<ConversationId> {
    ConversationId::parse(id).ok_or_else(|| {
        Error::Validation("conversationId must be 1 to 100 letters, digits, '-' or '_'".into())
    })
}

/// The documents a question may search, as checked before searching.
struct OwnedDocuments {
    /// The documents named (deduplicated), or none for all of the caller's.
    ids: Option<Vec<DocumentId>>,
    /// Of those (or of the newest), how many are not searchable yet.
    still_processing: usize,
    /// The documents read while checking: retrieval need not read them again.
    read: Vec<Document>,
}

/// Newest documents checked for ones still being processed when a question
/// names none.
const NEWEST_CHECKED: usize = 50;

fn no_such_document(id: &str) -> Error {
    Error::NotFound(format!("no such document: {}", shorten(id, 80)))
}

impl Asker {
    pub fn new(
        documents: Arc<dyn DocumentStore>,
        index: Arc<dyn VectorIndex>,
        embedder: Arc<dyn Embedder>,
        generator: Arc<dyn Generator>,
        history: Arc<dyn HistoryStore>,
        settings: RetrievalSettings,
    ) -> Self {
        Asker {
            documents,
            index,
            embedder,
            generator,
            history,
            settings,
            reranker: None,
        }
    }

    /// Passages are ordered by `reranker` before answering (and kept in
    /// retrieval's own order whenever it fails).
    pub fn with_reranker(mut self, reranker: Arc<dyn Reranker>) -> Self {
        self.reranker = Some(reranker);
        self
    }

    pub async fn ask(&self, user_id: &UserId, question: Question) -> Result<Answer> {
        let prepared = self.prepare(user_id, question).await?;
        self.answer(prepared, None).await
    }

    /// Checks the question and finds the passages that may answer it: what
    /// can go wrong with the request itself goes wrong here, before any
    /// answer is written (a stream starts only once this succeeds).
    pub async fn prepare(&self, user_id: &UserId, question: Question) -> Result<PreparedAsk> {
        let started = std::time::Instant::now();
        // One deadline for every stage: embedding, search, reads and the
        // answer share the time the request has.
        let budget = question
            .time_budget
            .map_or(self.settings.ask_deadline, |budget| {
                budget.min(self.settings.ask_deadline)
            });
        let deadline = started + budget;
        let answer_deadline = deadline.checked_sub(HISTORY_WRITE_TIME).unwrap_or(started);
        let mut timings = AskTimings::default();
        let text = validate_question(&question.question)?;
        let top_k = validate_top_k(question.top_k)?;
        // A new conversation has no earlier turns to read.
        let (conversation_id, continues) = match question.conversation_id.as_deref() {
            Some(id) => (validate_conversation_id(id)?, true),
            None => (ConversationId::generate(), false),
        };
        let owned = before(
            answer_deadline,
            self.owned_documents(user_id, question.document_ids),
        )
        .await?;
        let still_processing = owned.still_processing;
        let scope = SearchScope {
            user_id: user_id.clone(),
            document_ids: owned.ids,
        };
        let history = if continues {
            before(
                answer_deadline,
                self.earlier_turns(user_id, &conversation_id),
            )
            .await?
        } else {
            Vec::new()
        };
        let search_text = search_text(&text, &history);

        let (found, search_vector) = before(
            answer_deadline,
            self.retrieve(&scope, &search_text, top_k, owned.read, &mut timings),
        )
        .await?;
        // The vector searched with is the question's own unless a short
        // follow-up was widened with the turn before it.
        let question_vector = (search_text == text).then_some(search_vector);
        Ok(PreparedAsk {
            user_id: user_id.clone(),
            question: text,
            conversation_id,
            still_processing,
            history,
            search_text,
            question_vector,
            found,
            started,
            deadline,
            answer_deadline,
            timings,
        })
    }

    /// Answers a prepared question and files it in the history. With
    /// `written`, the answer's text is sent there as it is written, its
    /// `[n]` numbering the passages of [`PreparedAsk::sources`]; the answer
    /// returned (and filed) numbers its citations as the JSON answer does.
    /// Dropped before it ends, nothing is filed.
    pub async fn answer(
        &self,
        prepared: PreparedAsk,
        written: Option<&AnswerText>,
    ) -> Result<Answer> {
        let PreparedAsk {
            user_id,
            question: text,
            conversation_id,
            still_processing,
            history,
            search_text,
            question_vector,
            found,
            started,
            deadline,
            answer_deadline,
            mut timings,
        } = prepared;
        let answering = std::time::Instant::now();
        let (answer, citations, model, truncated) = if found.is_empty() {
            if let Some(written) = written {
                written.send(NOT_FOUND_ANSWER).await?;
            }
            let model = self.generator.model_id().to_string();
            (NOT_FOUND_ANSWER.to_string(), Vec::new(), model, false)
        } else {
            before(
                answer_deadline,
                self.answer_from(
                    generation_request(&text, question_vector, &found, history, answer_deadline),
                    &search_text,
                    &found,
                    written,
                ),
            )
            .await?
        };
        timings.answer = milliseconds_since(answering);
        let note = match still_processing {
            0 => String::new(),
            1 => "\n\n(1 document is still being processed; its text is not searched yet.)".to_string(),
            count => format!("\n\n({count} documents are still being processed; their text is not searched yet.)"),
        };
        if let Some(written) = written {
            written.send(&note).await?;
        }
        let answer = format!("{answer}{note}");

        let entry = HistoryEntry {
            query_id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.clone(),
            conversation_id: conversation_id.clone(),
            question: text,
            answer: answer.clone(),
            citations: citations.clone(),
            model: model.clone(),
            created_at: now(),
        };
        before(deadline, self.history.append(&entry)).await?;
        tracing::info!(%user_id, query_id = %entry.query_id, citations = citations.len(), "question answered");
        metrics::count(if citations.is_empty() {
            Metric::AnswersNotFound
        } else {
            Metric::QuestionsAnswered
        });
        timings.total = milliseconds_since(started);
        Ok(Answer {
            answer,
            citations,
            conversation_id,
            query_id: entry.query_id,
            model,
            truncated,
            still_processing,
            timings,
        })
    }

    /// The passages a question retrieves, best first, without answering it.
    pub async fn search(
        &self,
        user_id: &UserId,
        question: &str,
        top_k: usize,
    ) -> Result<Vec<Retrieved>> {
        let text = validate_question(question)?;
        let scope = SearchScope {
            user_id: user_id.clone(),
            document_ids: None,
        };
        let (found, _) = self
            .retrieve(
                &scope,
                &text,
                top_k.clamp(1, 100),
                Vec::new(),
                &mut AskTimings::default(),
            )
            .await?;
        Ok(found
            .into_iter()
            .map(|(candidate, document)| Retrieved {
                score: candidate.relevance(&text),
                document_id: document.document_id,
                file_name: document.file_name,
                page: candidate.chunk.page,
                ordinal: candidate.chunk.ordinal,
                text: candidate.chunk.text,
            })
            .collect())
    }

    /// The last turns of the conversation, oldest first.
    async fn earlier_turns(
        &self,
        user_id: &UserId,
        conversation_id: &ConversationId,
    ) -> Result<Vec<Turn>> {
        let earlier = self
            .history
            .list(
                user_id,
                Some(conversation_id),
                self.settings.history_turns,
                None,
            )
            .await?
            .items;
        Ok(earlier
            .into_iter()
            .rev()
            .map(|entry| Turn {
                question: entry.question,
                answer: entry.answer,
            })
            .collect())
    }

    /// Asks the generator, then turns the passages it cited into citations
    /// numbered as the client receives them.
    async fn answer_from(
        &self,
        request: GenerationRequest,
        search_text: &str,
        found: &[(Candidate, Document)],
        written: Option<&AnswerText>,
    ) -> Result<(String, Vec<Citation>, String, bool)> {
        let generated = match written {
            Some(written) => self.generator.generate_streaming(&request, written).await?,
            None => self.generator.generate(&request).await?,
        };
        let mut mapping = HashMap::new();
        let citations: Vec<Citation> = cited_passages(&generated.answer, found.len())
            .into_iter()
            .map(|number| {
                let (candidate, document) = &found[number - 1];
                mapping.insert(number, mapping.len() + 1);
                let quote = generated.quotes.iter().find(|quote| quote.number == number);
                cite(
                    candidate,
                    document,
                    search_text,
                    quote.map(|quote| quote.text.clone()),
                )
            })
            .collect();
        // `[n]` in the answer names the n-th citation the client receives.
        let answer = renumber_citations(&generated.answer, &mapping);
        let truncated = generated.completion == Completion::Truncated;
        Ok((answer, citations, generated.model, truncated))
    }

    /// The requested documents, each checked to be the caller's (another
    /// user's id is as unknown as a made-up one), and how many of the scope
    /// are still being processed. Without a list, that counts among the
    /// newest documents: the ones being processed are the ones just uploaded,
    /// and one page keeps every question to one read.
    async fn owned_documents(
        &self,
        user_id: &UserId,
        ids: Option<Vec<String>>,
    ) -> Result<OwnedDocuments> {
        let in_progress = |document: &Document| {
            matches!(
                document.status,
                DocumentStatus::Pending | DocumentStatus::Processing
            )
        };
        let Some(mut ids) = ids else {
            let newest = self.documents.list(user_id, NEWEST_CHECKED, None).await?;
            return Ok(OwnedDocuments {
                ids: None,
                still_processing: newest
                    .items
                    .iter()
                    .filter(|document| in_progress(document))
                    .count(),
                read: newest.items,
            });
        };
        if ids.len() > MAX_DOCUMENT_IDS {
            return Err(Error::Validation(format!(
                "documentIds may name at most {MAX_DOCUMENT_IDS} documents"
            )));
        }
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Err(Error::Validation(
                "documentIds must name at least one document (or be left out)".into(),
            ));
        }
        if ids.len() > MAX_DOCUMENT_IDS {
            return Err(Error::Validation(format!(
                "documentIds may name at most {MAX_DOCUMENT_IDS} documents"
            )));
        }
        // Text that cannot be an id askdocs made names no document.
        let ids = ids
            .iter()
            .map(|id| DocumentId::parse(id).ok_or_else(|| no_such_document(id)))
            .collect::<Result<Vec<_>>>()?;
        let mut still_processing = 0;
        let mut read = Vec::with_capacity(ids.len());
        for id in &ids {
            match self.documents.get(user_id, id).await? {
                None => return Err(no_such_document(id)),
                Some(document) => {
                    still_processing += usize::from(in_progress(&document));
                    read.push(document);
                }
            }
        }
        Ok(OwnedDocuments {
            ids: Some(ids),
            still_processing,
            read,
        })
    }

    /// The `top_k` most relevant ready passages, best first, with their
    /// documents, and the vector `text` was searched with. `read` are
    /// documents the caller has just read, not read again.
    async fn retrieve(
        &self,
        scope: &SearchScope,
        text: &str,
        top_k: usize,
        read: Vec<Document>,
        timings: &mut AskTimings,
    ) -> Result<(Vec<(Candidate, Document)>, Vec<f32>)> {
        let embedding = std::time::Instant::now();
        let vector = self
            .embedder
            .embed(&[text.to_string()])
            .await?
            .pop()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the embedder returned no vector")))?;
        timings.embed = milliseconds_since(embedding);
        let searching = std::time::Instant::now();
        let wanted = self.settings.candidates.max(top_k * 3);
        let query = SearchQuery {
            vector: &vector,
            text,
        };
        let hits = self.index.search(scope, query, wanted).await?;
        let terms = QuestionTerms::new(text);
        let ranked = fuse(hits, &terms, &vector, &self.settings);

        // Only ready documents that still exist may be cited.
        let ready = |document: &Document| document.status == DocumentStatus::Ready;
        let mut documents: HashMap<DocumentId, Option<Document>> = read
            .into_iter()
            .map(|document| {
                let id = document.document_id.clone();
                (id, ready(&document).then_some(document))
            })
            .collect();
        let wanted = match self.reranker {
            Some(_) => top_k.max(RERANKED),
            None => top_k,
        };
        let mut found = Vec::new();
        let mut ranked = ranked.into_iter().peekable();
        while found.len() < wanted && ranked.peek().is_some() {
            // As many candidates as places left; their unread documents in one read.
            let batch: Vec<Candidate> = ranked.by_ref().take(wanted - found.len()).collect();
            let mut unread: Vec<DocumentId> = batch
                .iter()
                .map(|candidate| &candidate.chunk.document_id)
                .filter(|id| !documents.contains_key(*id))
                .cloned()
                .collect();
            unread.sort();
            unread.dedup();
            if !unread.is_empty() {
                let read = self.documents.get_many(&scope.user_id, &unread).await?;
                for id in unread {
                    documents.insert(id, None);
                }
                for document in read {
                    let id = document.document_id.clone();
                    documents.insert(id, ready(&document).then_some(document));
                }
            }
            for candidate in batch {
                if let Some(Some(document)) = documents.get(&candidate.chunk.document_id) {
                    found.push((candidate, document.clone()));
                }
            }
        }
        if !self.rerank(text, &mut found, top_k).await {
            found.truncate(top_k);
            order_by_best_sentence(&mut found, |(candidate, _)| candidate, &terms, &vector);
        }
        timings.search = milliseconds_since(searching);
        Ok((found, vector))
    }

    /// Orders `found` by the reranker's relevance and keeps the best
    /// `top_k`; false (nothing changed) without a reranker or when it fails:
    /// a slow or refused rerank costs the answer its ordering, not the answer.
    async fn rerank(
        &self,
        question: &str,
        found: &mut Vec<(Candidate, Document)>,
        top_k: usize,
    ) -> bool {
        let Some(reranker) = &self.reranker else {
            return false;
        };
        if found.len() < 2 {
            return false;
        }
        let passages: Vec<&str> = found
            .iter()
            .map(|(candidate, _)| candidate.chunk.text.as_str())
            .collect();
        let relevance = match reranker.relevance(question, &passages).await {
            Ok(relevance) if relevance.len() == found.len() => relevance,
            Ok(relevance) => {
                tracing::warn!(
                    model = reranker.model_id(),
                    asked = found.len(),
                    scored = relevance.len(),
                    "the reranker scored a different number of passages; kept retrieval's order"
                );
                return false;
            }
            Err(error) => {
                tracing::warn!(model = reranker.model_id(), error = ?error, "reranking failed; kept retrieval's order");
                return false;
            }
        };
        let mut scored: Vec<(f32, (Candidate, Document))> =
            relevance.into_iter().zip(std::mem::take(found)).collect();
        // Stable: equal relevance keeps the fused order.
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        found.extend(scored.into_iter().take(top_k).map(|(_, item)| item));
        true
    }

    pub async fn history(
        &self,
        user_id: &UserId,
        limit: Option<usize>,
        cursor: Option<&str>,
        conversation_id: Option<&str>,
    ) -> Result<Listing<HistoryEntry>> {
        let limit = page_size(limit)?;
        let after = cursor.map(decode_cursor).transpose()?;
        let conversation_id = conversation_id.map(validate_conversation_id).transpose()?;
        let mut page = self
            .history
            .list(user_id, conversation_id.as_ref(), limit, after.as_ref())
            .await?;
        self.forget_deleted_documents(user_id, &mut page.items)
            .await?;
        Ok(page.into())
    }

    /// Delete removes a document's words from history; an answer that was
    /// being written while the document was deleted may still hold them, so
    /// citations of documents that no longer exist are shown without them.
    async fn forget_deleted_documents(
        &self,
        user_id: &UserId,
        entries: &mut [HistoryEntry],
    ) -> Result<()> {
        let mut cited: Vec<DocumentId> = entries
            .iter()
            .flat_map(|entry| &entry.citations)
            .filter(|citation| !citation.document_deleted)
            .map(|citation| citation.document_id.clone())
            .collect();
        cited.sort();
        cited.dedup();
        if cited.is_empty() {
            return Ok(());
        }
        let existing: std::collections::HashSet<DocumentId> = self
            .documents
            .get_many(user_id, &cited)
            .await?
            .into_iter()
            .map(|document| document.document_id)
            .collect();
        for citation in entries.iter_mut().flat_map(|entry| &mut entry.citations) {
            if !citation.document_deleted && !existing.contains(&citation.document_id) {
                citation.forget_text();
            }
        }
        Ok(())
    }
}

/// What the generator is asked: the found passages, numbered from 1, the
/// question and the conversation so far, and the time left until `deadline`.
fn generation_request(
    question: &str,
    question_vector: Option<Vec<f32>>,
    found: &[(Candidate, Document)],
    history: Vec<Turn>,
    deadline: Instant,
) -> GenerationRequest {
    let passages: Vec<Passage> = found
        .iter()
        .enumerate()
        .map(|(index, (candidate, document))| Passage {
            number: index + 1,
            file_name: document.file_name.clone(),
            page: candidate.chunk.page,
            text: candidate.chunk.text.clone(),
            sentence_vectors: candidate.chunk.sentence_vectors.clone(),
        })
        .collect();
    GenerationRequest {
        prompt: prompt::chat_prompt(question, &passages, &history),
        question: question.to_string(),
        question_vector,
        passages,
        history,
        time_left: Some(deadline.saturating_duration_since(Instant::now())),
    }
}

/// A passage as the client sees it cited: `quote`, the words the answer
/// took from it, else its beginning.
fn cite(
    candidate: &Candidate,
    document: &Document,
    search_text: &str,
    quote: Option<String>,
) -> Citation {
    Citation {
        document_id: document.document_id.clone(),
        file_name: document.file_name.clone(),
        page: candidate.chunk.page,
        snippet: quote.unwrap_or_else(|| shorten(&candidate.chunk.text, SNIPPET_CHARS)),
        text: candidate.chunk.text.clone(),
        score: (candidate.relevance(search_text) * 1000.0).round() / 1000.0,
        document_deleted: false,
    }
}

/// A short follow-up is searched together with the question before it.
fn search_text(question: &str, history: &[Turn]) -> String {
    match history.last() {
        Some(previous) if question.split_whitespace().count() < FOLLOW_UP_WORDS => {
            format!("{} {question}", previous.question)
        }
        _ => question.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_and_options_are_checked() {
        assert_eq!(validate_question("  Why?  ").unwrap(), "Why?");
        assert!(validate_question("   ").is_err());
        assert!(validate_question("\u{0}\u{0}\u{200B} ").is_err());
        assert!(validate_question(&"x".repeat(2001)).is_err());
        assert!(validate_question(&"x".repeat(2000)).is_ok());
        assert_eq!(validate_top_k(None).unwrap(), 5);
        assert!(
            validate_top_k(Some(0)).is_err()
                && validate_top_k(Some(21)).is_err()
                && validate_top_k(Some(-1)).is_err()
        );
        assert!(validate_conversation_id("abc-123_X").is_ok());
        assert!(
            validate_conversation_id("has space").is_err() && validate_conversation_id("").is_err()
        );
    }

    #[test]
    fn short_follow_ups_carry_the_previous_question() {
        let history = vec![Turn {
            question: "What does error E-4012 mean?".into(),
            answer: "The pump stalled.".into(),
        }];
        assert_eq!(
            search_text("and how to fix it?", &history),
            "What does error E-4012 mean? and how to fix it?"
        );
        assert_eq!(
            search_text(
                "Who collects the harbour fees in the winter months?",
                &history
            ),
            "Who collects the harbour fees in the winter months?"
        );
    }
}
