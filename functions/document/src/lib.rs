//! The document function: presigned upload, direct upload of small files,
//! list, get and delete — each scoped to the caller.

use std::sync::Arc;

use askdocs_shared::auth::Authenticator;
use askdocs_shared::backends::Backends;
use askdocs_shared::documents::{Documents, UploadRequest};
use askdocs_shared::http::{
    finish, no_content, parse_json, read_body, ApiPath, ApiQuery, Authenticated,
    MAX_JSON_BODY_BYTES,
};
use askdocs_shared::{Error, Result};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

#[derive(Clone)]
pub struct DocumentState {
    pub documents: Arc<Documents>,
    pub authenticator: Arc<Authenticator>,
}

impl DocumentState {
    pub fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(DocumentState {
            documents: backends.documents(),
            authenticator: backends.authenticator()?,
        })
    }
}

impl FromRef<DocumentState> for Arc<Authenticator> {
    fn from_ref(state: &DocumentState) -> Self {
        state.authenticator.clone()
    }
}

pub fn routes(state: DocumentState) -> Router {
    Router::new()
        .route(
            "/documents/upload",
            // The handler applies its own limits: 64 KB of JSON, or a small file.
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/documents", get(list))
        .route("/documents/{id}", get(details).delete(delete))
        .with_state(state)
}

pub fn app(state: DocumentState) -> Router {
    finish(routes(state))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UploadQuery {
    file_name: Option<String>,
}

/// JSON `{fileName, contentType, size}` asks for an upload URL; a raw body with
/// `?fileName=` is a small file sent directly.
async fn upload(
    State(state): State<DocumentState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let settings = *state.documents.settings();
    match query.file_name {
        Some(file_name) => {
            let limit = settings.max_direct_upload_bytes;
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
                    &file_name,
                    content_type,
                    bytes.to_vec(),
                    limit,
                )
                .await?;
            Ok((StatusCode::CREATED, Json(document)).into_response())
        }
        None => {
            let bytes = read_body(body, MAX_JSON_BODY_BYTES, || {
                Error::PayloadTooLarge(format!(
                    "request body must be at most {} KB; to send a file directly add ?fileName=",
                    MAX_JSON_BODY_BYTES / 1024
                ))
            })
            .await?;
            let request: UploadRequest = parse_json(&bytes)?;
            let ticket = state
                .documents
                .request_upload(&caller.user_id, request)
                .await?;
            Ok((StatusCode::CREATED, Json(ticket)).into_response())
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<DocumentState>,
    Authenticated(caller): Authenticated,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response> {
    let list = state
        .documents
        .list(&caller.user_id, query.limit, query.cursor.as_deref())
        .await?;
    Ok(Json(list).into_response())
}

async fn details(
    State(state): State<DocumentState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Response> {
    Ok(Json(state.documents.details(&caller.user_id, &id).await?).into_response())
}

async fn delete(
    State(state): State<DocumentState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Response> {
    state.documents.delete(&caller.user_id, &id).await?;
    Ok(no_content())
}
