//! Question history in SQLite.

use async_trait::async_trait;
use rusqlite::params;

use super::sqlite::{internal, SqliteDb};
use crate::error::{Error, Result};
use crate::model::{
    Citation, ConversationId, DocumentId, HistoryEntry, ListPosition, Page, UserId,
};
use crate::ports::HistoryStore;

pub struct SqliteHistoryStore {
    db: SqliteDb,
}

impl SqliteHistoryStore {
    pub fn new(db: SqliteDb) -> Self {
        SqliteHistoryStore { db }
    }
}

#[async_trait]
impl HistoryStore for SqliteHistoryStore {
    async fn append(&self, entry: &HistoryEntry) -> Result<()> {
        let entry = entry.clone();
        let citations = serde_json::to_string(&entry.citations)
            .map_err(|error| Error::Internal(error.into()))?;
        self.db
            .call(move |connection| {
                connection
                    .prepare_cached(
                        "INSERT INTO history (user_id, query_id, conversation_id, question, answer, citations, model, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![
                            entry.user_id, entry.query_id, entry.conversation_id, entry.question,
                            entry.answer, citations, entry.model, entry.created_at
                        ])
                    })
                    .map(|_| ())
                    .map_err(internal("recording a question"))
            })
            .await
    }

    async fn list(
        &self,
        user_id: &UserId,
        conversation_id: Option<&ConversationId>,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<HistoryEntry>> {
        let user_id = user_id.to_string();
        let conversation_id = conversation_id.map(ConversationId::to_string);
        let (at, id) = match after {
            Some(position) => (Some(position.at.clone()), Some(position.id.clone())),
            None => (None, None),
        };
        self.db
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached(
                        "SELECT * FROM history
                         WHERE user_id = ?1
                           AND (?2 IS NULL OR conversation_id = ?2)
                           AND (?3 IS NULL OR (created_at, query_id) < (?3, ?4))
                         ORDER BY created_at DESC, query_id DESC LIMIT ?5",
                    )
                    .map_err(internal("listing history"))?;
                let rows = statement
                    .query_map(
                        params![user_id, conversation_id, at, id, (limit + 1) as i64],
                        |row| {
                            let citations: String = row.get("citations")?;
                            Ok(HistoryEntry {
                                query_id: row.get("query_id")?,
                                user_id: row.get("user_id")?,
                                conversation_id: row.get("conversation_id")?,
                                question: row.get("question")?,
                                answer: row.get("answer")?,
                                citations: serde_json::from_str(&citations).unwrap_or_default(),
                                model: row.get("model")?,
                                created_at: row.get("created_at")?,
                            })
                        },
                    )
                    .map_err(internal("listing history"))?;
                let items = rows
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(internal("listing history"))?;
                Ok(Page::from_overfetch(items, limit))
            })
            .await
    }

    async fn forget_document(&self, user_id: &UserId, document_id: &DocumentId) -> Result<()> {
        let (user_id, document_id) = (user_id.to_string(), document_id.to_string());
        self.db
            .call(move |connection| {
                let transaction = connection
                    .transaction()
                    .map_err(internal("forgetting a document in history"))?;
                let citing: Vec<(String, String)> = {
                    let mut statement = transaction
                        .prepare_cached(
                            "SELECT query_id, citations FROM history
                             WHERE user_id = ?1 AND instr(citations, ?2) > 0",
                        )
                        .map_err(internal("forgetting a document in history"))?;
                    let rows = statement
                        .query_map(params![user_id, document_id], |row| {
                            Ok((row.get(0)?, row.get(1)?))
                        })
                        .map_err(internal("forgetting a document in history"))?;
                    rows.collect::<rusqlite::Result<_>>()
                        .map_err(internal("forgetting a document in history"))?
                };
                for (query_id, citations) in citing {
                    let Some(citations) = Citation::forget_document_in(&citations, &document_id)? else {
                        continue;
                    };
                    transaction
                        .execute(
                            "UPDATE history SET citations = ?3 WHERE user_id = ?1 AND query_id = ?2",
                            params![user_id, query_id, citations],
                        )
                        .map_err(internal("forgetting a document in history"))?;
                }
                transaction
                    .commit()
                    .map_err(internal("forgetting a document in history"))
            })
            .await
    }
}
