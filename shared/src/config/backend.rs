//! Where data lives: on this machine, or in AWS.

use std::path::PathBuf;

use super::env::{ConfigError, Env};

const DEFAULT_DATA_DIR: &str = ".askdocs";

#[derive(Debug, Clone, PartialEq, Eq)]
// Made once per process: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Backend {
    /// Files, SQLite and in-process indexes under one data directory.
    Embedded { data_dir: PathBuf },
    /// S3, DynamoDB and a vector store (S3 Vectors or OpenSearch Serverless).
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
    pub vector_store: VectorStoreSettings,
    /// `PROCESSING_QUEUE_URL`: the SQS queue the processing function reads,
    /// where the sweep puts documents to run again. Without it the sweep
    /// runs them in its own invocation.
    pub processing_queue_url: Option<String>,
    /// `AWS_ENDPOINT_URL`: every client talks to this endpoint (an emulator).
    pub endpoint_url: Option<String>,
    /// `ASKDOCS_TLS_ROOTS`: the certificate authorities HTTPS endpoints are checked against.
    pub tls_roots: TlsRoots,
}

/// Which certificate authorities the AWS clients trust (`ASKDOCS_TLS_ROOTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsRoots {
    /// `amazon` (default): Amazon Trust Services' roots, compiled in, which
    /// sign every AWS endpoint; nothing is read from disk at a cold start.
    #[default]
    Amazon,
    /// `system`: the operating system's CA store, for networks whose proxy
    /// re-signs TLS with its own authority.
    System,
}

impl TlsRoots {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(
            match env.choice("ASKDOCS_TLS_ROOTS", &["amazon", "system"])? {
                Some("system") => TlsRoots::System,
                _ => TlsRoots::Amazon,
            },
        )
    }
}

/// The vector store of the AWS backend (`ASKDOCS_VECTOR_STORE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VectorStoreSettings {
    /// Amazon S3 Vectors: one vector bucket and index, pay per use.
    S3Vectors { bucket: String, index: String },
    /// Amazon OpenSearch Serverless: a VECTORSEARCH collection's endpoint
    /// (`OPENSEARCH_ENDPOINT`) and index. `OPENSEARCH_COLLECTION` names the
    /// collection for `askdocs bootstrap-aws`, which creates it (and its
    /// policies) and reports the endpoint; the functions need the endpoint.
    OpenSearch {
        endpoint: Option<String>,
        collection: Option<String>,
        index: String,
    },
}

impl Backend {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env.choice("ASKDOCS_BACKEND", &["embedded", "aws"])? {
            Some("embedded") => Ok(Self::embedded(env)),
            Some(_) => Ok(Backend::Aws(AwsSettings::from_env(env)?)),
            // No explicit choice: AWS when the template's table names are present.
            None if env.text("USERS_TABLE").is_some() => {
                Ok(Backend::Aws(AwsSettings::from_env(env)?))
            }
            None => Ok(Self::embedded(env)),
        }
    }

    fn embedded(env: &Env) -> Self {
        Backend::Embedded {
            data_dir: PathBuf::from(
                env.text("ASKDOCS_DATA_DIR")
                    .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            ),
        }
    }
}

impl AwsSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let why = "with the AWS backend";
        Ok(AwsSettings {
            users_table: env.required("USERS_TABLE", why)?,
            tokens_table: env.required("TOKENS_TABLE", why)?,
            documents_table: env.required("DOCUMENTS_TABLE", why)?,
            history_table: env.required("HISTORY_TABLE", why)?,
            bucket: env.required("DOCUMENTS_BUCKET", why)?,
            vector_store: VectorStoreSettings::from_env(env)?,
            processing_queue_url: env.url("PROCESSING_QUEUE_URL")?,
            endpoint_url: env.url("AWS_ENDPOINT_URL")?,
            tls_roots: TlsRoots::from_env(env)?,
        })
    }
}

impl VectorStoreSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env.choice("ASKDOCS_VECTOR_STORE", &["s3vectors", "opensearch"])? {
            Some("opensearch") => {
                let why = "when ASKDOCS_VECTOR_STORE=opensearch";
                let endpoint = env.url("OPENSEARCH_ENDPOINT")?;
                let collection = env.text("OPENSEARCH_COLLECTION");
                if endpoint.is_none() && collection.is_none() {
                    return Err(ConfigError::new(
                        "OPENSEARCH_ENDPOINT",
                        format!("is required {why} (or OPENSEARCH_COLLECTION, for bootstrap-aws to create it)"),
                    ));
                }
                Ok(VectorStoreSettings::OpenSearch {
                    endpoint,
                    collection,
                    index: env.required("OPENSEARCH_INDEX", why)?,
                })
            }
            _ => {
                let why = "with the AWS backend's S3 Vectors store";
                Ok(VectorStoreSettings::S3Vectors {
                    bucket: env.required("VECTOR_BUCKET", why)?,
                    index: env.required("VECTOR_INDEX", why)?,
                })
            }
        }
    }
}
