//! Bedrock: Titan Text Embeddings v2 for vectors (InvokeModel) and Claude
//! through the Converse API for answers. Model ids are configuration.

use async_trait::async_trait;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message,
    SystemContentBlock,
};
use serde_json::{json, Value};

use super::sdk_error;
use crate::error::{Error, Result};
use crate::model::{Generated, GenerationRequest};
use crate::ports::{Embedder, Generator};
use crate::prompt::{cited_passages, history_messages, user_message, SYSTEM_PROMPT};

/// Titan embeds one text per call; this many calls run at once.
const PARALLEL_EMBEDDINGS: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct BedrockSettings {
    pub embedding_model_id: String,
    /// 1024, 512 or 256 (Titan v2).
    pub embedding_dimensions: usize,
    pub generation_model_id: String,
    pub max_tokens: i32,
    pub temperature: f32,
}

impl Default for BedrockSettings {
    fn default() -> Self {
        BedrockSettings {
            embedding_model_id: "amazon.titan-embed-text-v2:0".into(),
            embedding_dimensions: 1024,
            generation_model_id: "anthropic.claude-3-haiku-20240307-v1:0".into(),
            max_tokens: 1024,
            temperature: 0.0,
        }
    }
}

pub struct TitanEmbedder {
    client: aws_sdk_bedrockruntime::Client,
    model_id: String,
    dimensions: usize,
}

impl TitanEmbedder {
    pub fn new(client: aws_sdk_bedrockruntime::Client, settings: &BedrockSettings) -> Self {
        TitanEmbedder {
            client,
            model_id: settings.embedding_model_id.clone(),
            dimensions: settings.embedding_dimensions,
        }
    }

    async fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let body = json!({"inputText": text, "dimensions": self.dimensions, "normalize": true});
        let output = self
            .client
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

pub struct ClaudeGenerator {
    client: aws_sdk_bedrockruntime::Client,
    model_id: String,
    max_tokens: i32,
    temperature: f32,
}

impl ClaudeGenerator {
    pub fn new(client: aws_sdk_bedrockruntime::Client, settings: &BedrockSettings) -> Self {
        ClaudeGenerator {
            client,
            model_id: settings.generation_model_id.clone(),
            max_tokens: settings.max_tokens,
            temperature: settings.temperature,
        }
    }
}

fn message(role: ConversationRole, text: String) -> Result<Message> {
    Message::builder()
        .role(role)
        .content(ContentBlock::Text(text))
        .build()
        .map_err(|error| Error::Internal(anyhow::anyhow!("building a Converse message: {error}")))
}

#[async_trait]
impl Generator for ClaudeGenerator {
    async fn generate(&self, request: &GenerationRequest) -> Result<Generated> {
        let mut messages = Vec::new();
        for (question, answer) in history_messages(request) {
            messages.push(message(ConversationRole::User, question)?);
            messages.push(message(ConversationRole::Assistant, answer)?);
        }
        messages.push(message(ConversationRole::User, user_message(request))?);
        let output = self
            .client
            .converse()
            .model_id(&self.model_id)
            .system(SystemContentBlock::Text(SYSTEM_PROMPT.to_string()))
            .set_messages(Some(messages))
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(self.max_tokens)
                    .temperature(self.temperature)
                    .build(),
            )
            .send()
            .await
            .map_err(|error| sdk_error("Bedrock Converse", error))?;
        let answer = match output.output() {
            Some(ConverseOutput::Message(reply)) => reply
                .content()
                .iter()
                .filter_map(|block| match block {
                    ContentBlock::Text(text) => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("")
                .trim()
                .to_string(),
            _ => String::new(),
        };
        if answer.is_empty() {
            return Err(Error::Internal(anyhow::anyhow!(
                "Converse returned no text"
            )));
        }
        Ok(Generated {
            used: cited_passages(&answer, request.passages.len()),
            answer,
            model: self.model_id.clone(),
        })
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}
