//! Revoked tokens, forgotten by TTL once they would have expired anyway.

use async_trait::async_trait;
use serde_json::json;

use super::{n, s, DynamoDb};
use crate::error::Result;
use crate::ports::TokenStore;

pub struct DynamoTokenStore {
    client: DynamoDb,
    table: String,
}

impl DynamoTokenStore {
    pub(crate) fn new(client: DynamoDb, table: impl Into<String>) -> Self {
        DynamoTokenStore {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl TokenStore for DynamoTokenStore {
    async fn revoke(&self, token_id: &str, expires_at: i64) -> Result<()> {
        // `expiresAt` is the table's TTL attribute: DynamoDB forgets the entry
        // once the token would have expired anyway.
        self.client
            .call(
                "PutItem",
                json!({
                    "TableName": self.table,
                    "Item": {"tokenId": s(token_id), "expiresAt": n(expires_at)},
                }),
            )
            .await
            .map_err(|error| error.into_error("DynamoDB PutItem (revoked tokens)"))?;
        Ok(())
    }

    async fn is_revoked(&self, token_id: &str) -> Result<bool> {
        let output = self
            .client
            .call(
                "GetItem",
                json!({
                    "TableName": self.table,
                    "Key": {"tokenId": s(token_id)},
                    "ConsistentRead": true,
                }),
            )
            .await
            .map_err(|error| error.into_error("DynamoDB GetItem (revoked tokens)"))?;
        Ok(output.get("Item").is_some_and(|item| !item.is_null()))
    }
}
