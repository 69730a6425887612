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
mod json_rpc;
#[cfg(feature = "aws-search")]
mod opensearch;
#[cfg(feature = "aws-files")]
mod s3;
#[cfg(feature = "aws-search")]
mod s3vectors;
mod secrets;
mod signed;
mod tls;

use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "aws-sdk")]
use aws_config::timeout::TimeoutConfig;
#[cfg(feature = "aws-sdk")]
use aws_config::BehaviorVersion;

use crate::config::TlsRoots;
use dynamodb::DynamoDb;
use json_rpc::{Domain, JsonClient, JsonService, Protocol};
use signed::SignedHttp;

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

/// The clients, built once per cold start and shared by every adapter; a
/// build has those of the `aws-*` features it was compiled with. S3 goes
/// through the SDK's client (presigned URLs, XML); every other service is
/// spoken over [`SignedHttp`] (see its module for why).
#[derive(Clone)]
pub struct AwsClients {
    #[cfg(feature = "aws-files")]
    s3: aws_sdk_s3::Client,
    dynamodb: DynamoDb,
    #[cfg(feature = "aws-bedrock")]
    bedrock: JsonClient,
    #[cfg(feature = "aws-search")]
    s3vectors: JsonClient,
    secrets: JsonClient,
    #[cfg_attr(not(feature = "aws-search"), allow(dead_code))]
    signed: Arc<SignedHttp>,
}

#[cfg(feature = "aws-sdk")]
fn timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// The region Lambda (or the shell) names: `AWS_REGION`, else `AWS_DEFAULT_REGION`.
#[cfg_attr(feature = "aws-sdk", allow(dead_code))]
fn region_from(variable: impl Fn(&str) -> Option<String>) -> String {
    variable("AWS_REGION")
        .or_else(|| variable("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_string())
}

/// The credentials Lambda gives each function in its environment.
#[cfg_attr(feature = "aws-sdk", allow(dead_code))]
fn credentials_from(
    variable: impl Fn(&str) -> Option<String>,
) -> Option<aws_credential_types::Credentials> {
    Some(aws_credential_types::Credentials::new(
        variable("AWS_ACCESS_KEY_ID")?,
        variable("AWS_SECRET_ACCESS_KEY")?,
        variable("AWS_SESSION_TOKEN"),
        None,
        "environment",
    ))
}

#[cfg_attr(feature = "aws-sdk", allow(dead_code))]
fn environment_variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl AwsClients {
    /// Clients from the environment's region and credentials; `endpoint_url`
    /// (an emulator) also switches S3 to path-style addressing, which real S3
    /// does not need; `tls_roots` are the certificate authorities HTTPS
    /// endpoints are checked against.
    pub async fn from_environment(endpoint_url: Option<&str>, tls_roots: TlsRoots) -> Self {
        #[cfg(feature = "aws-sdk")]
        {
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
                loader = loader
                    .region(aws_config::environment::EnvironmentVariableRegionProvider::new());
            }
            if let Some(endpoint) = endpoint_url {
                loader = loader.endpoint_url(endpoint);
            }
            Self::from_sdk_config(&loader.load().await, endpoint_url, tls_roots)
        }
        // Without an SDK client (the auth function), Lambda's environment is
        // the only source: it names the region and the role's credentials.
        #[cfg(not(feature = "aws-sdk"))]
        {
            let signed = SignedHttp::new(
                &region_from(environment_variable),
                credentials_from(environment_variable)
                    .map(aws_credential_types::provider::SharedCredentialsProvider::new),
                tls_roots,
            );
            Self::from_signed(Arc::new(signed), endpoint_url)
        }
    }

    /// The clients spoken over signed HTTPS, with every SDK client left out.
    #[cfg(not(feature = "aws-sdk"))]
    fn from_signed(signed: Arc<SignedHttp>, endpoint_url: Option<&str>) -> Self {
        Self::assemble(signed, endpoint_url)
    }

    /// Every client spoken over `signed` (and S3's SDK client, when linked):
    /// endpoints are resolved now, nothing is connected until the first call.
    fn assemble(
        signed: Arc<SignedHttp>,
        endpoint_url: Option<&str>,
        #[cfg(feature = "aws-files")] s3: aws_sdk_s3::Client,
    ) -> Self {
        let region = signed.region().to_string();
        let client = |environment_key, host_prefix, domain, service| {
            let endpoint =
                json_rpc::endpoint(environment_key, host_prefix, domain, endpoint_url, &region);
            JsonClient::new(signed.clone(), endpoint, service)
        };
        // Each service gets the time its calls need: metadata reads are quick,
        // and an answer must arrive within API Gateway's 29 s.
        let dynamodb = client(
            "DYNAMODB",
            "dynamodb",
            Domain::AmazonAws,
            JsonService {
                signing_name: "dynamodb",
                protocol: Protocol::AwsJson {
                    target_prefix: "DynamoDB_20120810",
                    content_type: "application/x-amz-json-1.0",
                },
                attempt_timeout: Duration::from_secs(3),
                operation_timeout: Duration::from_secs(10),
            },
        );
        let secrets = client(
            "SECRETS_MANAGER",
            "secretsmanager",
            Domain::AmazonAws,
            JsonService {
                signing_name: "secretsmanager",
                protocol: Protocol::AwsJson {
                    target_prefix: "secretsmanager",
                    content_type: "application/x-amz-json-1.1",
                },
                attempt_timeout: Duration::from_secs(3),
                operation_timeout: Duration::from_secs(10),
            },
        );
        #[cfg(feature = "aws-search")]
        let s3vectors = client(
            "S3VECTORS",
            "s3vectors",
            Domain::ApiAws,
            JsonService {
                signing_name: "s3vectors",
                protocol: Protocol::RestJson,
                attempt_timeout: Duration::from_secs(5),
                operation_timeout: Duration::from_secs(15),
            },
        );
        #[cfg(feature = "aws-bedrock")]
        let bedrock = client(
            "BEDROCK_RUNTIME",
            "bedrock-runtime",
            Domain::AmazonAws,
            JsonService {
                signing_name: "bedrock",
                protocol: Protocol::RestJson,
                attempt_timeout: Duration::from_secs(20),
                operation_timeout: Duration::from_secs(25),
            },
        );
        AwsClients {
            #[cfg(feature = "aws-files")]
            s3,
            dynamodb: DynamoDb(dynamodb),
            #[cfg(feature = "aws-bedrock")]
            bedrock,
            #[cfg(feature = "aws-search")]
            s3vectors,
            secrets,
            signed,
        }
    }

    #[cfg(feature = "aws-sdk")]
    fn from_sdk_config(
        sdk: &aws_config::SdkConfig,
        endpoint_url: Option<&str>,
        tls_roots: TlsRoots,
    ) -> Self {
        let region = sdk
            .region()
            .map(|region| region.as_ref().to_string())
            .unwrap_or_else(|| "us-east-1".to_string());
        let signed = Arc::new(SignedHttp::new(
            &region,
            sdk.credentials_provider(),
            tls_roots,
        ));
        // A 50 MB file takes its time.
        #[cfg(feature = "aws-files")]
        let s3 = aws_sdk_s3::config::Builder::from(sdk)
            .timeout_config(timeouts(Duration::from_secs(120), Duration::from_secs(300)))
            .force_path_style(endpoint_url.is_some())
            .build();
        Self::assemble(
            signed,
            endpoint_url,
            #[cfg(feature = "aws-files")]
            aws_sdk_s3::Client::from_conf(s3),
        )
    }

    /// Clients for a local emulator (moto) at `endpoint`, with throwaway credentials.
    #[cfg(feature = "testing")]
    pub async fn for_emulator(endpoint: &str) -> Self {
        let credentials =
            aws_credential_types::Credentials::new("testing", "testing", None, None, "emulator");
        #[cfg(feature = "aws-sdk")]
        {
            let sdk = aws_config::defaults(BehaviorVersion::latest())
                .endpoint_url(endpoint)
                .region(aws_config::Region::new("eu-west-1"))
                .credentials_provider(credentials)
                .load()
                .await;
            Self::from_sdk_config(&sdk, Some(endpoint), TlsRoots::Amazon)
        }
        #[cfg(not(feature = "aws-sdk"))]
        {
            let signed = SignedHttp::new(
                "eu-west-1",
                Some(aws_credential_types::provider::SharedCredentialsProvider::new(credentials)),
                TlsRoots::Amazon,
            );
            Self::from_signed(Arc::new(signed), Some(endpoint))
        }
    }

    /// Stores `value` as a new Secrets Manager secret named `name`; answers
    /// its ARN (tests give it to [`AwsClients::signing_secret`]).
    #[cfg(feature = "testing")]
    pub async fn store_secret(&self, name: &str, value: &str) -> String {
        let created = self
            .secrets
            .call(
                "CreateSecret",
                &serde_json::json!({"Name": name, "SecretString": value}),
            )
            .await
            .expect("creating a secret");
        created["ARN"].as_str().expect("a secret's ARN").to_string()
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
        OpenSearchIndex::new(endpoint, index, self.signed.clone())
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
        SecretsManagerSecret::new(self.secrets.clone(), arn, min_bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[tokio::test]
    async fn lambdas_environment_names_the_region_and_the_roles_credentials() {
        // GIVEN the variables Lambda sets for a function
        let lambda = lookup(&[
            ("AWS_REGION", "eu-central-1"),
            ("AWS_DEFAULT_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
        ]);
        // WHEN the region and credentials are read from them
        let region = region_from(&lambda);
        let credentials = SharedCredentialsProvider::new(credentials_from(&lambda).unwrap())
            .provide_credentials()
            .await
            .unwrap();
        // THEN they are the function's, with its session token
        assert_eq!(region, "eu-central-1");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("session"));
    }

    #[test]
    fn without_a_key_pair_there_are_no_credentials_and_the_region_defaults() {
        let shell = lookup(&[
            ("AWS_DEFAULT_REGION", "ap-south-1"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
        ]);
        assert!(credentials_from(&shell).is_none());
        assert_eq!(region_from(&shell), "ap-south-1");
        assert_eq!(region_from(lookup(&[])), "us-east-1");
    }
}
