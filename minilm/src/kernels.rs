//! The encoder's element-wise passes, each compiled three times (AVX-512,
//! AVX2 + FMA, portable) and picked at run time, so one binary is fast on
//! any x86-64 machine. Sums run over 16 lanes so the compiler can vectorise
//! them (float addition is not associative, so it won't reorder a plain sum).

use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Avx512,
    Avx2,
    Portable,
}

fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            if avx2 && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") {
                return Level::Avx512;
            }
            if avx2 {
                return Level::Avx2;
            }
        }
        Level::Portable
    })
}

/// Defines `pub fn $name` whose body is compiled for each [`Level`]. Bodies
/// write `f32::mul_add` where they mean a fused multiply-add: Rust never fuses
/// on its own; with FMA it is one instruction (the portable build, for CPUs
/// older than 2013, pays a library call).
macro_rules! multiversion {
    ($(#[$attribute:meta])* pub fn $name:ident($($argument:ident: $type:ty),* $(,)?) $body:block) => {
        $(#[$attribute])*
        pub fn $name($($argument: $type),*) {
            #[inline(always)]
            fn portable($($argument: $type),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                unsafe fn avx512($($argument: $type),*) {
                    portable($($argument),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($argument: $type),*) {
                    portable($($argument),*)
                }
                match level() {
                    // SAFETY: `level` found these features on this CPU.
                    Level::Avx512 => return unsafe { avx512($($argument),*) },
                    Level::Avx2 => return unsafe { avx2($($argument),*) },
                    Level::Portable => {}
                }
            }
            portable($($argument),*)
        }
    };
}

const LANES: usize = 16;

/// eˣ to about 1 ulp over the range softmax and GELU need, branch-free so it
/// vectorises (Cody–Waite range reduction and a degree-6 polynomial).
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // Adding 1.5 × 2²³ rounds x·log₂e to an integer held in the low mantissa bits.
    const ROUNDER: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + ROUNDER;
    let n = shifted - ROUNDER;
    let n_bits = (shifted.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67 + r * (0.041_666_51 + r * (0.008_333_6 + r * 0.001_394_9)))));
    p * f32::from_bits(((n_bits + 127) as u32) << 23)
}

/// erf(x) by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), as PyTorch's vectorised erf.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let polynomial = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_7) * t - 0.284_496_74) * t
        + 0.254_829_6)
        * t;
    (1.0 - polynomial * exp(-a * a)).copysign(x)
}

#[inline(always)]
fn lane_max(values: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for lane in 0..LANES {
            lanes[lane] = lanes[lane].max(chunk[lane]);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    lanes.iter().fold(tail, |a, &b| a.max(b))
}

#[inline(always)]
fn lane_sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for lane in 0..LANES {
            lanes[lane] += chunk[lane];
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

multiversion! {
    /// `GELU(row + bias)` of each row (the exact, erf form BERT uses), in place.
    pub fn bias_gelu(rows: &mut [f32], bias: &[f32]) {
        for row in rows.chunks_exact_mut(bias.len()) {
            for (value, added) in row.iter_mut().zip(bias) {
                let x = *value + added;
                *value = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
            }
        }
    }
}

multiversion! {
    /// `rows += residual + bias`, then layer norm of each row (`gamma`, `beta` of its width).
    pub fn add_layer_norm(
        rows: &mut [f32],
        residual: &[f32],
        bias: &[f32],
        gamma: &[f32],
        beta: &[f32],
        epsilon: f32,
    ) {
        let width = gamma.len();
        for (row, residual) in rows.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
            for ((value, added), bias) in row.iter_mut().zip(residual).zip(bias) {
                *value += added + bias;
            }
            normalise(row, gamma, beta, epsilon);
        }
    }
}

multiversion! {
    /// Layer norm of each row (`gamma`, `beta` of its width), in place.
    pub fn layer_norm(rows: &mut [f32], gamma: &[f32], beta: &[f32], epsilon: f32) {
        for row in rows.chunks_exact_mut(gamma.len()) {
            normalise(row, gamma, beta, epsilon);
        }
    }
}

#[inline(always)]
fn normalise(row: &mut [f32], gamma: &[f32], beta: &[f32], epsilon: f32) {
    let width = row.len() as f32;
    let mean = lane_sum(row) / width;
    let mut lanes = [0.0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for lane in 0..LANES {
            let deviation = chunk[lane] - mean;
            lanes[lane] += deviation * deviation;
        }
    }
    let tail: f32 = chunks
        .remainder()
        .iter()
        .map(|value| (value - mean) * (value - mean))
        .sum();
    let variance = (lanes.iter().sum::<f32>() + tail) / width;
    let scale = 1.0 / (variance + epsilon).sqrt();
    for ((value, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *value = (*value - mean) * scale * g + b;
    }
}

/// `sum += scalar · [low, high]`, lane by lane.
#[inline(always)]
fn multiply_add(sum: &mut [[f32; LANES]; 2], scalar: f32, low: &[f32; LANES], high: &[f32; LANES]) {
    for lane in 0..LANES {
        sum[0][lane] = scalar.mul_add(low[lane], sum[0][lane]);
        sum[1][lane] = scalar.mul_add(high[lane], sum[1][lane]);
    }
}

/// Buffers for [`attend`], reused from head to head.
#[derive(Default)]
pub struct AttentionWork {
    /// The head's queries, scaled, one row per token.
    queries: Vec<f32>,
    /// The head's keys transposed (one row per dimension), rows padded to KEY_BLOCK.
    keys: Vec<f32>,
    /// The head's values, one row per token, side by side so the weighted sum reads them in order.
    values: Vec<f32>,
    /// Attention weights, one row per token, rows padded to KEY_BLOCK.
    weights: Vec<f32>,
}

/// Head dimensions a pass over the values covers (the head size is a multiple).
pub const HEAD_BLOCK: usize = 2 * LANES;
/// Keys scored together per query row: with ROWS rows, eight independent
/// accumulators, enough to keep both multiply-add units busy.
const KEY_BLOCK: usize = 32;
/// Query rows computed together: four independent accumulators hide the
/// latency of the multiply-adds and share each key and value load.
const ROWS: usize = 4;

multiversion! {
    /// One attention head over one text:
    /// `context[i] = softmax(scale · qᵢ · Kᵀ) · V` for each of its `length` tokens.
    /// Rows of `qkv` are `stride` apart and hold the head's query, key and value
    /// (before their bias, which `qkv_bias` holds at the same offsets) at
    /// `query_at`, `key_at`, `value_at`; context rows are `context_stride` apart.
    /// A general matrix multiply spends most of its time packing at a head
    /// size of 32, so these loops are written for the shape instead.
    #[allow(clippy::too_many_arguments)]
    pub fn attend(
        qkv: &[f32],
        qkv_bias: &[f32],
        stride: usize,
        query_at: usize,
        key_at: usize,
        value_at: usize,
        length: usize,
        head_size: usize,
        scale: f32,
        work: &mut AttentionWork,
        context: &mut [f32],
        context_stride: usize,
        context_at: usize,
    ) {
        let padded = length.div_ceil(KEY_BLOCK) * KEY_BLOCK;
        let AttentionWork { queries, keys, values, weights } = work;
        queries.clear();
        values.clear();
        keys.clear();
        keys.resize(head_size * padded, 0.0);
        for token in 0..length {
            let row = &qkv[token * stride..];
            let part = |at: usize| row[at..at + head_size].iter().zip(&qkv_bias[at..at + head_size]);
            queries.extend(part(query_at).map(|(value, bias)| (value + bias) * scale));
            values.extend(part(value_at).map(|(value, bias)| value + bias));
            for (dimension, (value, bias)) in part(key_at).enumerate() {
                keys[dimension * padded + token] = value + bias;
            }
        }
        weights.clear();
        weights.resize(length * padded, 0.0);
        for first in (0..length).step_by(ROWS) {
            // A last group of fewer rows repeats its last row rather than branch.
            let rows: [usize; ROWS] = std::array::from_fn(|offset| (first + offset).min(length - 1));
            for block in (0..padded).step_by(KEY_BLOCK) {
                // Two LANES-wide halves per row, written out so the compiler keeps
                // all eight accumulators in vector registers.
                let mut sums = [[[0.0f32; LANES]; 2]; ROWS];
                for dimension in 0..head_size {
                    let keys_at = dimension * padded + block;
                    let low: &[f32; LANES] = keys[keys_at..][..LANES].try_into().expect("LANES keys");
                    let high: &[f32; LANES] = keys[keys_at + LANES..][..LANES].try_into().expect("LANES keys");
                    // Written out row by row: as a loop, the compiler leaves the sums in memory.
                    let query = |row: usize| queries[rows[row] * head_size + dimension];
                    let [first_row, second_row, third_row, fourth_row] = &mut sums;
                    multiply_add(first_row, query(0), low, high);
                    multiply_add(second_row, query(1), low, high);
                    multiply_add(third_row, query(2), low, high);
                    multiply_add(fourth_row, query(3), low, high);
                }
                for (sum, &row) in sums.iter().zip(&rows) {
                    weights[row * padded + block..][..LANES].copy_from_slice(&sum[0]);
                    weights[row * padded + block + LANES..][..LANES].copy_from_slice(&sum[1]);
                }
            }
        }
        for row in weights.chunks_exact_mut(padded) {
            let row = &mut row[..length];
            let largest = lane_max(row);
            for value in row.iter_mut() {
                *value = exp(*value - largest);
            }
            let scale = 1.0 / lane_sum(row);
            for value in row.iter_mut() {
                *value *= scale;
            }
        }
        for first in (0..length).step_by(ROWS) {
            let rows: [usize; ROWS] = std::array::from_fn(|offset| (first + offset).min(length - 1));
            for block in (0..head_size).step_by(HEAD_BLOCK) {
                let mut sums = [[[0.0f32; LANES]; 2]; ROWS];
                for token in 0..length {
                    let values_at = token * head_size + block;
                    let low: &[f32; LANES] = values[values_at..][..LANES].try_into().expect("LANES values");
                    let high: &[f32; LANES] = values[values_at + LANES..][..LANES].try_into().expect("LANES values");
                    let weight = |row: usize| weights[rows[row] * padded + token];
                    let [first_row, second_row, third_row, fourth_row] = &mut sums;
                    multiply_add(first_row, weight(0), low, high);
                    multiply_add(second_row, weight(1), low, high);
                    multiply_add(third_row, weight(2), low, high);
                    multiply_add(fourth_row, weight(3), low, high);
                }
                for (sum, &row) in sums.iter().zip(&rows) {
                    let out = &mut context[row * context_stride + context_at + block..][..HEAD_BLOCK];
                    out[..LANES].copy_from_slice(&sum[0]);
                    out[LANES..].copy_from_slice(&sum[1]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_match_the_standard_library() {
        for step in -2000..=2000 {
            let x = step as f32 / 100.0;
            let (fast, exact) = (exp(x), x.exp());
            assert!(
                (fast - exact).abs() <= exact * 2e-6,
                "exp({x}) = {fast}, not {exact}"
            );
        }
        // erf(1) and erf(-0.5) from tables.
        assert!((erf(1.0) - 0.842_700_8).abs() < 5e-7);
        assert!((erf(-0.5) + 0.520_499_9).abs() < 5e-7);
    }

    #[test]
    fn attention_matches_the_textbook_formula() {
        // Two heads of 32 over 37 tokens (not a multiple of any block), with biases.
        let (length, head_size, hidden) = (37, 32, 64);
        let stride = 3 * hidden;
        let qkv: Vec<f32> = (0..length * stride)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let bias: Vec<f32> = (0..stride).map(|i| (i as f32 * 0.13).cos() * 0.5).collect();
        let scale = 1.0 / (head_size as f32).sqrt();
        let mut work = AttentionWork::default();
        let mut context = vec![0.0; length * hidden];
        for head in 0..2 {
            let at = head * head_size;
            attend(
                &qkv,
                &bias,
                stride,
                at,
                hidden + at,
                2 * hidden + at,
                length,
                head_size,
                scale,
                &mut work,
                &mut context,
                hidden,
                at,
            );
        }
        let element = |token: usize, at: usize| qkv[token * stride + at] + bias[at];
        for head in 0..2 {
            let at = head * head_size;
            for query in 0..length {
                let scores: Vec<f64> = (0..length)
                    .map(|key| {
                        (0..head_size)
                            .map(|d| {
                                (element(query, at + d) * element(key, hidden + at + d)) as f64
                            })
                            .sum::<f64>()
                            * scale as f64
                    })
                    .collect();
                let largest = scores.iter().cloned().fold(f64::MIN, f64::max);
                let weights: Vec<f64> =
                    scores.iter().map(|score| (score - largest).exp()).collect();
                let total: f64 = weights.iter().sum();
                for d in 0..head_size {
                    let expected: f64 = (0..length)
                        .map(|key| weights[key] / total * element(key, 2 * hidden + at + d) as f64)
                        .sum();
                    let got = context[query * hidden + at + d] as f64;
                    assert!(
                        (got - expected).abs() < 1e-5,
                        "token {query}, head {head}, dimension {d}: {got} ≠ {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn layer_norm_gives_zero_mean_unit_variance() {
        let mut rows: Vec<f32> = (0..384 * 2)
            .map(|i| (i as f32 * 0.37).sin() * 5.0 + 2.0)
            .collect();
        let (gamma, beta) = (vec![1.0; 384], vec![0.0; 384]);
        let (residual, bias) = (vec![1.0; 384 * 2], vec![0.5; 384]);
        add_layer_norm(&mut rows, &residual, &bias, &gamma, &beta, 1e-12);
        for row in rows.chunks_exact(384) {
            let mean = row.iter().sum::<f32>() / 384.0;
            let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 384.0;
            assert!(mean.abs() < 1e-4 && (variance - 1.0).abs() < 1e-3);
        }
    }
}
