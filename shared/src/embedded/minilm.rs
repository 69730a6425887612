//! The local embedding model: all-MiniLM-L6-v2 (384 dimensions) run with candle.
//!
//! It reproduces sentence-transformers exactly: WordPiece tokenisation,
//! truncation at 256 tokens (`max_seq_length`), mean pooling over the attention
//! mask, L2 normalisation. The tokenizer.json shipped with the model pads and
//! truncates at 128, so both settings are replaced here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::Result;
use crate::ports::Embedder;

/// sentence-transformers' `max_seq_length` for this model.
pub const MAX_TOKENS: usize = 256;
/// Texts embedded in one forward pass: big enough to use both cores well,
/// small enough to keep padding waste and memory low.
const BATCH_SIZE: usize = 16;
pub const MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";

pub struct MiniLmEmbedder {
    model: Arc<Model>,
}

struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    dimensions: usize,
}

/// The files a model directory must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

impl MiniLmEmbedder {
    pub fn load(model_dir: &Path) -> anyhow::Result<Self> {
        for file in MODEL_FILES {
            anyhow::ensure!(
                model_dir.join(file).is_file(),
                "the embedding model is missing {} (run `make model` to fetch it into {})",
                model_dir.join(file).display(),
                model_dir.display()
            );
        }
        let config: BertConfig =
            serde_json::from_slice(&std::fs::read(model_dir.join("config.json"))?)
                .context("reading the model's config.json")?;
        let mut tokenizer = Tokenizer::from_file(model_dir.join("tokenizer.json"))
            .map_err(|error| anyhow::anyhow!("reading tokenizer.json: {error}"))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|error| anyhow::anyhow!("configuring truncation: {error}"))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        let weights: PathBuf = model_dir.join("model.safetensors");
        // SAFETY: the weights file is memory-mapped read-only and not modified while mapped.
        let variables =
            unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &Device::Cpu)? };
        let bert = BertModel::load(variables, &config).context("loading the model weights")?;
        Ok(MiniLmEmbedder {
            model: Arc::new(Model {
                bert,
                tokenizer,
                dimensions: config.hidden_size,
            }),
        })
    }

    /// Embeds synchronously; call from a blocking thread.
    pub fn embed_blocking(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        self.model.embed(texts)
    }

    /// The mean number of tokens the model sees per text (after truncation).
    pub fn mean_tokens(&self, texts: &[String]) -> f64 {
        let total: usize = texts
            .iter()
            .filter_map(|text| self.model.tokenizer.encode(text.as_str(), true).ok())
            .map(|encoding| encoding.len())
            .sum();
        total as f64 / texts.len().max(1) as f64
    }
}

impl Model {
    fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        // Similar lengths share a batch, so little compute goes to padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&index| texts[index].len());
        let mut vectors = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH_SIZE) {
            let inputs: Vec<&str> = batch.iter().map(|&index| texts[index].as_str()).collect();
            for (&index, vector) in batch.iter().zip(self.embed_batch(&inputs)?) {
                vectors[index] = vector;
            }
        }
        Ok(vectors)
    }

    fn embed_batch(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| anyhow::anyhow!("tokenizing: {error}"))?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |encoding| encoding.len());
        let flat = |select: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Vec<u32> {
            encodings
                .iter()
                .flat_map(|encoding| select(encoding).iter().copied())
                .collect()
        };
        let device = &self.bert.device;
        let ids = Tensor::from_vec(flat(&|e| e.get_ids()), (rows, width), device)?;
        let type_ids = Tensor::from_vec(flat(&|e| e.get_type_ids()), (rows, width), device)?;
        let mask = Tensor::from_vec(flat(&|e| e.get_attention_mask()), (rows, width), device)?;

        let hidden = self.bert.forward(&ids, &type_ids, Some(&mask))?; // (rows, width, dims)
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (rows, width, 1)
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (rows, dims)
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?; // (rows, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let normalized = mean.broadcast_div(&norms)?;
        Ok(normalized.to_vec2::<f32>()?)
    }
}

#[async_trait]
impl Embedder for MiniLmEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.model.clone();
        let texts = texts.to_vec();
        let vectors = tokio::task::spawn_blocking(move || model.embed(&texts))
            .await
            .context("embedding task")??;
        Ok(vectors)
    }

    fn dimensions(&self) -> usize {
        self.model.dimensions
    }

    fn model_id(&self) -> &str {
        MODEL_ID
    }
}
