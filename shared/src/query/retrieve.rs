//! Hybrid retrieval: the passages found by meaning and by words, fused by
//! reciprocal rank, kept only when relevant, and only from ready documents.
//! Where the index keeps sentence vectors, a third ranking joins the fusion:
//! by the passage's best sentence, so a passage holding the one sentence that
//! answers beats one that is merely about the topic throughout. The passages
//! returned are then put in the order of that best sentence, judged as the
//! extractive answerer judges it (meaning plus the question's words), so the
//! first is the one holding the answer, not one on the same topic.

use std::collections::HashMap;

use super::answer::relevance::{
    is_contents_entry, is_question, sentence_relevance, term_coverage, QuestionTerms,
};
use crate::config::RetrievalSettings;
use crate::model::text::sentences;
use crate::model::vector::dot;
use crate::model::ScoredChunk;
use crate::ports::SearchHits;

/// The usual constant of reciprocal rank fusion: damps the head of each list.
const RRF_K: f32 = 60.0;
/// A passage with this share of the question's terms is on topic if its
/// meaning is at least half-way to the relevance floor.
const PARTIAL_TERM_COVERAGE: f32 = 0.5;
/// What a passage's place in the fused ranking still counts after re-ranking:
/// a tie on the best sentence goes to the passage both searches liked.
const FUSED_PLACE_WEIGHT: f32 = 0.05;

/// A passage found by either search, with what each search thought of it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub chunk: ScoredChunk,
    /// Cosine similarity to the question, when the vector search found it.
    pub cosine: Option<f32>,
    /// Cosine similarity of its best sentence to the question, where the
    /// index keeps sentence vectors: a passage found only by its words is
    /// still judged by meaning.
    pub best_sentence: Option<f32>,
    pub fused: f32,
}

impl Candidate {
    /// Relevance from 0 to 1, as shown to clients: the better of meaning and words.
    pub fn relevance(&self, question: &str) -> f32 {
        self.cosine
            .unwrap_or(0.0)
            .max(term_coverage(question, &self.chunk.text))
            .clamp(0.0, 1.0)
    }
}

/// The lists fused by reciprocal rank, best first, irrelevant passages dropped.
/// `question_vector` ranks passages by their best sentence where they have
/// sentence vectors.
pub fn fuse(
    hits: SearchHits,
    terms: &QuestionTerms,
    question_vector: &[f32],
    settings: &RetrievalSettings,
) -> Vec<Candidate> {
    let mut candidates: HashMap<(crate::model::DocumentId, u32), Candidate> = HashMap::new();
    let mut add = |rank: usize, chunk: ScoredChunk, cosine: Option<f32>| {
        let key = (chunk.document_id.clone(), chunk.ordinal);
        let entry = candidates.entry(key).or_insert(Candidate {
            chunk,
            cosine: None,
            best_sentence: None,
            fused: 0.0,
        });
        entry.cosine = entry.cosine.or(cosine);
        entry.fused += 1.0 / (RRF_K + rank as f32 + 1.0);
    };
    for (rank, chunk) in hits.by_meaning.into_iter().enumerate() {
        let cosine = chunk.score;
        add(rank, chunk, Some(cosine));
    }
    for (rank, chunk) in hits.by_words.into_iter().enumerate() {
        add(rank, chunk, None);
    }
    let mut by_sentence: Vec<(f32, (crate::model::DocumentId, u32))> = candidates
        .iter()
        .filter_map(|(key, candidate)| {
            let best = candidate
                .chunk
                .sentence_vectors
                .iter()
                .map(|vector| dot(question_vector, vector))
                .max_by(f32::total_cmp)?;
            Some((best, key.clone()))
        })
        .collect();
    by_sentence.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    for (rank, (best, key)) in by_sentence.into_iter().enumerate() {
        if let Some(candidate) = candidates.get_mut(&key) {
            candidate.fused += 1.0 / (RRF_K + rank as f32 + 1.0);
            candidate.best_sentence = Some(best);
        }
    }
    let mut ranked: Vec<Candidate> = candidates
        .into_values()
        .filter(|candidate| is_relevant(candidate, terms, settings.min_relevance))
        .collect();
    ranked.sort_by(|a, b| {
        b.fused
            .total_cmp(&a.fused)
            .then_with(|| a.chunk.document_id.cmp(&b.chunk.document_id))
            .then_with(|| a.chunk.ordinal.cmp(&b.chunk.ordinal))
    });
    ranked
}

/// Orders the passages to be returned by how well each one's best sentence
/// answers the question: which passages are returned is the fusion's choice,
/// which comes first is this. Questions and table-of-contents lines in a
/// passage are not answers, so a contents page listing the question's own
/// words does not come first. A passage without sentence vectors is judged as
/// a whole; when none has them (a store that keeps none), the order stays.
pub fn order_by_best_sentence<T>(
    found: &mut Vec<T>,
    candidate: impl Fn(&T) -> &Candidate,
    terms: &QuestionTerms,
    question_vector: &[f32],
) {
    if found
        .iter()
        .all(|item| candidate(item).chunk.sentence_vectors.is_empty())
    {
        return;
    }
    let mut scored: Vec<(f32, T)> = std::mem::take(found)
        .into_iter()
        .enumerate()
        .map(|(place, item)| {
            let best = best_sentence_score(candidate(&item), terms, question_vector);
            (best + FUSED_PLACE_WEIGHT / (place as f32 + 1.0), item)
        })
        .collect();
    // Stable: equal scores keep the fused order.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    found.extend(scored.into_iter().map(|(_, item)| item));
}

fn best_sentence_score(
    candidate: &Candidate,
    terms: &QuestionTerms,
    question_vector: &[f32],
) -> f32 {
    let chunk = &candidate.chunk;
    let sentences = sentences(&chunk.text);
    if sentences.len() != chunk.sentence_vectors.len() {
        return sentence_relevance(candidate.cosine.unwrap_or(0.0), terms.coverage(&chunk.text));
    }
    sentences
        .iter()
        .zip(chunk.sentence_vectors.iter())
        .filter(|(sentence, _)| !is_question(sentence) && !is_contents_entry(sentence))
        .map(|(sentence, vector)| {
            sentence_relevance(dot(question_vector, vector), terms.coverage(sentence))
        })
        .fold(0.0, f32::max)
}

/// Relevant by meaning (cosine at the floor), or by words: every term of the
/// question present (an error code, a name the embedding cannot place), or
/// most terms present with a meaning not far off.
fn is_relevant(candidate: &Candidate, terms: &QuestionTerms, floor: f32) -> bool {
    // Words are counted only when meaning alone does not decide (stemming every
    // candidate's text was a third of the fusion's time).
    let coverage = || terms.coverage(&candidate.chunk.text);
    match candidate.cosine.or(candidate.best_sentence) {
        Some(cosine) if cosine >= floor => true,
        Some(cosine) => {
            let coverage = coverage();
            coverage >= 1.0 || (coverage >= PARTIAL_TERM_COVERAGE && cosine >= floor / 2.0)
        }
        None => coverage() >= 1.0,
    }
}
