//! Questions and answers, per user and per conversation.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::json;

use super::{items_in, malformed, s, text, DynamoDb, Item};
use crate::error::{Error, Result};
use crate::model::{HistoryEntry, ListPosition, Page};
use crate::ports::HistoryStore;

pub struct DynamoHistoryStore {
    client: DynamoDb,
    table: String,
}

impl DynamoHistoryStore {
    pub(crate) fn new(client: DynamoDb, table: impl Into<String>) -> Self {
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
            .call("PutItem", json!({"TableName": self.table, "Item": item}))
            .await
            .map_err(|error| error.into_error("DynamoDB PutItem (history)"))?;
        Ok(())
    }

    async fn list(
        &self,
        user_id: &str,
        conversation_id: Option<&str>,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<HistoryEntry>> {
        let mut query = json!({
            "TableName": self.table,
            "ScanIndexForward": false,
            "Limit": limit + 1,
        });
        let mut start: Option<Item> = after.map(|position| {
            HashMap::from([
                ("userId".into(), s(user_id)),
                ("queryKey".into(), s(query_key(&position.at, &position.id))),
            ])
        });
        match conversation_id {
            Some(conversation_id) => {
                let key = conversation_key(user_id, conversation_id);
                if let Some(start) = start.as_mut() {
                    start.insert("conversationKey".into(), s(&key));
                }
                query["IndexName"] = json!("ConversationIndex");
                query["KeyConditionExpression"] = json!("conversationKey = :conversation");
                query["ExpressionAttributeValues"] = json!({":conversation": s(key)});
            }
            None => {
                query["KeyConditionExpression"] = json!("userId = :user");
                query["ExpressionAttributeValues"] = json!({":user": s(user_id)});
            }
        }
        if let Some(start) = start {
            query["ExclusiveStartKey"] = json!(start);
        }
        let mut output = self
            .client
            .call("Query", query)
            .await
            .map_err(|error| error.into_error("DynamoDB Query (history)"))?;
        let items = items_in(&mut output)?
            .iter()
            .map(history_from_item)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit))
    }
}
