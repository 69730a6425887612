//! AWS adapters on the official SDK clients: S3 for files, DynamoDB for
//! metadata, Secrets Manager for the signing secret, Bedrock for embeddings
//! and answers, S3 Vectors or OpenSearch Serverless for search, SQS for the
//! processing queue. Every adapter speaks the ports of [`crate::ports`] and
//! the error of [`crate::error`]; SDK types stay inside this module.
//!
//! Nothing is built at a cold start: [`AwsClients`] holds one cell per
//! client, filled on the first call that needs it — first the shared
//! `SdkConfig` (region, credentials, the HTTPS client of [`http`]), then the
//! service's client with its own timeouts and retry settings. A function
//! that never calls a service never builds its client (nor parses its
//! endpoint rules). `AWS_ENDPOINT_URL` points every client at an emulator
//! (the tests use moto).
//!
//! Region and credentials come from aws-config's providers. A Lambda reads
//! them from Lambda's environment (its role's session), so a function's
//! `SdkConfig` is assembled from those providers alone and links none of the
//! chains' other sources (STS web identity, SSO, profiles, instance
//! metadata); the `askdocs` command, run by a person, loads the SDK's full
//! chains (feature `aws-credential-chain`).

#[cfg(feature = "aws-bedrock")]
pub mod bedrock;
#[cfg(feature = "aws-admin")]
pub mod bootstrap;
#[cfg(feature = "aws-answers")]
pub mod claude;
mod dynamodb;
mod errors;
mod http;
#[cfg(feature = "aws-search")]
mod opensearch;
#[cfg(feature = "aws-queue")]
mod queue;
#[cfg(feature = "aws-rerank")]
mod rerank;
#[cfg(feature = "aws-files")]
mod s3;
#[cfg(feature = "aws-search")]
mod s3vectors;
mod secrets;
#[cfg(feature = "aws-ocr")]
mod textract;
mod web_documents;

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use tokio::sync::OnceCell;

use crate::config::TlsRoots;

#[cfg(feature = "aws-bedrock")]
pub use bedrock::TitanEmbedder;
#[cfg(feature = "aws-answers")]
pub use claude::{event_stream_frame, ClaudeGenerator};
pub use dynamodb::{DynamoDocumentStore, DynamoHistoryStore, DynamoTokenStore, DynamoUserStore};
#[cfg(feature = "aws-search")]
pub use opensearch::OpenSearchIndex;
#[cfg(feature = "aws-queue")]
pub use queue::SqsProcessingQueue;
#[cfg(feature = "aws-rerank")]
pub use rerank::BedrockReranker;
#[cfg(feature = "aws-files")]
pub use s3::S3ObjectStore;
#[cfg(feature = "aws-search")]
pub use s3vectors::S3VectorIndex;
pub use secrets::SecretsManagerSecret;
#[cfg(feature = "aws-ocr")]
pub use textract::TextractOcr;
pub use web_documents::HttpsDocuments;

/// Where the shared `SdkConfig` comes from.
#[derive(Debug, Clone)]
enum Source {
    /// Lambda's environment (or, for a person running `askdocs`, the SDK's
    /// credential and region chains); `endpoint_url` is an emulator.
    Environment {
        endpoint_url: Option<String>,
        tls_roots: TlsRoots,
    },
    /// A local emulator with throwaway credentials (tests).
    #[cfg(feature = "testing")]
    Emulator { endpoint: String },
}

impl Source {
    fn endpoint_url(&self) -> Option<&str> {
        match self {
            Source::Environment { endpoint_url, .. } => endpoint_url.as_deref(),
            #[cfg(feature = "testing")]
            Source::Emulator { endpoint } => Some(endpoint),
        }
    }

    fn tls_roots(&self) -> TlsRoots {
        match self {
            Source::Environment { tls_roots, .. } => *tls_roots,
            #[cfg(feature = "testing")]
            Source::Emulator { .. } => TlsRoots::Amazon,
        }
    }
}

/// How long each service's calls may take: one attempt, and the whole call
/// with the SDK's retries. Metadata reads are quick; a 50 MB file is not; an
/// answer must fit in what API Gateway allows (and each ask narrows it to the
/// time it has left, see [`bedrock`]).
#[derive(Debug, Clone, Copy)]
pub struct ServiceTimeouts {
    pub connect: Duration,
    pub dynamodb: (Duration, Duration),
    pub secrets: (Duration, Duration),
    pub s3_calls: (Duration, Duration),
    pub s3_transfers: (Duration, Duration),
    pub s3vectors: (Duration, Duration),
    pub bedrock: (Duration, Duration),
    pub sqs: (Duration, Duration),
    pub textract: (Duration, Duration),
    /// Reranking is an improvement, not a need: past this the passages keep
    /// retrieval's own order and the answer still fits the ask's deadline.
    pub rerank: (Duration, Duration),
}

impl Default for ServiceTimeouts {
    fn default() -> Self {
        let seconds = Duration::from_secs;
        ServiceTimeouts {
            connect: seconds(3),
            dynamodb: (seconds(3), seconds(10)),
            secrets: (seconds(3), seconds(10)),
            s3_calls: (seconds(15), seconds(30)),
            s3_transfers: (seconds(120), seconds(300)),
            s3vectors: (seconds(5), seconds(15)),
            bedrock: (seconds(20), seconds(25)),
            sqs: (seconds(3), seconds(10)),
            textract: (seconds(20), seconds(30)),
            rerank: (seconds(3), seconds(5)),
        }
    }
}

impl ServiceTimeouts {
    fn config(&self, (attempt, operation): (Duration, Duration)) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(attempt)
            .operation_timeout(operation)
            .build()
    }
}

/// A service's client, built on its first call from the shared `SdkConfig`
/// with the service's own timeouts and the configured retries.
macro_rules! service_client {
    ($(#[$attribute:meta])* $name:ident: $crate_name:ident, $timeouts:ident) => {
        $(#[$attribute])*
        pub(crate) async fn $name(&self) -> &$crate_name::Client {
            self.inner
                .$name
                .get_or_init(|| async {
                    let sdk = self.sdk().await;
                    let timeouts = &self.inner.timeouts;
                    $crate_name::Client::from_conf(
                        $crate_name::config::Builder::from(sdk)
                            .timeout_config(timeouts.config(timeouts.$timeouts))
                            .retry_config(Self::retries(sdk))
                            .build(),
                    )
                })
                .await
        }
    };
}

/// The SDK clients, each built on first use and then shared by every adapter
/// (cloning is cheap); a build has those of the `aws-*` features it was
/// compiled with.
#[derive(Clone)]
pub struct AwsClients {
    inner: Arc<Cells>,
}

struct Cells {
    source: Source,
    timeouts: ServiceTimeouts,
    /// The OpenSearch data plane's HTTPS (it has no SDK client).
    #[cfg(feature = "aws-search")]
    http: http::AwsHttp,
    sdk: OnceCell<SdkConfig>,
    dynamodb: OnceCell<aws_sdk_dynamodb::Client>,
    secrets: OnceCell<aws_sdk_secretsmanager::Client>,
    #[cfg(feature = "aws-files")]
    s3: OnceCell<aws_sdk_s3::Client>,
    #[cfg(feature = "aws-search")]
    s3vectors: OnceCell<aws_sdk_s3vectors::Client>,
    #[cfg(feature = "aws-search")]
    opensearch: OnceCell<Arc<opensearch::SignedHttp>>,
    #[cfg(feature = "aws-bedrock")]
    bedrock: OnceCell<aws_sdk_bedrockruntime::Client>,
    #[cfg(feature = "aws-queue")]
    sqs: OnceCell<aws_sdk_sqs::Client>,
    #[cfg(feature = "aws-ocr")]
    textract: OnceCell<aws_sdk_textract::Client>,
    #[cfg(feature = "aws-rerank")]
    rerank: OnceCell<aws_sdk_bedrockagentruntime::Client>,
    #[cfg(feature = "aws-admin")]
    opensearch_admin: OnceCell<aws_sdk_opensearchserverless::Client>,
}

impl AwsClients {
    fn with_source(source: Source, timeouts: ServiceTimeouts) -> Self {
        AwsClients {
            inner: Arc::new(Cells {
                #[cfg(feature = "aws-search")]
                http: http::AwsHttp::new(source.tls_roots()),
                source,
                timeouts,
                sdk: OnceCell::new(),
                dynamodb: OnceCell::new(),
                secrets: OnceCell::new(),
                #[cfg(feature = "aws-files")]
                s3: OnceCell::new(),
                #[cfg(feature = "aws-search")]
                s3vectors: OnceCell::new(),
                #[cfg(feature = "aws-search")]
                opensearch: OnceCell::new(),
                #[cfg(feature = "aws-bedrock")]
                bedrock: OnceCell::new(),
                #[cfg(feature = "aws-queue")]
                sqs: OnceCell::new(),
                #[cfg(feature = "aws-ocr")]
                textract: OnceCell::new(),
                #[cfg(feature = "aws-rerank")]
                rerank: OnceCell::new(),
                #[cfg(feature = "aws-admin")]
                opensearch_admin: OnceCell::new(),
            }),
        }
    }

    /// Clients from the environment's region and credentials, built when first
    /// used; `endpoint_url` (an emulator) also switches S3 to path-style
    /// addressing; `tls_roots` are the certificate authorities HTTPS endpoints
    /// are checked against.
    pub fn from_environment(endpoint_url: Option<&str>, tls_roots: TlsRoots) -> Self {
        Self::with_source(
            Source::Environment {
                endpoint_url: endpoint_url.map(str::to_string),
                tls_roots,
            },
            ServiceTimeouts::default(),
        )
    }

    /// Clients for a local emulator (moto) at `endpoint`, with throwaway credentials.
    #[cfg(feature = "testing")]
    pub fn for_emulator(endpoint: &str) -> Self {
        Self::for_emulator_with(endpoint, ServiceTimeouts::default())
    }

    /// As [`AwsClients::for_emulator`], with other timeouts (tests of what a
    /// timed-out attempt does).
    #[cfg(feature = "testing")]
    pub fn for_emulator_with(endpoint: &str, timeouts: ServiceTimeouts) -> Self {
        Self::with_source(
            Source::Emulator {
                endpoint: endpoint.to_string(),
            },
            timeouts,
        )
    }

    #[cfg(feature = "aws-files")]
    fn emulated(&self) -> bool {
        self.inner.source.endpoint_url().is_some()
    }

    /// The configuration every client starts from, loaded on first use.
    async fn sdk(&self) -> &SdkConfig {
        self.inner
            .sdk
            .get_or_init(|| load_sdk_config(&self.inner.source))
            .await
    }

    /// The region the clients call (for the OpenSearch signer and S3's bucket
    /// location, a rerank model's ARN).
    #[cfg(any(feature = "aws-search", feature = "aws-admin", feature = "aws-rerank"))]
    async fn region(&self) -> String {
        self.sdk()
            .await
            .region()
            .map(|region| region.as_ref().to_string())
            .unwrap_or_else(|| "us-east-1".to_string())
    }

    /// The retry settings the environment asks for (`AWS_MAX_ATTEMPTS`,
    /// `AWS_RETRY_MODE`), else the SDK's standard mode: 3 attempts, jittered
    /// exponential back-off, a retry quota.
    fn retries(sdk: &SdkConfig) -> RetryConfig {
        sdk.retry_config()
            .cloned()
            .unwrap_or_else(RetryConfig::standard)
    }

    service_client!(dynamodb: aws_sdk_dynamodb, dynamodb);

    service_client!(secrets: aws_sdk_secretsmanager, secrets);

    #[cfg(feature = "aws-files")]
    pub(crate) async fn s3(&self) -> &aws_sdk_s3::Client {
        use aws_sdk_s3::config::RequestChecksumCalculation;
        self.inner
            .s3
            .get_or_init(|| async {
                let sdk = self.sdk().await;
                let timeouts = &self.inner.timeouts;
                aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(sdk)
                        .timeout_config(timeouts.config(timeouts.s3_calls))
                        .retry_config(Self::retries(sdk))
                        // Emulators answer at one host, not per bucket.
                        .force_path_style(self.emulated())
                        // Checksums only where S3 requires them: a presigned
                        // upload URL must not demand a checksum header the
                        // browser cannot know before it reads the file.
                        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                        .build(),
                )
            })
            .await
    }

    /// The timeouts of an object's transfer (a 50 MB file), for one call.
    #[cfg(feature = "aws-files")]
    pub(crate) fn s3_transfer_timeouts(&self) -> TimeoutConfig {
        let timeouts = &self.inner.timeouts;
        timeouts.config(timeouts.s3_transfers)
    }

    service_client!(
        #[cfg(feature = "aws-search")]
        s3vectors: aws_sdk_s3vectors, s3vectors
    );

    service_client!(
        #[cfg(feature = "aws-ocr")]
        textract: aws_sdk_textract, textract
    );

    service_client!(
        #[cfg(feature = "aws-rerank")]
        rerank: aws_sdk_bedrockagentruntime, rerank
    );

    /// The signed HTTPS client of the OpenSearch Serverless data plane, with
    /// the SDK's region and credentials provider (credentials are cached and
    /// refreshed by it).
    #[cfg(feature = "aws-search")]
    pub(crate) async fn opensearch_http(&self) -> &Arc<opensearch::SignedHttp> {
        self.inner
            .opensearch
            .get_or_init(|| async {
                let region = self.region().await;
                let credentials = self.sdk().await.credentials_provider();
                Arc::new(opensearch::SignedHttp::new(
                    &region,
                    credentials,
                    self.inner.http.clone(),
                ))
            })
            .await
    }

    service_client!(
        #[cfg(feature = "aws-bedrock")]
        bedrock: aws_sdk_bedrockruntime, bedrock
    );

    service_client!(
        #[cfg(feature = "aws-queue")]
        sqs: aws_sdk_sqs, sqs
    );

    #[cfg(feature = "aws-admin")]
    pub(crate) async fn opensearch_admin(&self) -> &aws_sdk_opensearchserverless::Client {
        self.inner
            .opensearch_admin
            .get_or_init(|| async {
                let sdk = self.sdk().await;
                aws_sdk_opensearchserverless::Client::from_conf(
                    aws_sdk_opensearchserverless::config::Builder::from(sdk)
                        .retry_config(Self::retries(sdk))
                        .build(),
                )
            })
            .await
    }

    /// Stores `value` as a new Secrets Manager secret named `name`; answers
    /// its ARN (tests give it to [`AwsClients::signing_secret`]).
    #[cfg(feature = "testing")]
    pub async fn store_secret(&self, name: &str, value: &str) -> String {
        let created = self
            .secrets()
            .await
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("creating a secret");
        created.arn().expect("a secret's ARN").to_string()
    }

    /// Creates an SQS queue named `name`; answers its URL (tests).
    #[cfg(all(feature = "testing", feature = "aws-queue"))]
    pub async fn create_queue(&self, name: &str) -> String {
        self.sqs()
            .await
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("creating a queue")
            .queue_url()
            .expect("a queue's URL")
            .to_string()
    }

    /// How many versions (and delete markers) of `key` the bucket keeps: what
    /// tests check a delete against.
    #[cfg(all(feature = "testing", feature = "aws-files"))]
    pub async fn object_versions(&self, bucket: &str, key: &str) -> usize {
        let listing = self
            .s3()
            .await
            .list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .send()
            .await
            .expect("listing object versions");
        let versions = listing
            .versions()
            .iter()
            .filter(|version| version.key() == Some(key))
            .count();
        let markers = listing
            .delete_markers()
            .iter()
            .filter(|marker| marker.key() == Some(key))
            .count();
        versions + markers
    }

    #[cfg(feature = "aws-files")]
    pub fn object_store(&self, bucket: &str) -> S3ObjectStore {
        S3ObjectStore::new(self.clone(), bucket)
    }

    pub fn user_store(&self, table: &str) -> DynamoUserStore {
        DynamoUserStore::new(self.clone(), table)
    }

    pub fn token_store(&self, table: &str) -> DynamoTokenStore {
        DynamoTokenStore::new(self.clone(), table)
    }

    pub fn document_store(&self, table: &str) -> DynamoDocumentStore {
        DynamoDocumentStore::new(self.clone(), table)
    }

    pub fn history_store(&self, table: &str) -> DynamoHistoryStore {
        DynamoHistoryStore::new(self.clone(), table)
    }

    #[cfg(feature = "aws-search")]
    pub fn vector_index(&self, bucket: &str, index: &str) -> S3VectorIndex {
        S3VectorIndex::new(self.clone(), bucket, index)
    }

    /// An OpenSearch Serverless collection's index, at its endpoint.
    #[cfg(feature = "aws-search")]
    pub fn opensearch_index(&self, endpoint: &str, index: &str) -> OpenSearchIndex {
        OpenSearchIndex::new(self.clone(), endpoint, index)
    }

    #[cfg(feature = "aws-bedrock")]
    pub fn titan_embedder(&self, model_id: &str, dimensions: usize) -> TitanEmbedder {
        TitanEmbedder::new(self.clone(), model_id, dimensions)
    }

    #[cfg(feature = "aws-answers")]
    pub fn claude_generator(
        &self,
        model_id: &str,
        max_tokens: i32,
        temperature: f32,
    ) -> ClaudeGenerator {
        ClaudeGenerator::new(self.clone(), model_id, max_tokens, temperature)
    }

    #[cfg(feature = "aws-queue")]
    pub fn processing_queue(&self, queue_url: &str) -> SqsProcessingQueue {
        SqsProcessingQueue::new(self.clone(), queue_url)
    }

    pub fn signing_secret(&self, arn: &str, min_bytes: usize) -> SecretsManagerSecret {
        SecretsManagerSecret::new(self.clone(), arn, min_bytes)
    }
}

/// The shared configuration: region, credentials, endpoint, HTTPS client,
/// retries.
async fn load_sdk_config(source: &Source) -> SdkConfig {
    let http = http::sdk_http_client(source.tls_roots());
    let config = match source {
        Source::Environment { .. } => from_environment(http).await,
        #[cfg(feature = "testing")]
        Source::Emulator { .. } => sdk_config(http)
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "testing", "testing", None, None, "emulator",
                    ),
                ),
            )
            .build(),
    };
    let config = match source.endpoint_url() {
        Some(endpoint) => config.into_builder().endpoint_url(endpoint).build(),
        None => config,
    };
    if config.region().is_none() {
        tracing::warn!("no AWS region is configured (AWS_REGION); calls will fail");
    }
    config
}

/// What every configuration shares: the SDK's current behaviour, our HTTPS
/// client, tokio's timers, and the retry mode the environment asks for.
/// (A person's full credential chain is aws-config's own defaults instead.)
#[cfg(any(feature = "testing", not(feature = "aws-credential-chain")))]
fn sdk_config(http: SharedHttpClient) -> aws_types::sdk_config::Builder {
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(retry_config_from(|name| std::env::var(name).ok()))
        .time_source(aws_smithy_async::time::SharedTimeSource::default());
    builder.set_sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep());
    builder
}

/// Lambda's environment: the function's Region and its role's credentials
/// (and `AWS_USE_FIPS_ENDPOINT` / `AWS_USE_DUALSTACK_ENDPOINT`, which the
/// services' endpoint rules honour).
#[cfg(not(feature = "aws-credential-chain"))]
async fn from_environment(http: SharedHttpClient) -> SdkConfig {
    use aws_config::meta::region::ProvideRegion as _;
    let region = aws_config::environment::EnvironmentVariableRegionProvider::new()
        .region()
        .await;
    let flag = |name: &str| {
        std::env::var(name)
            .ok()
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    };
    sdk_config(http)
        .region(region)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            ),
        )
        .use_fips(flag("AWS_USE_FIPS_ENDPOINT"))
        .use_dual_stack(flag("AWS_USE_DUALSTACK_ENDPOINT"))
        .build()
}

/// A person's environment: the SDK's full chains (environment, profiles,
/// SSO, `credential_process`, web identity, instance roles).
#[cfg(feature = "aws-credential-chain")]
async fn from_environment(http: SharedHttpClient) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await
}

/// The SDK's retry settings from `AWS_RETRY_MODE` (`standard`, `adaptive`)
/// and `AWS_MAX_ATTEMPTS`, as aws-config reads them; standard mode with 3
/// attempts (jittered exponential back-off, a retry quota) otherwise.
#[cfg(any(feature = "testing", not(feature = "aws-credential-chain")))]
fn retry_config_from(variable: impl Fn(&str) -> Option<String>) -> RetryConfig {
    let config = match variable("AWS_RETRY_MODE").as_deref().map(str::trim) {
        Some(mode) if mode.eq_ignore_ascii_case("adaptive") => RetryConfig::adaptive(),
        _ => RetryConfig::standard(),
    };
    match variable("AWS_MAX_ATTEMPTS").and_then(|value| value.trim().parse::<u32>().ok()) {
        Some(attempts) if attempts >= 1 => config.with_max_attempts(attempts),
        _ => config,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_environment_as_the_sdk_reads_it() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            }
        };
        let standard = retry_config_from(lookup(&[]));
        assert_eq!(standard.max_attempts(), 3);
        assert_eq!(standard.mode(), aws_config::retry::RetryMode::Standard);
        let tuned = retry_config_from(lookup(&[
            ("AWS_MAX_ATTEMPTS", "5"),
            ("AWS_RETRY_MODE", "adaptive"),
        ]));
        assert_eq!(tuned.max_attempts(), 5);
        assert_eq!(tuned.mode(), aws_config::retry::RetryMode::Adaptive);
        assert_eq!(
            retry_config_from(lookup(&[("AWS_MAX_ATTEMPTS", "0")])).max_attempts(),
            3
        );
    }

    #[tokio::test]
    async fn no_client_is_built_before_its_first_call() {
        // GIVEN clients made as a cold start makes them
        let clients = AwsClients::from_environment(Some("http://127.0.0.1:9"), TlsRoots::Amazon);
        // THEN nothing is loaded yet
        assert!(clients.inner.sdk.get().is_none());
        assert!(clients.inner.dynamodb.get().is_none());
        // WHEN one service is used
        let _ = clients.dynamodb().await;
        // THEN only its client (and the shared configuration) exists
        assert!(clients.inner.sdk.get().is_some());
        assert!(clients.inner.dynamodb.get().is_some());
        assert!(clients.inner.secrets.get().is_none());
    }
}
