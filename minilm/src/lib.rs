//! all-MiniLM-L6-v2 sentence embeddings on the CPU, exactly as
//! sentence-transformers computes them: WordPiece tokens (truncated at 256),
//! the 6-layer BERT encoder, mean pooling, L2 normalisation.
//!
//! The encoder is written for this one model shape rather than run through a
//! general tensor library, because that is what makes it fast on two cores:
//! - no padding: every text's tokens sit in one matrix for the dense layers,
//!   and attention runs per text and head, so there is no mask and no wasted
//!   work on short texts;
//! - fused query/key/value weights; each bias is added by the pass that next
//!   reads the product (attention, GELU, residual + layer norm), so the matrix
//!   multiplies write their output once and never read it;
//! - attention in a kernel written for 32-wide heads, its keys and values
//!   copied side by side first (a general multiply spends its time packing
//!   at that shape);
//! - work buffers kept per thread, so steady state allocates nothing (a
//!   general library's fresh tensor per op cost ~30k page faults per passage);
//! - texts in batches of about 512 tokens, the batches spread over the cores
//!   (better than splitting each multiply across them; 512 measured a little
//!   faster than 1,024 here);
//! - `gemm`'s AVX-512 kernels where the CPU has them, AVX2/FMA otherwise.
//!
//! The crate is built at `opt-level = 3` (see the workspace Cargo.toml) while
//! the Lambda functions stay small at `"s"`.

mod encoder;
mod kernels;
mod weights;

use std::ops::Range;
use std::path::Path;

use anyhow::Context as _;
use tokenizers::{Tokenizer, TruncationParams};

pub use encoder::Config;

/// sentence-transformers' `max_seq_length` for this model.
pub const MAX_TOKENS: usize = 256;

/// Tokens per batch: big enough to keep the matrix kernels busy, small
/// enough that the batches spread evenly over the cores and stay in cache.
const TOKENS_PER_BATCH: usize = 512;

/// The files a model directory must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

pub struct MiniLm {
    encoder: encoder::Encoder,
    tokenizer: Tokenizer,
}

impl MiniLm {
    /// Loads the model from a directory holding [`MODEL_FILES`].
    pub fn load(model_dir: &Path) -> anyhow::Result<Self> {
        for file in MODEL_FILES {
            anyhow::ensure!(
                model_dir.join(file).is_file(),
                "the embedding model is missing {}",
                model_dir.join(file).display()
            );
        }
        let config: Config = serde_json::from_slice(&std::fs::read(model_dir.join("config.json"))?)
            .context("reading the model's config.json")?;
        let mut tokenizer = Tokenizer::from_file(model_dir.join("tokenizer.json"))
            .map_err(|error| anyhow::anyhow!("reading tokenizer.json: {error}"))?;
        // The shipped tokenizer.json pads and truncates at 128; sentence-transformers
        // truncates at 256 and never needs padding here.
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|error| anyhow::anyhow!("configuring truncation: {error}"))?;
        tokenizer.with_padding(None);
        let weights = weights::Weights::read(&model_dir.join("model.safetensors"))?;
        let encoder = encoder::Encoder::new(config, weights)?;
        Ok(MiniLm { encoder, tokenizer })
    }

    /// Dimensions of every vector (384).
    pub fn dimensions(&self) -> usize {
        self.encoder.config.hidden_size
    }

    /// Token ids of each text, as the encoder sees them ([CLS] … [SEP], truncated).
    /// A batch is tokenized on every core: alone, the normaliser kept one core
    /// busy while the other waited (~5% of a batch's time).
    pub fn tokenize(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<u32>>> {
        use rayon::prelude::*;
        let encode = |text: &&str| {
            self.tokenizer
                .encode(*text, true)
                .map(|encoding| encoding.get_ids().to_vec())
                .map_err(|error| anyhow::anyhow!("tokenizing: {error}"))
        };
        if texts.len() < 2 {
            return texts.iter().map(encode).collect();
        }
        texts.par_iter().map(encode).collect()
    }

    /// One unit vector per text. Blocks; spreads big inputs over rayon's pool.
    pub fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let tokens = self.tokenize(texts)?;
        Ok(self.embed_tokens(&tokens))
    }

    /// One unit vector per token sequence (from [`MiniLm::tokenize`]).
    pub fn embed_tokens(&self, tokens: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let whole: Vec<Vec<Range<usize>>> = tokens
            .iter()
            .map(|sequence| std::iter::once(0..sequence.len()).collect())
            .collect();
        self.pool(tokens, &whole)
            .into_iter()
            .map(|mut vectors| vectors.pop().expect("one range per text"))
            .collect()
    }

    /// For each text, its vector and one vector per byte range in `spans`
    /// ("late chunking": the mean of the range's token states, so each part
    /// is read in the context of the whole text, in the same single pass).
    /// A range that lies beyond the truncated tokens, or holds none, is
    /// embedded on its own instead.
    pub fn embed_with_spans(
        &self,
        texts: &[(&str, &[Range<usize>])],
    ) -> anyhow::Result<Vec<TextVectors>> {
        let mut tokens = Vec::with_capacity(texts.len());
        let mut ranges = Vec::with_capacity(texts.len());
        let mut alone: Vec<(usize, usize, &str)> = Vec::new();
        for (index, (text, spans)) in texts.iter().enumerate() {
            let encoding = self
                .tokenizer
                .encode(*text, true)
                .map_err(|error| anyhow::anyhow!("tokenizing: {error}"))?;
            let offsets = encoding.get_offsets();
            let special = encoding.get_special_tokens_mask();
            // Where the tokens the model sees stop (the text may be truncated).
            let seen_until = (0..offsets.len())
                .rev()
                .find(|&token| special[token] == 0)
                .map_or(0, |token| offsets[token].1);
            let mut text_ranges: Vec<Range<usize>> = std::iter::once(0..offsets.len()).collect();
            for (part, span) in spans.iter().enumerate() {
                let inside = |token: usize| {
                    special[token] == 0
                        && offsets[token].0 >= span.start
                        && offsets[token].1 <= span.end
                };
                let first = (0..offsets.len()).find(|&token| inside(token));
                let last = (0..offsets.len()).rev().find(|&token| inside(token));
                match (first, last) {
                    (Some(first), Some(last)) if span.end <= seen_until => {
                        text_ranges.push(first..last + 1)
                    }
                    _ => {
                        text_ranges.push(0..0);
                        alone.push((index, part, &text[span.clone()]));
                    }
                }
            }
            tokens.push(encoding.get_ids().to_vec());
            ranges.push(text_ranges);
        }
        let mut pooled = self.pool(&tokens, &ranges);
        if !alone.is_empty() {
            let parts: Vec<&str> = alone.iter().map(|(_, _, text)| *text).collect();
            for ((index, part, _), vector) in alone.iter().zip(self.embed(&parts)?) {
                pooled[*index][part + 1] = vector;
            }
        }
        Ok(pooled
            .into_iter()
            .map(|mut vectors| {
                let parts = vectors.split_off(1);
                TextVectors {
                    whole: vectors.pop().expect("the whole text's vector"),
                    parts,
                }
            })
            .collect())
    }

    /// For each token sequence, the pooled vector of each of its token ranges.
    fn pool(&self, tokens: &[Vec<u32>], ranges: &[Vec<Range<usize>>]) -> Vec<Vec<Vec<f32>>> {
        use rayon::prelude::*;
        // Similar lengths share a batch; each batch is about TOKENS_PER_BATCH tokens.
        let mut order: Vec<usize> = (0..tokens.len()).collect();
        order.sort_by_key(|&index| tokens[index].len());
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut batch_tokens = 0;
        for index in order {
            let length = tokens[index].len();
            match batches.last_mut() {
                Some(batch) if batch_tokens + length <= TOKENS_PER_BATCH => batch.push(index),
                _ => {
                    batches.push(vec![index]);
                    batch_tokens = 0;
                }
            }
            batch_tokens += length;
        }
        let run = |batch: &Vec<usize>| {
            let sequences: Vec<&[u32]> = batch
                .iter()
                .map(|&index| tokens[index].as_slice())
                .collect();
            let batch_ranges: Vec<&[Range<usize>]> = batch
                .iter()
                .map(|&index| ranges[index].as_slice())
                .collect();
            let vectors = encoder::with_scratch(|scratch| {
                self.encoder.pool(&sequences, &batch_ranges, scratch)
            });
            batch.iter().copied().zip(vectors).collect::<Vec<_>>()
        };
        // One batch (a question) runs on the calling thread: handing it to the
        // pool only adds latency; many run side by side on all cores.
        let embedded: Vec<(usize, Vec<Vec<f32>>)> = if batches.len() == 1 {
            run(&batches[0])
        } else {
            batches
                .par_iter()
                .with_max_len(1)
                .flat_map_iter(run)
                .collect()
        };
        let mut vectors = vec![Vec::new(); tokens.len()];
        for (index, pooled) in embedded {
            vectors[index] = pooled;
        }
        vectors
    }
}

/// A text's vector and those of its parts, from [`MiniLm::embed_with_spans`].
#[derive(Debug, Clone, PartialEq)]
pub struct TextVectors {
    pub whole: Vec<f32>,
    pub parts: Vec<Vec<f32>>,
}
