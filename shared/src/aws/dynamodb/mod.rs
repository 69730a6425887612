//! Metadata in DynamoDB: users (with a unique-email claim), revoked tokens
//! (expiring by TTL), documents (newest-first through `UserUploadDateIndex`,
//! by status through `StatusIndex`) and question history (by conversation
//! through `ConversationIndex`). Table layouts: template.yaml and
//! [`super::bootstrap`], kept in step by a test.
//!
//! Spoken directly over DynamoDB's JSON protocol ([`super::json_rpc`]), not
//! through the SDK: see [`super::signed`] for why.

mod documents;
mod history;
mod tokens;
mod users;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json_rpc::{CallError, JsonClient};
use crate::error::{Error, Result};

pub use documents::DynamoDocumentStore;
pub use history::DynamoHistoryStore;
pub use tokens::DynamoTokenStore;
pub use users::DynamoUserStore;

/// A DynamoDB value in the wire format's own shape: `{"S": "text"}`,
/// `{"N": "42"}`, … (serde's externally tagged enums are exactly that).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum AttributeValue {
    S(String),
    N(String),
    /// Base64, as sent on the wire.
    B(String),
    #[serde(rename = "BOOL")]
    Bool(bool),
    #[serde(rename = "NULL")]
    Null(bool),
    #[serde(rename = "SS")]
    StringSet(Vec<String>),
    #[serde(rename = "NS")]
    NumberSet(Vec<String>),
    #[serde(rename = "BS")]
    BinarySet(Vec<String>),
    L(Vec<AttributeValue>),
    M(HashMap<String, AttributeValue>),
}

pub(crate) type Item = HashMap<String, AttributeValue>;

/// DynamoDB's client: each call takes and answers the operation's JSON.
#[derive(Clone)]
pub(crate) struct DynamoDb(pub(crate) JsonClient);

impl DynamoDb {
    pub async fn call(
        &self,
        operation: &str,
        input: Value,
    ) -> std::result::Result<Value, CallError> {
        self.0.call(operation, &input).await
    }
}

/// The item under `field` of an output (`Item`, `Attributes`), if any.
pub(super) fn item_in(output: &mut Value, field: &str) -> Result<Option<Item>> {
    match output.get_mut(field).map(Value::take) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|error| malformed(&format!("{field}: {error}"))),
    }
}

/// The items of a Query's output.
pub(super) fn items_in(output: &mut Value) -> Result<Vec<Item>> {
    items_from(output.get_mut("Items").map(Value::take), "Items")
}

/// A list of items (`what` names it in errors); none when absent or null.
pub(super) fn items_from(list: Option<Value>, what: &str) -> Result<Vec<Item>> {
    match list {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(value) => {
            serde_json::from_value(value).map_err(|error| malformed(&format!("{what}: {error}")))
        }
    }
}

/// A call whose condition may fail: a failed condition is an answer
/// (`None`), not an error.
pub(super) fn unless_condition_failed(
    result: std::result::Result<Value, CallError>,
) -> std::result::Result<Option<Value>, CallError> {
    match result {
        Ok(output) => Ok(Some(output)),
        Err(error) if error.code() == Some("ConditionalCheckFailedException") => Ok(None),
        Err(error) => Err(error),
    }
}

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
