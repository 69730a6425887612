//! The in-process vector and keyword index, persisted in the SQLite file.
//!
//! SQLite is the store of record: every passage's owner, document, text, page
//! and vector (a little-endian f32 blob). Searching runs on each owner's
//! [`Library`] in memory (int8 vectors and a BM25 word index), loaded on the
//! owner's first search and kept current by every write through this index;
//! the few vector candidates are then rescored exactly from their stored f32
//! vectors. Every query is filtered by owner; there is no unscoped search.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use rusqlite::params;

use super::library::Library;
use super::sqlite::{internal, SqliteDb};
use crate::error::{Error, Result};
use crate::model::{Chunk, ScoredChunk, SearchScope};
use crate::ports::{SearchHits, SearchQuery, VectorIndex};

/// Vector candidates fetched per result wanted: int8 estimates are rescored
/// exactly from the stored f32 vectors, so near-ties come out in true order.
const RESCORED_PER_RESULT: usize = 2;

pub struct SqliteVectorIndex {
    db: SqliteDb,
    libraries: Arc<LibraryCache>,
}

impl SqliteVectorIndex {
    pub fn new(db: SqliteDb) -> Self {
        SqliteVectorIndex {
            db,
            libraries: Arc::new(LibraryCache::default()),
        }
    }
}

/// Each searched owner's library, in memory.
#[derive(Default)]
struct LibraryCache {
    owners: RwLock<HashMap<String, Arc<RwLock<Library>>>>,
    /// SQLite's `data_version` when the cache was last known current: it
    /// changes when another process (`askdocs ingest` beside `askdocs serve`)
    /// commits, and then every loaded owner is read again.
    version: std::sync::Mutex<Option<i64>>,
    /// Bumped after every committed write, before the write reaches the
    /// cache: a load that saw it change may have read around that write,
    /// so it is not kept.
    writes: AtomicU64,
}

/// The dot product, eight lanes at a time (AVX2 with FMA when the CPU has it).
fn dot(a: &[f32], b: &[f32]) -> f32 {
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
    a.iter().zip(b).map(|(x, y)| x * y).sum()
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

/// Sentence vectors as a blob: the dimension (u32), then per vector its scale
/// (f32) and one signed byte per dimension. A quarter of the f32 size; the
/// answer only ranks sentences with them, where int8 keeps the order.
fn sentences_to_blob(vectors: &[Vec<f32>]) -> Option<Vec<u8>> {
    let dimensions = vectors.first()?.len();
    let mut blob = Vec::with_capacity(4 + vectors.len() * (4 + dimensions));
    blob.extend((dimensions as u32).to_le_bytes());
    for vector in vectors {
        let largest = vector
            .iter()
            .fold(0.0f32, |largest, value| largest.max(value.abs()));
        let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
        blob.extend(scale.to_le_bytes());
        blob.extend(
            vector
                .iter()
                .map(|value| (value / scale).round().clamp(-127.0, 127.0) as i8 as u8),
        );
    }
    Some(blob)
}

fn sentences_from_blob(blob: Option<&[u8]>) -> Vec<Vec<f32>> {
    let Some((dimensions, rest)) = blob.and_then(|blob| blob.split_first_chunk::<4>()) else {
        return Vec::new();
    };
    let dimensions = u32::from_le_bytes(*dimensions) as usize;
    rest.chunks_exact(4 + dimensions)
        .map(|stored| {
            let scale = f32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
            stored[4..]
                .iter()
                .map(|&byte| byte as i8 as f32 * scale)
                .collect()
        })
        .collect()
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
        let mut known = self.libraries.version.lock().expect("version lock");
        if known.is_some_and(|known| known != version) {
            self.libraries.owners.write().expect("cache lock").clear();
        }
        *known = Some(version);
        Ok(())
    }

    /// The owner's library in memory, loaded from SQLite on first use.
    async fn library(&self, user_id: &str) -> Result<Arc<RwLock<Library>>> {
        self.drop_if_written_elsewhere().await?;
        loop {
            if let Some(library) = self.loaded_library(user_id) {
                return Ok(library);
            }
            let writes_before = self.libraries.writes.load(SeqCst);
            let loaded = self.load_library(user_id).await?;
            let mut owners = self.libraries.owners.write().expect("cache lock");
            if self.libraries.writes.load(SeqCst) != writes_before {
                // A write landed while loading; read again so it is not missed.
                continue;
            }
            return Ok(owners
                .entry(user_id.to_string())
                .or_insert_with(|| Arc::new(RwLock::new(loaded)))
                .clone());
        }
    }

    async fn load_library(&self, user_id: &str) -> Result<Library> {
        let user = user_id.to_string();
        self.db
            .read(move |connection| {
                let mut statement = connection
                    .prepare(
                        "SELECT id, document_id, text, embedding FROM chunks WHERE user_id = ?1",
                    )
                    .map_err(internal("loading passages"))?;
                let mut rows = statement
                    .query([user])
                    .map_err(internal("loading passages"))?;
                let mut library = Library::default();
                while let Some(row) = rows.next().map_err(internal("loading passages"))? {
                    let id: i64 = row.get(0).map_err(internal("loading passages"))?;
                    let document = row
                        .get_ref(1)
                        .and_then(|value| Ok(value.as_str()?.to_owned()));
                    let document = document.map_err(internal("loading passages"))?;
                    let text = row
                        .get_ref(2)
                        .and_then(|value| Ok(value.as_str()?.to_owned()));
                    let text = text.map_err(internal("loading passages"))?;
                    let blob = row.get_ref(3).map_err(internal("loading passages"))?;
                    let blob = blob
                        .as_blob()
                        .map_err(|error| Error::Internal(error.into()))?;
                    library.put(id, &document, &text, &from_blob(blob))?;
                }
                Ok(library)
            })
            .await
    }

    fn loaded_library(&self, user_id: &str) -> Option<Arc<RwLock<Library>>> {
        self.libraries
            .owners
            .read()
            .expect("cache lock")
            .get(user_id)
            .cloned()
    }

    /// Marks a committed write, then applies it to the owner's library if loaded.
    fn after_write(
        &self,
        user_id: &str,
        change: impl FnOnce(&mut Library) -> Result<()>,
    ) -> Result<()> {
        self.libraries.writes.fetch_add(1, SeqCst);
        match self.loaded_library(user_id) {
            Some(library) => change(&mut library.write().expect("library lock")),
            None => Ok(()),
        }
    }
}

/// The sentence vectors stored with chunk `id` (none for chunks indexed
/// before they were kept, or deleted since).
fn sentence_vectors(connection: &rusqlite::Connection, id: i64) -> Result<Vec<Vec<f32>>> {
    let mut fetch = connection
        .prepare_cached("SELECT sentence_vectors FROM chunks WHERE id = ?1")
        .map_err(internal("reading sentence vectors"))?;
    match fetch.query_row([id], |row| {
        Ok(sentences_from_blob(row.get_ref(0)?.as_blob_or_null()?))
    }) {
        Ok(vectors) => Ok(vectors),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(Vec::new()),
        Err(error) => Err(internal("reading sentence vectors")(error)),
    }
}

/// A passage read back: the chunk, its stored vector when asked for, its row id.
type Passage = (ScoredChunk, Option<Vec<f32>>, i64);

/// Reads the passages behind `rows`, in the order given; a row deleted since
/// the search is left out.
fn passages(
    connection: &rusqlite::Connection,
    rows: &[(i64, f32)],
    with_vector: bool,
) -> Result<Vec<Passage>> {
    let mut fetch = connection
        .prepare_cached(
            "SELECT document_id, ordinal, page, text, embedding FROM chunks WHERE id = ?1",
        )
        .map_err(internal("reading passages"))?;
    let mut found = Vec::with_capacity(rows.len());
    for &(id, score) in rows {
        let passage = fetch.query_row([id], |row| {
            let vector = if with_vector {
                Some(from_blob(row.get_ref(4)?.as_blob()?))
            } else {
                None
            };
            Ok((
                ScoredChunk {
                    document_id: row.get(0)?,
                    ordinal: row.get(1)?,
                    page: row.get(2)?,
                    text: row.get(3)?,
                    score,
                    sentence_vectors: Vec::new(),
                },
                vector,
                id,
            ))
        });
        match passage {
            Ok(passage) => found.push(passage),
            Err(rusqlite::Error::QueryReturnedNoRows) => {}
            Err(error) => return Err(internal("reading passages")(error)),
        }
    }
    Ok(found)
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
                                "INSERT INTO chunks (user_id, document_id, ordinal, page, text, embedding, sentence_vectors)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                                 ON CONFLICT (user_id, document_id, ordinal) DO UPDATE SET
                                    page = excluded.page, text = excluded.text, embedding = excluded.embedding,
                                    sentence_vectors = excluded.sentence_vectors
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
                                        to_blob(&chunk.embedding),
                                        sentences_to_blob(&chunk.sentence_vectors)
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
        // Owners already in memory see the new passages at once.
        self.libraries.writes.fetch_add(1, SeqCst);
        for (chunk, row) in chunks.iter().zip(rows) {
            if let Some(library) = self.loaded_library(&chunk.user_id) {
                library.write().expect("library lock").put(
                    row,
                    &chunk.document_id,
                    &chunk.text,
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
        self.after_write(user_id, |library| {
            library.remove_document(document_id);
            Ok(())
        })
    }

    async fn search(
        &self,
        scope: &SearchScope,
        query: SearchQuery<'_>,
        limit: usize,
    ) -> Result<SearchHits> {
        let library = self.library(&scope.user_id).await?;
        let (vector, text) = (query.vector.to_vec(), query.text.to_string());
        let document_ids = scope.document_ids.clone();
        // One blocking task for the in-memory search and the reads after it.
        self.db
            .read(move |connection| {
                let (candidates, by_words) = {
                    let library = library.read().expect("library lock");
                    let allowed = document_ids.map(|ids| library.documents_among(&ids));
                    let candidates =
                        library.nearest(&vector, limit * RESCORED_PER_RESULT, allowed.as_ref())?;
                    let by_words = library.keyword(&text, limit, allowed.as_ref());
                    (candidates, by_words)
                };
                let mut by_meaning: Vec<(ScoredChunk, i64)> =
                    passages(connection, &candidates, true)?
                        .into_iter()
                        .map(|(mut chunk, stored, id)| {
                            if let Some(stored) = stored {
                                chunk.score = dot(&vector, &stored);
                            }
                            (chunk, id)
                        })
                        .collect();
                by_meaning.sort_by(|(a, _), (b, _)| {
                    b.score
                        .total_cmp(&a.score)
                        .then_with(|| (&a.document_id, a.ordinal).cmp(&(&b.document_id, b.ordinal)))
                });
                by_meaning.truncate(limit);
                // Most passages found by words were found by meaning too: each
                // row is read, and its sentence vectors fetched, once.
                let mut found_by_meaning: HashMap<i64, usize> = HashMap::new();
                for (at, (chunk, id)) in by_meaning.iter_mut().enumerate() {
                    chunk.sentence_vectors = sentence_vectors(connection, *id)?;
                    found_by_meaning.insert(*id, at);
                }
                let unread: Vec<(i64, f32)> = by_words
                    .iter()
                    .filter(|(id, _)| !found_by_meaning.contains_key(id))
                    .copied()
                    .collect();
                let mut read_now: HashMap<i64, ScoredChunk> = HashMap::new();
                for (mut chunk, _, id) in passages(connection, &unread, false)? {
                    chunk.sentence_vectors = sentence_vectors(connection, id)?;
                    read_now.insert(id, chunk);
                }
                let by_words: Vec<ScoredChunk> = by_words
                    .iter()
                    .filter_map(|(id, score)| {
                        let mut chunk = match found_by_meaning.get(id) {
                            Some(&at) => by_meaning[at].0.clone(),
                            None => read_now.remove(id)?,
                        };
                        chunk.score = *score;
                        Some(chunk)
                    })
                    .collect();
                let by_meaning = by_meaning.into_iter().map(|(chunk, _)| chunk).collect();
                Ok(SearchHits {
                    by_meaning,
                    by_words,
                })
            })
            .await
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
    fn the_simd_dot_product_agrees_with_the_plain_one() {
        let a: Vec<f32> = (0..389).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..389).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-3);
        assert!((dot_portable(&a, &b) - plain).abs() < 1e-3);
    }
}
