//! The JWT signing secret kept in Secrets Manager, read once per container
//! on first use, over Secrets Manager's JSON protocol ([`super::json_rpc`]).

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::json;

use super::json_rpc::JsonClient;
use crate::error::{Error, Result};
use crate::ports::SigningSecret;

pub struct SecretsManagerSecret {
    client: JsonClient,
    arn: String,
    min_bytes: usize,
}

impl SecretsManagerSecret {
    pub(crate) fn new(client: JsonClient, arn: &str, min_bytes: usize) -> Self {
        SecretsManagerSecret {
            client,
            arn: arn.to_string(),
            min_bytes,
        }
    }
}

#[async_trait]
impl SigningSecret for SecretsManagerSecret {
    async fn load(&self) -> Result<Vec<u8>> {
        let secret = self
            .client
            .call("GetSecretValue", &json!({"SecretId": self.arn}))
            .await
            .map_err(|error| error.into_error("Secrets Manager GetSecretValue (JWT secret)"))?;
        let binary = || {
            secret["SecretBinary"].as_str().and_then(|encoded| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
            })
        };
        let value = secret["SecretString"]
            .as_str()
            .map(|text| text.as_bytes().to_vec())
            .or_else(binary)
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!("the JWT secret {} has no value", self.arn))
            })?;
        if value.len() < self.min_bytes {
            return Err(Error::Internal(anyhow::anyhow!(
                "the JWT secret {} is shorter than {} bytes",
                self.arn,
                self.min_bytes
            )));
        }
        Ok(value)
    }
}
