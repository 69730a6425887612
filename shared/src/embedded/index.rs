//! The in-process vector and keyword index, persisted in the SQLite file.
//!
//! Vectors are stored as little-endian f32 blobs and searched exactly (cosine
//! over the owner's chunks): at one person's scale that is both simple and fast
//! enough. Keywords use SQLite's FTS5 with BM25 ranking. Every query is
//! filtered by owner in SQL; there is no unscoped search.

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, types::Value as SqlValue};

use super::sqlite::{internal, SqliteDb};
use crate::error::{Error, Result};
use crate::model::{Chunk, ScoredChunk, SearchScope};
use crate::ports::{SearchHits, SearchQuery, VectorIndex};

pub struct SqliteVectorIndex {
    db: SqliteDb,
}

impl SqliteVectorIndex {
    pub fn new(db: SqliteDb) -> Self {
        SqliteVectorIndex { db }
    }
}

fn to_blob(vector: &[f32]) -> Vec<u8> {
    vector
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

fn dot_with_blob(query: &[f32], blob: &[u8]) -> Option<f32> {
    if blob.len() != query.len() * 4 {
        return None;
    }
    Some(
        blob.chunks_exact(4)
            .zip(query)
            .map(|(bytes, q)| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) * q)
            .sum(),
    )
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

#[async_trait]
impl VectorIndex for SqliteVectorIndex {
    async fn upsert(&self, chunks: &[Chunk]) -> Result<()> {
        let chunks = chunks.to_vec();
        self.db
            .call(move |connection| {
                // One transaction: the chunks appear all together or not at all.
                let transaction = connection.transaction().map_err(internal("indexing chunks"))?;
                {
                    let mut insert = transaction
                        .prepare(
                            "INSERT INTO chunks (user_id, document_id, ordinal, page, text, embedding)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                             ON CONFLICT (user_id, document_id, ordinal) DO UPDATE SET
                                page = excluded.page, text = excluded.text, embedding = excluded.embedding",
                        )
                        .map_err(internal("indexing chunks"))?;
                    for chunk in &chunks {
                        insert
                            .execute(params![
                                chunk.user_id,
                                chunk.document_id,
                                chunk.ordinal,
                                chunk.page,
                                chunk.text,
                                to_blob(&chunk.embedding)
                            ])
                            .map_err(internal("indexing a chunk"))?;
                    }
                }
                transaction.commit().map_err(internal("indexing chunks"))
            })
            .await
    }

    async fn delete_document(&self, user_id: &str, document_id: &str) -> Result<()> {
        let (user_id, document_id) = (user_id.to_string(), document_id.to_string());
        self.db
            .call(move |connection| {
                connection
                    .execute(
                        "DELETE FROM chunks WHERE user_id = ?1 AND document_id = ?2",
                        [user_id, document_id],
                    )
                    .map(|_| ())
                    .map_err(internal("deleting a document's chunks"))
            })
            .await
    }

    async fn search(
        &self,
        scope: &SearchScope,
        query: SearchQuery<'_>,
        limit: usize,
    ) -> Result<SearchHits> {
        Ok(SearchHits {
            by_meaning: self.nearest(scope, query.vector, limit).await?,
            by_words: self.keyword_search(scope, query.text, limit).await?,
        })
    }

    async fn count(&self, user_id: &str, document_id: &str) -> Result<usize> {
        let (user_id, document_id) = (user_id.to_string(), document_id.to_string());
        self.db
            .call(move |connection| {
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

impl SqliteVectorIndex {
    /// Nearest chunks by cosine similarity (vectors are unit length: a dot product).
    async fn nearest(
        &self,
        scope: &SearchScope,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<ScoredChunk>> {
        let scope = scope.clone();
        let query = vector.to_vec();
        self.db
            .call(move |connection| {
                let (clause, ids) = scope_clause(&scope, 2);
                // First pass: scores only; the texts of the winners are read afterwards.
                let mut statement = connection
                    .prepare(&format!("SELECT c.id, c.embedding FROM chunks c WHERE c.user_id = ?1{clause}"))
                    .map_err(internal("searching vectors"))?;
                let parameters = std::iter::once(SqlValue::Text(scope.user_id.clone())).chain(ids);
                let mut rows = statement.query(params_from_iter(parameters)).map_err(internal("searching vectors"))?;
                let mut scored: Vec<(i64, f32)> = Vec::new();
                while let Some(row) = rows.next().map_err(internal("searching vectors"))? {
                    let blob = row.get_ref(1).map_err(internal("searching vectors"))?;
                    let blob = blob.as_blob().map_err(|error| Error::Internal(error.into()))?;
                    match dot_with_blob(&query, blob) {
                        Some(score) => scored.push((row.get(0).map_err(internal("searching vectors"))?, score)),
                        None => {
                            return Err(Error::Internal(anyhow::anyhow!(
                                "index holds vectors of another dimension than the query's {} (was the embedding model changed?)",
                                query.len()
                            )))
                        }
                    }
                }
                scored.sort_by(|a, b| b.1.total_cmp(&a.1));
                scored.truncate(limit);
                let mut fetch = connection
                    .prepare("SELECT document_id, ordinal, page, text FROM chunks WHERE id = ?1")
                    .map_err(internal("reading chunks"))?;
                scored
                    .into_iter()
                    .map(|(id, score)| {
                        fetch
                            .query_row([id], |row| {
                                Ok(ScoredChunk {
                                    document_id: row.get(0)?,
                                    ordinal: row.get(1)?,
                                    page: row.get(2)?,
                                    text: row.get(3)?,
                                    score,
                                })
                            })
                            .map_err(internal("reading chunks"))
                    })
                    .collect()
            })
            .await
    }

    /// Chunks containing the query's words, best first (FTS5's BM25).
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
            .call(move |connection| {
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
}
