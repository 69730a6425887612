//! Document metadata: by owner, newest first, and by status for the sweep.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::{
    conditional, malformed, n, optional_number, optional_text, query_at_least, s, text,
    ConditionalWrite, Item,
};
use crate::aws::errors::sdk_error;
use crate::aws::AwsClients;
use crate::config::Quota;
use crate::error::{Error, Result};
use crate::model::{
    now, Document, DocumentId, DocumentStatus, ListPosition, Page, ProcessingOutcome, StorageUsage,
    UserId,
};
use crate::ports::DocumentStore;

/// Marks a document whose place in its owner's quota was taken when it was
/// created, so that its delete gives it back.
const COUNTED: &str = "quotaCounted";
/// The item holding an owner's usage counters: beside their documents, under
/// a document id no document can have, and outside both indexes (it has no
/// uploadDate or status).
const USAGE_ITEM: &str = "#usage";

fn usage_key(user_id: &UserId) -> Item {
    HashMap::from([
        ("userId".into(), s(user_id)),
        ("documentId".into(), s(USAGE_ITEM)),
    ])
}

/// How a transaction of conditional writes ended.
#[derive(Debug, PartialEq, Eq)]
enum Transaction {
    Applied,
    /// Nothing written: the condition of the item at this index failed.
    RefusedAt(usize),
}

/// Whether a transaction was cancelled because the condition of its
/// `index`-th item failed.
fn refused_by_condition<R>(
    error: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
    index: usize,
) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled
                .cancellation_reasons()
                .get(index)
                .and_then(|reason| reason.code())
                == Some("ConditionalCheckFailed")
        }
        _ => false,
    }
}

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

    /// Writes `items` all or none. A retry of a transaction that landed (its
    /// answer lost) is recognised by its token, not applied twice.
    async fn transact(&self, context: &str, items: Vec<TransactWriteItem>) -> Result<Transaction> {
        let count = items.len();
        let result = self
            .clients
            .dynamodb()
            .await
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Transaction::Applied),
            Err(error) => match (0..count).find(|&index| refused_by_condition(&error, index)) {
                Some(index) => Ok(Transaction::RefusedAt(index)),
                None => Err(sdk_error(context, error)),
            },
        }
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
    async fn create(&self, document: &Document, quota: &Quota) -> Result<bool> {
        let mut item = Self::key(&document.user_id, &document.document_id);
        item.extend([
            ("fileName".into(), s(&document.file_name)),
            ("contentType".into(), s(&document.content_type)),
            ("size".into(), n(document.size)),
            ("objectKey".into(), s(&document.key)),
            ("status".into(), s(document.status.as_str())),
            ("uploadDate".into(), s(&document.upload_date)),
            ("updatedAt".into(), s(&document.updated_at)),
            // Its delete gives its place back (documents older than quotas don't).
            (COUNTED.into(), AttributeValue::Bool(true)),
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
        if document.size > quota.bytes {
            return Ok(false);
        }
        let internal = |error: aws_sdk_dynamodb::error::BuildError| Error::Internal(error.into());
        // The owner's counter and the document in one transaction: the
        // counter's condition makes concurrent creates take places one by one.
        let take_place = Update::builder()
            .table_name(&self.table)
            .set_key(Some(usage_key(&document.user_id)))
            .update_expression("ADD #documents :one, #bytes :size")
            .condition_expression(
                "attribute_not_exists(#documents) OR (#documents < :most AND #bytes <= :room)",
            )
            .expression_attribute_names("#documents", "documents")
            .expression_attribute_names("#bytes", "bytes")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":size", n(document.size))
            .expression_attribute_values(":most", n(quota.documents))
            .expression_attribute_values(":room", n(quota.bytes - document.size))
            .build()
            .map_err(internal)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(documentId)")
            .build()
            .map_err(internal)?;
        let context = "DynamoDB TransactWriteItems (new document)";
        let items = vec![
            TransactWriteItem::builder().update(take_place).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        match self.transact(context, items).await? {
            Transaction::Applied => Ok(true),
            Transaction::RefusedAt(0) => Ok(false),
            // The document exists: a retry of this very transaction whose
            // first attempt landed, its answer lost (where the token is not
            // honoured), finds its own item; anything else is a real clash.
            Transaction::RefusedAt(_) => {
                let existing = self.get(&document.user_id, &document.document_id).await?;
                match existing.as_ref() == Some(document) {
                    true => Ok(true),
                    false => Err(Error::Internal(anyhow::anyhow!(
                        "{context}: document {} already exists",
                        document.document_id
                    ))),
                }
            }
        }
    }

    async fn usage(&self, user_id: &UserId) -> Result<StorageUsage> {
        let output = self
            .clients
            .dynamodb()
            .await
            .get_item()
            .table_name(&self.table)
            .set_key(Some(usage_key(user_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB GetItem (storage usage)", error))?;
        let Some(item) = output.item else {
            return Ok(StorageUsage::default());
        };
        let count = |name: &str| optional_number::<i64>(&item, name).unwrap_or(0).max(0) as u64;
        Ok(StorageUsage {
            documents: count("documents"),
            bytes: count("bytes"),
        })
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
            ProcessingOutcome::Ready {
                pages,
                chunks,
                note: None,
            } => update
                .update_expression(
                    "SET #status = :ready, pages = :pages, chunks = :chunks, updatedAt = :now \
                     REMOVE statusReason, runId",
                )
                .expression_attribute_values(":ready", s("ready"))
                .expression_attribute_values(":pages", n(pages))
                .expression_attribute_values(":chunks", n(chunks)),
            ProcessingOutcome::Ready {
                pages,
                chunks,
                note: Some(note),
            } => update
                .update_expression(
                    "SET #status = :ready, pages = :pages, chunks = :chunks, updatedAt = :now, \
                     statusReason = :note REMOVE runId",
                )
                .expression_attribute_values(":ready", s("ready"))
                .expression_attribute_values(":pages", n(pages))
                .expression_attribute_values(":chunks", n(chunks))
                .expression_attribute_values(":note", s(note)),
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

    async fn report_progress(
        &self,
        user_id: &UserId,
        document_id: &DocumentId,
        progress: &str,
    ) -> Result<()> {
        let result = self
            .clients
            .dynamodb()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .condition_expression("#status = :processing")
            .update_expression("SET statusReason = :progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":processing", s("processing"))
            .expression_attribute_values(":progress", s(progress))
            .send()
            .await;
        // Refused: the run is over (or the document gone); nothing to say.
        conditional("DynamoDB UpdateItem (progress)", result, |_| None)?;
        Ok(())
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
        let client = self.clients.dynamodb().await;
        let found = client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .projection_expression("#size, #counted")
            .expression_attribute_names("#size", "size")
            .expression_attribute_names("#counted", COUNTED)
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB GetItem (documents)", error))?;
        let Some(found) = found.item else {
            return Ok(false);
        };
        if !matches!(found.get(COUNTED), Some(AttributeValue::Bool(true))) {
            let output = client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(user_id, document_id)))
                .return_values(ReturnValue::AllOld)
                .send()
                .await
                .map_err(|error| sdk_error("DynamoDB DeleteItem (documents)", error))?;
            return Ok(output
                .attributes()
                .is_some_and(|attributes| !attributes.is_empty()));
        }
        let size = found
            .get("size")
            .cloned()
            .ok_or_else(|| malformed("size"))?;
        let internal = |error: aws_sdk_dynamodb::error::BuildError| Error::Internal(error.into());
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .condition_expression("attribute_exists(documentId)")
            .build()
            .map_err(internal)?;
        let give_back = Update::builder()
            .table_name(&self.table)
            .set_key(Some(usage_key(user_id)))
            .update_expression("ADD #documents :minus_one, #bytes :minus_size")
            .expression_attribute_names("#documents", "documents")
            .expression_attribute_names("#bytes", "bytes")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(
                ":minus_size",
                match size {
                    AttributeValue::N(size) => AttributeValue::N(format!("-{size}")),
                    _ => return Err(malformed("size")),
                },
            )
            .build()
            .map_err(internal)?;
        let items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(give_back).build(),
        ];
        let context = "DynamoDB TransactWriteItems (delete document)";
        // Refused: deleted by someone else meanwhile, its place given back then.
        Ok(self.transact(context, items).await? == Transaction::Applied)
    }
}
