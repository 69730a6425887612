//! Answering questions from the caller's documents: hybrid retrieval (vectors
//! and keywords, fused by reciprocal rank), a relevance floor so nothing is
//! invented, a generator that cites numbered passages, and the history.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::documents::{decode_cursor, encode_cursor, page_size};
use crate::error::{Error, Result};
use crate::model::{
    now, Citation, Document, DocumentStatus, GenerationRequest, HistoryEntry, Passage, ScoredChunk,
    SearchScope, Turn,
};
use crate::ports::{DocumentStore, Embedder, Generator, HistoryStore, VectorIndex};
use crate::prompt::renumber_citations;
use crate::text::{shorten, term_coverage};

/// What the caller hears when their documents don't say.
pub const NOT_FOUND_ANSWER: &str = "I couldn't find the answer in your documents.";
pub const MAX_QUESTION_CHARS: usize = 2000;
pub const DEFAULT_TOP_K: usize = 5;
pub const MAX_TOP_K: usize = 20;
const MAX_DOCUMENT_IDS: usize = 100;
/// The usual constant of reciprocal rank fusion: damps the head of each list.
const RRF_K: f32 = 60.0;
/// A passage with this share of the question's terms is on topic if its
/// meaning is at least half-way to the relevance floor.
const PARTIAL_TERM_COVERAGE: f32 = 0.5;
const SNIPPET_CHARS: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrievalSettings {
    /// Cosine similarity below which a passage found by meaning is not relevant.
    pub min_relevance: f32,
    /// Earlier turns of a conversation carried into the prompt.
    pub history_turns: usize,
    /// Candidates fetched from each search before fusion.
    pub candidates: usize,
}

impl Default for RetrievalSettings {
    fn default() -> Self {
        RetrievalSettings {
            min_relevance: 0.3,
            history_turns: 3,
            candidates: 30,
        }
    }
}

/// `POST /query/ask`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AskRequest {
    pub question: String,
    #[serde(default)]
    pub document_ids: Option<Vec<String>>,
    #[serde(default)]
    pub top_k: Option<i64>,
    #[serde(default)]
    pub conversation_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AskResponse {
    pub answer: String,
    pub citations: Vec<Citation>,
    pub conversation_id: String,
    pub query_id: String,
    pub model: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryList {
    pub items: Vec<HistoryEntry>,
    pub next_cursor: Option<String>,
}

/// A chunk found by either search, with what each search thought of it.
struct Candidate {
    chunk: ScoredChunk,
    cosine: Option<f32>,
    fused: f32,
}

pub struct Asker {
    documents: Arc<dyn DocumentStore>,
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    generator: Arc<dyn Generator>,
    history: Arc<dyn HistoryStore>,
    settings: RetrievalSettings,
}

fn validate_question(question: &str) -> Result<String> {
    let question = question.trim();
    if question.is_empty() {
        return Err(Error::Validation("question must not be empty".into()));
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

fn validate_conversation_id(id: &str) -> Result<String> {
    let valid = !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(Error::Validation(
            "conversationId must be 1 to 100 letters, digits, '-' or '_'".into(),
        ));
    }
    Ok(id.to_string())
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
        }
    }

    pub async fn ask(&self, user_id: &str, request: AskRequest) -> Result<AskResponse> {
        let question = validate_question(&request.question)?;
        let top_k = validate_top_k(request.top_k)?;
        let conversation_id = match request.conversation_id.as_deref() {
            Some(id) => validate_conversation_id(id)?,
            None => uuid::Uuid::new_v4().to_string(),
        };
        let document_ids = self.owned_documents(user_id, request.document_ids).await?;

        let earlier = self
            .history
            .list(
                user_id,
                Some(&conversation_id),
                self.settings.history_turns,
                None,
            )
            .await?
            .items;
        let history: Vec<Turn> = earlier
            .iter()
            .rev()
            .map(|entry| Turn {
                question: entry.question.clone(),
                answer: entry.answer.clone(),
            })
            .collect();
        // A short follow-up ("and on page 3?") is searched together with the question before it.
        let search_text = match history.last() {
            Some(previous) if question.split_whitespace().count() < 6 => {
                format!("{} {question}", previous.question)
            }
            _ => question.clone(),
        };

        let scope = SearchScope {
            user_id: user_id.to_string(),
            document_ids,
        };
        let found = self.retrieve(&scope, &search_text, top_k).await?;

        let (answer, citations, model) = if found.is_empty() {
            (
                NOT_FOUND_ANSWER.to_string(),
                Vec::new(),
                self.generator.model_id().to_string(),
            )
        } else {
            let passages: Vec<Passage> = found
                .iter()
                .enumerate()
                .map(|(index, (candidate, document))| Passage {
                    number: index + 1,
                    file_name: document.file_name.clone(),
                    page: candidate.chunk.page,
                    text: candidate.chunk.text.clone(),
                })
                .collect();
            let generation = GenerationRequest {
                question: question.clone(),
                passages,
                history,
            };
            let generated = self.generator.generate(&generation).await?;
            let mut mapping = HashMap::new();
            let citations: Vec<Citation> = generated
                .used
                .iter()
                .filter_map(|used| {
                    let (candidate, document) = found.get(used.number.checked_sub(1)?)?;
                    let relevance = candidate
                        .cosine
                        .unwrap_or(0.0)
                        .max(term_coverage(&search_text, &candidate.chunk.text))
                        .clamp(0.0, 1.0);
                    mapping.insert(used.number, mapping.len() + 1);
                    Some(Citation {
                        document_id: document.document_id.clone(),
                        file_name: document.file_name.clone(),
                        page: candidate.chunk.page,
                        snippet: used
                            .quote
                            .clone()
                            .unwrap_or_else(|| shorten(&candidate.chunk.text, SNIPPET_CHARS)),
                        score: (relevance * 1000.0).round() / 1000.0,
                    })
                })
                .collect();
            // `[n]` in the answer names the n-th citation the client receives.
            let answer = renumber_citations(&generated.answer, &mapping);
            (answer, citations, generated.model)
        };

        let entry = HistoryEntry {
            query_id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_string(),
            conversation_id: conversation_id.clone(),
            question,
            answer: answer.clone(),
            citations: citations.clone(),
            model: model.clone(),
            created_at: now(),
        };
        self.history.append(&entry).await?;
        tracing::info!(user_id, query_id = %entry.query_id, citations = citations.len(), "question answered");
        Ok(AskResponse {
            answer,
            citations,
            conversation_id,
            query_id: entry.query_id,
            model,
        })
    }

    /// The requested documents, each checked to be the caller's; another user's id
    /// is as unknown as a made-up one.
    async fn owned_documents(
        &self,
        user_id: &str,
        ids: Option<Vec<String>>,
    ) -> Result<Option<Vec<String>>> {
        let Some(mut ids) = ids else { return Ok(None) };
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
        for id in &ids {
            if self.documents.get(user_id, id).await?.is_none() {
                return Err(Error::NotFound(format!(
                    "no such document: {}",
                    shorten(id, 80)
                )));
            }
        }
        Ok(Some(ids))
    }

    /// The `top_k` most relevant ready passages, best first, with their documents.
    async fn retrieve(
        &self,
        scope: &SearchScope,
        text: &str,
        top_k: usize,
    ) -> Result<Vec<(Candidate, Document)>> {
        let vector = self
            .embedder
            .embed(&[text.to_string()])
            .await?
            .pop()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the embedder returned no vector")))?;
        let wanted = self.settings.candidates.max(top_k * 3);
        let by_meaning = self.index.search(scope, &vector, wanted).await?;
        let by_words = self.index.keyword_search(scope, text, wanted).await?;

        let mut candidates: HashMap<(String, u32), Candidate> = HashMap::new();
        for (rank, chunk) in by_meaning.into_iter().enumerate() {
            let key = (chunk.document_id.clone(), chunk.ordinal);
            let cosine = chunk.score;
            let entry = candidates.entry(key).or_insert(Candidate {
                chunk,
                cosine: None,
                fused: 0.0,
            });
            entry.cosine = Some(cosine);
            entry.fused += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
        for (rank, chunk) in by_words.into_iter().enumerate() {
            let key = (chunk.document_id.clone(), chunk.ordinal);
            let entry = candidates.entry(key).or_insert(Candidate {
                chunk,
                cosine: None,
                fused: 0.0,
            });
            entry.fused += 1.0 / (RRF_K + rank as f32 + 1.0);
        }

        let mut ranked: Vec<Candidate> = candidates
            .into_values()
            .filter(|candidate| self.is_relevant(candidate, text))
            .collect();
        ranked.sort_by(|a, b| b.fused.total_cmp(&a.fused));

        // Only ready documents that still exist may be cited.
        let mut documents: HashMap<String, Option<Document>> = HashMap::new();
        let mut found = Vec::new();
        for candidate in ranked {
            if found.len() == top_k {
                break;
            }
            let id = candidate.chunk.document_id.clone();
            if !documents.contains_key(&id) {
                let document = self.documents.get(&scope.user_id, &id).await?;
                documents.insert(
                    id.clone(),
                    document.filter(|d| d.status == DocumentStatus::Ready),
                );
            }
            if let Some(Some(document)) = documents.get(&id) {
                found.push((candidate, document.clone()));
            }
        }
        Ok(found)
    }

    /// Relevant by meaning (cosine at the configured floor), or by words: every
    /// term of the question present (an error code, a name the embedding cannot
    /// place), or most terms present with a meaning not far off.
    fn is_relevant(&self, candidate: &Candidate, question: &str) -> bool {
        let floor = self.settings.min_relevance;
        let coverage = term_coverage(question, &candidate.chunk.text);
        match candidate.cosine {
            Some(cosine) if cosine >= floor => true,
            Some(cosine) => {
                coverage >= 1.0 || (coverage >= PARTIAL_TERM_COVERAGE && cosine >= floor / 2.0)
            }
            None => coverage >= 1.0,
        }
    }

    pub async fn history(
        &self,
        user_id: &str,
        limit: Option<usize>,
        cursor: Option<&str>,
        conversation_id: Option<&str>,
    ) -> Result<HistoryList> {
        let limit = page_size(limit)?;
        let after = cursor.map(decode_cursor).transpose()?;
        let conversation_id = conversation_id.map(validate_conversation_id).transpose()?;
        let page = self
            .history
            .list(user_id, conversation_id.as_deref(), limit, after.as_ref())
            .await?;
        Ok(HistoryList {
            items: page.items,
            next_cursor: page.next.as_ref().map(encode_cursor),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_and_options_are_checked() {
        assert_eq!(validate_question("  Why?  ").unwrap(), "Why?");
        assert!(validate_question("   ").is_err());
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
}
