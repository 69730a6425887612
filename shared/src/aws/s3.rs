//! Files in one versioned S3 bucket, with presigned URLs so uploads and
//! downloads never pass through Lambda. An upload URL is single-use (S3's
//! conditional write: `If-None-Match: *` is signed into it), and a delete
//! removes every version of the object. Transfers get the time a 50 MB file
//! needs; every other call the S3 client's shorter timeouts.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::errors::sdk_error;
use super::AwsClients;
use crate::error::{Error, Result};
use crate::ports::{ObjectStore, PresignedRequest};

pub struct S3ObjectStore {
    clients: AwsClients,
    bucket: String,
}

impl S3ObjectStore {
    pub(crate) fn new(clients: AwsClients, bucket: impl Into<String>) -> Self {
        S3ObjectStore {
            clients,
            bucket: bucket.into(),
        }
    }
}

impl S3ObjectStore {
    /// A whole file's transfer: the S3 client's timeouts for big bodies.
    fn transfer(&self) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::default().timeout_config(self.clients.s3_transfer_timeouts())
    }
}

fn presigning(expires_in: Duration) -> Result<PresigningConfig> {
    PresigningConfig::expires_in(expires_in)
        .map_err(|error| Error::Internal(anyhow::anyhow!("presigning configuration: {error}")))
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()> {
        self.clients
            .s3()
            .await
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .customize()
            .config_override(self.transfer())
            .send()
            .await
            .map_err(|error| sdk_error("S3 PutObject", error))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let object = match self
            .clients
            .s3()
            .await
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .customize()
            .config_override(self.transfer())
            .send()
            .await
        {
            Ok(object) => object,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None)
            }
            Err(error) => return Err(sdk_error("S3 GetObject", error)),
        };
        let bytes = object.body.collect().await.map_err(|error| {
            Error::Unavailable(anyhow::anyhow!("reading an S3 object body: {error}"))
        })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        match self
            .clients
            .s3()
            .await
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(error) => Err(sdk_error("S3 HeadObject", error)),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        // On a versioned bucket a plain delete only hides the object behind a
        // delete marker: remove every version (and marker) of exactly this key.
        let mut marker: Option<(Option<String>, Option<String>)> = None;
        loop {
            let (key_marker, version_marker) = marker.clone().unwrap_or_default();
            let listing = self
                .clients
                .s3()
                .await
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker)
                .send()
                .await
                .map_err(|error| sdk_error("S3 ListObjectVersions", error))?;
            let versions = listing
                .versions()
                .iter()
                .filter(|version| version.key() == Some(key))
                .filter_map(|version| version.version_id());
            let markers = listing
                .delete_markers()
                .iter()
                .filter(|marker| marker.key() == Some(key))
                .filter_map(|marker| marker.version_id());
            let identifiers = versions
                .chain(markers)
                .map(|version| {
                    ObjectIdentifier::builder()
                        .key(key)
                        .version_id(version)
                        .build()
                        .map_err(|error| Error::Internal(error.into()))
                })
                .collect::<Result<Vec<_>>>()?;
            if !identifiers.is_empty() {
                let delete = Delete::builder()
                    .set_objects(Some(identifiers))
                    .quiet(true)
                    .build()
                    .map_err(|error| Error::Internal(error.into()))?;
                let deleted = self
                    .clients
                    .s3()
                    .await
                    .delete_objects()
                    .bucket(&self.bucket)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(|error| sdk_error("S3 DeleteObjects", error))?;
                if let Some(failed) = deleted.errors().first() {
                    return Err(Error::Unavailable(anyhow::anyhow!(
                        "S3 DeleteObjects kept a version of {key}: {}",
                        failed.code().unwrap_or("unknown error")
                    )));
                }
            }
            if listing.is_truncated() != Some(true) {
                return Ok(());
            }
            marker = Some((
                listing.next_key_marker().map(str::to_owned),
                listing.next_version_id_marker().map(str::to_owned),
            ));
        }
    }

    async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        // Content-Type and Content-Length become signed headers: S3 refuses an
        // upload of any other type or size. If-None-Match makes the URL
        // single-use: once the file is there, a replayed PUT gets 412.
        let presigned = self
            .clients
            .s3()
            .await
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size as i64)
            .if_none_match("*")
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|error| sdk_error("presigning an S3 PutObject", error))?;
        let mut headers: BTreeMap<String, String> = presigned
            .headers()
            .map(|(name, value)| (canonical_header(name), value.to_string()))
            .collect();
        headers
            .entry("Content-Type".into())
            .or_insert_with(|| content_type.to_string());
        headers
            .entry("Content-Length".into())
            .or_insert_with(|| size.to_string());
        Ok(PresignedRequest {
            url: presigned.uri().to_string(),
            method: "PUT",
            headers,
        })
    }

    async fn presign_download(
        &self,
        key: &str,
        file_name: &str,
        expires_in: Duration,
    ) -> Result<String> {
        let encoded =
            percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC);
        let presigned = self
            .clients
            .s3()
            .await
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(format!("attachment; filename*=UTF-8''{encoded}"))
            // One user's file: no shared cache keeps it, no browser renders it.
            .response_content_type("application/octet-stream")
            .response_cache_control("private, no-store")
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|error| sdk_error("presigning an S3 GetObject", error))?;
        Ok(presigned.uri().to_string())
    }
}

/// `content-type` → `Content-Type`, as clients are used to seeing headers.
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut characters = part.chars();
            match characters.next() {
                Some(first) => first.to_uppercase().chain(characters).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}
