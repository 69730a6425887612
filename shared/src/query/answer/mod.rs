//! Answering: what turns retrieved passages into an answer. The extractive
//! answerer (quotes the sentences that answer, one machine's default
//! `Generator`), the kinds of answer a question expects, and the relevance
//! scoring retrieval and the answerer share. A language model (Claude on
//! Bedrock, an OpenAI-compatible server) is an adapter behind the same port.

pub mod answer_type;
mod extractive;
pub mod relevance;

pub use extractive::ExtractiveAnswerer;
