//! Revoked tokens, forgotten by TTL once they would have expired anyway.

use async_trait::async_trait;

use super::{n, s};
use crate::aws::errors::sdk_error;
use crate::aws::AwsClients;
use crate::error::Result;
use crate::ports::TokenStore;

pub struct DynamoTokenStore {
    clients: AwsClients,
    table: String,
}

impl DynamoTokenStore {
    pub(crate) fn new(clients: AwsClients, table: impl Into<String>) -> Self {
        DynamoTokenStore {
            clients,
            table: table.into(),
        }
    }
}

#[async_trait]
impl TokenStore for DynamoTokenStore {
    async fn revoke(&self, token_id: &str, expires_at: i64) -> Result<()> {
        // `expiresAt` is the table's TTL attribute: DynamoDB forgets the entry
        // once the token would have expired anyway.
        self.clients
            .dynamodb()
            .await
            .put_item()
            .table_name(&self.table)
            .item("tokenId", s(token_id))
            .item("expiresAt", n(expires_at))
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB PutItem (revoked tokens)", error))?;
        Ok(())
    }

    async fn is_revoked(&self, token_id: &str) -> Result<bool> {
        let output = self
            .clients
            .dynamodb()
            .await
            .get_item()
            .table_name(&self.table)
            .key("tokenId", s(token_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB GetItem (revoked tokens)", error))?;
        Ok(output.item().is_some())
    }
}
