//! Any OpenAI-compatible chat endpoint as the answer generator (a local
//! llama.cpp server, Ollama, vLLM…), chosen with `ASKDOCS_LLM_URL`.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::events::{event_end, parse_event};
use crate::model::{ChatRole, Completion, Generated, GenerationRequest};
use crate::ports::{AnswerText, Generator};

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

impl OpenAiChatGenerator {
    /// Sends the chat request; an answer other than 2xx is our error.
    async fn send(&self, request: &GenerationRequest, stream: bool) -> Result<reqwest::Response> {
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
            "stream": stream,
        });
        let mut call = self.client.post(&self.endpoint).json(&body);
        if let Some(key) = &self.settings.api_key {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(unreachable)?;
        let status = response.status();
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
        Ok(response)
    }
}

fn unreachable(error: reqwest::Error) -> Error {
    Error::Unavailable(anyhow::anyhow!("chat endpoint unreachable: {error}"))
}

fn invalid(what: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("chat endpoint sent {what}"))
}

fn completion(finish_reason: Option<&str>) -> Completion {
    match finish_reason {
        Some("length") => Completion::Truncated,
        _ => Completion::Complete,
    }
}

#[async_trait]
impl Generator for OpenAiChatGenerator {
    async fn generate(&self, request: &GenerationRequest) -> Result<Generated> {
        let response = self.send(request, false).await?;
        let text = response.text().await.map_err(|error| {
            Error::Unavailable(anyhow::anyhow!("chat endpoint response: {error}"))
        })?;
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
        Ok(Generated {
            answer,
            quotes: Vec::new(),
            model,
            completion: completion(reply["choices"][0]["finish_reason"].as_str()),
        })
    }

    /// `stream: true`: the server sends the answer as server-sent events,
    /// each with a piece of text, then `data: [DONE]`. Returning early
    /// closes the connection, which stops the server generating.
    async fn generate_streaming(
        &self,
        request: &GenerationRequest,
        written: &AnswerText,
    ) -> Result<Generated> {
        let mut response = self.send(request, true).await?;
        let mut buffer = String::new();
        let mut pending = Vec::new();
        let mut answer = String::new();
        let mut model = self.settings.model.clone();
        let mut finish_reason = None;
        let mut done = false;
        'reading: while let Some(bytes) = response.chunk().await.map_err(unreachable)? {
            // A character may be split between two chunks.
            pending.extend_from_slice(&bytes);
            match std::str::from_utf8(&pending) {
                Ok(text) => {
                    buffer.push_str(text);
                    pending.clear();
                }
                Err(error) if error.error_len().is_none() => {
                    let whole = error.valid_up_to();
                    buffer.push_str(std::str::from_utf8(&pending[..whole]).expect("checked"));
                    pending.drain(..whole);
                }
                Err(_) => return Err(invalid("a stream that is not UTF-8")),
            }
            while let Some((end, next)) = event_end(&buffer) {
                let event = buffer[..end].to_string();
                buffer.drain(..next);
                let Some((_, data)) = parse_event(&event) else {
                    continue;
                };
                if data.trim() == "[DONE]" {
                    done = true;
                    break 'reading;
                }
                let chunk: Value = serde_json::from_str(&data)
                    .map_err(|error| invalid(format!("an event that is not JSON: {error}")))?;
                if chunk.get("error").is_some() {
                    // A server failing mid-answer (overloaded, out of memory)
                    // says so in the stream; never its text: it may echo the prompt.
                    return Err(Error::Unavailable(anyhow::anyhow!(
                        "chat endpoint failed mid-answer"
                    )));
                }
                if let Some(name) = chunk["model"].as_str() {
                    model = name.to_string();
                }
                let choice = &chunk["choices"][0];
                if let Some(reason) = choice["finish_reason"].as_str() {
                    finish_reason = Some(reason.to_string());
                }
                if let Some(text) = choice["delta"]["content"].as_str() {
                    // Leading blank space of the answer is not sent.
                    let piece = if answer.trim().is_empty() {
                        text.trim_start()
                    } else {
                        text
                    };
                    written.send(piece).await?;
                    answer.push_str(piece);
                }
            }
        }
        if !done && finish_reason.is_none() {
            // The connection closed before the server said the answer ended.
            return Err(Error::Unavailable(anyhow::anyhow!(
                "chat endpoint's stream broke off before the answer ended"
            )));
        }
        let answer = answer.trim();
        if answer.is_empty() {
            return Err(invalid("a stream without answer text"));
        }
        Ok(Generated {
            answer: answer.to_string(),
            quotes: Vec::new(),
            model,
            completion: completion(finish_reason.as_deref()),
        })
    }

    fn model_id(&self) -> &str {
        &self.settings.model
    }
}
