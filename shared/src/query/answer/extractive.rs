//! The default local answerer: no language model, only sentences quoted from
//! the passages. It picks the sentences most like the question (by embedding
//! similarity and shared terms) and cites where each came from, so every word
//! of the answer is in the user's documents.

use std::sync::Arc;

use async_trait::async_trait;

use super::answer_type::{
    about_document_words, can_answer, codes, document_words, expected_answer,
    file_name_names_number, mentions_number, named_numbers, names_a_code, names_every_code,
    names_every_name, proper_names, states_value_of_codes, tells_introduction,
    under_version_heading, Expected,
};
use super::relevance::{
    is_contents_entry, is_question, sentence_relevance, term_coverage, QuestionTerms,
};
use crate::error::Result;
use crate::model::text::{sentences, shorten};
use crate::model::vector::dot;
use crate::model::{Completion, Generated, GenerationRequest, Quote, NOT_FOUND_ANSWER};
use crate::ports::{AnswerText, Embedder, Generator};

/// Sentences considered per question: every sentence of `topK` passages.
const MAX_CANDIDATES: usize = 400;
/// Of those, at most this many without a stored vector are embedded per
/// question (passages indexed before sentence vectors were kept).
const MAX_EMBEDDED: usize = 96;
/// A question asking for a number, version or date is answered only by a
/// sentence holding one that scores at least this share of the best sentence:
/// otherwise the passages talk about the thing but do not state the fact.
const TYPED_RATIO: f32 = 0.6;
/// ... and that, with the sentence before it, shares at least this share of
/// the question's terms, or is at least this close in meaning.
const TYPED_COVERAGE: f32 = 0.5;
const TYPED_SIMILARITY: f32 = 0.5;
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

struct Candidate {
    passage: usize,
    position: usize,
    sentence: String,
    /// The sentence before it in the passage (empty for the first): the
    /// subject an answer sentence leaves out ("The default is 10.").
    before: String,
    /// Cosine similarity to the question.
    similarity: f32,
    /// Stored with the passage, or computed when scoring.
    vector: Option<Vec<f32>>,
    score: f32,
}

impl Candidate {
    fn with_context(&self) -> String {
        format!("{} {}", self.before, self.sentence)
    }
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
    /// The question's vector from retrieval and sentence vectors stored with
    /// the passages are used as they are; only what lacks one goes through
    /// the model.
    async fn score(
        &self,
        question: &str,
        question_vector: Option<&[f32]>,
        candidates: &mut [Candidate],
    ) -> Result<()> {
        let mut texts = Vec::new();
        if question_vector.is_none() {
            texts.push(question.to_string());
        }
        texts.extend(
            candidates
                .iter()
                .filter(|candidate| candidate.vector.is_none())
                .map(|candidate| candidate.sentence.clone()),
        );
        let mut embedded = if texts.is_empty() {
            Vec::new().into_iter()
        } else {
            self.embedder.embed(&texts).await?.into_iter()
        };
        let question_vector = match question_vector {
            Some(vector) => vector.to_vec(),
            None => embedded.next().unwrap_or_default(),
        };
        for candidate in candidates.iter_mut() {
            if candidate.vector.is_none() {
                candidate.vector = embedded.next();
            }
        }
        let terms = QuestionTerms::new(question);
        for candidate in candidates.iter_mut() {
            let vector = candidate.vector.as_deref().unwrap_or_default();
            let fragment_penalty = if candidate.sentence.split_whitespace().count() < 5 {
                0.15
            } else {
                0.0
            };
            candidate.similarity = dot(&question_vector, vector);
            candidate.score =
                sentence_relevance(candidate.similarity, terms.coverage(&candidate.sentence))
                    + 0.05 / candidate.passage as f32
                    - fragment_penalty;
        }
        Ok(())
    }
}

/// Sentences right after a question in the text are its answer (FAQs, "Q:"
/// sections): they score at least as well as that question, a little less
/// with each step away, so a question matching the user's lifts its answer.
fn answers_follow_questions(candidates: &mut [Candidate]) {
    const FOLLOWING: usize = 2;
    const STEP: f32 = 0.02;
    for index in 0..candidates.len() {
        if !is_question(&candidates[index].sentence) {
            continue;
        }
        let (passage, score) = (candidates[index].passage, candidates[index].score);
        for (step, next) in (index + 1..candidates.len()).take(FOLLOWING).enumerate() {
            let next = &mut candidates[next];
            if next.passage != passage || is_question(&next.sentence) {
                break;
            }
            next.score = next.score.max(score - STEP * (step + 1) as f32);
        }
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
            sentences.into_iter().enumerate().scan(
                String::new(),
                move |before, (position, sentence)| {
                    let candidate = Candidate {
                        passage: passage.number,
                        position,
                        before: std::mem::replace(before, sentence.clone()),
                        sentence,
                        similarity: 0.0,
                        vector: stored.map(|vectors| vectors[position].clone()),
                        score: 0.0,
                    };
                    Some(candidate)
                },
            )
        })
        .take(MAX_CANDIDATES)
        .scan(0, |embedded, candidate| {
            if candidate.vector.is_none() {
                *embedded += 1;
            }
            Some((*embedded <= MAX_EMBEDDED || candidate.vector.is_some()).then_some(candidate))
        })
        .flatten()
        .collect()
}

/// The chosen sentences in reading order, consecutive sentences of one
/// passage sharing a single citation mark, and what each passage gave.
fn compose(selected: &[Candidate]) -> (Vec<String>, Vec<Quote>) {
    let mut pieces: Vec<String> = Vec::with_capacity(selected.len());
    let mut quotes: Vec<Quote> = Vec::new();
    for (index, candidate) in selected.iter().enumerate() {
        let sentence = shorten(&candidate.sentence, MAX_SENTENCE_CHARS);
        let mut piece = String::new();
        if index > 0 {
            piece.push(' ');
        }
        piece.push_str(&sentence);
        if selected
            .get(index + 1)
            .is_none_or(|next| next.passage != candidate.passage)
        {
            piece.push_str(&format!(" [{}]", candidate.passage));
        }
        pieces.push(piece);
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
    (pieces, quotes)
}

/// An answer as its sentences, each with the citation that closes it.
type Sentences = (Vec<String>, Vec<Quote>);

fn not_found() -> Sentences {
    (vec![NOT_FOUND_ANSWER.to_string()], Vec::new())
}

#[async_trait]
impl Generator for ExtractiveAnswerer {
    async fn generate(&self, request: &GenerationRequest) -> Result<Generated> {
        let (sentences, quotes) = self.sentences(request).await?;
        Ok(self.answer(sentences.concat(), quotes))
    }

    /// The sentences are chosen together (the best one sets the bar for the
    /// rest), then sent one by one.
    async fn generate_streaming(
        &self,
        request: &GenerationRequest,
        written: &AnswerText,
    ) -> Result<Generated> {
        let (sentences, quotes) = self.sentences(request).await?;
        for sentence in &sentences {
            written.send(sentence).await?;
        }
        Ok(self.answer(sentences.concat(), quotes))
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}

impl ExtractiveAnswerer {
    /// The sentences of the passages that answer the question, or the
    /// not-found answer.
    async fn sentences(&self, request: &GenerationRequest) -> Result<Sentences> {
        let mut candidates = candidates(request);
        if candidates.is_empty() {
            return Ok(not_found());
        }
        self.score(
            &request.question,
            request.question_vector.as_deref(),
            &mut candidates,
        )
        .await?;
        answers_follow_questions(&mut candidates);
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        let best_overall = candidates[0].score;
        if best_overall < MIN_SCORE {
            return Ok(not_found());
        }
        // The passages that can hold the answer, judged once each: a passage
        // that answers names the numbers the question names ("Debian 14") -
        // or its document's name does: "Git 2.39" is the subject of
        // git-2.39.0-RelNotes.txt, which its passages need not repeat; it is
        // about the document the question names ("debconf" beside a
        // retrieved debconf_specification.txt); it names the question's
        // proper names and every code the question names.
        let numbers = named_numbers(&request.question);
        let file_names: Vec<&str> = request
            .passages
            .iter()
            .map(|passage| passage.file_name.as_str())
            .collect();
        let document_words = document_words(&request.question, &file_names);
        let names = proper_names(&request.question);
        let codes = codes(&request.question);
        let answering_passages: Vec<usize> = request
            .passages
            .iter()
            .filter(|passage| {
                numbers.iter().all(|number| {
                    mentions_number(&passage.text, number)
                        || file_name_names_number(&passage.file_name, number)
                }) && about_document_words(&document_words, &passage.file_name, &passage.text)
                    && names_every_name(&names, &passage.text, &passage.file_name)
                    && names_every_code(&codes, &passage.text)
            })
            .map(|passage| passage.number)
            .collect();
        let expected = expected_answer(&request.question);
        let asks_value = matches!(expected, Expected::Number | Expected::Size | Expected::Hex);
        let asks_introduction =
            expected == Expected::Version && tells_introduction(&request.question);
        let can_be_the_answer = |candidate: &Candidate| {
            answering_passages.contains(&candidate.passage)
                && !is_question(&candidate.sentence)
                && !is_contents_entry(&candidate.sentence)
                && (can_answer(expected, &request.question, &candidate.sentence)
                    // A change in release notes or a changelog is answered by
                    // the version heading its section.
                    || (expected == Expected::Version
                        && under_version_heading(
                            &request.passages[candidate.passage - 1].text,
                            &candidate.sentence,
                        )))
                // ... and the sentence names one of the codes at least.
                && names_a_code(&codes, &candidate.with_context())
                // "0 <= nUnused <= BZ_MAX_UNUSED" names the constant, not its value.
                && (!asks_value || states_value_of_codes(&request.question, &candidate.sentence))
                // A version merely mentioned ("Zsh version 5.9" in a footer)
                // does not say what it introduced.
                && (!asks_introduction || tells_introduction(&candidate.with_context()))
                // A fact of the kind asked must also be about what was asked:
                // in the question's words, or close in meaning.
                && (expected == Expected::Any
                    || candidate.similarity >= TYPED_SIMILARITY
                    || term_coverage(&request.question, &candidate.with_context()) >= TYPED_COVERAGE)
        };
        let Some(best) = candidates
            .iter()
            .find(|candidate| can_be_the_answer(candidate))
            .map(|candidate| candidate.score)
        else {
            tracing::debug!(?expected, best = %candidates[0].sentence, "not found: no sentence can be the answer");
            return Ok(not_found());
        };
        if best < MIN_SCORE || (expected != Expected::Any && best < best_overall * TYPED_RATIO) {
            tracing::debug!(
                ?expected,
                best,
                best_overall,
                "not found: the answering sentences score too low"
            );
            return Ok(not_found());
        }
        // Overlapping passages repeat sentences: each is quoted once.
        let mut seen = std::collections::HashSet::new();
        let mut selected: Vec<Candidate> = candidates
            .into_iter()
            .filter(|candidate| can_be_the_answer(candidate))
            .filter(|candidate| seen.insert(candidate.sentence.to_lowercase()))
            .take_while(|candidate| candidate.score >= best * KEEP_RATIO)
            .take(MAX_SELECTED)
            .collect();
        // Read in document order, as the passages were ranked.
        selected.sort_by_key(|candidate| (candidate.passage, candidate.position));
        Ok(compose(&selected))
    }
}
