//! Which models embed passages and write answers, and their settings.

use std::path::PathBuf;

use super::backend::Backend;
use super::env::{ConfigError, Env};

/// Where the model goes when neither a cache directory nor a home is known.
pub const DEFAULT_MODEL_DIR: &str = ".models/all-MiniLM-L6-v2";
const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// `ASKDOCS_MODEL_DIR`, else where a user's tools keep caches:
/// `$XDG_CACHE_HOME/askdocs/…`, else `~/.cache/askdocs/…`. So `askdocs`
/// finds its model from any directory.
fn model_dir(env: &Env) -> PathBuf {
    if let Some(dir) = env.text("ASKDOCS_MODEL_DIR") {
        return PathBuf::from(dir);
    }
    let cache = env
        .text("XDG_CACHE_HOME")
        .filter(|dir| dir.starts_with('/'))
        .map(PathBuf::from)
        .or_else(|| {
            env.text("HOME")
                .map(|home| PathBuf::from(home).join(".cache"))
        });
    match cache {
        Some(cache) => cache.join("askdocs").join(MODEL_NAME),
        None => PathBuf::from(DEFAULT_MODEL_DIR),
    }
}

/// `ASKDOCS_EMBEDDER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedderChoice {
    /// all-MiniLM-L6-v2 in-process (384 dimensions).
    MiniLm,
    /// Titan Text Embeddings v2 on Bedrock.
    Bedrock,
}

/// `ASKDOCS_GENERATOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratorChoice {
    /// Quotes the best sentences of the passages; no language model.
    Extractive,
    /// Claude on Bedrock, through the Converse API.
    Bedrock,
    /// Any OpenAI-compatible chat server (`ASKDOCS_LLM_URL`).
    OpenAi,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BedrockSettings {
    pub embedding_model_id: String,
    /// 1024, 512 or 256 (Titan v2).
    pub embedding_dimensions: usize,
    /// The answering model: a model id or an inference profile id / ARN.
    pub generation_model_id: String,
    pub max_tokens: i32,
    pub temperature: f32,
    /// A rerank model (`amazon.rerank-v1:0`, `cohere.rerank-v3-5:0`, or an
    /// ARN) to order the passages found before answering; none by default.
    pub rerank_model_id: Option<String>,
}

/// Claude Haiku 4.5, which Bedrock serves through inference profiles only
/// (Claude 3 Haiku is past its end of life in most Regions): the default
/// answering model is this id behind the profile of the Region the function
/// runs in ([`answer_model_for_region`]).
pub const CLAUDE_HAIKU: &str = "anthropic.claude-haiku-4-5-20251001-v1:0";
/// The default answering model where no Region is known: the EU profile.
pub const DEFAULT_BEDROCK_MODEL_ID: &str = "eu.anthropic.claude-haiku-4-5-20251001-v1:0";

/// The inference profile that serves Claude Haiku 4.5 to `region`: the
/// geographic one where there is one (`us.`, `eu.`, `jp.`, `au.`, `in.`), else
/// the global one. template.yaml's `AnswerInferenceProfile` mapping says the
/// same (a test keeps them in step).
pub fn inference_profile_prefix(region: &str) -> &'static str {
    match region {
        r if r.starts_with("us-") || r == "ca-central-1" => "us",
        "eu-central-1" | "eu-north-1" | "eu-south-1" | "eu-south-2" | "eu-west-1" | "eu-west-3" => {
            "eu"
        }
        "ap-northeast-1" | "ap-northeast-3" => "jp",
        "ap-southeast-2" | "ap-southeast-4" => "au",
        "ap-south-1" | "ap-south-2" => "in",
        _ => "global",
    }
}

/// Claude Haiku 4.5 through the inference profile that serves `region`.
pub fn answer_model_for_region(region: &str) -> String {
    format!("{}.{CLAUDE_HAIKU}", inference_profile_prefix(region))
}
/// The most output tokens Claude Haiku 4.5 can produce in one answer.
const MAX_BEDROCK_OUTPUT_TOKENS: u64 = 64_000;

impl Default for BedrockSettings {
    fn default() -> Self {
        BedrockSettings {
            embedding_model_id: "amazon.titan-embed-text-v2:0".into(),
            embedding_dimensions: 1024,
            generation_model_id: DEFAULT_BEDROCK_MODEL_ID.into(),
            max_tokens: 1024,
            temperature: 0.0,
            rerank_model_id: None,
        }
    }
}

/// An OpenAI-compatible chat endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatSettings {
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub max_tokens: u32,
    pub temperature: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    pub embedder: EmbedderChoice,
    pub generator: GeneratorChoice,
    /// The local embedding model's files.
    pub model_dir: PathBuf,
    pub bedrock: BedrockSettings,
    pub chat: Option<ChatSettings>,
}

impl ModelSettings {
    pub fn from_env(env: &Env, backend: &Backend) -> Result<Self, ConfigError> {
        let on_aws = matches!(backend, Backend::Aws(_));
        let chat = ChatSettings::from_env(env)?;
        let embedder = match env.choice("ASKDOCS_EMBEDDER", &["minilm", "bedrock"])? {
            Some("minilm") => EmbedderChoice::MiniLm,
            Some(_) => EmbedderChoice::Bedrock,
            None if on_aws => EmbedderChoice::Bedrock,
            None => EmbedderChoice::MiniLm,
        };
        let generator =
            match env.choice("ASKDOCS_GENERATOR", &["extractive", "bedrock", "openai"])? {
                Some("extractive") => GeneratorChoice::Extractive,
                Some("bedrock") => GeneratorChoice::Bedrock,
                Some(_) => GeneratorChoice::OpenAi,
                // A configured chat server is used unless told otherwise.
                None if chat.is_some() => GeneratorChoice::OpenAi,
                None if on_aws => GeneratorChoice::Bedrock,
                None => GeneratorChoice::Extractive,
            };
        if generator == GeneratorChoice::OpenAi && chat.is_none() {
            return Err(ConfigError::new(
                "ASKDOCS_LLM_URL",
                "is required when ASKDOCS_GENERATOR=openai",
            ));
        }
        Ok(ModelSettings {
            embedder,
            generator,
            model_dir: model_dir(env),
            bedrock: BedrockSettings::from_env(env)?,
            chat,
        })
    }
}

impl BedrockSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let embedding_dimensions =
            match env.choice("BEDROCK_EMBEDDING_DIMENSIONS", &["1024", "512", "256"]) {
                Ok(Some(value)) => value.parse().expect("listed values are numbers"),
                Ok(None) => defaults.embedding_dimensions,
                Err(_) => {
                    return Err(ConfigError::new(
                        "BEDROCK_EMBEDDING_DIMENSIONS",
                        format!(
                            "must be 1024, 512 or 256 (Titan v2), not `{}`",
                            env.text("BEDROCK_EMBEDDING_DIMENSIONS").unwrap_or_default()
                        ),
                    ))
                }
            };
        Ok(BedrockSettings {
            embedding_model_id: env
                .text("BEDROCK_EMBEDDING_MODEL_ID")
                .unwrap_or(defaults.embedding_model_id),
            embedding_dimensions,
            generation_model_id: env
                .text("BEDROCK_MODEL_ID")
                .or_else(|| {
                    env.text("AWS_REGION")
                        .or_else(|| env.text("AWS_DEFAULT_REGION"))
                        .map(|region| answer_model_for_region(&region))
                })
                .unwrap_or(defaults.generation_model_id),
            max_tokens: env.number("BEDROCK_MAX_TOKENS", 1024, 16..=MAX_BEDROCK_OUTPUT_TOKENS)?
                as i32,
            temperature: env.decimal("BEDROCK_TEMPERATURE", defaults.temperature, 0.0..=1.0)?,
            rerank_model_id: rerank_model_id(env)?,
        })
    }
}

/// `BEDROCK_RERANK_MODEL_ID`: empty or unset is no reranking.
fn rerank_model_id(env: &Env) -> Result<Option<String>, ConfigError> {
    let Some(model) = env.text("BEDROCK_RERANK_MODEL_ID") else {
        return Ok(None);
    };
    let looks_like_a_model = model.contains("rerank")
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c));
    if !looks_like_a_model {
        return Err(ConfigError::new(
            "BEDROCK_RERANK_MODEL_ID",
            format!(
                "must name a rerank model such as amazon.rerank-v1:0 (or its ARN), not `{model}`"
            ),
        ));
    }
    Ok(Some(model))
}

impl ChatSettings {
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(url) = env.text("ASKDOCS_LLM_URL") else {
            return Ok(None);
        };
        if !url.starts_with("http://") {
            return Err(ConfigError::new(
                "ASKDOCS_LLM_URL",
                format!("must be an http:// URL of a local OpenAI-compatible server (TLS is not built in), not `{url}`"),
            ));
        }
        Ok(Some(ChatSettings {
            base_url: url,
            model: env.required("ASKDOCS_LLM_MODEL", "when ASKDOCS_LLM_URL is set")?,
            api_key: env.raw("ASKDOCS_LLM_API_KEY"),
            max_tokens: env.number("ASKDOCS_LLM_MAX_TOKENS", 512, 16..=8192)? as u32,
            temperature: env.decimal("ASKDOCS_LLM_TEMPERATURE", 0.0, 0.0..=2.0)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(vars: &[(&str, &str)]) -> PathBuf {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        };
        model_dir(&Env::new(&lookup))
    }

    #[test]
    fn the_model_lives_in_the_users_cache_unless_told_otherwise() {
        assert_eq!(
            dir(&[("HOME", "/home/ada")]),
            PathBuf::from("/home/ada/.cache/askdocs/all-MiniLM-L6-v2")
        );
        assert_eq!(
            dir(&[("HOME", "/home/ada"), ("XDG_CACHE_HOME", "/var/cache/ada")]),
            PathBuf::from("/var/cache/ada/askdocs/all-MiniLM-L6-v2")
        );
        assert_eq!(
            dir(&[
                ("XDG_CACHE_HOME", "/var/cache/ada"),
                ("ASKDOCS_MODEL_DIR", "/models/minilm")
            ]),
            PathBuf::from("/models/minilm")
        );
        assert_eq!(dir(&[]), PathBuf::from(DEFAULT_MODEL_DIR));
    }
}
