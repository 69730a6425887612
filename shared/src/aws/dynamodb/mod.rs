//! Metadata in DynamoDB: users (with a unique-email claim), revoked tokens
//! (expiring by TTL), documents (newest-first through `UserUploadDateIndex`,
//! by status through `StatusIndex`) and question history (by conversation
//! through `ConversationIndex`). Table layouts: template.yaml and
//! [`super::bootstrap`], kept in step by a test.

mod documents;
mod history;
mod tokens;
mod users;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::{Error, Result};

pub use documents::DynamoDocumentStore;
pub use history::DynamoHistoryStore;
pub use tokens::DynamoTokenStore;
pub use users::DynamoUserStore;

type Item = HashMap<String, AttributeValue>;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn text(item: &Item, name: &str) -> Result<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(Error::Internal(anyhow::anyhow!(
            "DynamoDB item has no string `{name}`"
        ))),
    }
}

pub(super) fn optional_text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

pub(super) fn optional_number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

pub(super) fn malformed(what: &str) -> Error {
    Error::Internal(anyhow::anyhow!("malformed DynamoDB item: {what}"))
}
