//! Typed configuration, read once at cold start.
//!
//! Every setting comes from an environment variable. Each section of the
//! configuration is its own plain-data struct that reads its own variables
//! (`from_env`), and [`Config`] composes them. A missing or malformed setting
//! is a startup error that names the variable, so a misconfigured function
//! fails at init rather than on a user's request.
//!
//! This module depends on nothing but std and serde-free parsing: domain code
//! and adapters take their settings from here, never the other way round.

mod auth;
mod backend;
mod documents;
mod env;
mod models;
mod processing;
mod query;

use std::time::Duration;

pub use auth::{
    AuthSettings, FederationSettings, JwtSecretSource, LoginLimits, MIN_JWT_SECRET_BYTES,
};
pub use backend::{AwsSettings, Backend, TlsRoots, VectorStoreSettings};
pub use documents::{DocumentSettings, Quota};
pub use env::{ConfigError, Env};
pub use models::{
    answer_model_for_region, inference_profile_prefix, BedrockSettings, ChatSettings,
    EmbedderChoice, GeneratorChoice, ModelSettings, DEFAULT_BEDROCK_MODEL_ID, DEFAULT_MODEL_DIR,
};
pub use processing::{
    ChunkSettings, ExtractLimits, OcrEngine, OcrLanguages, OcrSettings, ProcessingSettings,
};
pub use query::RetrievalSettings;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line: what CloudWatch Logs Insights queries best.
    Json,
    /// Readable lines for a terminal.
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

impl LogSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let in_lambda = env.text("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let format = match env.choice("LOG_FORMAT", &["json", "text"])? {
            Some("json") => LogFormat::Json,
            Some(_) => LogFormat::Text,
            None if in_lambda => LogFormat::Json,
            None => LogFormat::Text,
        };
        Ok(LogSettings {
            format,
            filter: env.text("RUST_LOG").unwrap_or_else(|| "info".to_string()),
        })
    }
}

/// Every section, composed.
#[derive(Debug, Clone)]
pub struct Config {
    pub backend: Backend,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub documents: DocumentSettings,
    pub processing: ProcessingSettings,
    pub retrieval: RetrievalSettings,
    pub models: ModelSettings,
    /// The base URL clients reach `askdocs serve` at, for its upload and download links.
    pub public_url: Option<String>,
    /// The web page's origin that may call the API from a browser (CORS), if any.
    pub cors_origin: Option<String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        let backend = Backend::from_env(&env)?;
        let documents = DocumentSettings::from_env(&env)?;
        Ok(Config {
            auth: AuthSettings::from_env(&env, &backend)?,
            log: LogSettings::from_env(&env)?,
            processing: ProcessingSettings::from_env(&env, &documents, &backend)?,
            retrieval: RetrievalSettings::from_env(&env, &backend)?,
            models: ModelSettings::from_env(&env, &backend)?,
            public_url: env.url("ASKDOCS_PUBLIC_URL")?,
            cors_origin: env.url("ASKDOCS_CORS_ORIGIN")?,
            documents,
            backend,
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

pub(crate) fn seconds(value: u64) -> Duration {
    Duration::from_secs(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::PathBuf;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const MB: u64 = 1024 * 1024;

    const TABLES: [(&str, &str); 7] = [
        ("USERS_TABLE", "users"),
        ("TOKENS_TABLE", "tokens"),
        ("DOCUMENTS_TABLE", "documents"),
        ("HISTORY_TABLE", "history"),
        ("DOCUMENTS_BUCKET", "bucket"),
        ("VECTOR_BUCKET", "vectors"),
        ("VECTOR_INDEX", "passages"),
    ];

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
            config.auth.jwt_secret,
            Some(JwtSecretSource::DataDirFile(PathBuf::from(
                ".askdocs/jwt-secret"
            )))
        );
        assert_eq!(config.auth.token_ttl, Duration::from_secs(3600));
        assert_eq!(config.log.format, LogFormat::Text);
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
        assert_eq!(config.models.embedder, EmbedderChoice::MiniLm);
        assert_eq!(config.models.generator, GeneratorChoice::Extractive);
        assert_eq!(config.processing.extract.timeout, Duration::from_secs(60));
        assert_eq!(config.processing.extract.memory_bytes, 1024 * MB);
    }

    #[test]
    fn a_short_jwt_secret_is_a_startup_error_naming_the_variable() {
        let error = config(&[("JWT_SECRET", "too-short")]).unwrap_err();
        assert_eq!(error.variable, "JWT_SECRET");
        assert!(error.to_string().contains("at least 32 bytes"), "{error}");
    }

    #[test]
    fn the_aws_backend_needs_its_resource_names() {
        let error = config(&[("ASKDOCS_BACKEND", "aws")]).unwrap_err();
        assert_eq!(error.variable, "USERS_TABLE");
        let error = config(&TABLES[..4]).unwrap_err();
        assert_eq!(error.variable, "DOCUMENTS_BUCKET");
        let error = config(&TABLES[..5]).unwrap_err();
        assert_eq!(error.variable, "VECTOR_BUCKET");

        // The secret is only needed by the functions that check tokens, so the
        // processing function starts without one.
        let mut settings = TABLES.to_vec();
        settings.push(("AWS_LAMBDA_FUNCTION_NAME", "processing"));
        let aws = config(&settings).unwrap();
        assert!(matches!(aws.backend, Backend::Aws(_)));
        assert_eq!(aws.auth.jwt_secret, None);
        assert_eq!(aws.log.format, LogFormat::Json);
        assert_eq!(aws.models.embedder, EmbedderChoice::Bedrock);
        assert_eq!(aws.models.generator, GeneratorChoice::Bedrock);

        let mut settings = TABLES.to_vec();
        settings.push((
            "JWT_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:1:secret:jwt",
        ));
        let from_secret = config(&settings).unwrap();
        assert_eq!(
            from_secret.auth.jwt_secret,
            Some(JwtSecretSource::SecretsManager(
                "arn:aws:secretsmanager:eu-west-1:1:secret:jwt".into()
            ))
        );
    }

    #[test]
    fn the_aws_stores_can_run_with_local_models() {
        let mut settings = TABLES.to_vec();
        settings.extend([
            ("ASKDOCS_EMBEDDER", "minilm"),
            ("ASKDOCS_GENERATOR", "extractive"),
        ]);
        let config = config(&settings).unwrap();
        assert_eq!(config.models.embedder, EmbedderChoice::MiniLm);
        assert_eq!(config.models.generator, GeneratorChoice::Extractive);
        let Backend::Aws(aws) = &config.backend else {
            panic!("AWS backend expected")
        };
        assert_eq!(
            aws.vector_store,
            VectorStoreSettings::S3Vectors {
                bucket: "vectors".into(),
                index: "passages".into()
            }
        );
    }

    #[test]
    fn aws_endpoints_are_checked_against_amazons_roots_unless_told_otherwise() {
        let tls_roots = |settings: &[(&str, &str)]| match config(settings).unwrap().backend {
            Backend::Aws(aws) => aws.tls_roots,
            Backend::Embedded { .. } => panic!("AWS backend expected"),
        };
        assert_eq!(tls_roots(&TABLES), TlsRoots::Amazon);
        let mut settings = TABLES.to_vec();
        settings.push(("ASKDOCS_TLS_ROOTS", "system"));
        assert_eq!(tls_roots(&settings), TlsRoots::System);
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
            (("BEDROCK_MAX_TOKENS", "100000"), "BEDROCK_MAX_TOKENS"),
            (
                ("BEDROCK_RERANK_MODEL_ID", "anthropic.claude-3-haiku"),
                "BEDROCK_RERANK_MODEL_ID",
            ),
            (
                ("BEDROCK_RERANK_MODEL_ID", "amazon.rerank-v1:0 --x"),
                "BEDROCK_RERANK_MODEL_ID",
            ),
            (("ASKDOCS_EMBEDDER", "word2vec"), "ASKDOCS_EMBEDDER"),
            (("ASKDOCS_GENERATOR", "gpt"), "ASKDOCS_GENERATOR"),
            (("ASKDOCS_GENERATOR", "openai"), "ASKDOCS_LLM_URL"),
            (
                ("ASKDOCS_EXTRACT_TIMEOUT_SECONDS", "0"),
                "ASKDOCS_EXTRACT_TIMEOUT_SECONDS",
            ),
            (
                ("ASKDOCS_EXTRACT_MEMORY_MB", "10"),
                "ASKDOCS_EXTRACT_MEMORY_MB",
            ),
        ];
        for ((name, value), variable) in cases {
            let error = config(&[(name, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{name}={value}");
        }
        let mut settings = TABLES.to_vec();
        settings.push(("ASKDOCS_VECTOR_STORE", "pinecone"));
        assert_eq!(
            config(&settings).unwrap_err().variable,
            "ASKDOCS_VECTOR_STORE"
        );
        let mut settings = TABLES.to_vec();
        settings.push(("ASKDOCS_TLS_ROOTS", "mozilla"));
        assert_eq!(config(&settings).unwrap_err().variable, "ASKDOCS_TLS_ROOTS");
    }

    #[test]
    fn settings_override_the_defaults() {
        let config = config(&[
            ("ASKDOCS_DATA_DIR", "/tmp/askdocs-data"),
            ("JWT_SECRET", SECRET),
            ("JWT_EXPIRY_SECONDS", "600"),
            ("LOG_FORMAT", "json"),
            ("ASKDOCS_EXTRACT_TIMEOUT_SECONDS", "5"),
            ("ASKDOCS_EXTRACT_MEMORY_MB", "256"),
        ])
        .unwrap();
        assert_eq!(
            config.data_dir(),
            Some(std::path::Path::new("/tmp/askdocs-data"))
        );
        assert_eq!(
            config.auth.jwt_secret,
            Some(JwtSecretSource::Value(SECRET.as_bytes().to_vec()))
        );
        assert_eq!(config.auth.token_ttl, Duration::from_secs(600));
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.processing.extract.timeout, Duration::from_secs(5));
        assert_eq!(config.processing.extract.memory_bytes, 256 * MB);
    }
}
