//! The default local answerer: no language model, only sentences quoted from
//! the passages. It picks the sentences most like the question (by embedding
//! similarity and shared terms) and cites where each came from, so every word
//! of the answer is in the user's documents.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::text::{sentences, shorten, term_coverage};
use crate::model::{Completion, Generated, GenerationRequest, Quote, NOT_FOUND_ANSWER};
use crate::ports::{Embedder, Generator};

/// Sentences considered per question: enough for `topK` passages, bounded for speed.
const MAX_CANDIDATES: usize = 96;
const MAX_SELECTED: usize = 3;
/// A sentence joins the answer when it scores at least this share of the best one.
const KEEP_RATIO: f32 = 0.85;
/// Below this the best sentence is not really about the question.
const MIN_SCORE: f32 = 0.2;
const MAX_SENTENCE_CHARS: usize = 400;

pub struct ExtractiveAnswerer {
    embedder: Arc<dyn Embedder>,
    model_id: String,
}

impl ExtractiveAnswerer {
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        let model_id = format!("extractive ({})", embedder.model_id());
        ExtractiveAnswerer { embedder, model_id }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

struct Candidate {
    passage: usize,
    position: usize,
    sentence: String,
    /// Stored with the passage, or computed when scoring.
    vector: Option<Vec<f32>>,
    score: f32,
}

impl ExtractiveAnswerer {
    fn answer(&self, answer: String, quotes: Vec<Quote>) -> Generated {
        Generated {
            answer,
            quotes,
            model: self.model_id.clone(),
            completion: Completion::Complete,
        }
    }

    /// Meaning first, shared words next, and a nudge towards better-ranked
    /// passages; headings and fragments rarely answer anything on their own.
    /// Sentence vectors stored with the passages are used as they are; only
    /// the question and sentences without one go through the model.
    async fn score(&self, question: &str, candidates: &mut [Candidate]) -> Result<()> {
        let mut texts = vec![question.to_string()];
        texts.extend(
            candidates
                .iter()
                .filter(|candidate| candidate.vector.is_none())
                .map(|candidate| candidate.sentence.clone()),
        );
        let mut embedded = self.embedder.embed(&texts).await?.into_iter();
        let question_vector = embedded.next().unwrap_or_default();
        for candidate in candidates.iter_mut() {
            if candidate.vector.is_none() {
                candidate.vector = embedded.next();
            }
        }
        for candidate in candidates.iter_mut() {
            let vector = candidate.vector.as_deref().unwrap_or_default();
            let fragment_penalty = if candidate.sentence.split_whitespace().count() < 5 {
                0.15
            } else {
                0.0
            };
            candidate.score = dot(&question_vector, vector)
                + 0.3 * term_coverage(question, &candidate.sentence)
                + 0.05 / candidate.passage as f32
                - fragment_penalty;
        }
        Ok(())
    }
}

/// Every sentence of the passages, in order, up to the candidate bound.
fn candidates(request: &GenerationRequest) -> Vec<Candidate> {
    request
        .passages
        .iter()
        .flat_map(|passage| {
            let sentences = sentences(&passage.text);
            // Stored vectors are used only when they line up with the sentences.
            let stored = (passage.sentence_vectors.len() == sentences.len())
                .then_some(&passage.sentence_vectors);
            sentences
                .into_iter()
                .enumerate()
                .map(move |(position, sentence)| Candidate {
                    passage: passage.number,
                    position,
                    sentence,
                    vector: stored.map(|vectors| vectors[position].clone()),
                    score: 0.0,
                })
        })
        .take(MAX_CANDIDATES)
        .collect()
}

/// The chosen sentences in reading order, consecutive sentences of one
/// passage sharing a single citation mark, and what each passage gave.
fn compose(selected: &[Candidate]) -> (String, Vec<Quote>) {
    let mut answer = String::new();
    let mut quotes: Vec<Quote> = Vec::new();
    for (index, candidate) in selected.iter().enumerate() {
        let sentence = shorten(&candidate.sentence, MAX_SENTENCE_CHARS);
        if !answer.is_empty() {
            answer.push(' ');
        }
        answer.push_str(&sentence);
        if selected
            .get(index + 1)
            .is_none_or(|next| next.passage != candidate.passage)
        {
            answer.push_str(&format!(" [{}]", candidate.passage));
        }
        match quotes
            .iter_mut()
            .find(|quote| quote.number == candidate.passage)
        {
            Some(quote) => {
                quote.text.push(' ');
                quote.text.push_str(&sentence);
            }
            None => quotes.push(Quote {
                number: candidate.passage,
                text: sentence,
            }),
        }
    }
    (answer, quotes)
}

#[async_trait]
impl Generator for ExtractiveAnswerer {
    async fn generate(&self, request: &GenerationRequest) -> Result<Generated> {
        let mut candidates = candidates(request);
        if candidates.is_empty() {
            return Ok(self.answer(NOT_FOUND_ANSWER.to_string(), Vec::new()));
        }
        self.score(&request.question, &mut candidates).await?;
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        let best = candidates[0].score;
        if best < MIN_SCORE {
            return Ok(self.answer(NOT_FOUND_ANSWER.to_string(), Vec::new()));
        }
        let mut selected: Vec<Candidate> = candidates
            .into_iter()
            .take_while(|candidate| candidate.score >= best * KEEP_RATIO)
            .take(MAX_SELECTED)
            .collect();
        // Read in document order, as the passages were ranked.
        selected.sort_by_key(|candidate| (candidate.passage, candidate.position));
        let (answer, quotes) = compose(&selected);
        Ok(self.answer(answer, quotes))
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}
