//! Any OpenAI-compatible chat endpoint as the answer generator (a local
//! llama.cpp server, Ollama, vLLM…), chosen with `ASKDOCS_LLM_URL`.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::{ChatRole, Completion, Generated, GenerationRequest};
use crate::ports::Generator;

/// Where and how to ask a chat server.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatEndpoint {
    /// The API base, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub max_tokens: u32,
    pub temperature: f32,
}

pub struct OpenAiChatGenerator {
    client: reqwest::Client,
    endpoint: String,
    settings: ChatEndpoint,
}

impl OpenAiChatGenerator {
    pub fn new(settings: ChatEndpoint) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        let base = settings.base_url.trim_end_matches('/');
        let endpoint = if base.ends_with("/chat/completions") {
            base.to_string()
        } else {
            format!("{base}/chat/completions")
        };
        Ok(OpenAiChatGenerator {
            client,
            endpoint,
            settings,
        })
    }
}

#[async_trait]
impl Generator for OpenAiChatGenerator {
    async fn generate(&self, request: &GenerationRequest) -> Result<Generated> {
        let mut messages = vec![json!({"role": "system", "content": request.prompt.system})];
        messages.extend(request.prompt.messages.iter().map(|message| {
            let role = match message.role {
                ChatRole::User => "user",
                ChatRole::Assistant => "assistant",
            };
            json!({"role": role, "content": message.text})
        }));
        let body = json!({
            "model": self.settings.model,
            "messages": messages,
            "max_tokens": self.settings.max_tokens,
            "temperature": self.settings.temperature,
            "stream": false,
        });
        let mut call = self.client.post(&self.endpoint).json(&body);
        if let Some(key) = &self.settings.api_key {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(|error| {
            Error::Unavailable(anyhow::anyhow!("chat endpoint unreachable: {error}"))
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|error| {
            Error::Unavailable(anyhow::anyhow!("chat endpoint response: {error}"))
        })?;
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(Error::Unavailable(anyhow::anyhow!(
                // Never the body: it may echo the prompt, which holds document text.
                "chat endpoint answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(Error::Internal(anyhow::anyhow!(
                "chat endpoint refused the request ({status})"
            )));
        }
        let reply: Value = serde_json::from_str(&text).map_err(|error| {
            Error::Internal(anyhow::anyhow!("chat endpoint sent invalid JSON: {error}"))
        })?;
        let answer = reply["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "chat endpoint reply has no message content"
                ))
            })?
            .trim()
            .to_string();
        let model = reply["model"]
            .as_str()
            .unwrap_or(&self.settings.model)
            .to_string();
        let completion = match reply["choices"][0]["finish_reason"].as_str() {
            Some("length") => Completion::Truncated,
            _ => Completion::Complete,
        };
        Ok(Generated {
            answer,
            quotes: Vec::new(),
            model,
            completion,
        })
    }

    fn model_id(&self) -> &str {
        &self.settings.model
    }
}
