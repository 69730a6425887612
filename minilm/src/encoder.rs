//! The BERT encoder forward pass over unpadded token sequences, and mean pooling.

use std::cell::RefCell;
use std::ops::Range;

use gemm_common::Parallelism;
use serde::Deserialize;

use crate::kernels;
use crate::weights::Weights;

/// The fields of the model's config.json the encoder uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub vocab_size: usize,
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f32,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
}

fn default_type_vocab_size() -> usize {
    2
}

fn default_layer_norm_eps() -> f32 {
    1e-12
}

fn default_hidden_act() -> String {
    "gelu".into()
}

/// Weights of one layer. Matrices keep PyTorch's `[out, in]` layout, which
/// the matrix multiply reads as the transposed right-hand side directly.
struct Layer {
    /// Query, key and value weights stacked: `[3 × hidden, hidden]`.
    qkv: Vec<f32>,
    qkv_bias: Vec<f32>,
    output: Vec<f32>,
    output_bias: Vec<f32>,
    attention_norm: (Vec<f32>, Vec<f32>),
    up: Vec<f32>,
    up_bias: Vec<f32>,
    down: Vec<f32>,
    down_bias: Vec<f32>,
    output_norm: (Vec<f32>, Vec<f32>),
}

pub struct Encoder {
    pub config: Config,
    words: Vec<f32>,
    positions: Vec<f32>,
    /// Token type 0's embedding: every token here is type 0.
    token_type: Vec<f32>,
    embedding_norm: (Vec<f32>, Vec<f32>),
    layers: Vec<Layer>,
}

impl Encoder {
    pub fn new(config: Config, weights: Weights) -> anyhow::Result<Self> {
        anyhow::ensure!(
            config.hidden_act == "gelu",
            "the model uses {} activations; only gelu is supported",
            config.hidden_act
        );
        anyhow::ensure!(
            config.num_attention_heads > 0
                && config
                    .hidden_size
                    .is_multiple_of(config.num_attention_heads),
            "the model's hidden size does not split into its attention heads"
        );
        anyhow::ensure!(
            (config.hidden_size / config.num_attention_heads).is_multiple_of(kernels::HEAD_BLOCK),
            "the model's attention heads are not a multiple of {} wide",
            kernels::HEAD_BLOCK
        );
        anyhow::ensure!(
            config.max_position_embeddings >= crate::MAX_TOKENS,
            "the model has fewer positions than the tokens it is given"
        );
        let (hidden, inner) = (config.hidden_size, config.intermediate_size);
        let vector = |name: &str| weights.tensor(name, &[hidden]);
        let norm = |prefix: &str| -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
            Ok((
                vector(&format!("{prefix}.LayerNorm.weight"))?,
                vector(&format!("{prefix}.LayerNorm.bias"))?,
            ))
        };
        let layers = (0..config.num_hidden_layers)
            .map(|index| -> anyhow::Result<Layer> {
                let prefix = format!("encoder.layer.{index}");
                let mut qkv = Vec::with_capacity(3 * hidden * hidden);
                let mut qkv_bias = Vec::with_capacity(3 * hidden);
                for part in ["query", "key", "value"] {
                    let name = format!("{prefix}.attention.self.{part}");
                    qkv.extend(weights.tensor(&format!("{name}.weight"), &[hidden, hidden])?);
                    qkv_bias.extend(vector(&format!("{name}.bias"))?);
                }
                Ok(Layer {
                    qkv,
                    qkv_bias,
                    output: weights.tensor(
                        &format!("{prefix}.attention.output.dense.weight"),
                        &[hidden, hidden],
                    )?,
                    output_bias: vector(&format!("{prefix}.attention.output.dense.bias"))?,
                    attention_norm: norm(&format!("{prefix}.attention.output"))?,
                    up: weights.tensor(
                        &format!("{prefix}.intermediate.dense.weight"),
                        &[inner, hidden],
                    )?,
                    up_bias: weights
                        .tensor(&format!("{prefix}.intermediate.dense.bias"), &[inner])?,
                    down: weights
                        .tensor(&format!("{prefix}.output.dense.weight"), &[hidden, inner])?,
                    down_bias: vector(&format!("{prefix}.output.dense.bias"))?,
                    output_norm: norm(&format!("{prefix}.output"))?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let token_types = weights.tensor(
            "embeddings.token_type_embeddings.weight",
            &[config.type_vocab_size, hidden],
        )?;
        Ok(Encoder {
            words: weights.tensor(
                "embeddings.word_embeddings.weight",
                &[config.vocab_size, hidden],
            )?,
            positions: weights.tensor(
                "embeddings.position_embeddings.weight",
                &[config.max_position_embeddings, hidden],
            )?,
            token_type: token_types[..hidden].to_vec(),
            embedding_norm: norm("embeddings")?,
            layers,
            config,
        })
    }

    /// For each of `sequences` (token ids, at most MAX_TOKENS each), the unit
    /// mean-pooled vector of each of its token `ranges` (empty ranges give zeros).
    pub fn pool(
        &self,
        sequences: &[&[u32]],
        ranges: &[&[Range<usize>]],
        scratch: &mut Scratch,
    ) -> Vec<Vec<Vec<f32>>> {
        let hidden = self.config.hidden_size;
        let tokens: usize = sequences.iter().map(|sequence| sequence.len()).sum();
        if tokens > 0 {
            self.encode(sequences, scratch);
        }
        let mut start = 0;
        sequences
            .iter()
            .zip(ranges)
            .map(|(sequence, ranges)| {
                let rows = &scratch.states[start * hidden..(start + sequence.len()) * hidden];
                start += sequence.len();
                ranges
                    .iter()
                    .map(|range| mean_pool(&rows[range.start * hidden..range.end * hidden], hidden))
                    .collect()
            })
            .collect()
    }

    /// Leaves the last layer's token states of all sequences, one row per
    /// token, in `scratch.states`.
    fn encode(&self, sequences: &[&[u32]], scratch: &mut Scratch) {
        let config = &self.config;
        let (hidden, inner) = (config.hidden_size, config.intermediate_size);
        let heads = config.num_attention_heads;
        let head_size = hidden / heads;
        let tokens: usize = sequences.iter().map(|sequence| sequence.len()).sum();
        scratch.fit(tokens, hidden, inner);
        let Scratch {
            states,
            qkv,
            context,
            projected,
            intermediate,
            attention,
        } = scratch;
        let states = &mut states[..tokens * hidden];
        let qkv = &mut qkv[..tokens * 3 * hidden];
        let context = &mut context[..tokens * hidden];
        let projected = &mut projected[..tokens * hidden];
        let intermediate = &mut intermediate[..tokens * inner];
        // Splitting one small batch's multiplies over the cores pays only
        // when nothing else runs: a lone long text.
        let parallelism =
            if sequences.len() == 1 && tokens >= 128 && rayon::current_thread_index().is_none() {
                Parallelism::Rayon(rayon::current_num_threads())
            } else {
                Parallelism::None
            };

        let mut row = 0;
        for sequence in sequences {
            for (position, &id) in sequence.iter().enumerate() {
                let id = (id as usize).min(config.vocab_size - 1);
                let word = &self.words[id * hidden..(id + 1) * hidden];
                let place = &self.positions[position * hidden..(position + 1) * hidden];
                let out = &mut states[row * hidden..(row + 1) * hidden];
                for (((out, word), place), kind) in
                    out.iter_mut().zip(word).zip(place).zip(&self.token_type)
                {
                    *out = word + place + kind;
                }
                row += 1;
            }
        }
        let (gamma, beta) = &self.embedding_norm;
        kernels::layer_norm(states, gamma, beta, config.layer_norm_eps);

        let scale = 1.0 / (head_size as f32).sqrt();
        for layer in &self.layers {
            // Each bias is added by the pass that next reads the product.
            linear(qkv, states, &layer.qkv, hidden, parallelism);
            let mut start = 0;
            for sequence in sequences {
                let length = sequence.len();
                let rows = start * 3 * hidden..(start + length) * 3 * hidden;
                let context_rows = start * hidden..(start + length) * hidden;
                for head in 0..heads {
                    let query_at = head * head_size;
                    kernels::attend(
                        &qkv[rows.clone()],
                        &layer.qkv_bias,
                        3 * hidden,
                        query_at,
                        hidden + query_at,
                        2 * hidden + query_at,
                        length,
                        head_size,
                        scale,
                        attention,
                        &mut context[context_rows.clone()],
                        hidden,
                        query_at,
                    );
                }
                start += length;
            }
            linear(projected, context, &layer.output, hidden, parallelism);
            let (gamma, beta) = &layer.attention_norm;
            kernels::add_layer_norm(
                states,
                projected,
                &layer.output_bias,
                gamma,
                beta,
                config.layer_norm_eps,
            );
            linear(intermediate, states, &layer.up, hidden, parallelism);
            kernels::bias_gelu(intermediate, &layer.up_bias);
            linear(projected, intermediate, &layer.down, inner, parallelism);
            let (gamma, beta) = &layer.output_norm;
            kernels::add_layer_norm(
                states,
                projected,
                &layer.down_bias,
                gamma,
                beta,
                config.layer_norm_eps,
            );
        }
    }
}

/// Per-thread work buffers, grown to the largest batch seen and then reused.
#[derive(Default)]
pub struct Scratch {
    states: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    projected: Vec<f32>,
    intermediate: Vec<f32>,
    attention: kernels::AttentionWork,
}

impl Scratch {
    fn fit(&mut self, tokens: usize, hidden: usize, inner: usize) {
        let grow = |buffer: &mut Vec<f32>, length: usize| {
            if buffer.len() < length {
                buffer.resize(length, 0.0);
            }
        };
        grow(&mut self.states, tokens * hidden);
        grow(&mut self.qkv, tokens * 3 * hidden);
        grow(&mut self.context, tokens * hidden);
        grow(&mut self.projected, tokens * hidden);
        grow(&mut self.intermediate, tokens * inner);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `work` with this thread's buffers.
pub fn with_scratch<T>(work: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => work(&mut scratch),
        // Re-entered on this thread (rayon can run a queued batch while a
        // caller waits): fresh buffers, still correct.
        Err(_) => work(&mut Scratch::default()),
    })
}

/// `out[t × width] = input[t × k] · weightᵀ`, weight `[width, k]`.
fn linear(out: &mut [f32], input: &[f32], weight: &[f32], k: usize, parallelism: Parallelism) {
    let width = weight.len() / k;
    let tokens = input.len() / k;
    assert_eq!(out.len(), tokens * width);
    assert_eq!(weight.len(), width * k);
    // SAFETY: the shapes checked above bound every access.
    unsafe {
        gemm(
            (tokens, width, k),
            (out.as_mut_ptr(), 1, width as isize),
            false,
            (input.as_ptr(), 1, k as isize),
            (weight.as_ptr(), k as isize, 1),
            (0.0, 1.0),
            parallelism,
        );
    }
}

/// `dst = α·dst + β·lhs·rhs` for an m×k by k×n product; each operand is a
/// pointer with column and row strides.
///
/// # Safety
/// Every element the shapes and strides reach must lie inside its buffer.
unsafe fn gemm(
    (m, n, k): (usize, usize, usize),
    (dst, dst_column_stride, dst_row_stride): (*mut f32, isize, isize),
    read_dst: bool,
    (lhs, lhs_column_stride, lhs_row_stride): (*const f32, isize, isize),
    (rhs, rhs_column_stride, rhs_row_stride): (*const f32, isize, isize),
    (alpha, beta): (f32, f32),
    parallelism: Parallelism,
) {
    gemm_f32::gemm::f32::get_gemm_fn()(
        m,
        n,
        k,
        dst,
        dst_column_stride,
        dst_row_stride,
        read_dst,
        lhs,
        lhs_column_stride,
        lhs_row_stride,
        rhs,
        rhs_column_stride,
        rhs_row_stride,
        alpha,
        beta,
        false,
        false,
        false,
        parallelism,
    )
}

/// The mean of `rows` (each `width` long), scaled to unit length.
fn mean_pool(rows: &[f32], width: usize) -> Vec<f32> {
    let mut mean = vec![0.0f32; width];
    for row in rows.chunks_exact(width) {
        for (sum, value) in mean.iter_mut().zip(row) {
            *sum += value;
        }
    }
    let norm = mean
        .iter()
        .map(|value| value * value)
        .sum::<f32>()
        .sqrt()
        .max(1e-12);
    mean.iter_mut().for_each(|value| *value /= norm);
    mean
}
