//! Bedrock: Titan Text Embeddings v2 for vectors (InvokeModel) and Claude
//! through the Converse API for answers. Model ids are configuration.
//!
//! Bedrock Runtime's REST-JSON API (`POST /model/{modelId}/invoke`,
//! `…/converse`) is spoken directly: see [`super::signed`] for why not
//! through the SDK.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::json_rpc::JsonClient;
use crate::error::{Error, Result};
use crate::model::{ChatRole, Completion, Generated, GenerationRequest};
use crate::ports::{Embedder, Generator};

/// Titan embeds one text per call; this many calls run at once.
const PARALLEL_EMBEDDINGS: usize = 8;

/// `/model/{modelId}/{action}`, the id percent-encoded (it may be an ARN).
fn model_path(model_id: &str, action: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(model_id, super::signed::UNRESERVED);
    format!("/model/{encoded}/{action}")
}

pub struct TitanEmbedder {
    client: JsonClient,
    model_id: String,
    dimensions: usize,
}

impl TitanEmbedder {
    pub(crate) fn new(client: JsonClient, model_id: &str, dimensions: usize) -> Self {
        TitanEmbedder {
            client,
            model_id: model_id.to_string(),
            dimensions,
        }
    }

    async fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let body = json!({"inputText": text, "dimensions": self.dimensions, "normalize": true});
        let reply = self
            .client
            .post(&model_path(&self.model_id, "invoke"), &body)
            .await
            .map_err(|error| error.into_error("Bedrock InvokeModel (embeddings)"))?;
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

pub struct ClaudeGenerator {
    client: JsonClient,
    model_id: String,
    max_tokens: i32,
    temperature: f32,
}

impl ClaudeGenerator {
    /// `model_id` may be a model id or an inference profile id / ARN.
    pub(crate) fn new(
        client: JsonClient,
        model_id: &str,
        max_tokens: i32,
        temperature: f32,
    ) -> Self {
        ClaudeGenerator {
            client,
            model_id: model_id.to_string(),
            max_tokens,
            temperature,
        }
    }
}

fn message(role: ChatRole, text: &str) -> Value {
    let role = match role {
        ChatRole::User => "user",
        ChatRole::Assistant => "assistant",
    };
    json!({"role": role, "content": [{"text": text}]})
}

fn withheld() -> Error {
    Error::Unprocessable {
        code: "content_filtered",
        message:
            "the answer was withheld by the model's content filter; try rephrasing the question"
                .into(),
    }
}

#[async_trait]
impl Generator for ClaudeGenerator {
    async fn generate(&self, request: &GenerationRequest) -> Result<Generated> {
        let messages: Vec<Value> = request
            .prompt
            .messages
            .iter()
            .map(|turn| message(turn.role, &turn.text))
            .collect();
        let input = json!({
            "system": [{"text": request.prompt.system}],
            "messages": messages,
            "inferenceConfig": {"maxTokens": self.max_tokens, "temperature": self.temperature},
        });
        let output = self
            .client
            .post(&model_path(&self.model_id, "converse"), &input)
            .await
            .map_err(|error| error.into_error("Bedrock Converse"))?;
        let stop_reason = output["stopReason"].as_str().unwrap_or_default();
        let completion = match stop_reason {
            "content_filtered" | "guardrail_intervened" => return Err(withheld()),
            "max_tokens" => Completion::Truncated,
            _ => Completion::Complete,
        };
        let answer = output["output"]["message"]["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|block| block["text"].as_str())
            .collect::<Vec<_>>()
            .join("")
            .trim()
            .to_string();
        if answer.is_empty() {
            return Err(Error::Internal(anyhow::anyhow!(
                "Converse returned no text (stop reason {stop_reason:?})"
            )));
        }
        Ok(Generated {
            answer,
            quotes: Vec::new(),
            model: self.model_id.clone(),
            completion,
        })
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_and_arns_are_encoded_as_the_sdk_encodes_them() {
        assert_eq!(
            model_path("amazon.titan-embed-text-v2:0", "invoke"),
            "/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
        assert_eq!(
            model_path(
                "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude",
                "converse"
            ),
            "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude/converse"
        );
    }
}
