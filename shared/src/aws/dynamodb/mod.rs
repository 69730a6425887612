//! Metadata in DynamoDB: users (with a unique-email claim), revoked tokens
//! (expiring by TTL), documents (newest-first through `UserUploadDateIndex`,
//! by status through `StatusIndex`) and question history (by conversation
//! through `ConversationIndex`). Table layouts: template.yaml and
//! [`super::bootstrap`], kept in step by a test.
//!
//! Two things DynamoDB does that an emulator rarely shows, handled here for
//! every store: a Query stops at 1 MB of items, however many it was asked
//! for ([`query_at_least`] follows `LastEvaluatedKey`), and a conditional
//! write whose first attempt landed but whose answer was lost fails its own
//! condition when the SDK retries it ([`ConditionalWrite`] tells that apart by
//! the item DynamoDB returns).

mod documents;
mod history;
mod tokens;
mod users;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::errors::sdk_error;
use crate::error::{Error, Result};

pub use documents::DynamoDocumentStore;
pub use history::DynamoHistoryStore;
pub use tokens::DynamoTokenStore;
pub use users::DynamoUserStore;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// How a conditional write ended.
pub(crate) enum ConditionalWrite<T> {
    /// The write was applied (by this attempt or an earlier one of the same call).
    Applied(T),
    /// The condition failed; the item as it is (when it exists).
    Refused(Option<Item>),
}

/// A conditional write's result, with `ReturnValuesOnConditionCheckFailure`
/// set to `ALL_OLD`: a failed condition is an answer, not an error.
pub(crate) fn conditional<T, E>(
    context: &str,
    result: std::result::Result<
        T,
        SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    >,
    refused_item: impl FnOnce(&E) -> Option<Item>,
) -> Result<ConditionalWrite<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(ConditionalWrite::Applied(output)),
        Err(SdkError::ServiceError(service))
            if service.err().code() == Some("ConditionalCheckFailedException") =>
        {
            Ok(ConditionalWrite::Refused(refused_item(service.err())))
        }
        Err(error) => Err(sdk_error(context, error)),
    }
}

/// Runs `query` from `start` until it has at least `wanted` items or the
/// index is exhausted, following `LastEvaluatedKey` past DynamoDB's 1 MB
/// pages. Each page asks only for what is still missing.
pub(crate) async fn query_at_least(
    context: &str,
    query: QueryFluentBuilder,
    wanted: usize,
    mut start: Option<Item>,
) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    loop {
        let missing = wanted.saturating_sub(items.len()).max(1);
        let page = query
            .clone()
            .limit(i32::try_from(missing).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|error| sdk_error(context, error))?;
        let last_key = page.last_evaluated_key().cloned();
        items.extend(page.items.unwrap_or_default());
        match last_key {
            Some(key) if items.len() < wanted && !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
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
