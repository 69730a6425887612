//! The document function: upload URLs, direct upload of small files, list,
//! get and delete — each scoped to the caller.
//!
//! | route                                   | handler      | domain                    |
//! |-----------------------------------------|--------------|---------------------------|
//! | `POST /documents/upload` (JSON)         | [`request_upload`] | `Documents::request_upload` |
//! | `POST /documents?fileName=` (the file)  | [`upload_file`] | `Documents::upload`    |
//! | `GET /documents`                        | [`list`]     | `Documents::list`         |
//! | `GET /documents/{id}`                   | [`details`]  | `Documents::details`      |
//! | `DELETE /documents/{id}`                | [`delete`]   | `Documents::delete`       |

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use askdocs_shared::auth::tokens::Authenticator;
use askdocs_shared::backends::Backends;
use askdocs_shared::documents::{document_id, Documents, NewUpload};
use askdocs_shared::http::{
    finish, no_content, read_body, ApiJson, ApiPath, ApiQuery, Authenticated,
};
use askdocs_shared::model::{Document, DocumentId};
use askdocs_shared::{Error, Result};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes(state: DocumentState) -> Router {
    Router::new()
        .route("/documents/upload", post(request_upload))
        .route(
            "/documents",
            // The handler reads the file itself, bounded by the direct-upload limit.
            get(list)
                .post(upload_file)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/documents/{id}", get(details).delete(delete))
        .with_state(state)
}

pub fn app(state: DocumentState) -> Router {
    let cors_origin = state.cors_origin.clone();
    finish(routes(state), cors_origin.as_deref())
}

#[derive(Clone)]
pub struct DocumentState {
    pub documents: Arc<Documents>,
    pub authenticator: Arc<Authenticator>,
    pub cors_origin: Option<String>,
}

impl DocumentState {
    pub fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(DocumentState {
            documents: backends.documents()?,
            authenticator: backends.authenticator()?,
            cors_origin: backends.config().cors_origin.clone(),
        })
    }
}

impl FromRef<DocumentState> for Arc<Authenticator> {
    fn from_ref(state: &DocumentState) -> Self {
        state.authenticator.clone()
    }
}

/// `POST /documents/upload` as JSON: what the client is about to upload.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadRequest {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
}

/// Where and how to upload the file: once, with exactly these headers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    pub document_id: DocumentId,
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadFileQuery {
    file_name: String,
}

/// `POST /documents/upload`: `{fileName, contentType, size}` asks for a
/// single-use URL to upload the file to.
pub async fn request_upload(
    State(state): State<DocumentState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
    ApiJson(request): ApiJson<UploadRequest>,
) -> Result<Response> {
    if query.contains_key("fileName") {
        return Err(Error::InvalidRequest(
            "to send a file in the request itself, POST it to /documents?fileName=…".into(),
        ));
    }
    let upload = NewUpload {
        file_name: request.file_name,
        content_type: request.content_type,
        size: request.size,
    };
    let (document, presigned) = state
        .documents
        .request_upload(&caller.user_id, upload)
        .await?;
    let ticket = UploadTicket {
        document_id: document.document_id,
        upload_url: presigned.url,
        upload_method: presigned.method,
        upload_headers: presigned.headers,
        expires_in: state.documents.settings().upload_url_ttl.as_secs(),
        key: document.key,
    };
    Ok((StatusCode::CREATED, Json(ticket)).into_response())
}

/// `POST /documents?fileName=`: a small file sent in the request itself.
pub async fn upload_file(
    State(state): State<DocumentState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<UploadFileQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let limit = state.documents.settings().max_direct_upload_bytes;
    let bytes = read_body(body, limit as usize, || {
        Error::PayloadTooLarge(format!(
            "files sent directly may be at most {} MB; ask for an upload URL for larger ones",
            limit / (1024 * 1024)
        ))
    })
    .await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let document = state
        .documents
        .upload(
            &caller.user_id,
            &query.file_name,
            content_type,
            bytes.to_vec(),
            limit,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(document)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<DocumentState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response> {
    let listing = state
        .documents
        .list(&caller.user_id, query.limit, query.cursor.as_deref())
        .await?;
    Ok(Json(DocumentList {
        documents: listing.items,
        next_cursor: listing.next_cursor,
    })
    .into_response())
}

pub async fn details(
    State(state): State<DocumentState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Response> {
    let id = document_id(&id)?;
    let (document, download_url) = state.documents.details(&caller.user_id, &id).await?;
    Ok(Json(DocumentDetails {
        document,
        download_url,
        download_expires_in: state.documents.settings().download_url_ttl.as_secs(),
    })
    .into_response())
}

pub async fn delete(
    State(state): State<DocumentState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Response> {
    let id = document_id(&id)?;
    state.documents.delete(&caller.user_id, &id).await?;
    Ok(no_content())
}
