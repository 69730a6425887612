//! Files in the data directory, standing in for S3 — including presigned URLs.
//!
//! `askdocs serve` answers the URLs this store signs (its local object routes
//! check them with [`FsObjectStore::check_upload`] and
//! [`FsObjectStore::check_download`]), so a client uploads with the same
//! `PUT uploadUrl` flow as against S3. Like an S3 bucket notification, every
//! stored object is announced to a subscriber, which is how an upload starts
//! processing locally.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc::UnboundedSender;

use crate::error::{Error, Result};
use crate::model::hex;
use crate::ports::{ObjectStore, PresignedRequest};

/// Announced after an object is stored, as S3 announces `ObjectCreated:Put`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub key: String,
    pub size: u64,
}

tokio::task_local! {
    /// The origin (`http://localhost:3000`) a request to the local server
    /// came to, while it is handled: see [`FsObjectStore::with_request_origin`].
    static REQUEST_ORIGIN: String;
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

    /// Runs `handling` with URLs made for the origin the request came to
    /// (already checked to be one of this server's names): a page opened at
    /// `localhost` uploads to `localhost`, one at `127.0.0.1` to `127.0.0.1`,
    /// each within its own Content-Security-Policy's `connect-src 'self'`.
    pub async fn with_request_origin<F: std::future::Future>(
        origin: String,
        handling: F,
    ) -> F::Output {
        REQUEST_ORIGIN.scope(origin, handling).await
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

    /// Stores an object only if none exists at `key` yet — the local twin of
    /// S3's `If-None-Match: *` — and announces it. `Ok(false)` when one exists.
    pub async fn put_if_absent(&self, key: &str, bytes: Vec<u8>) -> Result<bool> {
        let path = self.path(key)?;
        let size = bytes.len() as u64;
        let stored = write_if_absent(&path, &bytes)
            .await
            .with_context(|| format!("storing object {}", path.display()))?;
        if stored {
            self.announce(key, size);
        }
        Ok(stored)
    }

    fn announce(&self, key: &str, size: u64) {
        if let Some(subscriber) = self.subscriber.lock().unwrap().as_ref() {
            let _ = subscriber.send(ObjectCreated {
                key: key.to_string(),
                size,
            });
        }
    }

    /// Checks a signed upload URL's parameters: the signature, then the expiry.
    pub fn check_upload(
        &self,
        key: &str,
        expires: i64,
        content_type: &str,
        size: u64,
        signature: &str,
    ) -> Result<()> {
        let expires_text = expires.to_string();
        if !self.verify(
            &["PUT", key, &expires_text, content_type, &size.to_string()],
            signature,
        ) {
            return Err(refused("the signature does not match"));
        }
        if chrono::Utc::now().timestamp() > expires {
            return Err(refused("it has expired; ask for a new upload URL"));
        }
        Ok(())
    }

    /// Checks a signed download URL's parameters.
    pub fn check_download(
        &self,
        key: &str,
        expires: i64,
        file_name: &str,
        signature: &str,
    ) -> Result<()> {
        if !self.verify(&["GET", key, &expires.to_string(), file_name], signature) {
            return Err(refused("the signature does not match"));
        }
        if chrono::Utc::now().timestamp() > expires {
            return Err(refused("it has expired"));
        }
        Ok(())
    }

    fn public_url(&self) -> Result<String> {
        if let Ok(origin) = REQUEST_ORIGIN.try_with(Clone::clone) {
            return Ok(origin);
        }
        self.public_url.get().cloned().ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "the local object store has no public URL yet"
            ))
        })
    }
}

fn refused(message: &str) -> Error {
    Error::Unauthorized(format!("this URL is not valid: {message}"))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Writes aside, then links into place: linking fails if a file is already
/// there, so of two racing uploads exactly one wins, and no reader sees half a file.
async fn write_if_absent(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let temporary = path.with_extension(format!("partial-{}", uuid::Uuid::new_v4().simple()));
    write_private(&temporary, bytes).await?;
    let linked = tokio::fs::hard_link(&temporary, path).await;
    let _ = tokio::fs::remove_file(&temporary).await;
    match linked {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error.into()),
    }
}

async fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    // Files are the owner's only, whatever the process umask (set for the
    // whole data directory in `super::private_dir`, kept here too).
    // A reader never sees half a file: write aside, then rename into place.
    let temporary = path.with_extension(format!("partial-{}", uuid::Uuid::new_v4().simple()));
    write_private(&temporary, bytes).await?;
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
        self.announce(key, size);
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

    async fn exists(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        tokio::fs::try_exists(&path).await.map_err(|error| {
            anyhow::Error::new(error)
                .context(format!("checking {}", path.display()))
                .into()
        })
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
    async fn an_object_is_stored_only_once_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsObjectStore::new(dir.path().to_path_buf(), b"key".to_vec());
        let key = "documents/u/d/a.txt";
        assert!(store.put_if_absent(key, b"first".to_vec()).await.unwrap());
        assert!(!store.put_if_absent(key, b"second".to_vec()).await.unwrap());
        assert_eq!(store.get(key).await.unwrap(), Some(b"first".to_vec()));
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
