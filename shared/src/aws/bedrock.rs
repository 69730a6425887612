//! Bedrock: Titan Text Embeddings v2 for vectors (InvokeModel) and Claude
//! through the Converse API for answers. Model ids are configuration.

use async_trait::async_trait;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message, StopReason,
    SystemContentBlock,
};
use serde_json::{json, Value};

use super::errors::sdk_error;
use crate::error::{Error, Result};
use crate::model::{ChatRole, Completion, Generated, GenerationRequest};
use crate::ports::{Embedder, Generator};

/// Titan embeds one text per call; this many calls run at once.
const PARALLEL_EMBEDDINGS: usize = 8;

pub struct TitanEmbedder {
    client: aws_sdk_bedrockruntime::Client,
    model_id: String,
    dimensions: usize,
}

impl TitanEmbedder {
    pub fn new(client: aws_sdk_bedrockruntime::Client, model_id: &str, dimensions: usize) -> Self {
        TitanEmbedder {
            client,
            model_id: model_id.to_string(),
            dimensions,
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
    /// `model_id` may be a model id or an inference profile id / ARN.
    pub fn new(
        client: aws_sdk_bedrockruntime::Client,
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

fn message(role: ChatRole, text: String) -> Result<Message> {
    let role = match role {
        ChatRole::User => ConversationRole::User,
        ChatRole::Assistant => ConversationRole::Assistant,
    };
    Message::builder()
        .role(role)
        .content(ContentBlock::Text(text))
        .build()
        .map_err(|error| Error::Internal(anyhow::anyhow!("building a Converse message: {error}")))
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
        let messages = request
            .prompt
            .messages
            .iter()
            .map(|turn| message(turn.role, turn.text.clone()))
            .collect::<Result<Vec<_>>>()?;
        let output = self
            .client
            .converse()
            .model_id(&self.model_id)
            .system(SystemContentBlock::Text(request.prompt.system.clone()))
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
        let completion = match output.stop_reason() {
            StopReason::ContentFiltered | StopReason::GuardrailIntervened => return Err(withheld()),
            StopReason::MaxTokens => Completion::Truncated,
            _ => Completion::Complete,
        };
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
                "Converse returned no text (stop reason {:?})",
                output.stop_reason()
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
