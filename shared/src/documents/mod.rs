//! The documents domain (the document function's service): issuing upload
//! URLs, accepting small files directly, listing, reading and deleting —
//! always within one owner's documents.

pub mod file_names;

use std::sync::Arc;

use crate::config::{DocumentSettings, Quota};
use crate::error::{Error, Result};
use crate::model::object_key::object_key;
use crate::model::{now, Document, DocumentId, DocumentStatus, Format, StorageUsage, UserId};
use crate::pagination::{decode_cursor, page_size, Listing};
use crate::ports::{DocumentStore, HistoryStore, ObjectStore, PresignedRequest, VectorIndex};
use crate::processing::runs::RunningProcessing;
use file_names::validate_file_name;

/// What a client is about to upload through an upload URL.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
}

fn unsupported(what: &str) -> Error {
    Error::UnsupportedMediaType(format!(
        "{what} is not supported; upload PDF, DOCX, TXT, Markdown, HTML, CSV, or a PNG, JPEG or TIFF image"
    ))
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", bytes / (1024 * 1024))
}

fn no_such_document() -> Error {
    Error::NotFound("no such document".into())
}

/// A document id from a request (a path, a body): text that cannot be an id
/// askdocs made names no document, and never reaches a store.
pub fn document_id(text: &str) -> Result<DocumentId> {
    DocumentId::parse(text).ok_or_else(no_such_document)
}

/// What an owner stores against their quota, as the profile shows it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    #[serde(flatten)]
    pub used: StorageUsage,
    pub max_documents: u64,
    pub max_bytes: u64,
}

/// The owner's storage against `quota` (the auth function reads it for the
/// profile, without the rest of the documents domain).
pub async fn storage(store: &dyn DocumentStore, quota: Quota, user_id: &UserId) -> Result<Storage> {
    Ok(Storage {
        used: store.usage(user_id).await?,
        max_documents: quota.documents,
        max_bytes: quota.bytes,
    })
}

pub struct Documents {
    store: Arc<dyn DocumentStore>,
    objects: Arc<dyn ObjectStore>,
    /// `None` where this function may not write the index (OpenSearch
    /// Serverless grants only processing and query): the processing function
    /// then removes the passages when S3 reports the file removed.
    index: Option<Arc<dyn VectorIndex>>,
    /// Past answers cite passages; a deleted document's words leave them.
    history: Arc<dyn HistoryStore>,
    running: RunningProcessing,
    settings: DocumentSettings,
}

impl Documents {
    pub fn new(
        store: Arc<dyn DocumentStore>,
        objects: Arc<dyn ObjectStore>,
        index: Option<Arc<dyn VectorIndex>>,
        history: Arc<dyn HistoryStore>,
        running: RunningProcessing,
        settings: DocumentSettings,
    ) -> Self {
        Documents {
            store,
            objects,
            index,
            history,
            running,
            settings,
        }
    }

    pub fn settings(&self) -> &DocumentSettings {
        &self.settings
    }

    fn new_document(
        &self,
        user_id: &UserId,
        file_name: String,
        format: Format,
        size: u64,
        status: DocumentStatus,
    ) -> Document {
        let document_id = DocumentId::generate();
        let timestamp = now();
        Document {
            user_id: user_id.clone(),
            key: object_key(user_id, &document_id, &file_name),
            document_id,
            file_name,
            content_type: format.content_type().to_string(),
            size,
            status,
            status_reason: None,
            pages: None,
            chunks: None,
            upload_date: timestamp.clone(),
            updated_at: timestamp,
            attempts: 0,
        }
    }

    /// `over_limit` is how a size past `limit` is refused: a body too large
    /// to take (413), or a declared size no upload URL is issued for (400).
    fn check_size(&self, size: u64, limit: u64, over_limit: fn(String) -> Error) -> Result<()> {
        if size == 0 {
            return Err(Error::Validation("the file is empty".into()));
        }
        if size > limit {
            return Err(over_limit(format!(
                "the file is {size} bytes; the most is {} ({limit} bytes)",
                megabytes(limit)
            )));
        }
        Ok(())
    }

    /// Records `document` within its owner's quota.
    async fn create(&self, document: &Document) -> Result<()> {
        let quota = self.settings.quota;
        if self.store.create(document, &quota).await? {
            return Ok(());
        }
        tracing::info!(user_id = %document.user_id, "storage quota reached");
        Err(Error::QuotaExceeded(format!(
            "this upload would take your documents past your quota of {} documents and {}; \
             delete some to make room",
            quota.documents,
            megabytes(quota.bytes)
        )))
    }

    /// Records an `uploading` document and returns it with a single-use URL to upload its file to.
    pub async fn request_upload(
        &self,
        user_id: &UserId,
        upload: NewUpload,
    ) -> Result<(Document, PresignedRequest)> {
        let file_name = validate_file_name(&upload.file_name)?;
        let format = Format::from_content_type(&upload.content_type).ok_or_else(|| {
            unsupported(&format!("content type `{}`", upload.content_type.trim()))
        })?;
        // No file is being sent yet: a size over the limit is a bad request (400), not a 413.
        self.check_size(
            upload.size,
            self.settings.max_upload_bytes,
            Error::Validation,
        )?;
        let document = self.new_document(
            user_id,
            file_name,
            format,
            upload.size,
            DocumentStatus::Uploading,
        );
        let presigned = self
            .objects
            .presign_upload(
                &document.key,
                format.content_type(),
                upload.size,
                self.settings.upload_url_ttl,
            )
            .await?;
        self.create(&document).await?;
        tracing::info!(%user_id, document_id = %document.document_id, "upload URL issued");
        Ok((document, presigned))
    }

    /// Stores a file sent in the request itself (small files, and `askdocs ingest`).
    /// Storing the object is what starts processing, as an S3 upload does.
    pub async fn upload(
        &self,
        user_id: &UserId,
        file_name: &str,
        content_type: Option<&str>,
        bytes: Vec<u8>,
        limit: u64,
    ) -> Result<Document> {
        let file_name = validate_file_name(file_name)?;
        let format =
            Format::resolve(content_type, &file_name).ok_or_else(|| match content_type {
                Some(ct) if !Format::is_generic_content_type(ct) => {
                    unsupported(&format!("content type `{}`", ct.trim()))
                }
                _ => unsupported(&format!("the file type of `{file_name}`")),
            })?;
        self.check_size(bytes.len() as u64, limit, Error::PayloadTooLarge)?;
        let document = self.new_document(
            user_id,
            file_name,
            format,
            bytes.len() as u64,
            DocumentStatus::Pending,
        );
        self.create(&document).await?;
        if let Err(error) = self
            .objects
            .put(&document.key, bytes, format.content_type())
            .await
        {
            // No half-written upload: without its file the record goes too.
            let _ = self.store.delete(user_id, &document.document_id).await;
            return Err(error);
        }
        tracing::info!(%user_id, document_id = %document.document_id, "document uploaded directly");
        Ok(document)
    }

    pub async fn list(
        &self,
        user_id: &UserId,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<Listing<Document>> {
        let limit = page_size(limit)?;
        let after = cursor.map(decode_cursor).transpose()?;
        Ok(self
            .store
            .list(user_id, limit, after.as_ref())
            .await?
            .into())
    }

    /// The caller's document; another user's id is as missing as a made-up one.
    pub async fn get(&self, user_id: &UserId, document_id: &DocumentId) -> Result<Document> {
        self.store
            .get(user_id, document_id)
            .await?
            .ok_or_else(no_such_document)
    }

    /// The document with a short-lived link to download its file.
    pub async fn details(
        &self,
        user_id: &UserId,
        document_id: &DocumentId,
    ) -> Result<(Document, String)> {
        let document = self.get(user_id, document_id).await?;
        let download_url = self
            .objects
            .presign_download(
                &document.key,
                &document.file_name,
                self.settings.download_url_ttl,
            )
            .await?;
        Ok((document, download_url))
    }

    /// Stops a run that is processing the document, then removes the vectors
    /// first, so a half-finished delete can never leave a citable chunk behind;
    /// then the passages' words in past answers' citations; the metadata goes
    /// after the file, so a failed delete can be retried. The
    /// vectors are removed once more at the end: a processing run elsewhere (a
    /// Lambda) either finds the record gone (and removes its own chunks) or
    /// finished before this second pass.
    pub async fn delete(&self, user_id: &UserId, document_id: &DocumentId) -> Result<()> {
        let document = self.get(user_id, document_id).await?;
        self.running.cancel(document_id);
        if let Some(index) = &self.index {
            index.delete_document(user_id, document_id).await?;
        }
        self.history.forget_document(user_id, document_id).await?;
        self.objects.delete(&document.key).await?;
        self.store.delete(user_id, document_id).await?;
        if let Some(index) = &self.index {
            index.delete_document(user_id, document_id).await?;
        }
        tracing::info!(%user_id, %document_id, "document deleted");
        Ok(())
    }
}
