//! A small, deterministic mutation fuzzer that runs on stable Rust: seeds
//! (real files, hostile files, requests) are mutated — bit flips, byte
//! insertions and deletions, repeated runs, splices of two seeds, tokens of
//! the format — and fed to a target that checks its invariants. The same
//! seed always gives the same inputs, so a failure reproduces with
//! `FUZZ_SEED`. `make test` runs each target briefly; `scripts/fuzz.sh` runs
//! them for longer (and the cargo-fuzz targets in `fuzz/`).

/// xorshift64*: small, fast and reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `bound` (which must be positive).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound.max(1) as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// How many inputs per target, and from which seed (`FUZZ_ITERATIONS`, `FUZZ_SEED`).
pub fn budget(default_iterations: usize) -> (usize, u64) {
    let iterations = std::env::var("FUZZ_ITERATIONS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default_iterations);
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(0x005e_eda5_d0c5);
    (iterations, seed)
}

/// Mutates inputs drawn from `seeds`, using `tokens` of the format as a dictionary.
pub struct Mutator {
    rng: Rng,
    seeds: Vec<Vec<u8>>,
    tokens: Vec<Vec<u8>>,
    max_len: usize,
}

impl Mutator {
    pub fn new(seed: u64, seeds: Vec<Vec<u8>>, tokens: &[&[u8]], max_len: usize) -> Self {
        assert!(!seeds.is_empty(), "a mutator needs at least one seed");
        Mutator {
            rng: Rng::new(seed),
            seeds,
            tokens: tokens.iter().map(|token| token.to_vec()).collect(),
            max_len,
        }
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// A fresh input: a seed with one to eight mutations.
    pub fn input(&mut self) -> Vec<u8> {
        let mut data = self.seeds[self.rng.below(self.seeds.len())].clone();
        for _ in 0..=self.rng.below(8) {
            self.mutate(&mut data);
        }
        data.truncate(self.max_len);
        data
    }

    fn mutate(&mut self, data: &mut Vec<u8>) {
        let position = |rng: &mut Rng, data: &Vec<u8>| rng.below(data.len() + 1);
        match self.rng.below(8) {
            0 if !data.is_empty() => {
                let at = self.rng.below(data.len());
                data[at] ^= 1 << self.rng.below(8);
            }
            1 => {
                let at = position(&mut self.rng, data);
                let byte = self.rng.below(256) as u8;
                data.insert(at, byte);
            }
            2 if !data.is_empty() => {
                let at = self.rng.below(data.len());
                let len = self.rng.below(64).min(data.len() - at);
                data.drain(at..at + len);
            }
            3 if !self.tokens.is_empty() => {
                let token = self.tokens[self.rng.below(self.tokens.len())].clone();
                let at = position(&mut self.rng, data);
                data.splice(at..at, token);
            }
            4 if !data.is_empty() => {
                // Repeat a run many times: nesting, long lines, big tables.
                let at = self.rng.below(data.len());
                let len = (1 + self.rng.below(16)).min(data.len() - at);
                let run = data[at..at + len].to_vec();
                let times = 1 + self.rng.below(2000);
                let repeated: Vec<u8> = run.iter().copied().cycle().take(len * times).collect();
                data.splice(at..at, repeated);
            }
            5 => {
                let other = self.seeds[self.rng.below(self.seeds.len())].clone();
                let from = self.rng.below(other.len() + 1);
                let to = from + self.rng.below(other.len() - from + 1);
                let at = position(&mut self.rng, data);
                data.splice(at..at, other[from..to].iter().copied());
            }
            6 if !data.is_empty() => {
                let at = self.rng.below(data.len());
                data.truncate(at);
            }
            _ => {
                let at = position(&mut self.rng, data);
                let digits = self.rng.next_u64().to_string().into_bytes();
                data.splice(at..at, digits);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let make = || Mutator::new(7, vec![b"hello world".to_vec()], &[b"<<"], 4096);
        let (mut a, mut b) = (make(), make());
        for _ in 0..100 {
            assert_eq!(a.input(), b.input());
        }
    }
}
