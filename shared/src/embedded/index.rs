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
use crate::error::Result;
use crate::model::vector::dot;
use crate::model::{Chunk, DocumentId, ScoredChunk, SearchScope, UserId};
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

/// How much memory passages read back for searches may keep (text, vector
/// and sentence vectors: ~16 KB each, so a few thousand passages).
const PASSAGE_CACHE_BYTES: usize = 64 << 20;

/// Each searched owner's library, in memory.
#[derive(Default)]
struct LibraryCache {
    owners: RwLock<HashMap<String, Arc<RwLock<Library>>>>,
    /// Passages as searches read them back, by row id: filled as an owner's
    /// library loads (up to half the budget) and by searches, so an ask finds
    /// its candidates in memory; reading ~30 rows with their vectors was a
    /// third of an ask's own time. Emptied by every write (row ids can be
    /// reused) and when another process writes.
    passages: std::sync::Mutex<PassageCache>,
    /// SQLite's `data_version` when the cache was last known current: it
    /// changes when another process (`askdocs ingest` beside `askdocs serve`)
    /// commits, and then every loaded owner is read again.
    version: std::sync::Mutex<Option<i64>>,
    /// Bumped after every committed write, before the write reaches the
    /// cache: a load that saw it change may have read around that write,
    /// so it is not kept.
    writes: AtomicU64,
}

/// A passage as searches need it: the chunk (score unset), its stored vector.
struct CachedPassage {
    chunk: ScoredChunk,
    vector: Vec<f32>,
}

impl CachedPassage {
    fn bytes(&self) -> usize {
        let sentences: usize = self.chunk.sentence_vectors.iter().map(Vec::len).sum();
        self.chunk.text.len()
            + self.chunk.document_id.len()
            + (self.vector.len() + sentences) * std::mem::size_of::<f32>()
            + 96
    }
}

#[derive(Default)]
struct PassageCache {
    entries: HashMap<i64, Arc<CachedPassage>>,
    bytes: usize,
}

impl PassageCache {
    fn insert(&mut self, id: i64, passage: Arc<CachedPassage>) {
        let bytes = passage.bytes();
        if self.bytes + bytes > PASSAGE_CACHE_BYTES {
            // Start over rather than track recency: a library too large to
            // keep is searched from SQLite as before.
            self.clear();
        }
        self.bytes += bytes;
        if let Some(replaced) = self.entries.insert(id, passage) {
            self.bytes -= replaced.bytes();
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

impl LibraryCache {
    /// Marks a committed write: loads and passage reads in flight are not
    /// kept, and passages read before it are forgotten.
    fn written(&self) {
        self.writes.fetch_add(1, SeqCst);
        self.passages.lock().expect("passage cache lock").clear();
    }

    /// The passage at row `id`: from memory, or read from SQLite (and kept,
    /// unless a write landed since `writes_before`). `None` if the row is gone.
    fn passage(
        &self,
        connection: &rusqlite::Connection,
        id: i64,
        writes_before: u64,
    ) -> Result<Option<Arc<CachedPassage>>> {
        if let Some(passage) = self
            .passages
            .lock()
            .expect("passage cache lock")
            .entries
            .get(&id)
        {
            return Ok(Some(passage.clone()));
        }
        let Some(passage) = read_passage(connection, id)? else {
            return Ok(None);
        };
        let passage = Arc::new(passage);
        let mut cache = self.passages.lock().expect("passage cache lock");
        if self.writes.load(SeqCst) == writes_before {
            cache.insert(id, passage.clone());
        }
        Ok(Some(passage))
    }
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
            self.libraries.written();
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
            let (loaded, passages) = self.load_library(user_id).await?;
            let mut owners = self.libraries.owners.write().expect("cache lock");
            if self.libraries.writes.load(SeqCst) != writes_before {
                // A write landed while loading; read again so it is not missed.
                continue;
            }
            let mut cache = self.libraries.passages.lock().expect("passage cache lock");
            for (id, passage) in passages {
                cache.insert(id, Arc::new(passage));
            }
            drop(cache);
            return Ok(owners
                .entry(user_id.to_string())
                .or_insert_with(|| Arc::new(RwLock::new(loaded)))
                .clone());
        }
    }

    /// The owner's library, and their passages as searches read them back
    /// (as many as the passage cache has room for).
    async fn load_library(&self, user_id: &str) -> Result<(Library, Vec<(i64, CachedPassage)>)> {
        let user = user_id.to_string();
        self.db
            .read(move |connection| {
                let mut statement = connection
                    .prepare(
                        "SELECT id, document_id, ordinal, page, text, embedding, sentence_vectors \
                         FROM chunks WHERE user_id = ?1",
                    )
                    .map_err(internal("loading passages"))?;
                let mut rows = statement
                    .query([user])
                    .map_err(internal("loading passages"))?;
                let mut library = Library::default();
                let mut passages = Vec::new();
                let mut room = PASSAGE_CACHE_BYTES / 2;
                while let Some(row) = rows.next().map_err(internal("loading passages"))? {
                    let id: i64 = row.get(0).map_err(internal("loading passages"))?;
                    let passage = passage_from_row(row, 1).map_err(internal("loading passages"))?;
                    library.put(
                        id,
                        &passage.chunk.document_id,
                        &passage.chunk.text,
                        &passage.vector,
                    )?;
                    let bytes = passage.bytes();
                    if bytes <= room {
                        room -= bytes;
                        passages.push((id, passage));
                    }
                }
                Ok((library, passages))
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
        self.libraries.written();
        match self.loaded_library(user_id) {
            Some(library) => change(&mut library.write().expect("library lock")),
            None => Ok(()),
        }
    }
}

/// A passage from the columns `document_id, ordinal, page, text, embedding,
/// sentence_vectors` of `row`, starting at column `first`.
fn passage_from_row(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<CachedPassage> {
    Ok(CachedPassage {
        chunk: ScoredChunk {
            document_id: row.get(first)?,
            ordinal: row.get(first + 1)?,
            page: row.get(first + 2)?,
            text: row.get(first + 3)?,
            score: 0.0,
            // None for chunks indexed before sentence vectors were kept.
            sentence_vectors: sentences_from_blob(row.get_ref(first + 5)?.as_blob_or_null()?)
                .into(),
        },
        vector: from_blob(row.get_ref(first + 4)?.as_blob()?),
    })
}

/// The passage at row `id`; `None` if the row is gone.
fn read_passage(connection: &rusqlite::Connection, id: i64) -> Result<Option<CachedPassage>> {
    let mut fetch = connection
        .prepare_cached(
            "SELECT document_id, ordinal, page, text, embedding, sentence_vectors \
             FROM chunks WHERE id = ?1",
        )
        .map_err(internal("reading passages"))?;
    match fetch.query_row([id], |row| passage_from_row(row, 0)) {
        Ok(passage) => Ok(Some(passage)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(error) => Err(internal("reading passages")(error)),
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
        self.libraries.written();
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

    async fn delete_document(&self, user_id: &UserId, document_id: &DocumentId) -> Result<()> {
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
        let libraries = self.libraries.clone();
        let writes_before = libraries.writes.load(SeqCst);
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
                // Each passage is read once (most found by words are also
                // found by meaning) and kept for the next ask.
                let mut read: HashMap<i64, Arc<CachedPassage>> = HashMap::new();
                let mut passage = |id: i64| -> Result<Option<Arc<CachedPassage>>> {
                    if let Some(found) = read.get(&id) {
                        return Ok(Some(found.clone()));
                    }
                    let found = libraries.passage(connection, id, writes_before)?;
                    if let Some(found) = &found {
                        read.insert(id, found.clone());
                    }
                    Ok(found)
                };
                let mut by_meaning: Vec<(f32, Arc<CachedPassage>)> = Vec::new();
                for &(id, _) in &candidates {
                    if let Some(found) = passage(id)? {
                        // Rescored exactly: the library's int8 estimate only chose them.
                        by_meaning.push((dot(&vector, &found.vector), found));
                    }
                }
                by_meaning.sort_by(|(a_score, a), (b_score, b)| {
                    b_score.total_cmp(a_score).then_with(|| {
                        (&a.chunk.document_id, a.chunk.ordinal)
                            .cmp(&(&b.chunk.document_id, b.chunk.ordinal))
                    })
                });
                by_meaning.truncate(limit);
                let scored = |passage: &CachedPassage, score: f32| ScoredChunk {
                    score,
                    ..passage.chunk.clone()
                };
                let by_meaning = by_meaning
                    .iter()
                    .map(|(score, found)| scored(found, *score))
                    .collect();
                let mut words = Vec::with_capacity(by_words.len());
                for &(id, score) in &by_words {
                    if let Some(found) = passage(id)? {
                        words.push(scored(&found, score));
                    }
                }
                Ok(SearchHits {
                    by_meaning,
                    by_words: words,
                })
            })
            .await
    }

    async fn count(&self, user_id: &UserId, document_id: &DocumentId) -> Result<usize> {
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

    fn chunk(document_id: &str, ordinal: u32, text: &str, axis: usize) -> Chunk {
        let mut embedding = vec![0.0; 8];
        embedding[axis] = 1.0;
        Chunk {
            user_id: "ada".into(),
            document_id: document_id.into(),
            ordinal,
            page: 1,
            text: text.into(),
            embedding,
            sentence_vectors: vec![vec![0.5; 8]],
        }
    }

    /// Ada's passages found for `words`, probed along the first axis.
    async fn search(index: &SqliteVectorIndex, words: &str) -> SearchHits {
        let scope = SearchScope {
            user_id: "ada".into(),
            document_ids: None,
        };
        let mut probe = vec![0.0; 8];
        probe[0] = 1.0;
        let query = SearchQuery {
            vector: &probe,
            text: words,
        };
        index.search(&scope, query, 5).await.unwrap()
    }

    async fn texts_found(index: &SqliteVectorIndex, words: &str) -> Vec<String> {
        let hits = search(index, words).await;
        hits.by_meaning
            .into_iter()
            .map(|chunk| chunk.text)
            .collect()
    }

    #[tokio::test]
    async fn passages_kept_in_memory_never_outlive_a_write() {
        // GIVEN a passage that a search has read (and kept in memory)
        let index = SqliteVectorIndex::new(SqliteDb::in_memory().unwrap());
        index
            .upsert(&[chunk("d1", 0, "The pump runs at night.", 0)])
            .await
            .unwrap();
        assert_eq!(
            texts_found(&index, "pump").await,
            ["The pump runs at night."]
        );
        // WHEN its document is processed again with new text (same row)
        index
            .upsert(&[chunk("d1", 0, "The pump runs at noon.", 0)])
            .await
            .unwrap();
        // THEN searches see the new text, with its sentence vectors
        assert_eq!(
            texts_found(&index, "pump").await,
            ["The pump runs at noon."]
        );
        // WHEN it is deleted and another document takes its place (row ids are reused)
        index
            .delete_document(&"ada".into(), &"d1".into())
            .await
            .unwrap();
        assert!(texts_found(&index, "pump").await.is_empty());
        index
            .upsert(&[chunk("d2", 0, "Valves open at dawn.", 0)])
            .await
            .unwrap();
        // THEN only the new passage is found
        let hits = search(&index, "valves").await;
        assert_eq!(hits.by_meaning.len(), 1);
        assert_eq!(hits.by_meaning[0].document_id, "d2");
        assert_eq!(hits.by_meaning[0].text, "Valves open at dawn.");
        assert_eq!(*hits.by_meaning[0].sentence_vectors, [vec![0.5; 8]]);
        assert_eq!(hits.by_words[0].text, "Valves open at dawn.");
    }
}
