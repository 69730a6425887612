//! Typed configuration, read once at cold start.
//!
//! Every setting comes from an environment variable. A missing or malformed
//! setting is a startup error that names the variable, so a misconfigured
//! function fails at init rather than on a user's request.

use std::path::PathBuf;
use std::time::Duration;

use crate::aws::BedrockSettings;
use crate::chunk::ChunkSettings;
use crate::documents::DocumentSettings;
use crate::embedded::ChatSettings;
use crate::ingest::ProcessingSettings;
use crate::retrieve::RetrievalSettings;

/// A setting that could not be used, with the variable that holds it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn problem(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// Where data lives: on this machine, or in AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Files, SQLite and in-process indexes under one data directory.
    Embedded { data_dir: PathBuf },
    /// S3, DynamoDB, Bedrock and OpenSearch Serverless.
    Aws(AwsSettings),
}

/// Names of the AWS resources the functions use (set by the SAM template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub users_table: String,
    pub tokens_table: String,
    pub documents_table: String,
    pub history_table: String,
    pub bucket: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line: what CloudWatch Logs Insights queries best.
    Json,
    /// Readable lines for a terminal.
    Text,
}

/// Where the JWT signing secret comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum JwtSecretSource {
    /// `JWT_SECRET`, already checked to be long enough.
    Value(Vec<u8>),
    /// Not set on an embedded backend: a random secret kept in the data directory.
    DataDirFile(PathBuf),
    /// `JWT_SECRET_ARN`: read from Secrets Manager once per container.
    SecretsManager(String),
}

impl std::fmt::Debug for JwtSecretSource {
    // The secret itself must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtSecretSource::Value(_) => f.write_str("Value(<redacted>)"),
            JwtSecretSource::DataDirFile(path) => f.debug_tuple("DataDirFile").field(path).finish(),
            JwtSecretSource::SecretsManager(arn) => {
                f.debug_tuple("SecretsManager").field(arn).finish()
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub backend: Backend,
    pub jwt_secret: JwtSecretSource,
    pub token_ttl: Duration,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub documents: DocumentSettings,
    pub processing: ProcessingSettings,
    /// The local embedding model's files (embedded backend).
    pub model_dir: PathBuf,
    /// The base URL clients reach `askdocs serve` at, for its upload and download links.
    pub public_url: Option<String>,
    pub retrieval: RetrievalSettings,
    /// An OpenAI-compatible chat endpoint to answer with, instead of the default generator.
    pub chat: Option<ChatSettings>,
    /// Model ids and limits for Bedrock (AWS backend).
    pub bedrock: BedrockSettings,
}

/// Shortest HS256 secret we accept: the key must be at least as long as the hash.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
const DEFAULT_DATA_DIR: &str = ".askdocs";
const DEFAULT_TOKEN_TTL_SECONDS: u64 = 3600;
/// Where `make model` puts all-MiniLM-L6-v2.
pub const DEFAULT_MODEL_DIR: &str = ".models/all-MiniLM-L6-v2";
const MB: u64 = 1024 * 1024;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let backend = match get("ASKDOCS_BACKEND").as_deref().map(str::trim) {
            Some("embedded") => embedded(&get),
            Some("aws") => aws(&get)?,
            Some(other) => {
                return Err(problem(
                    "ASKDOCS_BACKEND",
                    format!("must be `embedded` or `aws`, not `{other}`"),
                ))
            }
            // No explicit choice: AWS when the template's table names are present.
            None if get("USERS_TABLE").is_some() => aws(&get)?,
            None => embedded(&get),
        };

        let jwt_secret = match lookup("JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => {
                JwtSecretSource::Value(secret.into_bytes())
            }
            Some(secret) => {
                return Err(problem(
                    "JWT_SECRET",
                    format!(
                        "must be at least {MIN_JWT_SECRET_BYTES} bytes long (it is {})",
                        secret.len()
                    ),
                ))
            }
            None => match &backend {
                Backend::Embedded { data_dir } => {
                    JwtSecretSource::DataDirFile(data_dir.join("jwt-secret"))
                }
                Backend::Aws(_) if get("JWT_SECRET_ARN").is_some() => {
                    JwtSecretSource::SecretsManager(get("JWT_SECRET_ARN").unwrap_or_default())
                }
                Backend::Aws(_) => {
                    return Err(problem(
                        "JWT_SECRET",
                        format!(
                        "is required with the AWS backend (at least {MIN_JWT_SECRET_BYTES} bytes)"
                    ),
                    ))
                }
            },
        };

        let token_ttl = Duration::from_secs(parse_number(
            &get,
            "JWT_EXPIRY_SECONDS",
            DEFAULT_TOKEN_TTL_SECONDS,
            60..=30 * 24 * 3600,
        )?);

        let in_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let log_format = match get("LOG_FORMAT").as_deref().map(str::trim) {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(problem(
                    "LOG_FORMAT",
                    format!("must be `json` or `text`, not `{other}`"),
                ))
            }
            None if in_lambda => LogFormat::Json,
            None => LogFormat::Text,
        };
        let log_filter = get("RUST_LOG").unwrap_or_else(|| "info".to_string());

        let max_upload_bytes =
            parse_number(&get, "ASKDOCS_MAX_UPLOAD_BYTES", 50 * MB, 1..=5 * 1024 * MB)?;
        let documents = DocumentSettings {
            max_upload_bytes,
            max_direct_upload_bytes: parse_number(
                &get,
                "ASKDOCS_MAX_DIRECT_UPLOAD_BYTES",
                5 * MB,
                1..=10 * MB,
            )?
            .min(max_upload_bytes),
            upload_url_ttl: Duration::from_secs(parse_number(
                &get,
                "ASKDOCS_UPLOAD_URL_TTL_SECONDS",
                900,
                60..=7 * 24 * 3600,
            )?),
            download_url_ttl: Duration::from_secs(parse_number(
                &get,
                "ASKDOCS_DOWNLOAD_URL_TTL_SECONDS",
                300,
                60..=7 * 24 * 3600,
            )?),
        };
        let max_chars = parse_number(&get, "ASKDOCS_CHUNK_SIZE", 1000, 200..=8000)? as usize;
        let overlap_chars = parse_number(&get, "ASKDOCS_CHUNK_OVERLAP", 150, 0..=4000)? as usize;
        if overlap_chars * 2 > max_chars {
            return Err(problem(
                "ASKDOCS_CHUNK_OVERLAP",
                "must be at most half of ASKDOCS_CHUNK_SIZE",
            ));
        }
        let processing = ProcessingSettings {
            chunks: ChunkSettings {
                max_chars,
                overlap_chars,
            },
            max_upload_bytes,
            ..ProcessingSettings::default()
        };
        let model_dir =
            PathBuf::from(get("ASKDOCS_MODEL_DIR").unwrap_or_else(|| DEFAULT_MODEL_DIR.into()));
        let public_url = match get("ASKDOCS_PUBLIC_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_string())
            }
            Some(url) => {
                return Err(problem(
                    "ASKDOCS_PUBLIC_URL",
                    format!("must start with http:// or https://, not `{url}`"),
                ))
            }
            None => None,
        };

        let min_relevance = match get("ASKDOCS_MIN_RELEVANCE") {
            None => RetrievalSettings::default().min_relevance,
            Some(raw) => match raw.trim().parse::<f32>() {
                Ok(value) if (0.0..=1.0).contains(&value) => value,
                _ => {
                    return Err(problem(
                        "ASKDOCS_MIN_RELEVANCE",
                        format!("must be a number from 0 to 1, not `{raw}`"),
                    ))
                }
            },
        };
        let retrieval = RetrievalSettings {
            min_relevance,
            history_turns: parse_number(&get, "ASKDOCS_HISTORY_TURNS", 3, 0..=20)? as usize,
            ..RetrievalSettings::default()
        };
        let chat = match get("ASKDOCS_LLM_URL") {
            None => None,
            Some(url) if url.starts_with("http://") => Some(ChatSettings {
                base_url: url.trim().to_string(),
                model: get("ASKDOCS_LLM_MODEL")
                    .ok_or_else(|| problem("ASKDOCS_LLM_MODEL", "is required when ASKDOCS_LLM_URL is set"))?,
                api_key: get("ASKDOCS_LLM_API_KEY"),
                max_tokens: parse_number(&get, "ASKDOCS_LLM_MAX_TOKENS", 512, 16..=8192)? as u32,
                temperature: match get("ASKDOCS_LLM_TEMPERATURE") {
                    None => 0.0,
                    Some(raw) => match raw.trim().parse::<f32>() {
                        Ok(value) if (0.0..=2.0).contains(&value) => value,
                        _ => {
                            return Err(problem(
                                "ASKDOCS_LLM_TEMPERATURE",
                                format!("must be a number from 0 to 2, not `{raw}`"),
                            ))
                        }
                    },
                },
            }),
            Some(url) => {
                return Err(problem(
                    "ASKDOCS_LLM_URL",
                    format!("must be an http:// URL of a local OpenAI-compatible server (TLS is not built in), not `{url}`"),
                ))
            }
        };

        let defaults = BedrockSettings::default();
        let bedrock = BedrockSettings {
            embedding_model_id: get("BEDROCK_EMBEDDING_MODEL_ID")
                .unwrap_or(defaults.embedding_model_id),
            embedding_dimensions: match get("BEDROCK_EMBEDDING_DIMENSIONS")
                .as_deref()
                .map(str::trim)
            {
                None => defaults.embedding_dimensions,
                Some("1024") => 1024,
                Some("512") => 512,
                Some("256") => 256,
                Some(other) => {
                    return Err(problem(
                        "BEDROCK_EMBEDDING_DIMENSIONS",
                        format!("must be 1024, 512 or 256 (Titan v2), not `{other}`"),
                    ))
                }
            },
            generation_model_id: get("BEDROCK_MODEL_ID").unwrap_or(defaults.generation_model_id),
            max_tokens: parse_number(&get, "BEDROCK_MAX_TOKENS", 1024, 16..=8192)? as i32,
            temperature: match get("BEDROCK_TEMPERATURE") {
                None => defaults.temperature,
                Some(raw) => match raw.trim().parse::<f32>() {
                    Ok(value) if (0.0..=1.0).contains(&value) => value,
                    _ => {
                        return Err(problem(
                            "BEDROCK_TEMPERATURE",
                            format!("must be a number from 0 to 1, not `{raw}`"),
                        ))
                    }
                },
            },
        };

        Ok(Config {
            backend,
            jwt_secret,
            token_ttl,
            log_format,
            log_filter,
            documents,
            processing,
            model_dir,
            public_url,
            retrieval,
            chat,
            bedrock,
        })
    }

    /// The embedded data directory, when the backend is embedded.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        match &self.backend {
            Backend::Embedded { data_dir } => Some(data_dir),
            Backend::Aws(_) => None,
        }
    }
}

fn embedded(get: &impl Fn(&str) -> Option<String>) -> Backend {
    Backend::Embedded {
        data_dir: PathBuf::from(get("ASKDOCS_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.into())),
    }
}

fn aws(get: &impl Fn(&str) -> Option<String>) -> Result<Backend, ConfigError> {
    let required = |variable: &'static str| {
        get(variable).ok_or_else(|| problem(variable, "is required with the AWS backend"))
    };
    Ok(Backend::Aws(AwsSettings {
        users_table: required("USERS_TABLE")?,
        tokens_table: required("TOKENS_TABLE")?,
        documents_table: required("DOCUMENTS_TABLE")?,
        history_table: required("HISTORY_TABLE")?,
        bucket: required("DOCUMENTS_BUCKET")?,
    }))
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
    allowed: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(variable) else {
        return Ok(default);
    };
    let value: u64 = raw
        .trim()
        .parse()
        .map_err(|_| problem(variable, format!("must be a whole number, not `{raw}`")))?;
    if !allowed.contains(&value) {
        return Err(problem(
            variable,
            format!(
                "must be between {} and {} (it is {value})",
                allowed.start(),
                allowed.end()
            ),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn no_settings_means_embedded_in_the_default_data_dir() {
        // GIVEN an empty environment WHEN the config is read
        let config = config(&[]).unwrap();
        // THEN everything is local, with a secret kept in the data directory
        assert_eq!(
            config.backend,
            Backend::Embedded {
                data_dir: PathBuf::from(".askdocs")
            }
        );
        assert_eq!(
            config.jwt_secret,
            JwtSecretSource::DataDirFile(PathBuf::from(".askdocs/jwt-secret"))
        );
        assert_eq!(config.token_ttl, Duration::from_secs(3600));
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.documents.max_upload_bytes, 50 * MB);
        assert_eq!(config.documents.max_direct_upload_bytes, 5 * MB);
        assert_eq!(config.documents.upload_url_ttl, Duration::from_secs(900));
        assert_eq!(
            config.processing.chunks,
            ChunkSettings {
                max_chars: 1000,
                overlap_chars: 150
            }
        );
        assert_eq!(config.model_dir, PathBuf::from(DEFAULT_MODEL_DIR));
    }

    #[test]
    fn a_short_jwt_secret_is_a_startup_error_naming_the_variable() {
        let error = config(&[("JWT_SECRET", "too-short")]).unwrap_err();
        assert_eq!(error.variable, "JWT_SECRET");
        assert!(error.to_string().contains("at least 32 bytes"), "{error}");
    }

    #[test]
    fn the_aws_backend_needs_its_table_names_and_a_secret() {
        let error = config(&[("ASKDOCS_BACKEND", "aws"), ("JWT_SECRET", SECRET)]).unwrap_err();
        assert_eq!(error.variable, "USERS_TABLE");

        let tables = [
            ("USERS_TABLE", "users"),
            ("TOKENS_TABLE", "tokens"),
            ("DOCUMENTS_TABLE", "documents"),
            ("HISTORY_TABLE", "history"),
            ("DOCUMENTS_BUCKET", "bucket"),
        ];
        let error = config(&tables[..4]).unwrap_err();
        assert_eq!(error.variable, "DOCUMENTS_BUCKET");
        let error = config(&tables).unwrap_err();
        assert_eq!(error.variable, "JWT_SECRET");

        let mut settings = tables.to_vec();
        settings.extend([("JWT_SECRET", SECRET), ("AWS_LAMBDA_FUNCTION_NAME", "auth")]);
        let aws = config(&settings).unwrap();
        assert!(matches!(aws.backend, Backend::Aws(_)));
        assert_eq!(aws.log_format, LogFormat::Json);

        let mut settings = tables.to_vec();
        settings.push((
            "JWT_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:1:secret:jwt",
        ));
        let from_secret = config(&settings).unwrap();
        assert_eq!(
            from_secret.jwt_secret,
            JwtSecretSource::SecretsManager("arn:aws:secretsmanager:eu-west-1:1:secret:jwt".into())
        );
    }

    #[test]
    fn malformed_values_are_rejected_with_the_variable_name() {
        let cases = [
            (("ASKDOCS_BACKEND", "cloud"), "ASKDOCS_BACKEND"),
            (("JWT_EXPIRY_SECONDS", "an hour"), "JWT_EXPIRY_SECONDS"),
            (("JWT_EXPIRY_SECONDS", "5"), "JWT_EXPIRY_SECONDS"),
            (("LOG_FORMAT", "xml"), "LOG_FORMAT"),
            (
                ("ASKDOCS_MAX_UPLOAD_BYTES", "-1"),
                "ASKDOCS_MAX_UPLOAD_BYTES",
            ),
            (("ASKDOCS_CHUNK_SIZE", "10"), "ASKDOCS_CHUNK_SIZE"),
            (("ASKDOCS_CHUNK_OVERLAP", "900"), "ASKDOCS_CHUNK_OVERLAP"),
            (
                ("ASKDOCS_PUBLIC_URL", "localhost:3000"),
                "ASKDOCS_PUBLIC_URL",
            ),
            (("ASKDOCS_MIN_RELEVANCE", "2"), "ASKDOCS_MIN_RELEVANCE"),
            (
                ("ASKDOCS_LLM_URL", "http://127.0.0.1:11434/v1"),
                "ASKDOCS_LLM_MODEL",
            ),
            (
                ("ASKDOCS_LLM_URL", "https://api.example.com/v1"),
                "ASKDOCS_LLM_URL",
            ),
            (
                ("BEDROCK_EMBEDDING_DIMENSIONS", "384"),
                "BEDROCK_EMBEDDING_DIMENSIONS",
            ),
            (("BEDROCK_TEMPERATURE", "hot"), "BEDROCK_TEMPERATURE"),
        ];
        for ((name, value), variable) in cases {
            let error = config(&[(name, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{name}={value}");
        }
    }

    #[test]
    fn settings_override_the_defaults() {
        let config = config(&[
            ("ASKDOCS_DATA_DIR", "/tmp/askdocs-data"),
            ("JWT_SECRET", SECRET),
            ("JWT_EXPIRY_SECONDS", "600"),
            ("LOG_FORMAT", "json"),
        ])
        .unwrap();
        assert_eq!(
            config.data_dir(),
            Some(std::path::Path::new("/tmp/askdocs-data"))
        );
        assert_eq!(
            config.jwt_secret,
            JwtSecretSource::Value(SECRET.as_bytes().to_vec())
        );
        assert_eq!(config.token_ttl, Duration::from_secs(600));
        assert_eq!(config.log_format, LogFormat::Json);
    }
}
