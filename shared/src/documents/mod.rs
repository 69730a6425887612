//! The documents domain: issuing upload URLs, accepting small files directly,
//! listing, reading and deleting — always within one owner's documents.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::extract::Format;
use crate::model::{now, Document, DocumentStatus, ListPosition};
use crate::ports::{DocumentStore, ObjectStore, VectorIndex};

/// Limits and lifetimes for uploads and downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentSettings {
    pub max_upload_bytes: u64,
    pub max_direct_upload_bytes: u64,
    pub upload_url_ttl: Duration,
    pub download_url_ttl: Duration,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        DocumentSettings {
            max_upload_bytes: 50 * 1024 * 1024,
            max_direct_upload_bytes: 5 * 1024 * 1024,
            upload_url_ttl: Duration::from_secs(15 * 60),
            download_url_ttl: Duration::from_secs(5 * 60),
        }
    }
}

const MAX_FILE_NAME_CHARS: usize = 255;
const MAX_SAFE_NAME_CHARS: usize = 100;
pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// `POST /documents/upload` as JSON: what the client is about to upload.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadRequest {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
}

/// Where and how to upload the file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    pub document_id: String,
    pub upload_url: String,
    pub upload_method: &'static str,
    pub upload_headers: BTreeMap<String, String>,
    pub expires_in: u64,
    pub key: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentList {
    pub documents: Vec<Document>,
    pub next_cursor: Option<String>,
}

/// One document with a short-lived link to its file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentDetails {
    #[serde(flatten)]
    pub document: Document,
    pub download_url: String,
    pub download_expires_in: u64,
}

/// The object key of a document: `documents/{userId}/{documentId}/{safe name}`.
pub fn object_key(user_id: &str, document_id: &str, file_name: &str) -> String {
    format!(
        "documents/{user_id}/{document_id}/{}",
        safe_file_name(file_name)
    )
}

/// The owner and document of an object key, if it has the documents layout.
pub fn parse_object_key(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("documents"), Some(user), Some(document), Some(name), None)
            if !user.is_empty() && !document.is_empty() && !name.is_empty() =>
        {
            Some((user, document))
        }
        _ => None,
    }
}

/// A file name safe in any URL, shell or file system: ASCII letters, digits,
/// `.`, `-` and `_`, at most 100 characters, keeping the extension.
pub fn safe_file_name(file_name: &str) -> String {
    let base = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(file_name)
        .trim();
    let (stem, extension) = match base.rsplit_once('.') {
        Some((stem, extension))
            if !extension.is_empty()
                && extension.len() <= 10
                && extension.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            (stem, format!(".{extension}"))
        }
        _ => (base, String::new()),
    };
    let mut safe = String::with_capacity(stem.len());
    for c in stem.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
            c
        } else {
            '_'
        };
        if !(c == '_' && safe.ends_with('_')) {
            safe.push(c);
        }
    }
    let safe = safe.trim_matches(|c| c == '_' || c == '.');
    let stem: String = safe
        .chars()
        .take(MAX_SAFE_NAME_CHARS - extension.len())
        .collect();
    let stem = if stem.is_empty() {
        "document".to_string()
    } else {
        stem
    };
    format!("{stem}{extension}")
}

fn validate_file_name(file_name: &str) -> Result<String> {
    let name = file_name.trim();
    if name.is_empty() {
        return Err(Error::Validation("fileName is required".into()));
    }
    if name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(Error::Validation(format!(
            "fileName must be at most {MAX_FILE_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Validation(
            "fileName must not contain control characters".into(),
        ));
    }
    Ok(name.to_string())
}

fn unsupported(what: &str) -> Error {
    Error::UnsupportedMediaType(format!(
        "{what} is not supported; upload PDF, DOCX, TXT, Markdown, HTML or CSV"
    ))
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", bytes / (1024 * 1024))
}

pub fn encode_cursor(position: &ListPosition) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(position).expect("serializable"))
}

pub fn decode_cursor(cursor: &str) -> Result<ListPosition> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            Error::InvalidRequest(
                "cursor is not valid; use the nextCursor of a previous page".into(),
            )
        })
}

/// Checks a `limit` query parameter against 1..=max.
pub fn page_size(limit: Option<usize>) -> Result<usize> {
    match limit {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => Ok(limit),
        Some(_) => Err(Error::Validation(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        ))),
    }
}

pub struct Documents {
    store: Arc<dyn DocumentStore>,
    objects: Arc<dyn ObjectStore>,
    index: Arc<dyn VectorIndex>,
    settings: DocumentSettings,
}

impl Documents {
    pub fn new(
        store: Arc<dyn DocumentStore>,
        objects: Arc<dyn ObjectStore>,
        index: Arc<dyn VectorIndex>,
        settings: DocumentSettings,
    ) -> Self {
        Documents {
            store,
            objects,
            index,
            settings,
        }
    }

    pub fn settings(&self) -> &DocumentSettings {
        &self.settings
    }

    fn new_document(
        &self,
        user_id: &str,
        file_name: String,
        format: Format,
        size: u64,
    ) -> Document {
        let document_id = uuid::Uuid::new_v4().to_string();
        let timestamp = now();
        Document {
            user_id: user_id.to_string(),
            key: object_key(user_id, &document_id, &file_name),
            document_id,
            file_name,
            content_type: format.content_type().to_string(),
            size,
            status: DocumentStatus::Pending,
            status_reason: None,
            pages: None,
            chunks: None,
            upload_date: timestamp.clone(),
            updated_at: timestamp,
        }
    }

    fn check_size(&self, size: u64, limit: u64) -> Result<()> {
        if size == 0 {
            return Err(Error::Validation("the file is empty".into()));
        }
        if size > limit {
            return Err(Error::PayloadTooLarge(format!(
                "the file is {size} bytes; the most is {} ({limit} bytes)",
                megabytes(limit)
            )));
        }
        Ok(())
    }

    /// Records a `pending` document and returns a URL to upload its file to.
    pub async fn request_upload(
        &self,
        user_id: &str,
        request: UploadRequest,
    ) -> Result<UploadTicket> {
        let file_name = validate_file_name(&request.file_name)?;
        let format = Format::from_content_type(&request.content_type).ok_or_else(|| {
            unsupported(&format!("content type `{}`", request.content_type.trim()))
        })?;
        self.check_size(request.size, self.settings.max_upload_bytes)?;
        let document = self.new_document(user_id, file_name, format, request.size);
        let presigned = self
            .objects
            .presign_upload(
                &document.key,
                format.content_type(),
                request.size,
                self.settings.upload_url_ttl,
            )
            .await?;
        self.store.create(&document).await?;
        tracing::info!(user_id, document_id = %document.document_id, "upload URL issued");
        Ok(UploadTicket {
            document_id: document.document_id,
            upload_url: presigned.url,
            upload_method: presigned.method,
            upload_headers: presigned.headers,
            expires_in: self.settings.upload_url_ttl.as_secs(),
            key: document.key,
        })
    }

    /// Stores a file sent in the request itself (small files, and `askdocs ingest`).
    /// Storing the object is what starts processing, as an S3 upload does.
    pub async fn upload(
        &self,
        user_id: &str,
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
        self.check_size(bytes.len() as u64, limit)?;
        let document = self.new_document(user_id, file_name, format, bytes.len() as u64);
        self.store.create(&document).await?;
        if let Err(error) = self
            .objects
            .put(&document.key, bytes, format.content_type())
            .await
        {
            // No half-written upload: without its file the record goes too.
            let _ = self.store.delete(user_id, &document.document_id).await;
            return Err(error);
        }
        tracing::info!(user_id, document_id = %document.document_id, "document uploaded directly");
        Ok(document)
    }

    pub async fn list(
        &self,
        user_id: &str,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<DocumentList> {
        let limit = page_size(limit)?;
        let after = cursor.map(decode_cursor).transpose()?;
        let page = self.store.list(user_id, limit, after.as_ref()).await?;
        Ok(DocumentList {
            documents: page.items,
            next_cursor: page.next.as_ref().map(encode_cursor),
        })
    }

    /// The caller's document; another user's id is as missing as a made-up one.
    pub async fn get(&self, user_id: &str, document_id: &str) -> Result<Document> {
        self.store
            .get(user_id, document_id)
            .await?
            .ok_or_else(|| Error::NotFound("no such document".into()))
    }

    pub async fn details(&self, user_id: &str, document_id: &str) -> Result<DocumentDetails> {
        let document = self.get(user_id, document_id).await?;
        let download_url = self
            .objects
            .presign_download(
                &document.key,
                &document.file_name,
                self.settings.download_url_ttl,
            )
            .await?;
        Ok(DocumentDetails {
            document,
            download_url,
            download_expires_in: self.settings.download_url_ttl.as_secs(),
        })
    }

    /// Removes the vectors first, so a half-finished delete can never leave a
    /// citable chunk behind; the metadata goes after the file, so a failed delete
    /// can be retried. The vectors are removed once more at the end: a processing
    /// run that indexed in between either finds the record gone (and removes its
    /// own chunks) or finished before this second pass.
    pub async fn delete(&self, user_id: &str, document_id: &str) -> Result<()> {
        let document = self.get(user_id, document_id).await?;
        self.index.delete_document(user_id, document_id).await?;
        self.objects.delete(&document.key).await?;
        self.store.delete(user_id, document_id).await?;
        self.index.delete_document(user_id, document_id).await?;
        tracing::info!(user_id, document_id, "document deleted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_safe_keys() {
        assert_eq!(
            safe_file_name("Annual Report, 2026.pdf"),
            "Annual_Report_2026.pdf"
        );
        assert_eq!(
            safe_file_name("Überblick über Verträge.docx"),
            "berblick_ber_Vertr_ge.docx"
        );
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("C:\\Users\\me\\notes.txt"), "notes.txt");
        assert_eq!(safe_file_name("日本語.md"), "document.md");
        assert_eq!(safe_file_name(".hidden"), "document.hidden");
        assert_eq!(safe_file_name("my_notes (v2).txt"), "my_notes_v2.txt");
        let long = format!("{}.csv", "x".repeat(300));
        assert_eq!(safe_file_name(&long).len(), 100);
        assert!(safe_file_name(&long).ends_with(".csv"));
    }

    #[test]
    fn object_keys_parse_back_to_owner_and_document() {
        let key = object_key("user-1", "doc-1", "a b.pdf");
        assert_eq!(key, "documents/user-1/doc-1/a_b.pdf");
        assert_eq!(parse_object_key(&key), Some(("user-1", "doc-1")));
        assert_eq!(parse_object_key("uploads/user-1/doc-1/a.pdf"), None);
        assert_eq!(parse_object_key("documents/user-1/a.pdf"), None);
        assert_eq!(parse_object_key("documents/u/d/x/y.pdf"), None);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let position = ListPosition {
            at: "2026-01-01T00:00:00.000Z".into(),
            id: "doc".into(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&position)).unwrap(), position);
        assert!(matches!(
            decode_cursor("not a cursor!"),
            Err(Error::InvalidRequest(_))
        ));
        assert!(page_size(Some(0)).is_err() && page_size(Some(101)).is_err());
        assert_eq!(page_size(None).unwrap(), 20);
    }
}
