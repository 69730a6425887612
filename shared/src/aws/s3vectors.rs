//! Vectors in Amazon S3 Vectors: one vector bucket and index shared by every
//! user, each vector keyed `{documentId}#{ordinal}` (so re-processing
//! overwrites and deletion is exact) with `userId` and `documentId` as
//! filterable metadata and the passage's text, page and ordinal stored beside
//! it. Every query filters on the owner; in the index's ENHANCED mode the
//! filter applies before the search, so a user owning a tiny share of the
//! vectors still gets a full `topK` (see `bootstrap`).
//!
//! S3 Vectors has no keyword index in this SDK: the keyword side of hybrid
//! retrieval ranks, by BM25, the words of the widest set the vector search
//! returns (`topK` 100). An exact term (an error code, a flag) is found when
//! its passage is among the 100 nearest by meaning.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::json_rpc::JsonClient;
use crate::error::{Error, Result};
use crate::model::text::bm25_rank;
use crate::model::{Chunk, ScoredChunk, SearchScope};
use crate::ports::{SearchHits, SearchQuery, VectorIndex};

/// QueryVectors returns at most this many vectors.
const MAX_TOP_K: usize = 100;
/// PutVectors and DeleteVectors take at most 500 vectors per call; fewer
/// keeps a put of 1024-dimension vectors well inside the request size limit.
const WRITE_BATCH: usize = 200;
const DELETE_BATCH: usize = 500;
/// GetVectors takes at most 100 keys per call.
const GET_BATCH: usize = 100;
/// Rounds of "query for leftovers, delete them" before a delete gives up.
const MAX_LEFTOVER_ROUNDS: usize = 100;

/// S3 Vectors' REST-JSON API (`POST /QueryVectors`, …), spoken directly: see
/// [`super::signed`] for why not through the SDK.
pub struct S3VectorIndex {
    client: JsonClient,
    bucket: String,
    index: String,
}

impl S3VectorIndex {
    pub(crate) fn new(client: JsonClient, bucket: &str, index: &str) -> Self {
        S3VectorIndex {
            client,
            bucket: bucket.to_string(),
            index: index.to_string(),
        }
    }

    /// POSTs `input` to `operation`, naming this bucket and index.
    async fn call(&self, operation: &str, mut input: Value) -> Result<Value> {
        input["vectorBucketName"] = json!(self.bucket);
        input["indexName"] = json!(self.index);
        self.client
            .post(&format!("/{operation}"), &input)
            .await
            .map_err(|error| error.into_error(&format!("S3 Vectors {operation}")))
    }

    async fn existing_keys(&self, keys: Vec<String>) -> Result<Vec<(String, Value)>> {
        let mut output = self
            .call(
                "GetVectors",
                json!({"keys": keys, "returnData": false, "returnMetadata": true}),
            )
            .await?;
        Ok(vectors_in(&mut output)
            .into_iter()
            .filter_map(|mut vector| {
                let key = vector["key"].as_str()?.to_string();
                Some((key, vector["metadata"].take()))
            })
            .collect())
    }

    async fn delete_keys(&self, keys: Vec<String>) -> Result<()> {
        for batch in keys.chunks(DELETE_BATCH) {
            self.call("DeleteVectors", json!({"keys": batch})).await?;
        }
        Ok(())
    }

    /// The document's keys that exist, found block by block from ordinal 0:
    /// keys are contiguous, so the first empty block is the end.
    async fn keys_of(&self, user_id: &str, document_id: &str) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for block in 0.. {
            let keys: Vec<String> = (block * GET_BATCH..(block + 1) * GET_BATCH)
                .map(|ordinal| vector_key(document_id, ordinal as u32))
                .collect();
            let existing = self.existing_keys(keys).await?;
            if existing.is_empty() {
                break;
            }
            found.extend(
                existing
                    .into_iter()
                    .filter(|(_, metadata)| field_text(metadata, "userId") == Some(user_id))
                    .map(|(key, _)| key),
            );
        }
        Ok(found)
    }

    async fn query(
        &self,
        filter: Value,
        vector: &[f32],
        top_k: usize,
    ) -> Result<Vec<(String, f32, Value)>> {
        let mut output = self
            .call(
                "QueryVectors",
                json!({
                    "topK": top_k.clamp(1, MAX_TOP_K),
                    "queryVector": {"float32": vector},
                    "filter": filter,
                    "returnMetadata": true,
                    "returnDistance": true,
                }),
            )
            .await?;
        Ok(vectors_in(&mut output)
            .into_iter()
            .filter_map(|mut hit| {
                Some((
                    hit["key"].as_str()?.to_string(),
                    hit["distance"].as_f64()? as f32,
                    hit.get_mut("metadata").map(Value::take)?,
                ))
            })
            .collect())
    }
}

/// The `vectors` list of an output.
fn vectors_in(output: &mut Value) -> Vec<Value> {
    match output.get_mut("vectors").map(Value::take) {
        Some(Value::Array(vectors)) => vectors,
        _ => Vec::new(),
    }
}

pub(crate) fn vector_key(document_id: &str, ordinal: u32) -> String {
    format!("{document_id}#{ordinal}")
}

fn metadata(chunk: &Chunk) -> Value {
    json!({
        "userId": chunk.user_id,
        "documentId": chunk.document_id,
        "text": chunk.text,
        "page": chunk.page,
        "ordinal": chunk.ordinal,
    })
}

fn field_text<'a>(metadata: &'a Value, name: &str) -> Option<&'a str> {
    metadata.get(name)?.as_str()
}

fn field_number(metadata: &Value, name: &str) -> Option<u32> {
    let value = metadata.get(name)?;
    match value.as_u64() {
        Some(number) => u32::try_from(number).ok(),
        None => value
            .as_f64()
            .filter(|number| number.fract() == 0.0 && *number >= 0.0 && *number <= u32::MAX as f64)
            .map(|number| number as u32),
    }
}

/// The filter every query carries: the owner, and the documents when named.
fn scope_filter(scope: &SearchScope) -> Value {
    let owner = json!({"userId": {"$eq": scope.user_id}});
    match &scope.document_ids {
        None => owner,
        Some(ids) => json!({"$and": [owner, {"documentId": {"$in": ids}}]}),
    }
}

fn scored_chunk(metadata: &Value, score: f32) -> Option<ScoredChunk> {
    Some(ScoredChunk {
        document_id: field_text(metadata, "documentId")?.to_string(),
        ordinal: field_number(metadata, "ordinal")?,
        page: field_number(metadata, "page")?,
        text: field_text(metadata, "text")?.to_string(),
        score,
        sentence_vectors: Default::default(),
    })
}

#[async_trait]
impl VectorIndex for S3VectorIndex {
    async fn upsert(&self, chunks: &[Chunk]) -> Result<()> {
        for batch in chunks.chunks(WRITE_BATCH) {
            let vectors: Vec<Value> = batch
                .iter()
                .map(|chunk| {
                    json!({
                        "key": vector_key(&chunk.document_id, chunk.ordinal),
                        "data": {"float32": chunk.embedding},
                        "metadata": metadata(chunk),
                    })
                })
                .collect();
            self.call("PutVectors", json!({"vectors": vectors})).await?;
        }
        Ok(())
    }

    async fn delete_document(&self, user_id: &str, document_id: &str) -> Result<()> {
        let keys = self.keys_of(user_id, document_id).await?;
        self.delete_keys(keys).await?;
        // A delete interrupted half-way leaves a gap the block walk stops at:
        // whatever of the document a filtered query still finds goes too.
        let Some(dimension) = self.dimension().await? else {
            return Ok(());
        };
        let probe = unit_vector(dimension);
        let scope = SearchScope {
            user_id: user_id.to_string(),
            document_ids: Some(vec![document_id.to_string()]),
        };
        for _ in 0..MAX_LEFTOVER_ROUNDS {
            let leftovers: Vec<String> = self
                .query(scope_filter(&scope), &probe, MAX_TOP_K)
                .await?
                .into_iter()
                .map(|(key, _, _)| key)
                .collect();
            if leftovers.is_empty() {
                return Ok(());
            }
            self.delete_keys(leftovers).await?;
        }
        Err(Error::Unavailable(anyhow::anyhow!(
            "S3 Vectors still returns vectors of document {document_id} after deleting them"
        )))
    }

    async fn search(
        &self,
        scope: &SearchScope,
        query: SearchQuery<'_>,
        limit: usize,
    ) -> Result<SearchHits> {
        // The widest set S3 Vectors gives, so the keyword side has words to rank.
        let hits = self
            .query(scope_filter(scope), query.vector, MAX_TOP_K)
            .await?;
        let candidates: Vec<ScoredChunk> = hits
            .iter()
            // S3 Vectors answers cosine *distance*; the domain thinks in similarity.
            .filter_map(|(_, distance, metadata)| scored_chunk(metadata, 1.0 - distance))
            .collect();
        let texts: Vec<&str> = candidates.iter().map(|chunk| chunk.text.as_str()).collect();
        let by_words = bm25_rank(query.text, &texts)
            .into_iter()
            .take(limit)
            .map(|(index, score)| ScoredChunk {
                score,
                ..candidates[index].clone()
            })
            .collect();
        let mut by_meaning = candidates;
        by_meaning.truncate(limit);
        Ok(SearchHits {
            by_meaning,
            by_words,
        })
    }

    async fn count(&self, user_id: &str, document_id: &str) -> Result<usize> {
        Ok(self.keys_of(user_id, document_id).await?.len())
    }
}

impl S3VectorIndex {
    /// The index's dimension, or `None` when the index does not exist.
    async fn dimension(&self) -> Result<Option<usize>> {
        let input = json!({"vectorBucketName": self.bucket, "indexName": self.index});
        match self.client.post("/GetIndex", &input).await {
            Ok(output) => Ok(output["index"]["dimension"]
                .as_u64()
                .map(|dimension| dimension as usize)),
            Err(error) if error.code() == Some("NotFoundException") => Ok(None),
            Err(error) => Err(error.into_error("S3 Vectors GetIndex")),
        }
    }
}

fn unit_vector(dimension: usize) -> Vec<f32> {
    let mut vector = vec![0.0; dimension.max(1)];
    vector[0] = 1.0;
    vector
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_is_filtered_by_its_owner() {
        let scope = SearchScope {
            user_id: "u1".into(),
            document_ids: None,
        };
        assert_eq!(scope_filter(&scope), json!({"userId": {"$eq": "u1"}}));
        let narrowed = scope_filter(&SearchScope {
            user_id: "u1".into(),
            document_ids: Some(vec!["d1".into()]),
        });
        assert_eq!(
            narrowed,
            json!({"$and": [{"userId": {"$eq": "u1"}}, {"documentId": {"$in": ["d1"]}}]})
        );
    }

    #[test]
    fn metadata_round_trips_into_a_scored_chunk() {
        let chunk = Chunk {
            user_id: "u1".into(),
            document_id: "d1".into(),
            ordinal: 7,
            page: 3,
            text: "Error code E-4012".into(),
            embedding: vec![1.0],
            sentence_vectors: Default::default(),
        };
        let scored = scored_chunk(&metadata(&chunk), 0.5).unwrap();
        assert_eq!(
            (
                scored.document_id.as_str(),
                scored.ordinal,
                scored.page,
                scored.text.as_str()
            ),
            ("d1", 7, 3, "Error code E-4012")
        );
        assert_eq!(vector_key("d1", 7), "d1#7");
    }
}
