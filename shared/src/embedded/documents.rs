//! Document metadata in SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::sqlite::{internal, SqliteDb};
use crate::config::Quota;
use crate::error::Result;
use crate::model::{
    now, Document, DocumentId, DocumentStatus, ListPosition, Page, ProcessingOutcome, StorageUsage,
    UserId,
};
use crate::ports::DocumentStore;

pub struct SqliteDocumentStore {
    db: SqliteDb,
}

impl SqliteDocumentStore {
    pub fn new(db: SqliteDb) -> Self {
        SqliteDocumentStore { db }
    }
}

/// `SELECT` of a document's columns in the order [`document_from_row`]
/// reads them, then `$rest`. Columns are read by position: by name, rusqlite
/// compares the name with every column's, for every column of every row.
macro_rules! select_documents {
    ($rest:literal) => {
        concat!(
            "SELECT user_id, document_id, file_name, content_type, size, object_key, status, \
             status_reason, pages, chunks, upload_date, updated_at, attempts FROM documents ",
            $rest
        )
    };
}

fn document_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Document> {
    let status: String = row.get(6)?;
    Ok(Document {
        user_id: row.get(0)?,
        document_id: row.get(1)?,
        file_name: row.get(2)?,
        content_type: row.get(3)?,
        size: row.get::<_, i64>(4)? as u64,
        key: row.get(5)?,
        status: DocumentStatus::parse(&status).unwrap_or(DocumentStatus::Failed),
        status_reason: row.get(7)?,
        pages: row.get(8)?,
        chunks: row.get(9)?,
        upload_date: row.get(10)?,
        updated_at: row.get(11)?,
        attempts: row.get(12)?,
    })
}

#[async_trait]
impl DocumentStore for SqliteDocumentStore {
    async fn create(&self, document: &Document, quota: &Quota) -> Result<bool> {
        let (d, quota) = (document.clone(), *quota);
        self.db
            .call(move |connection| {
                // One writer connection, and the count and the insert in one
                // transaction: two uploads can't both take the last place.
                let transaction = connection
                    .transaction()
                    .map_err(internal("creating a document"))?;
                let used = usage_of(&transaction, d.user_id.as_str())?;
                if used.documents + 1 > quota.documents
                    || used.bytes.saturating_add(d.size) > quota.bytes
                {
                    return Ok(false);
                }
                transaction
                    .execute(
                        "INSERT INTO documents (user_id, document_id, file_name, content_type, size,
                            object_key, status, status_reason, pages, chunks, upload_date, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                        params![
                            d.user_id, d.document_id, d.file_name, d.content_type, d.size as i64,
                            d.key, d.status.as_str(), d.status_reason, d.pages, d.chunks,
                            d.upload_date, d.updated_at
                        ],
                    )
                    .map_err(internal("creating a document"))?;
                transaction
                    .commit()
                    .map_err(internal("creating a document"))?;
                Ok(true)
            })
            .await
    }

    async fn usage(&self, user_id: &UserId) -> Result<StorageUsage> {
        let user_id = user_id.to_string();
        self.db
            .read(move |connection| usage_of(connection, &user_id))
            .await
    }

    async fn get(&self, user_id: &UserId, document_id: &DocumentId) -> Result<Option<Document>> {
        let (user_id, document_id) = (user_id.to_string(), document_id.to_string());
        self.db
            .read(move |connection| {
                connection
                    .prepare_cached(select_documents!("WHERE user_id = ?1 AND document_id = ?2"))
                    .and_then(|mut statement| {
                        statement.query_row([user_id, document_id], document_from_row)
                    })
                    .optional()
                    .map_err(internal("reading a document"))
            })
            .await
    }

    async fn get_many(
        &self,
        user_id: &UserId,
        document_ids: &[DocumentId],
    ) -> Result<Vec<Document>> {
        let (user_id, document_ids) = (user_id.to_string(), document_ids.to_vec());
        // One trip to the database thread, one cached statement per id.
        self.db
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached(select_documents!("WHERE user_id = ?1 AND document_id = ?2"))
                    .map_err(internal("reading documents"))?;
                let mut found = Vec::with_capacity(document_ids.len());
                for document_id in &document_ids {
                    found.extend(
                        statement
                            .query_row(params![user_id, document_id], document_from_row)
                            .optional()
                            .map_err(internal("reading documents"))?,
                    );
                }
                Ok(found)
            })
            .await
    }

    async fn list(
        &self,
        user_id: &UserId,
        limit: usize,
        after: Option<&ListPosition>,
    ) -> Result<Page<Document>> {
        let user_id = user_id.to_string();
        let after = after.cloned();
        self.db
            .read(move |connection| {
                // One extra row tells whether another page follows.
                let fetch = (limit + 1) as i64;
                let mut statement = connection
                    .prepare_cached(
                        select_documents!(
                            "WHERE user_id = ?1 AND (?2 IS NULL OR (upload_date, document_id) < (?2, ?3))
                             ORDER BY upload_date DESC, document_id DESC LIMIT ?4"
                        ),
                    )
                    .map_err(internal("listing documents"))?;
                let (at, id) = match &after {
                    Some(position) => (Some(position.at.clone()), Some(position.id.clone())),
                    None => (None, None),
                };
                let items: Vec<Document> = statement
                    .query_map(params![user_id, at, id, fetch], document_from_row)
                    .and_then(|rows| rows.collect())
                    .map_err(internal("listing documents"))?;
                Ok(Page::from_overfetch(items, limit))
            })
            .await
    }

    async fn start_processing(
        &self,
        user_id: &UserId,
        document_id: &DocumentId,
        stale_before: &str,
    ) -> Result<Option<u32>> {
        let (user_id, document_id, stale_before) = (
            user_id.to_string(),
            document_id.to_string(),
            stale_before.to_string(),
        );
        self.db
            .call(move |connection| {
                connection
                    .query_row(
                        "UPDATE documents SET status = 'processing', status_reason = NULL,
                            updated_at = ?4, attempts = attempts + 1
                         WHERE user_id = ?1 AND document_id = ?2
                           AND (status IN ('uploading', 'pending', 'failed')
                                OR (status = 'processing' AND updated_at < ?3))
                         RETURNING attempts",
                        params![user_id, document_id, stale_before, now()],
                        |row| row.get::<_, u32>(0),
                    )
                    .optional()
                    .map_err(internal("starting processing"))
            })
            .await
    }

    async fn finish_processing(
        &self,
        user_id: &UserId,
        document_id: &DocumentId,
        outcome: &ProcessingOutcome,
    ) -> Result<bool> {
        let (user_id, document_id) = (user_id.to_string(), document_id.to_string());
        let (status, reason, pages, chunks) = match outcome {
            ProcessingOutcome::Ready {
                pages,
                chunks,
                note,
            } => (
                DocumentStatus::Ready,
                note.clone(),
                Some(*pages),
                Some(*chunks),
            ),
            ProcessingOutcome::Failed { reason } => {
                (DocumentStatus::Failed, Some(reason.clone()), None, None)
            }
        };
        self.db
            .call(move |connection| {
                connection
                    .execute(
                        "UPDATE documents SET status = ?3, status_reason = ?4, pages = ?5, chunks = ?6, updated_at = ?7
                         WHERE user_id = ?1 AND document_id = ?2",
                        params![user_id, document_id, status.as_str(), reason, pages, chunks, now()],
                    )
                    .map(|changed| changed == 1)
                    .map_err(internal("finishing processing"))
            })
            .await
    }

    async fn report_progress(
        &self,
        user_id: &UserId,
        document_id: &DocumentId,
        progress: &str,
    ) -> Result<()> {
        let (user_id, document_id) = (user_id.to_string(), document_id.to_string());
        let progress = progress.to_string();
        self.db
            .call(move |connection| {
                connection
                    .execute(
                        "UPDATE documents SET status_reason = ?3
                         WHERE user_id = ?1 AND document_id = ?2 AND status = 'processing'",
                        params![user_id, document_id, progress],
                    )
                    .map(|_| ())
                    .map_err(internal("reporting progress"))
            })
            .await
    }

    async fn in_status_since(
        &self,
        status: DocumentStatus,
        updated_before: &str,
        limit: usize,
    ) -> Result<Vec<Document>> {
        let updated_before = updated_before.to_string();
        self.db
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached(select_documents!(
                        "WHERE status = ?1 AND updated_at < ?2 ORDER BY updated_at LIMIT ?3"
                    ))
                    .map_err(internal("finding documents by status"))?;
                let rows = statement
                    .query_map(
                        params![status.as_str(), updated_before, limit as i64],
                        document_from_row,
                    )
                    .and_then(|rows| rows.collect())
                    .map_err(internal("finding documents by status"));
                rows
            })
            .await
    }

    async fn delete(&self, user_id: &UserId, document_id: &DocumentId) -> Result<bool> {
        let (user_id, document_id) = (user_id.to_string(), document_id.to_string());
        self.db
            .call(move |connection| {
                connection
                    .execute(
                        "DELETE FROM documents WHERE user_id = ?1 AND document_id = ?2",
                        [user_id, document_id],
                    )
                    .map(|changed| changed == 1)
                    .map_err(internal("deleting a document"))
            })
            .await
    }
}

fn usage_of(connection: &rusqlite::Connection, user_id: &str) -> Result<StorageUsage> {
    connection
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM documents WHERE user_id = ?1",
            [user_id],
            |row| {
                Ok(StorageUsage {
                    documents: row.get::<_, i64>(0)? as u64,
                    bytes: row.get::<_, i64>(1)? as u64,
                })
            },
        )
        .map_err(internal("reading storage usage"))
}
