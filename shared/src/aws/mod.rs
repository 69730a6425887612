//! AWS adapters: S3 for files, DynamoDB for metadata, Secrets Manager for the
//! signing secret. No AWS SDK type leaves this module: everything speaks the
//! ports of [`crate::ports`] and the error of [`crate::error`].
//!
//! Endpoints come from the SDK's usual settings, so `AWS_ENDPOINT_URL` points
//! every client at a local emulator (the tests use moto).

pub mod bedrock;
pub mod dynamodb;
pub mod s3;
pub mod schema;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::{Chunk, ScoredChunk, SearchScope};
use crate::ports::VectorIndex;

/// Why the AWS backend cannot search yet.
pub const NO_AWS_SEARCH: &str =
    "the AWS backend has no Bedrock embedding or OpenSearch adapter in this \
    build yet, so the processing and query functions only run with ASKDOCS_BACKEND=embedded";

/// Stands where the OpenSearch adapter will: with no index on the AWS backend
/// nothing is ever indexed (processing refuses to start), so a document's
/// delete has no chunks to remove, and any search is refused.
pub struct NoSearchIndex;

#[async_trait]
impl VectorIndex for NoSearchIndex {
    async fn upsert(&self, _chunks: &[Chunk]) -> Result<()> {
        Err(Error::Internal(anyhow::anyhow!(NO_AWS_SEARCH)))
    }

    async fn delete_document(&self, _user_id: &str, _document_id: &str) -> Result<()> {
        Ok(())
    }

    async fn search(
        &self,
        _scope: &SearchScope,
        _vector: &[f32],
        _limit: usize,
    ) -> Result<Vec<ScoredChunk>> {
        Err(Error::Internal(anyhow::anyhow!(NO_AWS_SEARCH)))
    }

    async fn keyword_search(
        &self,
        _scope: &SearchScope,
        _query: &str,
        _limit: usize,
    ) -> Result<Vec<ScoredChunk>> {
        Err(Error::Internal(anyhow::anyhow!(NO_AWS_SEARCH)))
    }

    async fn count(&self, _user_id: &str, _document_id: &str) -> Result<usize> {
        Ok(0)
    }
}

pub use bedrock::{BedrockSettings, ClaudeGenerator, TitanEmbedder};
pub use dynamodb::{DynamoDocumentStore, DynamoHistoryStore, DynamoTokenStore, DynamoUserStore};
pub use s3::S3ObjectStore;

/// The SDK clients, built once per cold start and shared by every adapter.
#[derive(Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub bedrock: aws_sdk_bedrockruntime::Client,
    sdk_config: aws_config::SdkConfig,
}

impl AwsClients {
    pub async fn from_environment() -> Self {
        let sdk_config = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .connect_timeout(Duration::from_secs(3))
                    .build(),
            )
            .load()
            .await;
        Self::from_sdk_config(sdk_config)
    }

    /// Clients for a local emulator (moto) at `endpoint`, with throwaway credentials.
    pub async fn for_emulator(endpoint: &str) -> Self {
        let credentials =
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "emulator");
        let sdk_config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(credentials)
            .load()
            .await;
        Self::from_sdk_config(sdk_config)
    }

    pub fn from_sdk_config(sdk_config: aws_config::SdkConfig) -> Self {
        // Path-style addressing works with every endpoint, emulators included.
        let s3_config = aws_sdk_s3::config::Builder::from(&sdk_config)
            .force_path_style(true)
            .build();
        AwsClients {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk_config),
            bedrock: aws_sdk_bedrockruntime::Client::new(&sdk_config),
            sdk_config,
        }
    }

    /// The JWT secret stored in Secrets Manager, read once per container.
    pub async fn secret(&self, arn: &str) -> anyhow::Result<Vec<u8>> {
        let client = aws_sdk_secretsmanager::Client::new(&self.sdk_config);
        let secret = client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "reading the JWT secret from Secrets Manager: {}",
                    describe(&error)
                )
            })?;
        let value = secret
            .secret_string()
            .map(|text| text.as_bytes().to_vec())
            .or_else(|| secret.secret_binary().map(|blob| blob.as_ref().to_vec()))
            .ok_or_else(|| anyhow::anyhow!("the JWT secret {arn} has no value"))?;
        anyhow::ensure!(
            value.len() >= crate::config::MIN_JWT_SECRET_BYTES,
            "the JWT secret {arn} is shorter than {} bytes",
            crate::config::MIN_JWT_SECRET_BYTES
        );
        Ok(value)
    }
}

/// Error codes AWS services use for "slow down" and "try again".
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "ServiceUnavailable",
    "InternalServerError",
    "InternalError",
    "RequestTimeout",
    "TransactionConflictException",
];

/// Maps an SDK failure to our error: throttling, timeouts and transport
/// failures are retryable; anything else is an internal error. The detail is
/// kept for the log only.
pub(crate) fn sdk_error<E, R>(
    context: &'static str,
    error: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let retryable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => error
            .code()
            .is_some_and(|code| RETRYABLE_CODES.contains(&code)),
        _ => false,
    };
    let detail = anyhow::anyhow!("{context}: {}", describe(&error));
    if retryable {
        Error::Unavailable(detail)
    } else {
        Error::Internal(detail)
    }
}

fn describe<E, R>(error: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(error)
        ),
    }
}
