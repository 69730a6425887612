//! Retrieval and answering.

use super::env::{ConfigError, Env};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrievalSettings {
    /// Cosine similarity below which a passage found by meaning is not relevant.
    pub min_relevance: f32,
    /// Earlier turns of a conversation carried into the prompt.
    pub history_turns: usize,
    /// Candidates fetched from each search before fusion.
    pub candidates: usize,
    /// The time one ask may take in all, embedding, search, reads and the
    /// answer together (`ASKDOCS_ASK_DEADLINE_SECONDS`): on AWS 27 s, since
    /// API Gateway answers 504 itself after 29 s, so an ask must end, and say
    /// so, before; 300 s on one machine.
    pub ask_deadline: std::time::Duration,
}

impl Default for RetrievalSettings {
    fn default() -> Self {
        RetrievalSettings {
            min_relevance: 0.3,
            history_turns: 3,
            candidates: 30,
            ask_deadline: std::time::Duration::from_secs(27),
        }
    }
}

impl RetrievalSettings {
    pub fn from_env(env: &Env, backend: &super::Backend) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        // On one machine a local language model on a CPU may take minutes,
        // and no gateway cuts the request off.
        let deadline = match backend {
            super::Backend::Aws(_) => defaults.ask_deadline.as_secs(),
            super::Backend::Embedded { .. } => 300,
        };
        Ok(RetrievalSettings {
            min_relevance: env.decimal(
                "ASKDOCS_MIN_RELEVANCE",
                defaults.min_relevance,
                0.0..=1.0,
            )?,
            history_turns: env.number("ASKDOCS_HISTORY_TURNS", 3, 0..=20)? as usize,
            ask_deadline: std::time::Duration::from_secs(env.number(
                "ASKDOCS_ASK_DEADLINE_SECONDS",
                deadline,
                3..=900,
            )?),
            ..defaults
        })
    }
}
