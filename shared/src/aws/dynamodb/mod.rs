//! Metadata in DynamoDB: users (with a unique-email claim), revoked tokens
//! (expiring by TTL), documents (newest-first through `UserUploadDateIndex`)
//! and question history (by conversation through `ConversationIndex`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::sdk_error;
use crate::auth::email_taken;
use crate::error::{Error, Result};
use crate::model::{
    now, Document, DocumentStatus, HistoryEntry, ListPosition, Page, ProcessingOutcome, User,
};
use crate::ports::{DocumentStore, HistoryStore, TokenStore, UserStore};

type Item = HashMap<String, AttributeValue>;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn text(item: &Item, name: &str) -> Result<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(Error::Internal(anyhow::anyhow!(
            "DynamoDB item has no string `{name}`"
        ))),
    }
}

fn optional_text(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

fn optional_number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

fn malformed(what: &str) -> Error {
    Error::Internal(anyhow::anyhow!("malformed DynamoDB item: {what}"))
}

// ---------------------------------------------------------------- users

pub struct DynamoUserStore {
    client: Client,
    table: String,
}

impl DynamoUserStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoUserStore {
            client,
            table: table.into(),
        }
    }
}

/// The item that reserves an email: same table, no `email` attribute, so the
/// `EmailIndex` never sees it.
fn email_claim_key(email: &str) -> String {
    format!("email#{email}")
}

fn user_from_item(item: &Item) -> Result<User> {
    Ok(User {
        user_id: text(item, "userId")?,
        email: text(item, "email")?,
        name: optional_text(item, "name"),
        password_hash: text(item, "passwordHash")?,
        created_at: text(item, "createdAt")?,
    })
}

#[async_trait]
impl UserStore for DynamoUserStore {
    async fn create(&self, user: &User) -> Result<()> {
        let mut item: Item = HashMap::from([
            ("userId".into(), s(&user.user_id)),
            ("email".into(), s(&user.email)),
            ("passwordHash".into(), s(&user.password_hash)),
            ("createdAt".into(), s(&user.created_at)),
        ]);
        if let Some(name) = &user.name {
            item.insert("name".into(), s(name));
        }
        let claim: Item = HashMap::from([
            ("userId".into(), s(email_claim_key(&user.email))),
            ("owner".into(), s(&user.user_id)),
        ]);
        let put = |item: Item| -> Result<TransactWriteItem> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(userId)")
                .build()
                .map_err(|error| Error::Internal(error.into()))?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        // Both or neither: the account and the claim on its email.
        let result = self
            .client
            .transact_write_items()
            .transact_items(put(claim)?)
            .transact_items(put(item)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                let taken = error.as_service_error().is_some_and(|service| {
                    service.is_transaction_canceled_exception()
                        && format!("{service:?}").contains("ConditionalCheckFailed")
                });
                if taken {
                    Err(email_taken())
                } else {
                    Err(sdk_error("DynamoDB TransactWriteItems (users)", error))
                }
            }
        }
    }

    async fn get(&self, user_id: &str) -> Result<Option<User>> {
        if user_id.starts_with("email#") {
            return Ok(None);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("userId", s(user_id))
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB GetItem (users)", error))?;
        output.item().map(user_from_item).transpose()
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<User>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("EmailIndex")
            .key_condition_expression("email = :email")
            .expression_attribute_values(":email", s(email))
            .limit(1)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB Query (EmailIndex)", error))?;
        output.items().first().map(user_from_item).transpose()
    }
}

// ---------------------------------------------------------------- revoked tokens

pub struct DynamoTokenStore {
    client: Client,
    table: String,
}

impl DynamoTokenStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
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
            .client
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

// ---------------------------------------------------------------- documents

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
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(user_id, document_id)))
            .update_expression("SET #status = :processing, updatedAt = :now REMOVE statusReason")
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
            .send()
            .await;
        applied(result, "DynamoDB UpdateItem (start processing)")
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
        applied(
            update.send().await,
            "DynamoDB UpdateItem (finish processing)",
        )
    }

    async fn stuck_in_processing(
        &self,
        updated_before: &str,
        limit: usize,
    ) -> Result<Vec<Document>> {
        // StatusIndex holds keys only; each hit is then read whole.
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("StatusIndex")
            .key_condition_expression("#status = :processing AND updatedAt < :before")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":processing", s("processing"))
            .expression_attribute_values(":before", s(updated_before))
            .limit(limit as i32)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB Query (StatusIndex)", error))?;
        let mut documents = Vec::new();
        for key in output.items() {
            let (user_id, document_id) = (text(key, "userId")?, text(key, "documentId")?);
            if let Some(document) = self.get(&user_id, &document_id).await? {
                documents.push(document);
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

/// Whether a conditional update applied: a failed condition is an answer
/// (`false`), not an error.
fn applied<T>(
    result: std::result::Result<
        T,
        aws_smithy_runtime_api::client::result::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    >,
    context: &'static str,
) -> Result<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(error) => Err(sdk_error(context, error)),
    }
}

// ---------------------------------------------------------------- history

pub struct DynamoHistoryStore {
    client: Client,
    table: String,
}

impl DynamoHistoryStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoHistoryStore {
            client,
            table: table.into(),
        }
    }
}

/// Sort key: creation time first, so a user's items come newest first.
fn query_key(created_at: &str, query_id: &str) -> String {
    format!("{created_at}#{query_id}")
}

fn conversation_key(user_id: &str, conversation_id: &str) -> String {
    format!("{user_id}#{conversation_id}")
}

fn history_from_item(item: &Item) -> Result<HistoryEntry> {
    Ok(HistoryEntry {
        query_id: text(item, "queryId")?,
        user_id: text(item, "userId")?,
        conversation_id: text(item, "conversationId")?,
        question: text(item, "question")?,
        answer: text(item, "answer")?,
        citations: serde_json::from_str(&text(item, "citations")?)
            .map_err(|_| malformed("citations"))?,
        model: text(item, "model")?,
        created_at: text(item, "createdAt")?,
    })
}

#[async_trait]
impl HistoryStore for DynamoHistoryStore {
    async fn append(&self, entry: &HistoryEntry) -> Result<()> {
        let citations = serde_json::to_string(&entry.citations)
            .map_err(|error| Error::Internal(error.into()))?;
        let item: Item = HashMap::from([
            ("userId".into(), s(&entry.user_id)),
            (
                "queryKey".into(),
                s(query_key(&entry.created_at, &entry.query_id)),
            ),
            (
                "conversationKey".into(),
                s(conversation_key(&entry.user_id, &entry.conversation_id)),
            ),
            ("queryId".into(), s(&entry.query_id)),
            ("conversationId".into(), s(&entry.conversation_id)),
            ("question".into(), s(&entry.question)),
            ("answer".into(), s(&entry.answer)),
            ("citations".into(), s(citations)),
            ("model".into(), s(&entry.model)),
            ("createdAt".into(), s(&entry.created_at)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB PutItem (history)", error))?;
        Ok(())
    }

    async fn list(
        &self,
        user_id: &str,
        conversation_id: Option<&str>,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<HistoryEntry>> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .scan_index_forward(false)
            .limit(limit as i32 + 1);
        let mut start: Option<Item> = after.map(|position| {
            HashMap::from([
                ("userId".into(), s(user_id)),
                ("queryKey".into(), s(query_key(&position.at, &position.id))),
            ])
        });
        query = match conversation_id {
            Some(conversation_id) => {
                let key = conversation_key(user_id, conversation_id);
                if let Some(start) = start.as_mut() {
                    start.insert("conversationKey".into(), s(&key));
                }
                query
                    .index_name("ConversationIndex")
                    .key_condition_expression("conversationKey = :conversation")
                    .expression_attribute_values(":conversation", s(key))
            }
            None => query
                .key_condition_expression("userId = :user")
                .expression_attribute_values(":user", s(user_id)),
        };
        let output = query
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|error| sdk_error("DynamoDB Query (history)", error))?;
        let items = output
            .items()
            .iter()
            .map(history_from_item)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit))
    }
}
