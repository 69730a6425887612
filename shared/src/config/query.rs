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

impl RetrievalSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(RetrievalSettings {
            min_relevance: env.decimal(
                "ASKDOCS_MIN_RELEVANCE",
                defaults.min_relevance,
                0.0..=1.0,
            )?,
            history_turns: env.number("ASKDOCS_HISTORY_TURNS", 3, 0..=20)? as usize,
            ..defaults
        })
    }
}
