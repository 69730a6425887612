//! One owner's passages in memory, ready to search: each vector quantised to
//! int8 (a quarter of the f32 bytes to stream through the cache on every
//! question) and a BM25 inverted index of the passages' words.
//!
//! Passages live in slots. A removed or replaced passage only marks its slot
//! dead; slots are compacted once a quarter of them are dead, so a delete
//! never rewrites the whole index while the owner is searching.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::text::keyword_terms;

/// Below this many passages one core scans faster than two start up.
const PARALLEL_SCAN_SLOTS: usize = 50_000;

/// BM25's term-frequency saturation and length normalisation (the usual values).
const BM25_K1: f32 = 1.2;
const BM25_B: f32 = 0.75;

#[derive(Default)]
pub struct Library {
    dimension: usize,
    /// SQLite row id of the passage in each slot.
    rows: Vec<i64>,
    /// Index into `documents` of each slot's document.
    document: Vec<u32>,
    documents: Vec<Arc<str>>,
    alive: Vec<bool>,
    dead: usize,
    /// `slots × dimension` int8 codes; a value is `code × scale`.
    codes: Vec<i8>,
    scales: Vec<f32>,
    /// Sum of each slot's codes, to undo the query's offset (see `QueryCodes`).
    code_sums: Vec<i32>,
    /// Words (keyword terms) in each slot's passage.
    lengths: Vec<u32>,
    /// Sum of `lengths` over the live slots.
    live_length: u64,
    terms: HashMap<Box<str>, Postings>,
    /// The live slot of each row.
    slot_of: HashMap<i64, u32>,
}

/// The slots a term occurs in, with how often (a slot appears once, ascending).
#[derive(Default)]
struct Postings {
    slots: Vec<u32>,
    counts: Vec<u16>,
}

impl Library {
    /// Passages held, live ones only.
    pub fn len(&self) -> usize {
        self.rows.len() - self.dead
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a passage, or replaces the one already stored under `row`.
    pub fn put(&mut self, row: i64, document_id: &str, text: &str, vector: &[f32]) -> Result<()> {
        if self.dimension == 0 {
            self.dimension = vector.len();
        }
        if vector.len() != self.dimension {
            return Err(dimension_mismatch(self.dimension, vector.len()));
        }
        if let Some(slot) = self.slot_of.remove(&row) {
            self.kill(slot as usize);
        }
        let slot = self.rows.len() as u32;
        let document = self.document_index(document_id);
        self.rows.push(row);
        self.document.push(document);
        self.alive.push(true);
        let first_code = self.codes.len();
        self.scales.push(quantize(vector, &mut self.codes));
        self.code_sums.push(
            self.codes[first_code..]
                .iter()
                .map(|&code| i32::from(code))
                .sum(),
        );
        let mut counts: HashMap<String, u16> = HashMap::new();
        let mut length = 0u32;
        for term in keyword_terms(text) {
            length += 1;
            let count = counts.entry(term).or_default();
            *count = count.saturating_add(1);
        }
        for (term, count) in counts {
            let postings = self.terms.entry(term.into_boxed_str()).or_default();
            postings.slots.push(slot);
            postings.counts.push(count);
        }
        self.lengths.push(length);
        self.live_length += u64::from(length);
        self.slot_of.insert(row, slot);
        self.compact_if_sparse();
        Ok(())
    }

    pub fn remove_document(&mut self, document_id: &str) {
        let Some(document) = self.documents.iter().position(|id| &**id == document_id) else {
            return;
        };
        for slot in 0..self.rows.len() {
            if self.alive[slot] && self.document[slot] as usize == document {
                self.slot_of.remove(&self.rows[slot]);
                self.kill(slot);
            }
        }
        self.compact_if_sparse();
    }

    /// The documents' indexes, for filtering a search to some documents.
    pub fn documents_among(&self, document_ids: &[crate::model::DocumentId]) -> HashSet<u32> {
        self.documents
            .iter()
            .enumerate()
            .filter(|(_, id)| document_ids.iter().any(|wanted| wanted.as_str() == &***id))
            .map(|(index, _)| index as u32)
            .collect()
    }

    /// Up to `limit` (row, similarity) pairs nearest `query`, best first. The
    /// similarity is the int8 estimate of the dot product; callers wanting
    /// exact scores rescore a few more candidates than they need.
    pub fn nearest(
        &self,
        query: &[f32],
        limit: usize,
        allowed: Option<&HashSet<u32>>,
    ) -> Result<Vec<(i64, f32)>> {
        if self.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        if query.len() != self.dimension {
            return Err(dimension_mismatch(self.dimension, query.len()));
        }
        let query = QueryCodes::new(query);
        let dimension = self.dimension;
        let scan = |slots: std::ops::Range<usize>| {
            let mut best = TopK::new(limit);
            for slot in slots {
                if !self.alive[slot]
                    || allowed.is_some_and(|allowed| !allowed.contains(&self.document[slot]))
                {
                    continue;
                }
                let codes = &self.codes[slot * dimension..(slot + 1) * dimension];
                let similarity = query.dot(codes, self.code_sums[slot]) as f32 * self.scales[slot];
                best.offer(similarity, slot as u32);
            }
            best
        };
        let slots = self.rows.len();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let best = if slots >= PARALLEL_SCAN_SLOTS && cores > 1 {
            let part = slots.div_ceil(cores);
            std::thread::scope(|scope| {
                let scans: Vec<_> = (0..cores)
                    .map(|core| {
                        let range = core * part..((core + 1) * part).min(slots);
                        scope.spawn(move || scan(range))
                    })
                    .collect();
                let mut merged = TopK::new(limit);
                for scanned in scans {
                    merged.merge(scanned.join().expect("a scan thread"));
                }
                merged
            })
        } else {
            scan(0..slots)
        };
        Ok(best
            .into_sorted()
            .into_iter()
            .map(|(similarity, slot)| (self.rows[slot as usize], similarity * query.scale))
            .collect())
    }

    /// Up to `limit` (row, BM25 score) pairs for the words of `query`, best first.
    pub fn keyword(
        &self,
        query: &str,
        limit: usize,
        allowed: Option<&HashSet<u32>>,
    ) -> Vec<(i64, f32)> {
        let mut query_terms = keyword_terms(query);
        query_terms.sort();
        query_terms.dedup();
        let live = self.len();
        if live == 0 || limit == 0 {
            return Vec::new();
        }
        let average_length = (self.live_length as f32 / live as f32).max(1.0);
        // One score per slot: a dense array beats a map once terms are common.
        let mut scores = vec![0.0f32; self.rows.len()];
        for term in &query_terms {
            let Some(postings) = self.terms.get(term.as_str()) else {
                continue;
            };
            // Dead slots still count until the next compaction: a small, temporary skew.
            let frequency = postings.slots.len() as f32;
            let rarity = (1.0 + (live as f32 - frequency + 0.5) / (frequency + 0.5))
                .ln()
                .max(f32::EPSILON);
            for (&slot, &count) in postings.slots.iter().zip(&postings.counts) {
                let at = slot as usize;
                if !self.alive[at]
                    || allowed.is_some_and(|allowed| !allowed.contains(&self.document[at]))
                {
                    continue;
                }
                let count = f32::from(count);
                let length_ratio = self.lengths[at] as f32 / average_length;
                let weight = count * (BM25_K1 + 1.0)
                    / (count + BM25_K1 * (1.0 - BM25_B + BM25_B * length_ratio));
                scores[at] += rarity * weight;
            }
        }
        let mut best = TopK::new(limit);
        for (slot, &score) in scores.iter().enumerate() {
            if score > 0.0 {
                best.offer(score, slot as u32);
            }
        }
        best.into_sorted()
            .into_iter()
            .map(|(score, slot)| (self.rows[slot as usize], score))
            .collect()
    }

    fn document_index(&mut self, document_id: &str) -> u32 {
        match self.documents.iter().position(|id| &**id == document_id) {
            Some(index) => index as u32,
            None => {
                self.documents.push(Arc::from(document_id));
                (self.documents.len() - 1) as u32
            }
        }
    }

    fn kill(&mut self, slot: usize) {
        if self.alive[slot] {
            self.alive[slot] = false;
            self.dead += 1;
            self.live_length -= u64::from(self.lengths[slot]);
        }
    }

    fn compact_if_sparse(&mut self) {
        if self.dead > 64 && self.dead * 4 > self.rows.len() || self.dead > 0 && self.is_empty() {
            self.compact();
        }
    }

    /// Drops the dead slots, renumbering the live ones in order.
    fn compact(&mut self) {
        let dimension = self.dimension;
        let mut renumbered = vec![u32::MAX; self.rows.len()];
        let mut kept = 0usize;
        for (slot, renumbered) in renumbered.iter_mut().enumerate() {
            if !self.alive[slot] {
                continue;
            }
            *renumbered = kept as u32;
            if kept != slot {
                self.rows[kept] = self.rows[slot];
                self.document[kept] = self.document[slot];
                self.scales[kept] = self.scales[slot];
                self.code_sums[kept] = self.code_sums[slot];
                self.lengths[kept] = self.lengths[slot];
                self.codes
                    .copy_within(slot * dimension..(slot + 1) * dimension, kept * dimension);
            }
            kept += 1;
        }
        self.rows.truncate(kept);
        self.document.truncate(kept);
        self.scales.truncate(kept);
        self.code_sums.truncate(kept);
        self.lengths.truncate(kept);
        self.codes.truncate(kept * dimension);
        self.alive = vec![true; kept];
        self.dead = 0;
        self.terms.retain(|_, postings| {
            let mut at = 0;
            for read in 0..postings.slots.len() {
                let slot = renumbered[postings.slots[read] as usize];
                if slot != u32::MAX {
                    postings.slots[at] = slot;
                    postings.counts[at] = postings.counts[read];
                    at += 1;
                }
            }
            postings.slots.truncate(at);
            postings.counts.truncate(at);
            at > 0
        });
        self.slot_of = self
            .rows
            .iter()
            .enumerate()
            .map(|(slot, &row)| (row, slot as u32))
            .collect();
    }
}

fn dimension_mismatch(held: usize, given: usize) -> Error {
    Error::Internal(anyhow::anyhow!(
        "the index holds vectors of {held} dimensions, not {given} (was the embedding model changed?)"
    ))
}

/// Appends `vector` as int8 codes scaled to its largest magnitude; returns the scale.
fn quantize(vector: &[f32], codes: &mut Vec<i8>) -> f32 {
    let largest = vector
        .iter()
        .fold(0.0f32, |largest, value| largest.max(value.abs()));
    if largest == 0.0 || !largest.is_finite() {
        codes.extend(std::iter::repeat_n(0, vector.len()));
        return 0.0;
    }
    let scale = largest / 127.0;
    codes.extend(
        vector
            .iter()
            .map(|value| (value / scale).round().clamp(-127.0, 127.0) as i8),
    );
    scale
}

/// A query quantised for the scan: 7-bit codes (±63) offset by 64 into
/// 1..=127, so AVX2's unsigned × signed byte multiply (`maddubs`) takes 32
/// codes per instruction without saturating (2 × 127 × 127 < 2¹⁵). The offset
/// comes back out as `64 × Σ passage codes`.
struct QueryCodes {
    offset_codes: Vec<u8>,
    scale: f32,
}

const QUERY_OFFSET: i32 = 64;

impl QueryCodes {
    fn new(vector: &[f32]) -> Self {
        let largest = vector
            .iter()
            .fold(0.0f32, |largest, value| largest.max(value.abs()));
        if largest == 0.0 || !largest.is_finite() {
            return QueryCodes {
                offset_codes: vec![QUERY_OFFSET as u8; vector.len()],
                scale: 0.0,
            };
        }
        let scale = largest / 63.0;
        let offset_codes = vector
            .iter()
            .map(|value| ((value / scale).round().clamp(-63.0, 63.0) as i32 + QUERY_OFFSET) as u8)
            .collect();
        QueryCodes {
            offset_codes,
            scale,
        }
    }

    /// The integer dot product of the query's codes with a passage's.
    fn dot(&self, codes: &[i8], code_sum: i32) -> i32 {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports the feature the function is compiled for.
                return unsafe { offset_dot_avx2(&self.offset_codes, codes) }
                    - QUERY_OFFSET * code_sum;
            }
        }
        offset_dot_portable(&self.offset_codes, codes) - QUERY_OFFSET * code_sum
    }
}

fn offset_dot_portable(query: &[u8], codes: &[i8]) -> i32 {
    query
        .iter()
        .zip(codes)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn offset_dot_avx2(query: &[u8], codes: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    let length = query.len().min(codes.len());
    let blocks = length / 32;
    let ones = _mm256_set1_epi16(1);
    let mut sums = _mm256_setzero_si256();
    for block in 0..blocks {
        let at = block * 32;
        let x = _mm256_loadu_si256(query.as_ptr().add(at) as *const __m256i);
        let y = _mm256_loadu_si256(codes.as_ptr().add(at) as *const __m256i);
        // u8 × i8 pairs summed into i16, then pairs of those into i32.
        sums = _mm256_add_epi32(sums, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), ones));
    }
    let mut lanes = [0i32; 8];
    _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, sums);
    let mut total: i32 = lanes.iter().sum();
    for at in blocks * 32..length {
        total += i32::from(query[at]) * i32::from(codes[at]);
    }
    total
}

/// The `limit` highest scores seen, kept in a min-heap.
struct TopK {
    limit: usize,
    heap: BinaryHeap<std::cmp::Reverse<(Score, u32)>>,
}

/// A score ordered totally (`f32::total_cmp`), so it can sit in a heap.
struct Score(f32);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl TopK {
    fn new(limit: usize) -> Self {
        TopK {
            limit,
            heap: BinaryHeap::with_capacity(limit + 1),
        }
    }

    fn offer(&mut self, score: f32, slot: u32) {
        if self.heap.len() < self.limit {
            self.heap.push(std::cmp::Reverse((Score(score), slot)));
        } else if self.heap.peek().is_some_and(|worst| score > worst.0 .0 .0) {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse((Score(score), slot)));
        }
    }

    fn merge(&mut self, other: TopK) {
        for std::cmp::Reverse((score, slot)) in other.heap {
            self.offer(score.0, slot);
        }
    }

    /// Best first; equal scores in slot order, so results are stable.
    fn into_sorted(self) -> Vec<(f32, u32)> {
        let mut all: Vec<(f32, u32)> = self
            .heap
            .into_iter()
            .map(|std::cmp::Reverse((score, slot))| (score.0, slot))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(angle: f32) -> [f32; 2] {
        [angle.cos(), angle.sin()]
    }

    #[test]
    fn the_quantised_dot_product_tracks_the_exact_one() {
        let a: Vec<f32> = (0..389).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..389).map(|i| (i as f32 * 0.11).cos()).collect();
        let exact: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let mut codes = Vec::new();
        let scale = quantize(&b, &mut codes);
        let code_sum = codes.iter().map(|&code| i32::from(code)).sum();
        let query = QueryCodes::new(&a);
        let simd = query.dot(&codes, code_sum);
        let portable = offset_dot_portable(&query.offset_codes, &codes) - QUERY_OFFSET * code_sum;
        assert_eq!(simd, portable);
        let estimate = simd as f32 * scale * query.scale;
        assert!(
            (estimate - exact).abs() < 0.02 * exact.abs().max(1.0),
            "{estimate} vs {exact}"
        );
    }

    #[test]
    fn the_nearest_passages_come_first_and_removed_ones_never() {
        // GIVEN passages spread around a circle, in two documents
        let mut library = Library::default();
        for row in 0..60_000i64 {
            let document = if row % 2 == 0 { "even" } else { "odd" };
            library
                .put(row, document, "", &unit(row as f32 / 60_000.0))
                .unwrap();
        }
        // WHEN searching near angle 0 THEN the closest rows come first
        let rows =
            |found: Vec<(i64, f32)>| found.into_iter().map(|(row, _)| row).collect::<Vec<_>>();
        assert_eq!(
            rows(library.nearest(&[1.0, 0.0], 3, None).unwrap()),
            vec![0, 1, 2]
        );
        // WHEN one document is removed THEN only the other's passages are found
        library.remove_document("even");
        assert_eq!(library.len(), 30_000);
        assert_eq!(
            rows(library.nearest(&[1.0, 0.0], 2, None).unwrap()),
            vec![1, 3]
        );
        // AND a vector of another size is refused
        assert!(library.put(99_999, "odd", "", &[1.0, 0.0, 0.0]).is_err());
    }

    #[test]
    fn a_replaced_passage_is_found_by_its_new_words_only() {
        // GIVEN a passage about pumps, then replaced by one about valves
        let mut library = Library::default();
        library
            .put(1, "manual", "The pump hums.", &unit(0.0))
            .unwrap();
        library
            .put(2, "manual", "Lamps need oil.", &unit(1.0))
            .unwrap();
        library
            .put(1, "manual", "The valve sticks.", &unit(0.0))
            .unwrap();
        // THEN the old words find nothing and the new ones find it once
        assert!(library.keyword("pump", 5, None).is_empty());
        let found = library.keyword("valves", 5, None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 1);
        assert_eq!(library.nearest(&unit(0.0), 5, None).unwrap().len(), 2);
    }

    #[test]
    fn rarer_terms_and_exact_codes_rank_higher() {
        let mut library = Library::default();
        let texts = [
            "Error E-4012 means the boiler pressure is too low.",
            "Error E-4013 means the boiler is too hot.",
            "The error light blinks when the pump restarts.",
            "Boiler pressure gauges need calibration.",
        ];
        for (row, text) in texts.iter().enumerate() {
            library.put(row as i64, "manual", text, &unit(0.0)).unwrap();
        }
        let found = library.keyword("What does error E-4012 mean?", 4, None);
        assert_eq!(found[0].0, 0, "{found:?}");
        // A document filter keeps other documents out.
        library
            .put(9, "other", "error E-4012 again", &unit(0.0))
            .unwrap();
        let only_other = library.documents_among(&["other".into()]);
        let found = library.keyword("E-4012", 4, Some(&only_other));
        assert_eq!(
            found.iter().map(|(row, _)| *row).collect::<Vec<_>>(),
            vec![9]
        );
    }

    #[test]
    fn compaction_keeps_every_live_passage_findable() {
        let mut library = Library::default();
        for row in 0..400i64 {
            let document = format!("document-{}", row % 4);
            let text = format!("passage number w{row} about topic{}", row % 4);
            library
                .put(row, &document, &text, &unit(row as f32 / 400.0))
                .unwrap();
        }
        library.remove_document("document-0");
        library.remove_document("document-1");
        assert_eq!(library.rows.len(), 200, "compacted");
        for row in (2..400i64).step_by(4) {
            let found = library.keyword(&format!("w{row}"), 1, None);
            assert_eq!(found.first().map(|hit| hit.0), Some(row));
        }
        assert!(library.keyword("w0", 1, None).is_empty());
        assert_eq!(library.keyword("topic3", 500, None).len(), 100);
    }
}
