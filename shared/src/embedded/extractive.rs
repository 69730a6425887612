//! The default local answerer: no language model, only sentences quoted from
//! the passages. It picks the sentences most like the question (by embedding
//! similarity and shared terms) and cites where each came from, so every word
//! of the answer is in the user's documents.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{Generated, GenerationRequest, UsedPassage};
use crate::ports::{Embedder, Generator};
use crate::retrieve::NOT_FOUND_ANSWER;
use crate::text::{sentences, shorten, term_coverage};

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
    score: f32,
}

#[async_trait]
impl Generator for ExtractiveAnswerer {
    async fn generate(&self, request: &GenerationRequest) -> Result<Generated> {
        let not_found = || Generated {
            answer: NOT_FOUND_ANSWER.to_string(),
            used: Vec::new(),
            model: self.model_id.clone(),
        };
        let mut candidates: Vec<Candidate> = request
            .passages
            .iter()
            .flat_map(|passage| {
                sentences(&passage.text)
                    .into_iter()
                    .enumerate()
                    .map(move |(position, sentence)| Candidate {
                        passage: passage.number,
                        position,
                        sentence,
                        score: 0.0,
                    })
            })
            .take(MAX_CANDIDATES)
            .collect();
        if candidates.is_empty() {
            return Ok(not_found());
        }

        let mut texts = vec![request.question.clone()];
        texts.extend(
            candidates
                .iter()
                .map(|candidate| candidate.sentence.clone()),
        );
        let vectors = self.embedder.embed(&texts).await?;
        let question = &vectors[0];
        for (candidate, vector) in candidates.iter_mut().zip(&vectors[1..]) {
            // Meaning first, shared words next, and a nudge towards better-ranked passages.
            // Headings and fragments rarely answer anything on their own.
            let fragment_penalty = if candidate.sentence.split_whitespace().count() < 5 {
                0.15
            } else {
                0.0
            };
            candidate.score = dot(question, vector)
                + 0.3 * term_coverage(&request.question, &candidate.sentence)
                + 0.05 / candidate.passage as f32
                - fragment_penalty;
        }

        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        let best = candidates[0].score;
        if best < MIN_SCORE {
            return Ok(not_found());
        }
        let mut selected: Vec<Candidate> = candidates
            .into_iter()
            .take_while(|candidate| candidate.score >= best * KEEP_RATIO)
            .take(MAX_SELECTED)
            .collect();
        // Read in document order, as the passages were ranked.
        selected.sort_by_key(|candidate| (candidate.passage, candidate.position));

        // Consecutive sentences of one passage share a single citation mark.
        let mut answer = String::new();
        for (index, candidate) in selected.iter().enumerate() {
            if !answer.is_empty() {
                answer.push(' ');
            }
            answer.push_str(&shorten(&candidate.sentence, MAX_SENTENCE_CHARS));
            if selected
                .get(index + 1)
                .is_none_or(|next| next.passage != candidate.passage)
            {
                answer.push_str(&format!(" [{}]", candidate.passage));
            }
        }
        let mut used: Vec<UsedPassage> = Vec::new();
        for candidate in &selected {
            let quote = shorten(&candidate.sentence, MAX_SENTENCE_CHARS);
            match used
                .iter_mut()
                .find(|used| used.number == candidate.passage)
            {
                Some(existing) => {
                    let joined = format!("{} {quote}", existing.quote.take().unwrap_or_default());
                    existing.quote = Some(joined.trim().to_string());
                }
                None => used.push(UsedPassage {
                    number: candidate.passage,
                    quote: Some(quote),
                }),
            }
        }
        Ok(Generated {
            answer,
            used,
            model: self.model_id.clone(),
        })
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}
