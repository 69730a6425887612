//! The routes that answer the local object store's signed URLs — the local
//! twin of S3's presigned PUT and GET. An upload URL works once: while its
//! document is `pending` and no file is there yet.

use std::sync::Arc;

use askdocs_shared::embedded::FsObjectStore;
use askdocs_shared::http::{read_body, ApiPath, ApiQuery};
use askdocs_shared::model::object_key::parse_object_key;
use askdocs_shared::model::DocumentStatus;
use askdocs_shared::ports::{DocumentStore, ObjectStore as _};
use askdocs_shared::{Error, Result};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;
use serde::Deserialize;

#[derive(Clone)]
pub struct ObjectRoutesState {
    pub objects: Arc<FsObjectStore>,
    pub documents: Arc<dyn DocumentStore>,
}

/// `PUT /local-objects/{key}` to upload, `GET` to download.
pub fn routes(state: ObjectRoutesState) -> Router {
    Router::new()
        // The upload handler reads the body itself, bounded by the signed size.
        .route(
            "/local-objects/{*key}",
            put(upload).layer(DefaultBodyLimit::disable()).get(download),
        )
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedQuery {
    expires: i64,
    signature: String,
    content_type: Option<String>,
    size: Option<u64>,
    file_name: Option<String>,
}

fn used() -> Error {
    Error::Conflict {
        code: "already_uploaded",
        message: "this upload URL was already used; ask for a new one to upload another file"
            .into(),
    }
}

async fn upload(
    State(state): State<ObjectRoutesState>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<SignedQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (Some(content_type), Some(size)) = (query.content_type.as_deref(), query.size) else {
        return Err(Error::Unauthorized(
            "this URL is not valid: it is not an upload URL".into(),
        ));
    };
    state
        .objects
        .check_upload(&key, query.expires, content_type, size, &query.signature)?;
    let Some((user_id, document_id)) = parse_object_key(&key) else {
        return Err(Error::NotFound("no such document".into()));
    };
    let document = state
        .documents
        .get(&user_id, &document_id)
        .await?
        .ok_or_else(|| Error::NotFound("the document was deleted".into()))?;
    if document.status != DocumentStatus::Uploading {
        return Err(used());
    }
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if sent_type != content_type {
        return Err(Error::InvalidRequest(format!(
            "Content-Type must be `{content_type}`, as signed (got `{sent_type}`)"
        )));
    }
    let body = read_body(body, size as usize, || {
        Error::InvalidRequest(format!(
            "the upload must be exactly {size} bytes, as signed"
        ))
    })
    .await?;
    if body.len() as u64 != size {
        return Err(Error::InvalidRequest(format!(
            "the upload must be exactly {size} bytes, as signed (got {})",
            body.len()
        )));
    }
    if !state.objects.put_if_absent(&key, body.to_vec()).await? {
        return Err(used());
    }
    Ok(StatusCode::OK.into_response())
}

async fn download(
    State(state): State<ObjectRoutesState>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<SignedQuery>,
) -> Result<Response> {
    let Some(file_name) = query.file_name.as_deref() else {
        return Err(Error::Unauthorized(
            "this URL is not valid: it is not a download URL".into(),
        ));
    };
    state
        .objects
        .check_download(&key, query.expires, file_name, &query.signature)?;
    let bytes = state
        .objects
        .get(&key)
        .await?
        .ok_or_else(|| Error::NotFound("the file no longer exists".into()))?;
    let encoded =
        percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC);
    let disposition = format!("attachment; filename*=UTF-8''{encoded}");
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}
