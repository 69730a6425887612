//! Document metadata: by owner, newest first, and by status for the sweep.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure,
};

use super::{
    conditional, malformed, n, optional_number, optional_text, query_at_least, s, text,
    ConditionalWrite, Item,
};
use crate::aws::errors::sdk_error;
use crate::aws::AwsClients;
use crate::error::{Error, Result};
use crate::model::{
    now, Document, DocumentId, DocumentStatus, ListPosition, Page, ProcessingOutcome, UserId,
};
use crate::ports::DocumentStore;

/// BatchGetItem reads at most this many keys a call.
const BATCH_GET_KEYS: usize = 100;
/// Calls for keys DynamoDB left unprocessed (under load) before giving up.
const BATCH_GET_ROUNDS: u32 = 3;

pub struct DynamoDocumentStore {
    clients: AwsClients,
    table: String,
}

impl DynamoDocumentStore {
    pub(crate) fn new(clients: AwsClients, table: impl Into<String>) -> Self {
        DynamoDocumentStore {
            clients,
            table: table.into(),
        }
    }

    fn key(user_id: &UserId, document_id: &DocumentId) -> Item {
        HashMap::from([
            ("userId".into(), s(user_id)),
            ("documentId".into(), s(document_id)),
        ])
    }

    /// One BatchGetItem call: the items found and the keys left unprocessed.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<(Vec<Item>, Vec<Item>)> {
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|error| Error::Internal(error.into()))?;
        let output = self
            .clients
            .dynamodb()
            .await
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB BatchGetItem (documents)", error))?;
        let items = output
            .responses
            .and_then(|mut tables| tables.remove(&self.table))
            .unwrap_or_default();
        let unprocessed = output
            .unprocessed_keys
            .and_then(|mut tables| tables.remove(&self.table))
            .map(|left| left.keys)
            .unwrap_or_default();
        Ok((items, unprocessed))
    }
}

fn document_from_item(item: &Item) -> Result<Document> {
    Ok(Document {
        user_id: UserId::new(text(item, "userId")?),
        document_id: DocumentId::new(text(item, "documentId")?),
        file_name: text(item, "fileName")?,
        content_type: text(item, "contentType")?,
        size: optional_number(item, "size").ok_or_else(|| malformed("size"))?,
        key: text(item, "objectKey")?,
        status: DocumentStatus::parse(&text(item, "status")?).ok_or_else(|| malformed("status"))?,
        status_reason: optional_text(item, "statusReason"),
        pages: optional_number(item, "pages"),
        chunks: optional_number(item, "chunks"),
        upload_date: text(item, "uploadDate")?,
        updated_at: text(item, "updatedAt")?,
        attempts: optional_number(item, "attempts").unwrap_or(0),
    })
}

/// The pause before asking again for keys left unprocessed: DynamoDB asks
/// for exponential back-off; jittered so callers don't return in step.
fn unprocessed_backoff(round: u32) -> Duration {
    let ceiling = Duration::from_millis(50u64 << round.min(6));
    let jitter = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0;
    ceiling.mul_f64(0.5 + jitter / 2.0)
}

#[async_trait]
impl DocumentStore for DynamoDocumentStore {
    async fn create(&self, document: &Document) -> Result<()> {
        let mut item = Self::key(&document.user_id, &document.document_id);
        item.extend([
            ("fileName".into(), s(&document.file_name)),
            ("contentType".into(), s(&document.content_type)),
            ("size".into(), n(document.size)),
            ("objectKey".into(), s(&document.key)),
            ("status".into(), s(document.status.as_str())),
            ("uploadDate".into(), s(&document.upload_date)),
            ("updatedAt".into(), s(&document.updated_at)),
        ]);
        if let Some(reason) = &document.status_reason {
            item.insert("statusReason".into(), s(reason));
        }
        if let Some(pages) = document.pages {
            item.insert("pages".into(), n(pages));
        }
        if let Some(chunks) = document.chunks {
            item.insert("chunks".into(), n(chunks));
        }
        let context = "DynamoDB PutItem (documents)";
        let result = self
            .clients
            .dynamodb()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(documentId)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let refused = |error: &PutItemError| match error {
            PutItemError::ConditionalCheckFailedException(failed) => failed.item.clone(),
            _ => None,
        };
        match conditional(context, result, refused)? {
            ConditionalWrite::Applied(_) => Ok(()),
            // A retry of a put that did land (its answer lost) finds our own item.
            ConditionalWrite::Refused(Some(existing)) if existing == item => Ok(()),
            ConditionalWrite::Refused(_) => Err(Error::Internal(anyhow::anyhow!(
                "{context}: document {} already exists",
                document.document_id
            ))),
        }
    }

    async fn get(&self, user_id: &UserId, document_id: &DocumentId) -> Result<Option<Document>> {
        let output = self
            .clients
            .dynamodb()
            .await
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB GetItem (documents)", error))?;
        output.item().map(document_from_item).transpose()
    }

    async fn get_many(
        &self,
        user_id: &UserId,
        document_ids: &[DocumentId],
    ) -> Result<Vec<Document>> {
        // BatchGetItem answers in any order and, under load, may leave keys
        // unprocessed for the caller to ask again (after a back-off).
        let mut unique: Vec<&DocumentId> = document_ids.iter().collect();
        unique.sort();
        unique.dedup();
        let mut found: HashMap<DocumentId, Document> = HashMap::new();
        for batch in unique.chunks(BATCH_GET_KEYS) {
            let mut keys: Vec<Item> = batch.iter().map(|id| Self::key(user_id, id)).collect();
            let mut round = 0;
            while !keys.is_empty() {
                if round == BATCH_GET_ROUNDS {
                    return Err(Error::Unavailable(anyhow::anyhow!(
                        "DynamoDB BatchGetItem (documents): {} keys still unprocessed after {round} calls",
                        keys.len()
                    )));
                }
                if round > 0 {
                    tokio::time::sleep(unprocessed_backoff(round - 1)).await;
                }
                let (items, unprocessed) = self.batch_get(keys).await?;
                for item in &items {
                    let document = document_from_item(item)?;
                    found.insert(document.document_id.clone(), document);
                }
                keys = unprocessed;
                round += 1;
            }
        }
        Ok(document_ids
            .iter()
            .filter_map(|id| found.get(id).cloned())
            .collect())
    }

    async fn list(
        &self,
        user_id: &UserId,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<Document>> {
        let start = after.map(|position| {
            let mut key = Self::key(user_id, &DocumentId::new(position.id.as_str()));
            key.insert("uploadDate".into(), s(&position.at));
            key
        });
        let query = self
            .clients
            .dynamodb()
            .await
            .query()
            .table_name(&self.table)
            .index_name("UserUploadDateIndex")
            .key_condition_expression("userId = :user")
            .expression_attribute_values(":user", s(user_id))
            .scan_index_forward(false);
        let items = query_at_least(
            "DynamoDB Query (UserUploadDateIndex)",
            query,
            limit + 1,
            start,
        )
        .await?
        .iter()
        .map(document_from_item)
        .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit))
    }

    async fn start_processing(
        &self,
        user_id: &UserId,
        document_id: &DocumentId,
        stale_before: &str,
    ) -> Result<Option<u32>> {
        // The run's own token tells a retry of this very update (which landed,
        // its answer lost) from another run that won the document.
        let run = uuid::Uuid::new_v4().to_string();
        let result = self
            .clients
            .dynamodb()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .update_expression(
                "SET #status = :processing, updatedAt = :now, runId = :run \
                 REMOVE statusReason ADD attempts :one",
            )
            .condition_expression(
                "attribute_exists(documentId) AND (#status IN (:uploading, :pending, :failed) \
                 OR (#status = :processing AND updatedAt < :stale))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":processing", s("processing"))
            .expression_attribute_values(":uploading", s("uploading"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":stale", s(stale_before))
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":run", s(&run))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let attempts = |item: Option<&Item>| {
            item.and_then(|item| optional_number(item, "attempts"))
                .unwrap_or(1)
        };
        let context = "DynamoDB UpdateItem (start processing)";
        let refused = |error: &UpdateItemError| match error {
            UpdateItemError::ConditionalCheckFailedException(failed) => failed.item.clone(),
            _ => None,
        };
        Ok(match conditional(context, result, refused)? {
            ConditionalWrite::Applied(output) => Some(attempts(output.attributes.as_ref())),
            ConditionalWrite::Refused(Some(item))
                if optional_text(&item, "runId").as_deref() == Some(run.as_str()) =>
            {
                Some(attempts(Some(&item)))
            }
            ConditionalWrite::Refused(_) => None,
        })
    }

    async fn finish_processing(
        &self,
        user_id: &UserId,
        document_id: &DocumentId,
        outcome: &ProcessingOutcome,
    ) -> Result<bool> {
        // Retrying this update is harmless: it sets the same values again.
        let update = self
            .clients
            .dynamodb()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .condition_expression("attribute_exists(documentId)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", s(now()));
        let update = match outcome {
            ProcessingOutcome::Ready { pages, chunks } => update
                .update_expression(
                    "SET #status = :ready, pages = :pages, chunks = :chunks, updatedAt = :now \
                     REMOVE statusReason, runId",
                )
                .expression_attribute_values(":ready", s("ready"))
                .expression_attribute_values(":pages", n(pages))
                .expression_attribute_values(":chunks", n(chunks)),
            ProcessingOutcome::Failed { reason } => update
                .update_expression(
                    "SET #status = :failed, statusReason = :reason, updatedAt = :now \
                     REMOVE pages, chunks, runId",
                )
                .expression_attribute_values(":failed", s("failed"))
                .expression_attribute_values(":reason", s(reason)),
        };
        let result = update.send().await;
        Ok(matches!(
            conditional("DynamoDB UpdateItem (finish processing)", result, |_| None)?,
            ConditionalWrite::Applied(_)
        ))
    }

    async fn in_status_since(
        &self,
        status: DocumentStatus,
        updated_before: &str,
        limit: usize,
    ) -> Result<Vec<Document>> {
        // StatusIndex holds keys only; each hit is then read whole.
        let query = self
            .clients
            .dynamodb()
            .await
            .query()
            .table_name(&self.table)
            .index_name("StatusIndex")
            .key_condition_expression("#status = :status AND updatedAt < :before")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":before", s(updated_before));
        let keys = query_at_least("DynamoDB Query (StatusIndex)", query, limit, None).await?;
        let mut documents = Vec::new();
        for key in keys.iter().take(limit) {
            let (user_id, document_id) = (
                UserId::new(text(key, "userId")?),
                DocumentId::new(text(key, "documentId")?),
            );
            if let Some(document) = self.get(&user_id, &document_id).await? {
                // The index is eventually consistent: trust only the item itself.
                if document.status == status {
                    documents.push(document);
                }
            }
        }
        Ok(documents)
    }

    async fn delete(&self, user_id: &UserId, document_id: &DocumentId) -> Result<bool> {
        let output = self
            .clients
            .dynamodb()
            .await
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB DeleteItem (documents)", error))?;
        Ok(output
            .attributes()
            .is_some_and(|attributes| !attributes.is_empty()))
    }
}
