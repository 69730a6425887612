//! Document metadata: by owner, newest first, and by status for the sweep.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::{malformed, n, optional_number, optional_text, s, text, Item};
use crate::aws::errors::sdk_error;
use crate::error::Result;
use crate::model::{now, Document, DocumentStatus, ListPosition, Page, ProcessingOutcome};
use crate::ports::DocumentStore;
use aws_sdk_dynamodb::types::ReturnValue;

pub struct DynamoDocumentStore {
    client: Client,
    table: String,
}

impl DynamoDocumentStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDocumentStore {
            client,
            table: table.into(),
        }
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
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(documentId)")
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB PutItem (documents)", error))?;
        Ok(())
    }

    async fn get(&self, user_id: &str, document_id: &str) -> Result<Option<Document>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB GetItem (documents)", error))?;
        output.item().map(document_from_item).transpose()
    }

    async fn list(
        &self,
        user_id: &str,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<Document>> {
        let start = after.map(|position| {
            let mut key = Self::key(user_id, &position.id);
            key.insert("uploadDate".into(), s(&position.at));
            key
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("UserUploadDateIndex")
            .key_condition_expression("userId = :user")
            .expression_attribute_values(":user", s(user_id))
            .scan_index_forward(false)
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB Query (UserUploadDateIndex)", error))?;
        let items = output
            .items()
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
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .update_expression(
                "SET #status = :processing, updatedAt = :now REMOVE statusReason ADD attempts :one",
            )
            .condition_expression(
                "attribute_exists(documentId) AND (#status IN (:pending, :failed) \
                 OR (#status = :processing AND updatedAt < :stale))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":processing", s("processing"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":stale", s(stale_before))
            .expression_attribute_values(":now", s(now()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        let attempt = |output: &aws_sdk_dynamodb::operation::update_item::UpdateItemOutput| {
            output
                .attributes()
                .and_then(|attributes| optional_number(attributes, "attempts"))
                .unwrap_or(1)
        };
        Ok(applied(result, "DynamoDB UpdateItem (start processing)")?
            .map(|output| attempt(&output)))
    }

    async fn finish_processing(
        &self,
        user_id: &str,
        document_id: &str,
        outcome: &ProcessingOutcome,
    ) -> Result<bool> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .condition_expression("attribute_exists(documentId)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", s(now()));
        let update = match outcome {
            ProcessingOutcome::Ready { pages, chunks } => update
                .update_expression("SET #status = :ready, pages = :pages, chunks = :chunks, updatedAt = :now REMOVE statusReason")
                .expression_attribute_values(":ready", s("ready"))
                .expression_attribute_values(":pages", n(pages))
                .expression_attribute_values(":chunks", n(chunks)),
            ProcessingOutcome::Failed { reason } => update
                .update_expression("SET #status = :failed, statusReason = :reason, updatedAt = :now REMOVE pages, chunks")
                .expression_attribute_values(":failed", s("failed"))
                .expression_attribute_values(":reason", s(reason)),
        };
        Ok(applied(
            update.send().await,
            "DynamoDB UpdateItem (finish processing)",
        )?
        .is_some())
    }

    async fn in_status_since(
        &self,
        status: DocumentStatus,
        updated_before: &str,
        limit: usize,
    ) -> Result<Vec<Document>> {
        // StatusIndex holds keys only; each hit is then read whole.
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("StatusIndex")
            .key_condition_expression("#status = :status AND updatedAt < :before")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":before", s(updated_before))
            .limit(limit as i32)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB Query (StatusIndex)", error))?;
        let mut documents = Vec::new();
        for key in output.items() {
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
        let output = self
            .client
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

/// The update's output when its condition held; a failed condition is an
/// answer (`None`), not an error.
fn applied<T>(
    result: std::result::Result<
        T,
        aws_smithy_runtime_api::client::result::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    >,
    context: &'static str,
) -> Result<Option<T>> {
    match result {
        Ok(output) => Ok(Some(output)),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(None)
        }
        Err(error) => Err(sdk_error(context, error)),
    }
}
