//! Questions and answers, per user and per conversation.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{malformed, query_at_least, s, text, Item};
use crate::aws::errors::sdk_error;
use crate::aws::AwsClients;
use crate::error::{Error, Result};
use crate::model::{
    Citation, ConversationId, DocumentId, HistoryEntry, ListPosition, Page, UserId,
};
use crate::ports::HistoryStore;

pub struct DynamoHistoryStore {
    clients: AwsClients,
    table: String,
}

impl DynamoHistoryStore {
    pub(crate) fn new(clients: AwsClients, table: impl Into<String>) -> Self {
        DynamoHistoryStore {
            clients,
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
        user_id: UserId::new(text(item, "userId")?),
        conversation_id: ConversationId::new(text(item, "conversationId")?),
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
        // One put of the whole entry: history is never half written, and a
        // retried put writes the same item again.
        self.clients
            .dynamodb()
            .await
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
        user_id: &UserId,
        conversation_id: Option<&ConversationId>,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<HistoryEntry>> {
        let mut start: Option<Item> = after.map(|position| {
            HashMap::from([
                ("userId".into(), s(user_id)),
                ("queryKey".into(), s(query_key(&position.at, &position.id))),
            ])
        });
        let query = self
            .clients
            .dynamodb()
            .await
            .query()
            .table_name(&self.table)
            .scan_index_forward(false);
        let query = match conversation_id {
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
        // Citations carry whole passages: a few dozen entries fill one of
        // DynamoDB's 1 MB pages, so the listing follows them.
        let items = query_at_least("DynamoDB Query (history)", query, limit + 1, start)
            .await?
            .iter()
            .map(history_from_item)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit))
    }

    async fn forget_document(&self, user_id: &UserId, document_id: &DocumentId) -> Result<()> {
        let client = self.clients.dynamodb().await;
        // Only entries whose citations name the document come back (the
        // filter reads the whole history, but sends back only those).
        let mut pages = client
            .query()
            .table_name(&self.table)
            .key_condition_expression("userId = :user")
            .filter_expression("contains(citations, :document)")
            .projection_expression("queryKey, citations")
            .expression_attribute_values(":user", s(user_id))
            .expression_attribute_values(":document", s(document_id))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|error| sdk_error("DynamoDB Query (history citations)", error))?;
            for item in page.items() {
                let Some(citations) =
                    Citation::forget_document_in(&text(item, "citations")?, document_id.as_str())?
                else {
                    continue;
                };
                client
                    .update_item()
                    .table_name(&self.table)
                    .key("userId", s(user_id))
                    .key("queryKey", s(text(item, "queryKey")?))
                    .update_expression("SET citations = :citations")
                    .condition_expression("attribute_exists(userId)")
                    .expression_attribute_values(":citations", s(citations))
                    .send()
                    .await
                    .map_err(|error| sdk_error("DynamoDB UpdateItem (history citations)", error))?;
            }
        }
        Ok(())
    }
}
