//! AWS adapters: S3 for files, DynamoDB for metadata, Secrets Manager for the
//! signing secret, Bedrock for embeddings and answers, S3 Vectors for search.
//! Every adapter speaks the ports of [`crate::ports`] and the error of
//! [`crate::error`]; SDK types stay inside this module (the clients are only
//! reachable through [`AwsClients`]' adapters).
//!
//! The clients are built once per cold start from one shared `SdkConfig`,
//! without touching the network; `AWS_ENDPOINT_URL` points every client at an
//! emulator (the tests use moto).

#[cfg(feature = "aws-bedrock")]
pub mod bedrock;
#[cfg(feature = "aws-all")]
pub mod bootstrap;
mod dynamodb;
mod errors;
#[cfg(feature = "aws-search")]
mod opensearch;
#[cfg(feature = "aws-files")]
mod s3;
#[cfg(feature = "aws-search")]
mod s3vectors;
mod secrets;
mod tls;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;

use crate::config::TlsRoots;

#[cfg(feature = "aws-bedrock")]
pub use bedrock::{ClaudeGenerator, TitanEmbedder};
pub use dynamodb::{DynamoDocumentStore, DynamoHistoryStore, DynamoTokenStore, DynamoUserStore};
#[cfg(feature = "aws-search")]
pub use opensearch::OpenSearchIndex;
#[cfg(feature = "aws-files")]
pub use s3::S3ObjectStore;
#[cfg(feature = "aws-search")]
pub use s3vectors::S3VectorIndex;
pub use secrets::SecretsManagerSecret;

/// The SDK clients, built once per cold start and shared by every adapter;
/// a build has those of the `aws-*` features it was compiled with.
#[derive(Clone)]
pub struct AwsClients {
    #[cfg(feature = "aws-files")]
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    #[cfg(feature = "aws-bedrock")]
    bedrock: aws_sdk_bedrockruntime::Client,
    #[cfg(feature = "aws-search")]
    s3vectors: aws_sdk_s3vectors::Client,
    /// Built by the first [`AwsClients::signing_secret`]: only the functions
    /// that check tokens against a Secrets Manager secret pay for a client.
    secrets_config: aws_sdk_secretsmanager::Config,
    secrets: Arc<OnceLock<aws_sdk_secretsmanager::Client>>,
    /// What the OpenSearch adapter signs with (it speaks REST, not an SDK client).
    #[cfg(feature = "aws-search")]
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    #[cfg(feature = "aws-search")]
    region: String,
    #[cfg(feature = "aws-search")]
    tls_roots: TlsRoots,
}

fn timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

impl AwsClients {
    /// Clients from the environment's region and credentials; `endpoint_url`
    /// (an emulator) also switches S3 to path-style addressing, which real S3
    /// does not need; `tls_roots` are the certificate authorities HTTPS
    /// endpoints are checked against.
    pub async fn from_environment(endpoint_url: Option<&str>, tls_roots: TlsRoots) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(tls::sdk_http_client(tls_roots));
        // Lambda gives every function its role's credentials and its region in
        // the environment, which the default chains would pick first anyway;
        // naming those providers spares each cold start from building the
        // chains' other sources (STS for web identity, SSO, profile files, the
        // instance metadata client). Elsewhere the full chains apply.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
            loader = loader.credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            );
        }
        if std::env::var_os("AWS_REGION").is_some()
            || std::env::var_os("AWS_DEFAULT_REGION").is_some()
        {
            loader =
                loader.region(aws_config::environment::EnvironmentVariableRegionProvider::new());
        }
        if let Some(endpoint) = endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        Self::from_sdk_config(&loader.load().await, endpoint_url.is_some(), tls_roots)
    }

    fn from_sdk_config(sdk: &aws_config::SdkConfig, emulator: bool, tls_roots: TlsRoots) -> Self {
        // Each service gets the time its calls need: metadata reads are quick, a
        // 50 MB file is not, and an answer must arrive within API Gateway's 29 s.
        #[cfg(feature = "aws-files")]
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .timeout_config(timeouts(Duration::from_secs(120), Duration::from_secs(300)))
            .force_path_style(emulator)
            .build();
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk)
            .timeout_config(timeouts(Duration::from_secs(3), Duration::from_secs(10)))
            .build();
        #[cfg(feature = "aws-bedrock")]
        let bedrock = aws_sdk_bedrockruntime::config::Builder::from(sdk)
            .timeout_config(timeouts(Duration::from_secs(20), Duration::from_secs(25)))
            .build();
        #[cfg(feature = "aws-search")]
        let s3vectors = aws_sdk_s3vectors::config::Builder::from(sdk)
            .timeout_config(timeouts(Duration::from_secs(5), Duration::from_secs(15)))
            .build();
        let secrets = aws_sdk_secretsmanager::config::Builder::from(sdk)
            .timeout_config(timeouts(Duration::from_secs(3), Duration::from_secs(10)))
            .build();
        #[cfg(not(feature = "aws-files"))]
        let _ = emulator;
        #[cfg(not(feature = "aws-search"))]
        let _ = tls_roots;
        AwsClients {
            #[cfg(feature = "aws-files")]
            s3: aws_sdk_s3::Client::from_conf(s3),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            #[cfg(feature = "aws-bedrock")]
            bedrock: aws_sdk_bedrockruntime::Client::from_conf(bedrock),
            #[cfg(feature = "aws-search")]
            s3vectors: aws_sdk_s3vectors::Client::from_conf(s3vectors),
            secrets_config: secrets,
            secrets: Arc::default(),
            #[cfg(feature = "aws-search")]
            credentials: sdk.credentials_provider(),
            #[cfg(feature = "aws-search")]
            region: sdk
                .region()
                .map(|region| region.as_ref().to_string())
                .unwrap_or_else(|| "us-east-1".to_string()),
            #[cfg(feature = "aws-search")]
            tls_roots,
        }
    }

    /// Clients for a local emulator (moto) at `endpoint`, with throwaway credentials.
    #[cfg(feature = "testing")]
    pub async fn for_emulator(endpoint: &str) -> Self {
        let credentials =
            aws_credential_types::Credentials::new("testing", "testing", None, None, "emulator");
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(credentials)
            .load()
            .await;
        Self::from_sdk_config(&sdk, true, TlsRoots::Amazon)
    }

    /// How many versions (and delete markers) of `key` the bucket keeps: what
    /// tests check a delete against.
    #[cfg(all(feature = "testing", feature = "aws-files"))]
    pub async fn object_versions(&self, bucket: &str, key: &str) -> usize {
        let listing = self
            .s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .send()
            .await
            .expect("listing object versions");
        let versions = listing
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key))
            .count();
        let markers = listing
            .delete_markers()
            .iter()
            .filter(|m| m.key() == Some(key))
            .count();
        versions + markers
    }

    #[cfg(feature = "aws-files")]
    pub fn object_store(&self, bucket: &str) -> S3ObjectStore {
        S3ObjectStore::new(self.s3.clone(), bucket)
    }

    pub fn user_store(&self, table: &str) -> DynamoUserStore {
        DynamoUserStore::new(self.dynamodb.clone(), table)
    }

    pub fn token_store(&self, table: &str) -> DynamoTokenStore {
        DynamoTokenStore::new(self.dynamodb.clone(), table)
    }

    pub fn document_store(&self, table: &str) -> DynamoDocumentStore {
        DynamoDocumentStore::new(self.dynamodb.clone(), table)
    }

    pub fn history_store(&self, table: &str) -> DynamoHistoryStore {
        DynamoHistoryStore::new(self.dynamodb.clone(), table)
    }

    #[cfg(feature = "aws-search")]
    pub fn vector_index(&self, bucket: &str, index: &str) -> S3VectorIndex {
        S3VectorIndex::new(self.s3vectors.clone(), bucket, index)
    }

    /// An OpenSearch Serverless collection's index, at its endpoint.
    #[cfg(feature = "aws-search")]
    pub fn opensearch_index(&self, endpoint: &str, index: &str) -> OpenSearchIndex {
        OpenSearchIndex::new(
            endpoint,
            index,
            &self.region,
            self.credentials.clone(),
            self.tls_roots,
        )
    }

    #[cfg(feature = "aws-bedrock")]
    pub fn titan_embedder(&self, model_id: &str, dimensions: usize) -> TitanEmbedder {
        TitanEmbedder::new(self.bedrock.clone(), model_id, dimensions)
    }

    #[cfg(feature = "aws-bedrock")]
    pub fn claude_generator(
        &self,
        model_id: &str,
        max_tokens: i32,
        temperature: f32,
    ) -> ClaudeGenerator {
        ClaudeGenerator::new(self.bedrock.clone(), model_id, max_tokens, temperature)
    }

    pub fn signing_secret(&self, arn: &str, min_bytes: usize) -> SecretsManagerSecret {
        let client = self
            .secrets
            .get_or_init(|| aws_sdk_secretsmanager::Client::from_conf(self.secrets_config.clone()));
        SecretsManagerSecret::new(client.clone(), arn, min_bytes)
    }
}
