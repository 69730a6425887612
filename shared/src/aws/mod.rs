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
/// build has those of the `aws-*` features it was compiled with. Every
/// service is spoken over one [`SignedHttp`] (see its module for why not
/// through the SDK's clients).
#[derive(Clone)]
pub struct AwsClients {
    #[cfg(feature = "aws-files")]
    s3: s3::S3Client,
    dynamodb: DynamoDb,
    #[cfg(feature = "aws-bedrock")]
    bedrock: JsonClient,
    #[cfg(feature = "aws-search")]
    s3vectors: JsonClient,
    secrets: JsonClient,
    #[cfg_attr(not(feature = "aws-search"), allow(dead_code))]
    signed: Arc<SignedHttp>,
}

/// The region Lambda (or the shell) names: `AWS_REGION`, else `AWS_DEFAULT_REGION`.
fn region_from(variable: impl Fn(&str) -> Option<String>) -> Option<String> {
    variable("AWS_REGION").or_else(|| variable("AWS_DEFAULT_REGION"))
}

/// The credentials Lambda gives each function in its environment.
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

fn environment_variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl AwsClients {
    /// Clients from the environment's region and credentials; `endpoint_url`
    /// (an emulator) also switches S3 to path-style addressing, which real S3
    /// does not need; `tls_roots` are the certificate authorities HTTPS
    /// endpoints are checked against.
    ///
    /// Lambda names the region and the role's credentials in the environment,
    /// the only source a function reads. The `askdocs` command, run by a
    /// person, also falls back on the SDK's chains (profiles, SSO, instance
    /// roles) when the environment has no key pair or no region.
    pub async fn from_environment(endpoint_url: Option<&str>, tls_roots: TlsRoots) -> Self {
        let region = region_from(environment_variable);
        let credentials = credentials_from(environment_variable)
            .map(aws_credential_types::provider::SharedCredentialsProvider::new);
        #[cfg(feature = "aws-credential-chain")]
        let (region, credentials) = if region.is_none() || credentials.is_none() {
            let chains = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            (
                region.or_else(|| chains.region().map(|region| region.to_string())),
                credentials.or_else(|| chains.credentials_provider()),
            )
        } else {
            (region, credentials)
        };
        let region = region.unwrap_or_else(|| "us-east-1".to_string());
        let signed = SignedHttp::new(&region, credentials, tls_roots);
        Self::assemble(Arc::new(signed), endpoint_url)
    }

    /// Clients for a local emulator (moto) at `endpoint`, with throwaway credentials.
    #[cfg(feature = "testing")]
    pub async fn for_emulator(endpoint: &str) -> Self {
        let credentials =
            aws_credential_types::Credentials::new("testing", "testing", None, None, "emulator");
        let signed = SignedHttp::new(
            "eu-west-1",
            Some(aws_credential_types::provider::SharedCredentialsProvider::new(credentials)),
            TlsRoots::Amazon,
        );
        Self::assemble(Arc::new(signed), Some(endpoint))
    }

    /// Every client spoken over `signed` (and S3's SDK client, when linked):
    /// endpoints are resolved now, nothing is connected until the first call.
    fn assemble(signed: Arc<SignedHttp>, endpoint_url: Option<&str>) -> Self {
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
        #[cfg(feature = "aws-files")]
        let s3 = s3::S3Client::new(
            signed.clone(),
            s3::BucketAddress::resolve(endpoint_url, &region),
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
        let page = self
            .s3
            .list_versions(bucket, key, None)
            .await
            .expect("listing object versions");
        page.versions
            .iter()
            .filter(|version| version.key == key)
            .count()
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
        let region = region_from(&lambda).unwrap();
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
    fn without_a_key_pair_there_are_no_credentials() {
        let shell = lookup(&[
            ("AWS_DEFAULT_REGION", "ap-south-1"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
        ]);
        assert!(credentials_from(&shell).is_none());
        assert_eq!(region_from(&shell).as_deref(), Some("ap-south-1"));
        assert_eq!(region_from(lookup(&[])), None);
    }
}
