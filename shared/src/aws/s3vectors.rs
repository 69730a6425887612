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

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_s3vectors::types::{PutInputVector, VectorData};
use aws_smithy_types::{Document as Json, Number};

use super::errors::sdk_error;
use super::AwsClients;
use crate::error::{Error, Result};
use crate::model::text::bm25_rank;
use crate::model::{Chunk, DocumentId, ScoredChunk, SearchScope, UserId};
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

pub struct S3VectorIndex {
    clients: AwsClients,
    bucket: String,
    index: String,
}

impl S3VectorIndex {
    pub(crate) fn new(clients: AwsClients, bucket: &str, index: &str) -> Self {
        S3VectorIndex {
            clients,
            bucket: bucket.to_string(),
            index: index.to_string(),
        }
    }

    async fn existing_keys(&self, keys: Vec<String>) -> Result<Vec<(String, Option<Json>)>> {
        let output = self
            .clients
            .s3vectors()
            .await
            .get_vectors()
            .vector_bucket_name(&self.bucket)
            .index_name(&self.index)
            .set_keys(Some(keys))
            .return_data(false)
            .return_metadata(true)
            .send()
            .await
            .map_err(|error| sdk_error("S3 Vectors GetVectors", error))?;
        Ok(output
            .vectors()
            .iter()
            .map(|vector| (vector.key().to_string(), vector.metadata().cloned()))
            .collect())
    }

    async fn delete_keys(&self, keys: Vec<String>) -> Result<()> {
        for batch in keys.chunks(DELETE_BATCH) {
            self.clients
                .s3vectors()
                .await
                .delete_vectors()
                .vector_bucket_name(&self.bucket)
                .index_name(&self.index)
                .set_keys(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|error| sdk_error("S3 Vectors DeleteVectors", error))?;
        }
        Ok(())
    }

    /// The document's keys that exist, found block by block from ordinal 0:
    /// keys are contiguous, so the first empty block is the end.
    async fn keys_of(&self, user_id: &UserId, document_id: &DocumentId) -> Result<Vec<String>> {
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
                    .filter(|(_, metadata)| owner_of(metadata.as_ref()) == Some(user_id))
                    .map(|(key, _)| key),
            );
        }
        Ok(found)
    }

    async fn query(
        &self,
        filter: Json,
        vector: &[f32],
        top_k: usize,
    ) -> Result<Vec<(String, f32, Json)>> {
        let output = self
            .clients
            .s3vectors()
            .await
            .query_vectors()
            .vector_bucket_name(&self.bucket)
            .index_name(&self.index)
            .top_k(top_k.clamp(1, MAX_TOP_K) as i32)
            .query_vector(VectorData::Float32(vector.to_vec()))
            .filter(filter)
            .return_metadata(true)
            .return_distance(true)
            .send()
            .await
            .map_err(|error| sdk_error("S3 Vectors QueryVectors", error))?;
        Ok(output
            .vectors()
            .iter()
            .filter_map(|hit| {
                Some((
                    hit.key().to_string(),
                    hit.distance()?,
                    hit.metadata()?.clone(),
                ))
            })
            .collect())
    }
}

pub(crate) fn vector_key(document_id: &DocumentId, ordinal: u32) -> String {
    format!("{document_id}#{ordinal}")
}

fn text_value(value: &str) -> Json {
    Json::String(value.to_string())
}

fn number(value: u32) -> Json {
    Json::Number(Number::PosInt(value.into()))
}

fn metadata(chunk: &Chunk) -> Json {
    Json::Object(HashMap::from([
        ("userId".to_string(), text_value(&chunk.user_id)),
        ("documentId".to_string(), text_value(&chunk.document_id)),
        ("text".to_string(), text_value(&chunk.text)),
        ("page".to_string(), number(chunk.page)),
        ("ordinal".to_string(), number(chunk.ordinal)),
    ]))
}

fn field<'a>(metadata: &'a Json, name: &str) -> Option<&'a Json> {
    match metadata {
        Json::Object(fields) => fields.get(name),
        _ => None,
    }
}

fn field_text<'a>(metadata: &'a Json, name: &str) -> Option<&'a str> {
    match field(metadata, name)? {
        Json::String(text) => Some(text),
        _ => None,
    }
}

fn field_number(metadata: &Json, name: &str) -> Option<u32> {
    match field(metadata, name)? {
        Json::Number(Number::PosInt(value)) => u32::try_from(*value).ok(),
        Json::Number(Number::NegInt(value)) => u32::try_from(*value).ok(),
        Json::Number(Number::Float(value)) if value.fract() == 0.0 && *value >= 0.0 => {
            Some(*value as u32)
        }
        _ => None,
    }
}

fn owner_of(metadata: Option<&Json>) -> Option<&str> {
    field_text(metadata?, "userId")
}

/// The filter every query carries: the owner, and the documents when named.
fn scope_filter(scope: &SearchScope) -> Json {
    let owner = Json::Object(HashMap::from([(
        "userId".to_string(),
        Json::Object(HashMap::from([(
            "$eq".to_string(),
            text_value(&scope.user_id),
        )])),
    )]));
    match &scope.document_ids {
        None => owner,
        Some(ids) => {
            let documents = Json::Object(HashMap::from([(
                "documentId".to_string(),
                Json::Object(HashMap::from([(
                    "$in".to_string(),
                    Json::Array(ids.iter().map(|id| text_value(id)).collect()),
                )])),
            )]));
            Json::Object(HashMap::from([(
                "$and".to_string(),
                Json::Array(vec![owner, documents]),
            )]))
        }
    }
}

fn scored_chunk(metadata: &Json, score: f32) -> Option<ScoredChunk> {
    Some(ScoredChunk {
        document_id: DocumentId::new(field_text(metadata, "documentId")?),
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
            let vectors = batch
                .iter()
                .map(|chunk| {
                    PutInputVector::builder()
                        .key(vector_key(&chunk.document_id, chunk.ordinal))
                        .data(VectorData::Float32(chunk.embedding.clone()))
                        .metadata(metadata(chunk))
                        .build()
                        .map_err(|error| Error::Internal(error.into()))
                })
                .collect::<Result<Vec<_>>>()?;
            self.clients
                .s3vectors()
                .await
                .put_vectors()
                .vector_bucket_name(&self.bucket)
                .index_name(&self.index)
                .set_vectors(Some(vectors))
                .send()
                .await
                .map_err(|error| sdk_error("S3 Vectors PutVectors", error))?;
        }
        Ok(())
    }

    async fn delete_document(&self, user_id: &UserId, document_id: &DocumentId) -> Result<()> {
        let keys = self.keys_of(user_id, document_id).await?;
        self.delete_keys(keys).await?;
        // A delete interrupted half-way leaves a gap the block walk stops at:
        // whatever of the document a filtered query still finds goes too.
        let Some(dimension) = self.dimension().await? else {
            return Ok(());
        };
        let probe = unit_vector(dimension);
        let scope = SearchScope {
            user_id: user_id.clone(),
            document_ids: Some(vec![document_id.clone()]),
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

    async fn count(&self, user_id: &UserId, document_id: &DocumentId) -> Result<usize> {
        Ok(self.keys_of(user_id, document_id).await?.len())
    }
}

impl S3VectorIndex {
    /// The index's dimension, or `None` when the index does not exist.
    async fn dimension(&self) -> Result<Option<usize>> {
        match self
            .clients
            .s3vectors()
            .await
            .get_index()
            .vector_bucket_name(&self.bucket)
            .index_name(&self.index)
            .send()
            .await
        {
            Ok(output) => Ok(output.index().map(|index| index.dimension() as usize)),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(sdk_error("S3 Vectors GetIndex", error)),
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
        assert_eq!(
            format!("{:?}", scope_filter(&scope)),
            format!(
                "{:?}",
                Json::Object(HashMap::from([(
                    "userId".to_string(),
                    Json::Object(HashMap::from([("$eq".to_string(), text_value("u1"))]))
                )]))
            )
        );
        let narrowed = scope_filter(&SearchScope {
            user_id: "u1".into(),
            document_ids: Some(vec!["d1".into()]),
        });
        let text = format!("{narrowed:?}");
        assert!(text.contains("$and") && text.contains("$in") && text.contains("u1"));
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
        assert_eq!(vector_key(&"d1".into(), 7), "d1#7");
    }
}
