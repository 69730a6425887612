//! The local embedding model behind the `Embedder` port: all-MiniLM-L6-v2
//! (384 dimensions) run in-process by the `askdocs-minilm` crate, giving the
//! vectors sentence-transformers gives.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use askdocs_minilm::MiniLm;
use async_trait::async_trait;
use tokio::sync::Semaphore;

use crate::error::Result;
use crate::model::text::{sentence_spans, titled};
use crate::ports::{Embedder, PassageVectors};

pub use askdocs_minilm::{MAX_TOKENS, MODEL_FILES};

pub const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";

pub struct MiniLmEmbedder {
    model: Arc<MiniLm>,
    /// Model runs at once: one per core. More only share the cores, so each
    /// waits longer; queued here, first come is first served.
    running: Arc<Semaphore>,
}

impl MiniLmEmbedder {
    pub fn load(model_dir: &Path) -> anyhow::Result<Self> {
        // MiniLm::load names the missing file; this says how to get it.
        let model = MiniLm::load(model_dir).with_context(|| {
            format!(
                "loading the embedding model (run `make model` to fetch it into {})",
                model_dir.display()
            )
        })?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(MiniLmEmbedder {
            model: Arc::new(model),
            running: Arc::new(Semaphore::new(cores)),
        })
    }

    /// Embeds synchronously; call from a blocking thread.
    pub fn embed_blocking(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.model.embed(&texts)
    }

    /// The mean number of tokens the model sees per text (after truncation).
    pub fn mean_tokens(&self, texts: &[String]) -> f64 {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let total: usize = self
            .model
            .tokenize(&texts)
            .map(|tokens| tokens.iter().map(Vec::len).sum())
            .unwrap_or(0);
        total as f64 / texts.len().max(1) as f64
    }
}

impl MiniLmEmbedder {
    /// Runs `work` on `texts` on a blocking thread, once a core is free.
    async fn run<T: Send + 'static>(
        &self,
        texts: &[String],
        work: impl FnOnce(&MiniLm, Vec<String>) -> anyhow::Result<Vec<T>> + Send + 'static,
    ) -> Result<Vec<T>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let _turn = self
            .running
            .acquire()
            .await
            .context("the embedding model has shut down")?;
        let model = self.model.clone();
        let texts = texts.to_vec();
        Ok(tokio::task::spawn_blocking(move || work(&model, texts))
            .await
            .context("embedding task")??)
    }
}

#[async_trait]
impl Embedder for MiniLmEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.run(texts, |model, texts| {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            model.embed(&texts)
        })
        .await
    }

    /// Sentence vectors come from the passage's own pass (late chunking), so
    /// they cost nothing beyond pooling.
    async fn embed_passages(&self, title: &str, texts: &[String]) -> Result<Vec<PassageVectors>> {
        let title = title.to_string();
        self.run(texts, move |model, texts| {
            // The passage under its title; its sentences are still its own.
            let with_title: Vec<(String, Vec<std::ops::Range<usize>>)> = texts
                .iter()
                .map(|text| {
                    let (titled, start) = titled(&title, text);
                    let spans = sentence_spans(text)
                        .into_iter()
                        .map(|span| span.start + start..span.end + start)
                        .collect();
                    (titled, spans)
                })
                .collect();
            let inputs: Vec<(&str, &[std::ops::Range<usize>])> = with_title
                .iter()
                .map(|(text, spans)| (text.as_str(), spans.as_slice()))
                .collect();
            Ok(model
                .embed_with_spans(&inputs)?
                .into_iter()
                .map(|vectors| PassageVectors {
                    passage: vectors.whole,
                    sentences: vectors.parts,
                })
                .collect())
        })
        .await
    }

    fn dimensions(&self) -> usize {
        self.model.dimensions()
    }

    fn model_id(&self) -> &str {
        MODEL_ID
    }
}
