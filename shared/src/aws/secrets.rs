//! The JWT signing secret kept in Secrets Manager, read once per container
//! on first use.

use async_trait::async_trait;

use super::errors::sdk_error;
use super::AwsClients;
use crate::error::{Error, Result};
use crate::ports::SigningSecret;

pub struct SecretsManagerSecret {
    clients: AwsClients,
    arn: String,
    min_bytes: usize,
}

impl SecretsManagerSecret {
    pub(crate) fn new(clients: AwsClients, arn: &str, min_bytes: usize) -> Self {
        SecretsManagerSecret {
            clients,
            arn: arn.to_string(),
            min_bytes,
        }
    }
}

#[async_trait]
impl SigningSecret for SecretsManagerSecret {
    async fn load(&self) -> Result<Vec<u8>> {
        let secret = self
            .clients
            .secrets()
            .await
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
