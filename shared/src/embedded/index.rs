//! The in-process vector and keyword index, persisted in the SQLite file.
//!
//! SQLite is the store of record: every passage's text, page and vector (a
//! little-endian f32 blob), with FTS5 (BM25) over the text. Searching by
//! meaning runs on a copy of each owner's vectors kept in memory, contiguous
//! (one `Vec<f32>` per owner, loaded on the owner's first search and kept up
//! to date by every write): an exact scan with SIMD dot products, split across
//! the cores for big libraries, under a read lock that writers hold only to
//! append or remove rows. Every query is filtered by owner; there is no
//! unscoped search.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, types::Value as SqlValue};

use super::sqlite::{internal, SqliteDb};
use crate::error::{Error, Result};
use crate::model::{Chunk, ScoredChunk, SearchScope};
use crate::ports::{SearchHits, SearchQuery, VectorIndex};

/// Below this many passages one core scans faster than two start up.
const PARALLEL_SCAN_ROWS: usize = 20_000;

pub struct SqliteVectorIndex {
    db: SqliteDb,
    vectors: Arc<VectorCache>,
}

impl SqliteVectorIndex {
    pub fn new(db: SqliteDb) -> Self {
        SqliteVectorIndex {
            db,
            vectors: Arc::new(VectorCache::default()),
        }
    }
}

/// Each loaded owner's vectors, side by side in memory.
#[derive(Default)]
struct VectorCache {
    owners: RwLock<HashMap<String, Arc<RwLock<OwnerVectors>>>>,
    /// SQLite's `data_version` when the cache was last known current: it
    /// changes when another process (`askdocs ingest` beside `askdocs serve`)
    /// commits, and then every loaded owner is read again.
    version: std::sync::Mutex<Option<i64>>,
    /// Bumped after every committed write, before the write reaches the
    /// cache: a load that saw it change may have read around that write,
    /// so it is not kept.
    writes: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct OwnerVectors {
    dimension: usize,
    /// SQLite row id of each passage, in scan order.
    rows: Vec<i64>,
    /// Index into `documents` of each passage.
    document: Vec<u32>,
    documents: Vec<Arc<str>>,
    /// `rows.len() × dimension` floats.
    data: Vec<f32>,
    position: HashMap<i64, usize>,
}

impl OwnerVectors {
    fn document_index(&mut self, document_id: &str) -> u32 {
        match self.documents.iter().position(|id| &**id == document_id) {
            Some(index) => index as u32,
            None => {
                self.documents.push(Arc::from(document_id));
                (self.documents.len() - 1) as u32
            }
        }
    }

    fn put(&mut self, row: i64, document_id: &str, vector: &[f32]) -> Result<()> {
        if self.dimension == 0 {
            self.dimension = vector.len();
        }
        if vector.len() != self.dimension {
            return Err(Error::Internal(anyhow::anyhow!(
                "the index holds vectors of {} dimensions, not {} (was the embedding model changed?)",
                self.dimension,
                vector.len()
            )));
        }
        let document = self.document_index(document_id);
        match self.position.get(&row) {
            Some(&at) => {
                self.data[at * self.dimension..(at + 1) * self.dimension].copy_from_slice(vector);
                self.document[at] = document;
            }
            None => {
                self.position.insert(row, self.rows.len());
                self.rows.push(row);
                self.document.push(document);
                self.data.extend_from_slice(vector);
            }
        }
        Ok(())
    }

    fn remove_document(&mut self, document_id: &str) {
        let Some(document) = self.documents.iter().position(|id| &**id == document_id) else {
            return;
        };
        let dimension = self.dimension;
        let mut kept = 0;
        for at in 0..self.rows.len() {
            if self.document[at] as usize == document {
                continue;
            }
            if kept != at {
                self.rows[kept] = self.rows[at];
                self.document[kept] = self.document[at];
                self.data
                    .copy_within(at * dimension..(at + 1) * dimension, kept * dimension);
            }
            kept += 1;
        }
        self.rows.truncate(kept);
        self.document.truncate(kept);
        self.data.truncate(kept * dimension);
        self.position = self
            .rows
            .iter()
            .enumerate()
            .map(|(at, &row)| (row, at))
            .collect();
    }

    /// The `limit` best (row, score) pairs among the allowed documents.
    fn nearest(
        &self,
        query: &[f32],
        limit: usize,
        allowed: Option<&HashSet<u32>>,
    ) -> Result<Vec<(i64, f32)>> {
        if self.rows.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        if query.len() != self.dimension {
            return Err(Error::Internal(anyhow::anyhow!(
                "the index holds vectors of {} dimensions, not the query's {} (was the embedding model changed?)",
                self.dimension,
                query.len()
            )));
        }
        let scan = |range: std::ops::Range<usize>| {
            let mut best = TopK::new(limit);
            for at in range {
                if allowed.is_some_and(|allowed| !allowed.contains(&self.document[at])) {
                    continue;
                }
                let vector = &self.data[at * self.dimension..(at + 1) * self.dimension];
                best.offer(dot(query, vector), at);
            }
            best
        };
        let count = self.rows.len();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let best = if count >= PARALLEL_SCAN_ROWS && cores > 1 {
            let part = count.div_ceil(cores);
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..cores)
                    .map(|core| {
                        let range = core * part..((core + 1) * part).min(count);
                        scope.spawn(move || scan(range))
                    })
                    .collect();
                let mut merged = TopK::new(limit);
                for handle in handles {
                    for (score, at) in handle.join().expect("a scan thread").into_sorted() {
                        merged.offer(score, at);
                    }
                }
                merged
            })
        } else {
            scan(0..count)
        };
        Ok(best
            .into_sorted()
            .into_iter()
            .map(|(score, at)| (self.rows[at], score))
            .collect())
    }
}

/// The `limit` highest scores seen, kept in a min-heap.
struct TopK {
    limit: usize,
    heap: BinaryHeap<std::cmp::Reverse<(Score, usize)>>,
}

/// A similarity ordered totally (`f32::total_cmp`), so it can sit in a heap.
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

    fn offer(&mut self, score: f32, at: usize) {
        if self.heap.len() < self.limit {
            self.heap.push(std::cmp::Reverse((Score(score), at)));
        } else if self.heap.peek().is_some_and(|worst| score > worst.0 .0 .0) {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse((Score(score), at)));
        }
    }

    /// Best first.
    fn into_sorted(self) -> Vec<(f32, usize)> {
        let mut all: Vec<(f32, usize)> = self
            .heap
            .into_iter()
            .map(|std::cmp::Reverse((score, at))| (score.0, at))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all
    }
}

/// The dot product, eight lanes at a time (AVX2 with FMA when the CPU has it).
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

fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = a.len() / 8;
    for chunk in 0..chunks {
        for lane in 0..8 {
            lanes[lane] += a[chunk * 8 + lane] * b[chunk * 8 + lane];
        }
    }
    let mut sum: f32 = lanes.iter().sum();
    for at in chunks * 8..a.len().min(b.len()) {
        sum += a[at] * b[at];
    }
    sum
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let length = a.len().min(b.len());
    let chunks = length / 16;
    let (mut first, mut second) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for chunk in 0..chunks {
        let at = chunk * 16;
        first = _mm256_fmadd_ps(
            _mm256_loadu_ps(a.as_ptr().add(at)),
            _mm256_loadu_ps(b.as_ptr().add(at)),
            first,
        );
        second = _mm256_fmadd_ps(
            _mm256_loadu_ps(a.as_ptr().add(at + 8)),
            _mm256_loadu_ps(b.as_ptr().add(at + 8)),
            second,
        );
    }
    let sum = _mm256_add_ps(first, second);
    let mut lanes = [0.0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
    let mut total: f32 = lanes.iter().sum();
    for at in chunks * 16..length {
        total += a[at] * b[at];
    }
    total
}

fn to_blob(vector: &[f32]) -> Vec<u8> {
    vector
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

fn from_blob(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        .collect()
}

/// `AND document_id IN (?, ?, …)` with its parameters, starting at `?{first}`.
fn scope_clause(scope: &SearchScope, first: usize) -> (String, Vec<SqlValue>) {
    match &scope.document_ids {
        None => (String::new(), Vec::new()),
        Some(ids) => {
            let placeholders: Vec<String> =
                (0..ids.len()).map(|i| format!("?{}", first + i)).collect();
            (
                format!(" AND c.document_id IN ({})", placeholders.join(", ")),
                ids.iter().cloned().map(SqlValue::Text).collect(),
            )
        }
    }
}

/// Turns free text into an FTS5 query: each word a quoted phrase (so `E-4012`
/// stays one term sequence and no user input is read as FTS syntax), any may match.
pub fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = crate::model::text::query_terms(text)
        .into_iter()
        // FTS5 strings end at a NUL; control characters never match a word anyway.
        .map(|word| word.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|word| !word.is_empty())
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

impl SqliteVectorIndex {
    /// Forgets every loaded owner if another process wrote the database.
    async fn drop_if_written_elsewhere(&self) -> Result<()> {
        let version = self
            .db
            .call(|connection| {
                connection
                    .query_row("PRAGMA data_version", [], |row| row.get::<_, i64>(0))
                    .map_err(internal("reading the data version"))
            })
            .await?;
        let mut known = self.vectors.version.lock().expect("version lock");
        if known.is_some_and(|known| known != version) {
            self.vectors.owners.write().expect("cache lock").clear();
        }
        *known = Some(version);
        Ok(())
    }

    /// The owner's vectors in memory, loaded from SQLite on first use.
    async fn owner(&self, user_id: &str) -> Result<Arc<RwLock<OwnerVectors>>> {
        use std::sync::atomic::Ordering::SeqCst;
        self.drop_if_written_elsewhere().await?;
        loop {
            if let Some(owner) = self.loaded_owner(user_id) {
                return Ok(owner);
            }
            let writes_before = self.vectors.writes.load(SeqCst);
            let loaded = self.load_owner(user_id).await?;
            let mut owners = self.vectors.owners.write().expect("cache lock");
            if self.vectors.writes.load(SeqCst) != writes_before {
                // A write landed while loading; read again so it is not missed.
                continue;
            }
            return Ok(owners
                .entry(user_id.to_string())
                .or_insert_with(|| Arc::new(RwLock::new(loaded)))
                .clone());
        }
    }

    async fn load_owner(&self, user_id: &str) -> Result<OwnerVectors> {
        let user = user_id.to_string();
        self.db
            .read(move |connection| {
                let mut statement = connection
                    .prepare("SELECT id, document_id, embedding FROM chunks WHERE user_id = ?1")
                    .map_err(internal("loading vectors"))?;
                let mut rows = statement
                    .query([user])
                    .map_err(internal("loading vectors"))?;
                let mut owner = OwnerVectors::default();
                while let Some(row) = rows.next().map_err(internal("loading vectors"))? {
                    let id: i64 = row.get(0).map_err(internal("loading vectors"))?;
                    let document: String = row.get(1).map_err(internal("loading vectors"))?;
                    let blob = row.get_ref(2).map_err(internal("loading vectors"))?;
                    let blob = blob
                        .as_blob()
                        .map_err(|error| Error::Internal(error.into()))?;
                    owner.put(id, &document, &from_blob(blob))?;
                }
                Ok(owner)
            })
            .await
    }

    fn loaded_owner(&self, user_id: &str) -> Option<Arc<RwLock<OwnerVectors>>> {
        self.vectors
            .owners
            .read()
            .expect("cache lock")
            .get(user_id)
            .cloned()
    }

    /// Nearest passages by cosine similarity (vectors are unit length: a dot product).
    async fn nearest(
        &self,
        scope: &SearchScope,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<ScoredChunk>> {
        let owner = self.owner(&scope.user_id).await?;
        let query = vector.to_vec();
        let document_ids = scope.document_ids.clone();
        let best = tokio::task::spawn_blocking(move || {
            let owner = owner.read().expect("owner lock");
            let allowed: Option<HashSet<u32>> = document_ids.map(|ids| {
                owner
                    .documents
                    .iter()
                    .enumerate()
                    .filter(|(_, id)| ids.iter().any(|wanted| wanted.as_str() == &***id))
                    .map(|(index, _)| index as u32)
                    .collect()
            });
            owner.nearest(&query, limit, allowed.as_ref())
        })
        .await
        .map_err(|error| Error::Internal(anyhow::anyhow!("vector scan: {error}")))??;
        if best.is_empty() {
            return Ok(Vec::new());
        }
        self.db
            .read(move |connection| {
                let mut fetch = connection
                    .prepare("SELECT document_id, ordinal, page, text FROM chunks WHERE id = ?1")
                    .map_err(internal("reading chunks"))?;
                let mut found = Vec::with_capacity(best.len());
                for (id, score) in best {
                    // A row deleted since the scan is simply not found.
                    let chunk = fetch.query_row([id], |row| {
                        Ok(ScoredChunk {
                            document_id: row.get(0)?,
                            ordinal: row.get(1)?,
                            page: row.get(2)?,
                            text: row.get(3)?,
                            score,
                        })
                    });
                    match chunk {
                        Ok(chunk) => found.push(chunk),
                        Err(rusqlite::Error::QueryReturnedNoRows) => {}
                        Err(error) => return Err(internal("reading chunks")(error)),
                    }
                }
                Ok(found)
            })
            .await
    }

    /// Passages containing the query's words, best first (FTS5's BM25).
    async fn keyword_search(
        &self,
        scope: &SearchScope,
        query: &str,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let scope = scope.clone();
        self.db
            .read(move |connection| {
                let (clause, ids) = scope_clause(&scope, 4);
                let mut statement = connection
                    .prepare(&format!(
                        "SELECT c.document_id, c.ordinal, c.page, c.text, bm25(chunks_fts) AS rank
                         FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid
                         WHERE chunks_fts MATCH ?1 AND c.user_id = ?2{clause}
                         ORDER BY rank LIMIT ?3"
                    ))
                    .map_err(internal("searching keywords"))?;
                let parameters = [
                    SqlValue::Text(fts),
                    SqlValue::Text(scope.user_id.clone()),
                    SqlValue::Integer(limit as i64),
                ]
                .into_iter()
                .chain(ids);
                let rows = statement
                    .query_map(params_from_iter(parameters), |row| {
                        // bm25() is lower-is-better and negative; flip it so higher is better.
                        let rank: f64 = row.get(4)?;
                        Ok(ScoredChunk {
                            document_id: row.get(0)?,
                            ordinal: row.get(1)?,
                            page: row.get(2)?,
                            text: row.get(3)?,
                            score: -rank as f32,
                        })
                    })
                    .map_err(internal("searching keywords"))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(internal("searching keywords"))
            })
            .await
    }
}

#[async_trait]
impl VectorIndex for SqliteVectorIndex {
    async fn upsert(&self, chunks: &[Chunk]) -> Result<()> {
        let rows = {
            let chunks = chunks.to_vec();
            self.db
                .call(move |connection| {
                    // One transaction: the chunks appear all together or not at all.
                    let transaction = connection.transaction().map_err(internal("indexing chunks"))?;
                    let mut rows = Vec::with_capacity(chunks.len());
                    {
                        let mut insert = transaction
                            .prepare(
                                "INSERT INTO chunks (user_id, document_id, ordinal, page, text, embedding)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                                 ON CONFLICT (user_id, document_id, ordinal) DO UPDATE SET
                                    page = excluded.page, text = excluded.text, embedding = excluded.embedding
                                 RETURNING id",
                            )
                            .map_err(internal("indexing chunks"))?;
                        for chunk in &chunks {
                            let id: i64 = insert
                                .query_row(
                                    params![
                                        chunk.user_id,
                                        chunk.document_id,
                                        chunk.ordinal,
                                        chunk.page,
                                        chunk.text,
                                        to_blob(&chunk.embedding)
                                    ],
                                    |row| row.get(0),
                                )
                                .map_err(internal("indexing a chunk"))?;
                            rows.push(id);
                        }
                    }
                    transaction.commit().map_err(internal("indexing chunks"))?;
                    Ok(rows)
                })
                .await?
        };
        self.vectors
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Owners already in memory see the new passages at once.
        for (chunk, row) in chunks.iter().zip(rows) {
            if let Some(owner) = self.loaded_owner(&chunk.user_id) {
                owner.write().expect("owner lock").put(
                    row,
                    &chunk.document_id,
                    &chunk.embedding,
                )?;
            }
        }
        Ok(())
    }

    async fn delete_document(&self, user_id: &str, document_id: &str) -> Result<()> {
        let (user, document) = (user_id.to_string(), document_id.to_string());
        self.db
            .call(move |connection| {
                connection
                    .execute(
                        "DELETE FROM chunks WHERE user_id = ?1 AND document_id = ?2",
                        [user, document],
                    )
                    .map(|_| ())
                    .map_err(internal("deleting a document's chunks"))
            })
            .await?;
        self.vectors
            .writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(owner) = self.loaded_owner(user_id) {
            owner
                .write()
                .expect("owner lock")
                .remove_document(document_id);
        }
        Ok(())
    }

    async fn search(
        &self,
        scope: &SearchScope,
        query: SearchQuery<'_>,
        limit: usize,
    ) -> Result<SearchHits> {
        let (by_meaning, by_words) = tokio::try_join!(
            self.nearest(scope, query.vector, limit),
            self.keyword_search(scope, query.text, limit)
        )?;
        Ok(SearchHits {
            by_meaning,
            by_words,
        })
    }

    async fn count(&self, user_id: &str, document_id: &str) -> Result<usize> {
        let (user_id, document_id) = (user_id.to_string(), document_id.to_string());
        self.db
            .read(move |connection| {
                connection
                    .query_row(
                        "SELECT COUNT(*) FROM chunks WHERE user_id = ?1 AND document_id = ?2",
                        [user_id, document_id],
                        |row| row.get::<_, i64>(0),
                    )
                    .map(|count| count as usize)
                    .map_err(internal("counting chunks"))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_never_becomes_fts_syntax() {
        assert_eq!(
            fts_query("What is error E-4012?").unwrap(),
            "\"error\" OR \"E-4012\""
        );
        assert_eq!(
            fts_query("say \"NEAR(a b)\" OR *").unwrap(),
            "\"NEAR(a\" OR \"b\""
        );
        assert_eq!(fts_query("what is the"), None);
        assert_eq!(fts_query("a\u{0}b\u{7}").unwrap(), "\"ab\"");
    }

    #[test]
    fn the_simd_dot_product_agrees_with_the_plain_one() {
        let a: Vec<f32> = (0..389).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..389).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-3);
        assert!((dot_portable(&a, &b) - plain).abs() < 1e-3);
    }

    #[test]
    fn the_scan_keeps_the_best_and_honours_removals() {
        let mut owner = OwnerVectors::default();
        for row in 0..30_000i64 {
            let angle = row as f32 / 30_000.0;
            let document = if row % 2 == 0 { "even" } else { "odd" };
            owner
                .put(row, document, &[angle.cos(), angle.sin()])
                .unwrap();
        }
        let best = owner.nearest(&[1.0, 0.0], 3, None).unwrap();
        assert_eq!(
            best.iter().map(|(row, _)| *row).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        owner.remove_document("even");
        let best = owner.nearest(&[1.0, 0.0], 2, None).unwrap();
        assert_eq!(
            best.iter().map(|(row, _)| *row).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert!(owner.put(99_999, "odd", &[1.0, 0.0, 0.0]).is_err());
    }
}
