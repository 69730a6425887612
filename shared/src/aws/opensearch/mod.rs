//! Passages in Amazon OpenSearch Serverless: a VECTORSEARCH collection's
//! index, searched by k-NN (faiss HNSW, inner product on unit vectors) and by
//! BM25 `match`, both with an efficient filter on the owner, and fused by the
//! domain exactly as the embedded index's two lists are.
//!
//! The data plane is plain OpenSearch REST over HTTPS, signed with SigV4 for
//! service `aoss` ([`signed`]): it has no AWS SDK client
//! (`aws-sdk-opensearchserverless` is the control plane, used by
//! `askdocs bootstrap-aws`). The `opensearch` crate would bring a second
//! HTTP client (reqwest) for the few calls made here.
//!
//! VECTORSEARCH collections assign their own `_id` and have neither
//! `_delete_by_query` nor `refresh`: a document's passages are deleted by
//! searching their ids (paged) and `_bulk`-deleting them, and since writes
//! become searchable only after a delay, writes and deletes wait until
//! `_count` shows them. A collection waking from scale-to-zero may take 10–30 s
//! to answer its first request; the timeouts allow for it.

mod signed;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Value};

pub(crate) use signed::SignedHttp;
use signed::Unsigned;

use super::AwsClients;
use crate::error::{Error, Result};
use crate::model::{Chunk, DocumentId, ScoredChunk, SearchScope, UserId};
use crate::ports::{SearchHits, SearchQuery, VectorIndex};

/// Long enough for a collection waking from scale-to-zero.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long writes may take to become searchable before a write is retried.
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(120);
const POLL_EVERY: Duration = Duration::from_millis(250);
/// Passages per `_bulk` request.
const BULK_BATCH: usize = 100;
/// Ids fetched per page when deleting a document's passages.
const ID_PAGE: usize = 1000;

pub struct OpenSearchIndex {
    clients: AwsClients,
    endpoint: String,
    index: String,
}

impl OpenSearchIndex {
    /// `endpoint` is the collection endpoint (`https://<id>.<region>.aoss.amazonaws.com`).
    pub(crate) fn new(clients: AwsClients, endpoint: &str, index: &str) -> Self {
        OpenSearchIndex {
            clients,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            index: index.to_string(),
        }
    }

    /// Sends one signed request (retried while throttled or failing on the
    /// server's side); answers the status and the JSON body.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        ndjson: bool,
    ) -> Result<(u16, Value)> {
        let reply = self
            .clients
            .opensearch_http()
            .await
            .send(Unsigned {
                method,
                url: &format!("{}{path}", self.endpoint),
                content_type: if ndjson {
                    "application/x-ndjson"
                } else {
                    "application/json"
                },
                body: body.into(),
                timeout: REQUEST_TIMEOUT,
            })
            .await?;
        let value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        Ok((reply.status, value))
    }

    /// A request that must succeed (2xx).
    async fn expect_ok(&self, method: &str, path: &str, body: Value) -> Result<Value> {
        let (status, value) = self
            .call(
                method,
                path,
                serde_json::to_vec(&body).expect("JSON"),
                false,
            )
            .await?;
        if !(200..300).contains(&status) {
            return Err(Error::Internal(anyhow::anyhow!(
                "OpenSearch {method} {path} answered {status}: {}",
                error_reason(&value)
            )));
        }
        Ok(value)
    }

    /// POSTs `lines` as NDJSON (every line ends with a newline, the last one
    /// too) to `path`, which must answer 2xx.
    async fn post_lines(&self, path: &str, lines: Vec<Value>) -> Result<Value> {
        let mut body = Vec::new();
        for line in lines {
            serde_json::to_writer(&mut body, &line).expect("JSON");
            body.push(b'\n');
        }
        let (status, value) = self.call("POST", path, body, true).await?;
        if !(200..300).contains(&status) {
            return Err(Error::Internal(anyhow::anyhow!(
                "OpenSearch {path} answered {status}: {}",
                error_reason(&value)
            )));
        }
        Ok(value)
    }

    async fn bulk(&self, lines: Vec<Value>) -> Result<()> {
        let value = self.post_lines("/_bulk", lines).await?;
        if value["errors"] == json!(true) {
            // A delete of a passage already gone is fine; anything else is not.
            let failed = value["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item.as_object()?.values().next())
                .find(|result| {
                    let status = result["status"].as_u64().unwrap_or(0);
                    status >= 300 && status != 404
                });
            if let Some(failed) = failed {
                let status = failed["status"].as_u64().unwrap_or(0);
                let detail =
                    anyhow::anyhow!("OpenSearch _bulk item failed: {}", error_reason(failed));
                return Err(if status == 429 || status >= 500 {
                    Error::Unavailable(detail)
                } else {
                    Error::Internal(detail)
                });
            }
        }
        Ok(())
    }

    async fn count_matching(&self, filter: Value) -> Result<usize> {
        let value = self
            .expect_ok(
                "POST",
                &format!("/{}/_count", self.index),
                json!({"query": {"bool": {"filter": filter}}}),
            )
            .await?;
        Ok(value["count"].as_u64().unwrap_or(0) as usize)
    }

    /// Waits until `_count` for `filter` satisfies `done` (writes and deletes
    /// become searchable after a delay).
    async fn wait_for_count(&self, filter: Value, done: impl Fn(usize) -> bool) -> Result<()> {
        let deadline = Instant::now() + VISIBILITY_TIMEOUT;
        loop {
            let count = self.count_matching(filter.clone()).await?;
            if done(count) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Unavailable(anyhow::anyhow!(
                    "OpenSearch still shows {count} passages for {filter} after {VISIBILITY_TIMEOUT:?}"
                )));
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Ids of the passages `filter` matches, up to one page.
    async fn ids(&self, filter: Value) -> Result<Vec<String>> {
        let value = self
            .expect_ok(
                "POST",
                &format!("/{}/_search", self.index),
                json!({"size": ID_PAGE, "_source": false, "query": {"bool": {"filter": filter}}}),
            )
            .await?;
        Ok(hits(&value)
            .filter_map(|hit| hit["_id"].as_str().map(str::to_string))
            .collect())
    }

    /// Deletes what `filter` matches, page by page, until a count shows none.
    async fn delete_matching(&self, filter: Value) -> Result<()> {
        let deadline = Instant::now() + VISIBILITY_TIMEOUT;
        loop {
            let ids = self.ids(filter.clone()).await?;
            if ids.is_empty() {
                return self.wait_for_count(filter, |count| count == 0).await;
            }
            let deletes = ids
                .iter()
                .map(|id| json!({"delete": {"_index": self.index, "_id": id}}))
                .collect();
            self.bulk(deletes).await?;
            if Instant::now() > deadline {
                return Err(Error::Unavailable(anyhow::anyhow!(
                    "OpenSearch still lists passages for {filter}"
                )));
            }
            // Deleted ids stay listed for a moment; don't delete them twice at once.
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Creates the index with the mapping template.yaml declares (tests and
    /// stack-less trials; a deployed stack's index comes from the template).
    /// Answers whether it was created (`false`: it already existed, as
    /// OpenSearch says with `resource_already_exists_exception`).
    pub async fn create_index(&self, dimension: usize) -> Result<bool> {
        let mapping = json!({
            "settings": {"index": {"knn": true, "knn.algo_param.ef_search": 100}},
            "mappings": {"properties": {
                "embedding": {
                    "type": "knn_vector",
                    "dimension": dimension,
                    "method": {"engine": "faiss", "name": "hnsw", "space_type": "innerproduct",
                               "parameters": {"m": 16, "ef_construction": 128}}
                },
                "userId": {"type": "keyword"},
                "documentId": {"type": "keyword"},
                "text": {"type": "text"},
                "page": {"type": "integer"},
                "ordinal": {"type": "integer"},
            }}
        });
        let path = format!("/{}", self.index);
        let (status, value) = self
            .call(
                "PUT",
                &path,
                serde_json::to_vec(&mapping).expect("JSON"),
                false,
            )
            .await?;
        if (200..300).contains(&status) {
            return Ok(true);
        }
        if value["error"]["type"] == "resource_already_exists_exception" {
            return Ok(false);
        }
        Err(Error::Internal(anyhow::anyhow!(
            "OpenSearch PUT {path} answered {status}: {}",
            error_reason(&value)
        )))
    }
}

fn error_reason(value: &Value) -> String {
    value["error"]["reason"]
        .as_str()
        .or_else(|| value["error"]["type"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string().chars().take(300).collect())
}

fn hits(value: &Value) -> impl Iterator<Item = &Value> {
    value["hits"]["hits"].as_array().into_iter().flatten()
}

fn owner_filter(user_id: &UserId) -> Value {
    json!({"term": {"userId": user_id}})
}

fn scope_filter(scope: &SearchScope) -> Value {
    let mut clauses = vec![owner_filter(&scope.user_id)];
    if let Some(ids) = &scope.document_ids {
        clauses.push(json!({"terms": {"documentId": ids}}));
    }
    Value::Array(clauses)
}

fn document_filter(user_id: &UserId, document_id: &DocumentId) -> Value {
    json!([owner_filter(user_id), {"term": {"documentId": document_id.as_str()}}])
}

/// faiss' inner-product score back to the dot product (cosine, on unit vectors):
/// OpenSearch reports `1 + dot` for dot ≥ 0 and `1 / (1 - dot)` below.
fn cosine_from_score(score: f64) -> f32 {
    if score >= 1.0 {
        (score - 1.0) as f32
    } else {
        (1.0 - 1.0 / score) as f32
    }
}

fn scored(hit: &Value, score: f32) -> Option<ScoredChunk> {
    let source = &hit["_source"];
    Some(ScoredChunk {
        document_id: DocumentId::new(source["documentId"].as_str()?),
        ordinal: source["ordinal"].as_u64()? as u32,
        page: source["page"].as_u64()? as u32,
        text: source["text"].as_str()?.to_string(),
        score,
        sentence_vectors: Default::default(),
    })
}

#[async_trait]
impl VectorIndex for OpenSearchIndex {
    async fn upsert(&self, chunks: &[Chunk]) -> Result<()> {
        for batch in chunks.chunks(BULK_BATCH) {
            // A passage indexed again replaces its earlier copy (the collection
            // cannot be told which id to overwrite).
            let mut by_document: std::collections::BTreeMap<(&UserId, &DocumentId), Vec<u32>> =
                Default::default();
            for chunk in batch {
                by_document
                    .entry((&chunk.user_id, &chunk.document_id))
                    .or_default()
                    .push(chunk.ordinal);
            }
            for ((user_id, document_id), ordinals) in &by_document {
                let mut filter = document_filter(user_id, document_id);
                filter
                    .as_array_mut()
                    .expect("a filter list")
                    .push(json!({"terms": {"ordinal": ordinals}}));
                if !self.ids(filter.clone()).await?.is_empty() {
                    self.delete_matching(filter).await?;
                }
            }
            let mut lines = Vec::with_capacity(batch.len() * 2);
            for chunk in batch {
                lines.push(json!({"index": {"_index": self.index}}));
                lines.push(json!({
                    "userId": chunk.user_id,
                    "documentId": chunk.document_id,
                    "ordinal": chunk.ordinal,
                    "page": chunk.page,
                    "text": chunk.text,
                    "embedding": chunk.embedding,
                }));
            }
            self.bulk(lines).await?;
            // Searchable before the caller reports the document ready.
            for ((user_id, document_id), ordinals) in &by_document {
                let mut filter = document_filter(user_id, document_id);
                filter
                    .as_array_mut()
                    .expect("a filter list")
                    .push(json!({"terms": {"ordinal": ordinals}}));
                let expected = ordinals.len();
                self.wait_for_count(filter, |count| count >= expected)
                    .await?;
            }
        }
        Ok(())
    }

    async fn delete_document(&self, user_id: &UserId, document_id: &DocumentId) -> Result<()> {
        self.delete_matching(document_filter(user_id, document_id))
            .await
    }

    async fn search(
        &self,
        scope: &SearchScope,
        query: SearchQuery<'_>,
        limit: usize,
    ) -> Result<SearchHits> {
        let filter = scope_filter(scope);
        // The same words every store searches for: stop words say nothing.
        let terms = crate::model::text::query_terms(query.text).join(" ");
        let knn = json!({
            "size": limit,
            "_source": {"excludes": ["embedding"]},
            "query": {"knn": {"embedding": {
                "vector": query.vector,
                "k": limit,
                "filter": {"bool": {"filter": filter}},
            }}},
        });
        let words = json!({
            // No words worth searching: the keyword side finds nothing.
            "size": if terms.is_empty() { 0 } else { limit },
            "_source": {"excludes": ["embedding"]},
            "query": {"bool": {"must": [{"match": {"text": terms}}], "filter": filter}},
        });
        // One round trip for both searches.
        let header = json!({"index": self.index});
        let value = self
            .post_lines("/_msearch", vec![header.clone(), knn, header, words])
            .await?;
        let responses = value["responses"].as_array().cloned().unwrap_or_default();
        let answer = |index: usize| -> Result<&Value> {
            let response = responses.get(index).ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "OpenSearch _msearch answered {} responses",
                    responses.len()
                ))
            })?;
            if response.get("error").is_some() {
                return Err(Error::Internal(anyhow::anyhow!(
                    "OpenSearch search failed: {}",
                    error_reason(response)
                )));
            }
            Ok(response)
        };
        let by_meaning = hits(answer(0)?)
            .filter_map(|hit| scored(hit, cosine_from_score(hit["_score"].as_f64()?)))
            .collect();
        let by_words = hits(answer(1)?)
            .filter_map(|hit| scored(hit, hit["_score"].as_f64()? as f32))
            .collect();
        Ok(SearchHits {
            by_meaning,
            by_words,
        })
    }

    async fn count(&self, user_id: &UserId, document_id: &DocumentId) -> Result<usize> {
        self.count_matching(document_filter(user_id, document_id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faiss_scores_turn_back_into_cosines() {
        for cosine in [-0.9f32, -0.25, 0.0, 0.3, 1.0] {
            let dot = f64::from(cosine);
            let score = if dot >= 0.0 {
                1.0 + dot
            } else {
                1.0 / (1.0 - dot)
            };
            assert!((cosine_from_score(score) - cosine).abs() < 1e-6, "{cosine}");
        }
    }

    #[test]
    fn every_search_is_filtered_by_its_owner() {
        let filter = scope_filter(&SearchScope {
            user_id: "u1".into(),
            document_ids: Some(vec!["d1".into()]),
        });
        assert_eq!(
            filter,
            json!([{"term": {"userId": "u1"}}, {"terms": {"documentId": ["d1"]}}])
        );
    }
}
