//! Files in the data directory, standing in for S3 — including presigned URLs.
//!
//! `askdocs serve` answers the URLs this store signs (see [`object_routes`]), so
//! a client uploads with the same `PUT uploadUrl` flow as against S3. Like an S3
//! bucket notification, every stored object is announced to a subscriber,
//! which is how an upload starts processing locally.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::mpsc::UnboundedSender;

use crate::error::{Error, Result};
use crate::http::{read_body, ApiPath, ApiQuery};
use crate::ports::{ObjectStore, PresignedRequest};

/// Announced after an object is stored, as S3 announces `ObjectCreated:Put`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub key: String,
    pub size: u64,
}

pub struct FsObjectStore {
    root: PathBuf,
    signing_key: Vec<u8>,
    public_url: OnceLock<String>,
    subscriber: Mutex<Option<UnboundedSender<ObjectCreated>>>,
}

impl FsObjectStore {
    pub fn new(root: PathBuf, signing_key: Vec<u8>) -> Self {
        FsObjectStore {
            root,
            signing_key,
            public_url: OnceLock::new(),
            subscriber: Mutex::new(None),
        }
    }

    /// The address clients reach this machine's server at; known once it listens.
    pub fn set_public_url(&self, url: &str) {
        let _ = self.public_url.set(url.trim_end_matches('/').to_string());
    }

    /// Where to announce stored objects.
    pub fn subscribe(&self, sender: UnboundedSender<ObjectCreated>) {
        *self.subscriber.lock().unwrap() = Some(sender);
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        let valid = !key.is_empty()
            && !key.starts_with('/')
            && !key.contains('\\')
            && key
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !valid {
            return Err(Error::InvalidRequest("invalid object key".into()));
        }
        Ok(self.root.join(key))
    }

    fn sign(&self, parts: &[&str]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.signing_key).expect("HMAC takes any key length");
        mac.update(parts.join("\n").as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    fn verify(&self, parts: &[&str], signature: &str) -> bool {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.signing_key).expect("HMAC takes any key length");
        mac.update(parts.join("\n").as_bytes());
        match unhex(signature) {
            Some(bytes) => mac.verify_slice(&bytes).is_ok(),
            None => false,
        }
    }

    fn public_url(&self) -> Result<&str> {
        self.public_url.get().map(String::as_str).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "the local object store has no public URL yet"
            ))
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    // A reader never sees half a file: write aside, then rename into place.
    let temporary = path.with_extension(format!("partial-{}", uuid::Uuid::new_v4().simple()));
    tokio::fs::write(&temporary, bytes).await?;
    if let Err(error) = tokio::fs::rename(&temporary, path).await {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(error.into());
    }
    Ok(())
}

#[async_trait]
impl ObjectStore for FsObjectStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<()> {
        let path = self.path(key)?;
        let size = bytes.len() as u64;
        write_atomically(&path, &bytes)
            .await
            .with_context(|| format!("storing object {}", path.display()))?;
        if let Some(subscriber) = self.subscriber.lock().unwrap().as_ref() {
            let _ = subscriber.send(ObjectCreated {
                key: key.to_string(),
                size,
            });
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(anyhow::Error::new(error)
                .context(format!("reading {}", path.display()))
                .into()),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context(format!("deleting {}", path.display()))
                    .into())
            }
        }
        // Tidy the now-empty document folder; failure here is harmless.
        if let Some(parent) = path.parent() {
            let _ = tokio::fs::remove_dir(parent).await;
        }
        Ok(())
    }

    async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        self.path(key)?;
        let expires = (chrono::Utc::now().timestamp() + expires_in.as_secs() as i64).to_string();
        let size_text = size.to_string();
        let signature = self.sign(&["PUT", key, &expires, content_type, &size_text]);
        let url = format!(
            "{}/local-objects/{key}?expires={expires}&contentType={}&size={size}&signature={signature}",
            self.public_url()?,
            encode(content_type)
        );
        Ok(PresignedRequest {
            url,
            method: "PUT",
            headers: BTreeMap::from([
                ("Content-Type".to_string(), content_type.to_string()),
                ("Content-Length".to_string(), size_text),
            ]),
        })
    }

    async fn presign_download(
        &self,
        key: &str,
        file_name: &str,
        expires_in: Duration,
    ) -> Result<String> {
        self.path(key)?;
        let expires = (chrono::Utc::now().timestamp() + expires_in.as_secs() as i64).to_string();
        let signature = self.sign(&["GET", key, &expires, file_name]);
        Ok(format!(
            "{}/local-objects/{key}?expires={expires}&fileName={}&signature={signature}",
            self.public_url()?,
            encode(file_name)
        ))
    }
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

/// The routes that answer this store's presigned URLs: `PUT` to upload, `GET` to download.
pub fn object_routes(store: Arc<FsObjectStore>) -> Router {
    Router::new()
        // The upload handler reads the body itself, bounded by the signed size.
        .route(
            "/local-objects/{*key}",
            put(upload).layer(DefaultBodyLimit::disable()).get(download),
        )
        .with_state(store)
}

fn refused(message: &str) -> Error {
    Error::Unauthorized(format!("this URL is not valid: {message}"))
}

async fn upload(
    State(store): State<Arc<FsObjectStore>>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<SignedQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (Some(content_type), Some(size)) = (query.content_type.as_deref(), query.size) else {
        return Err(refused("it is not an upload URL"));
    };
    let expires = query.expires.to_string();
    if !store.verify(
        &["PUT", &key, &expires, content_type, &size.to_string()],
        &query.signature,
    ) {
        return Err(refused("the signature does not match"));
    }
    if chrono::Utc::now().timestamp() > query.expires {
        return Err(refused("it has expired; ask for a new upload URL"));
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
    store.put(&key, body.to_vec(), content_type).await?;
    Ok(StatusCode::OK.into_response())
}

async fn download(
    State(store): State<Arc<FsObjectStore>>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<SignedQuery>,
) -> Result<Response> {
    let Some(file_name) = query.file_name.as_deref() else {
        return Err(refused("it is not a download URL"));
    };
    if !store.verify(
        &["GET", &key, &query.expires.to_string(), file_name],
        &query.signature,
    ) {
        return Err(refused("the signature does not match"));
    }
    if chrono::Utc::now().timestamp() > query.expires {
        return Err(refused("it has expired"));
    }
    let bytes = store
        .get(&key)
        .await?
        .ok_or_else(|| Error::NotFound("the file no longer exists".into()))?;
    let disposition = format!("attachment; filename*=UTF-8''{}", encode(file_name));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[tokio::test]
    async fn the_file_store_passes_the_shared_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path().to_path_buf(), b"key".to_vec());
        store.set_public_url("http://127.0.0.1:3000");
        testing::object_store_contract(&store).await;
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path().join("objects"), b"key".to_vec());
        for key in ["../escape", "/etc/passwd", "a//b", "a/./b", "a\\b", ""] {
            assert!(
                store.put(key, b"x".to_vec(), "text/plain").await.is_err(),
                "{key}"
            );
        }
        assert!(!dir.path().join("escape").exists());
    }

    #[tokio::test]
    async fn stored_objects_are_announced() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path().to_path_buf(), b"key".to_vec());
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        store.subscribe(sender);
        store
            .put("documents/u/d/a.txt", b"hello".to_vec(), "text/plain")
            .await
            .unwrap();
        assert_eq!(
            receiver.recv().await.unwrap(),
            ObjectCreated {
                key: "documents/u/d/a.txt".into(),
                size: 5
            }
        );
    }
}
