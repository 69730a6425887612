//! The JWT signing secret kept in Secrets Manager, read once per container
//! on first use.

use async_trait::async_trait;

use super::errors::sdk_error;
use crate::error::{Error, Result};
use crate::ports::SigningSecret;

pub struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    min_bytes: usize,
}

impl SecretsManagerSecret {
    pub fn new(client: aws_sdk_secretsmanager::Client, arn: &str, min_bytes: usize) -> Self {
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
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|error| sdk_error("Secrets Manager GetSecretValue (JWT secret)", error))?;
        let value = secret
            .secret_string()
            .map(|text| text.as_bytes().to_vec())
            .or_else(|| secret.secret_binary().map(|blob| blob.as_ref().to_vec()))
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
