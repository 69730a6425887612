//! Document metadata: by owner, newest first, and by status for the sweep.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::json;

use super::{
    item_in, items_from, items_in, malformed, n, optional_number, optional_text, s, text,
    unless_condition_failed, DynamoDb, Item,
};
use crate::aws::json_rpc::CallError;
use crate::error::Result;
use crate::model::{now, Document, DocumentStatus, ListPosition, Page, ProcessingOutcome};
use crate::ports::DocumentStore;

pub struct DynamoDocumentStore {
    client: DynamoDb,
    table: String,
}

impl DynamoDocumentStore {
    pub(crate) fn new(client: DynamoDb, table: impl Into<String>) -> Self {
        DynamoDocumentStore {
            client,
            table: table.into(),
        }
    }

    /// An UpdateItem of a document (`#status` naming its status) that applies
    /// only while `condition` holds: `None` when it did not.
    async fn update_status(
        &self,
        (user_id, document_id): (&str, &str),
        update: &str,
        condition: &str,
        values: serde_json::Value,
        return_values: &str,
    ) -> std::result::Result<Option<serde_json::Value>, CallError> {
        let result = self
            .client
            .call(
                "UpdateItem",
                json!({
                    "TableName": self.table,
                    "Key": Self::key(user_id, document_id),
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": values,
                    "ReturnValues": return_values,
                }),
            )
            .await;
        unless_condition_failed(result)
    }

    fn key(user_id: &str, document_id: &str) -> Item {
        HashMap::from([
            ("userId".into(), s(user_id)),
            ("documentId".into(), s(document_id)),
        ])
    }
}

fn document_from_item(item: &Item) -> Result<Document> {
    Ok(Document {
        user_id: text(item, "userId")?,
        document_id: text(item, "documentId")?,
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
        self.client
            .call(
                "PutItem",
                json!({
                    "TableName": self.table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(documentId)",
                }),
            )
            .await
            .map_err(|error| error.into_error("DynamoDB PutItem (documents)"))?;
        Ok(())
    }

    async fn get(&self, user_id: &str, document_id: &str) -> Result<Option<Document>> {
        let mut output = self
            .client
            .call(
                "GetItem",
                json!({
                    "TableName": self.table,
                    "Key": Self::key(user_id, document_id),
                    "ConsistentRead": true,
                }),
            )
            .await
            .map_err(|error| error.into_error("DynamoDB GetItem (documents)"))?;
        item_in(&mut output, "Item")?
            .as_ref()
            .map(document_from_item)
            .transpose()
    }

    async fn get_many(&self, user_id: &str, document_ids: &[String]) -> Result<Vec<Document>> {
        // BatchGetItem: up to 100 keys a call, answered in any order. Keys
        // DynamoDB leaves unprocessed (under load) are asked again after the
        // SDK's back-off, as many times as a throttled call would be.
        let mut unique: Vec<&String> = document_ids.iter().collect();
        unique.sort();
        unique.dedup();
        let mut found: HashMap<String, Document> = HashMap::new();
        for batch in unique.chunks(100) {
            let mut keys: Vec<Item> = batch.iter().map(|id| Self::key(user_id, id)).collect();
            let mut round = 0;
            while !keys.is_empty() {
                if round > 0 {
                    if round >= crate::aws::json_rpc::max_attempts() {
                        return Err(crate::error::Error::Unavailable(anyhow::anyhow!(
                            "DynamoDB BatchGetItem (documents): keys still unprocessed after {round} calls"
                        )));
                    }
                    tokio::time::sleep(crate::aws::json_rpc::backoff(round - 1)).await;
                }
                let mut output = self
                    .client
                    .call(
                        "BatchGetItem",
                        json!({
                            "RequestItems": {
                                &self.table: { "Keys": keys, "ConsistentRead": true }
                            },
                        }),
                    )
                    .await
                    .map_err(|error| error.into_error("DynamoDB BatchGetItem (documents)"))?;
                let mut table_field = |field: &str| {
                    output
                        .get_mut(field)
                        .and_then(|tables| tables.get_mut(&self.table))
                        .map(serde_json::Value::take)
                };
                let items = items_from(table_field("Responses"), "Responses")?;
                let unprocessed = table_field("UnprocessedKeys")
                    .and_then(|mut left| left.get_mut("Keys").map(serde_json::Value::take));
                keys = items_from(unprocessed, "UnprocessedKeys")?;
                for item in &items {
                    let document = document_from_item(item)?;
                    found.insert(document.document_id.clone(), document);
                }
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
        user_id: &str,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<Document>> {
        let mut query = json!({
            "TableName": self.table,
            "IndexName": "UserUploadDateIndex",
            "KeyConditionExpression": "userId = :user",
            "ExpressionAttributeValues": {":user": s(user_id)},
            "ScanIndexForward": false,
            "Limit": limit + 1,
        });
        if let Some(position) = after {
            let mut start = Self::key(user_id, &position.id);
            start.insert("uploadDate".into(), s(&position.at));
            query["ExclusiveStartKey"] = json!(start);
        }
        let mut output = self
            .client
            .call("Query", query)
            .await
            .map_err(|error| error.into_error("DynamoDB Query (UserUploadDateIndex)"))?;
        let items = items_in(&mut output)?
            .iter()
            .map(document_from_item)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit))
    }

    async fn start_processing(
        &self,
        user_id: &str,
        document_id: &str,
        stale_before: &str,
    ) -> Result<Option<u32>> {
        let started = self
            .update_status(
                (user_id, document_id),
                "SET #status = :processing, updatedAt = :now REMOVE statusReason ADD attempts :one",
                "attribute_exists(documentId) AND (#status IN (:pending, :failed) \
                 OR (#status = :processing AND updatedAt < :stale))",
                json!({
                    ":processing": s("processing"),
                    ":pending": s("pending"),
                    ":failed": s("failed"),
                    ":stale": s(stale_before),
                    ":now": s(now()),
                    ":one": n(1),
                }),
                "UPDATED_NEW",
            )
            .await
            .map_err(|error| error.into_error("DynamoDB UpdateItem (start processing)"))?;
        match started {
            Some(mut output) => Ok(Some(
                item_in(&mut output, "Attributes")?
                    .and_then(|attributes| optional_number(&attributes, "attempts"))
                    .unwrap_or(1),
            )),
            None => Ok(None),
        }
    }

    async fn finish_processing(
        &self,
        user_id: &str,
        document_id: &str,
        outcome: &ProcessingOutcome,
    ) -> Result<bool> {
        let (expression, values) = match outcome {
            ProcessingOutcome::Ready { pages, chunks } => (
                "SET #status = :ready, pages = :pages, chunks = :chunks, updatedAt = :now REMOVE statusReason",
                json!({":ready": s("ready"), ":pages": n(pages), ":chunks": n(chunks), ":now": s(now())}),
            ),
            ProcessingOutcome::Failed { reason } => (
                "SET #status = :failed, statusReason = :reason, updatedAt = :now REMOVE pages, chunks",
                json!({":failed": s("failed"), ":reason": s(reason), ":now": s(now())}),
            ),
        };
        let finished = self
            .update_status(
                (user_id, document_id),
                expression,
                "attribute_exists(documentId)",
                values,
                "NONE",
            )
            .await
            .map_err(|error| error.into_error("DynamoDB UpdateItem (finish processing)"))?;
        Ok(finished.is_some())
    }

    async fn in_status_since(
        &self,
        status: DocumentStatus,
        updated_before: &str,
        limit: usize,
    ) -> Result<Vec<Document>> {
        // StatusIndex holds keys only; each hit is then read whole.
        let mut output = self
            .client
            .call(
                "Query",
                json!({
                    "TableName": self.table,
                    "IndexName": "StatusIndex",
                    "KeyConditionExpression": "#status = :status AND updatedAt < :before",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":status": s(status.as_str()),
                        ":before": s(updated_before),
                    },
                    "Limit": limit,
                }),
            )
            .await
            .map_err(|error| error.into_error("DynamoDB Query (StatusIndex)"))?;
        let mut documents = Vec::new();
        for key in &items_in(&mut output)? {
            let (user_id, document_id) = (text(key, "userId")?, text(key, "documentId")?);
            if let Some(document) = self.get(&user_id, &document_id).await? {
                // The index is eventually consistent: trust only the item itself.
                if document.status == status {
                    documents.push(document);
                }
            }
        }
        Ok(documents)
    }

    async fn delete(&self, user_id: &str, document_id: &str) -> Result<bool> {
        let mut output = self
            .client
            .call(
                "DeleteItem",
                json!({
                    "TableName": self.table,
                    "Key": Self::key(user_id, document_id),
                    "ReturnValues": "ALL_OLD",
                }),
            )
            .await
            .map_err(|error| error.into_error("DynamoDB DeleteItem (documents)"))?;
        Ok(item_in(&mut output, "Attributes")?.is_some_and(|attributes| !attributes.is_empty()))
    }
}
