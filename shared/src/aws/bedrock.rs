//! Bedrock's Titan Text Embeddings v2 for vectors (InvokeModel). Claude's
//! answers are in `claude.rs`: the processing function embeds but never
//! answers, so it links no Converse code.

use async_trait::async_trait;
use aws_sdk_bedrockruntime::primitives::Blob;
use serde_json::{json, Value};

use super::errors::sdk_error;
use super::AwsClients;
use crate::error::{Error, Result};
use crate::ports::Embedder;

/// Titan embeds one text per call; this many calls run at once.
const PARALLEL_EMBEDDINGS: usize = 8;

pub struct TitanEmbedder {
    clients: AwsClients,
    model_id: String,
    dimensions: usize,
}

impl TitanEmbedder {
    pub(crate) fn new(clients: AwsClients, model_id: &str, dimensions: usize) -> Self {
        TitanEmbedder {
            clients,
            model_id: model_id.to_string(),
            dimensions,
        }
    }

    async fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let body = json!({"inputText": text, "dimensions": self.dimensions, "normalize": true});
        let output = self
            .clients
            .bedrock()
            .await
            .invoke_model()
            .model_id(&self.model_id)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(
                serde_json::to_vec(&body).expect("a JSON value serializes"),
            ))
            .send()
            .await
            .map_err(|error| sdk_error("Bedrock InvokeModel (embeddings)", error))?;
        let reply: Value = serde_json::from_slice(output.body().as_ref()).map_err(|error| {
            Error::Internal(anyhow::anyhow!("Titan reply is not JSON: {error}"))
        })?;
        let vector: Vec<f32> = reply["embedding"]
            .as_array()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("Titan reply has no embedding")))?
            .iter()
            .map(|value| value.as_f64().map(|v| v as f32))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!("Titan embedding holds a non-number"))
            })?;
        if vector.len() != self.dimensions {
            return Err(Error::Internal(anyhow::anyhow!(
                "Titan returned {} dimensions, not {}",
                vector.len(),
                self.dimensions
            )));
        }
        Ok(vector)
    }
}

#[async_trait]
impl Embedder for TitanEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(PARALLEL_EMBEDDINGS) {
            let calls = batch.iter().map(|text| self.embed_one(text));
            vectors.extend(futures::future::try_join_all(calls).await?);
        }
        Ok(vectors)
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}
