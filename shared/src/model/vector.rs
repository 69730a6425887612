//! Vector arithmetic shared by the index, the fusion and the answerer.

/// The dot product, eight lanes at a time (AVX2 with FMA when the CPU has it).
/// A plain `zip().sum()` adds one product after another, each waiting for the
/// last: several times slower on 384 dimensions.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_portable(a, b)
}

/// Eight independent sums the compiler keeps in vector registers (SSE, NEON).
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let length = a.len().min(b.len());
    let (a, b) = (&a[..length], &b[..length]);
    let mut sums = [0.0f32; 8];
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for lane in 0..8 {
            sums[lane] += a[lane] * b[lane];
        }
    }
    let tail = length / 8 * 8;
    let rest: f32 = a[tail..].iter().zip(&b[tail..]).map(|(x, y)| x * y).sum();
    sums.iter().sum::<f32>() + rest
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let length = a.len().min(b.len());
    let blocks = length / 8;
    let mut sums = _mm256_setzero_ps();
    for block in 0..blocks {
        let at = block * 8;
        sums = _mm256_fmadd_ps(
            _mm256_loadu_ps(a.as_ptr().add(at)),
            _mm256_loadu_ps(b.as_ptr().add(at)),
            sums,
        );
    }
    let mut lanes = [0.0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), sums);
    let mut total: f32 = lanes.iter().sum();
    for at in blocks * 8..length {
        total += a[at] * b[at];
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vector_dot_products_agree_with_the_plain_one() {
        for length in [0, 1, 7, 8, 9, 384, 389] {
            let a: Vec<f32> = (0..length).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..length).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-3, "{length}");
            assert!((dot_portable(&a, &b) - plain).abs() < 1e-3, "{length}");
        }
    }
}
