//! Files in one versioned S3 bucket, with presigned URLs so uploads and
//! downloads never pass through Lambda. An upload URL is single-use (S3's
//! conditional write: `If-None-Match: *` is signed into it), and a delete
//! removes every version of the object, one version at a time (no
//! DeleteObjects: that needs a checksummed XML body, and a key has few versions).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::signed::UNRESERVED;

use super::json_rpc::{configured_endpoint, with_retries, CallError, Domain};
use super::signed::{Reply, Rules, SignedHttp, Unsigned};
use crate::error::{Error, Result};
use crate::ports::{ObjectStore, PresignedRequest};

/// What S3 leaves unencoded in a key: the unreserved characters and `/`.
const KEY: &AsciiSet = &UNRESERVED.remove(b'/');
/// A query parameter's value: unreserved characters only.
const QUERY_VALUE: &AsciiSet = UNRESERVED;

/// Metadata calls are quick; a 50 MB file is not.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);
const TRANSFER_DEADLINE: Duration = Duration::from_secs(300);

/// Where a bucket's objects are addressed.
#[derive(Debug, Clone)]
pub(crate) enum BucketAddress {
    /// `https://{bucket}.s3.{region}.amazonaws.com/{key}`, as AWS prefers.
    VirtualHosted { region: String },
    /// `{endpoint}/{bucket}/{key}`: emulators (moto) and custom endpoints.
    PathStyle { endpoint: String },
}

impl BucketAddress {
    /// `AWS_ENDPOINT_URL_S3`, or the endpoint every service uses (an
    /// emulator), means path-style; otherwise S3's regional endpoint.
    pub fn resolve(configured: Option<&str>, region: &str) -> Self {
        match configured_endpoint("S3", configured) {
            Some(endpoint) => BucketAddress::PathStyle { endpoint },
            None => BucketAddress::VirtualHosted {
                region: region.to_string(),
            },
        }
    }

    fn bucket_url(&self, bucket: &str) -> String {
        match self {
            BucketAddress::VirtualHosted { region } => {
                let domain = Domain::AmazonAws.in_region(region);
                if bucket.contains('.') {
                    // S3's certificate (*.s3.<region>…) cannot cover a dotted
                    // bucket's host name: address it by path, as the SDK does.
                    format!("https://s3.{region}.{domain}/{bucket}")
                } else {
                    format!("https://{bucket}.s3.{region}.{domain}")
                }
            }
            BucketAddress::PathStyle { endpoint } => format!("{endpoint}/{bucket}"),
        }
    }
}

/// S3's REST API, spoken directly (see [`super::signed`] for why not the SDK):
/// the handful of calls askdocs makes, each signed with S3's rules.
#[derive(Clone)]
pub(crate) struct S3Client {
    http: Arc<SignedHttp>,
    address: BucketAddress,
    max_attempts: u32,
}

/// One version (or delete marker) of a key.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ObjectVersion {
    pub key: String,
    pub version_id: String,
}

/// A page of ListObjectVersions.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct VersionPage {
    pub versions: Vec<ObjectVersion>,
    pub truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

impl S3Client {
    pub fn new(http: Arc<SignedHttp>, address: BucketAddress) -> Self {
        S3Client {
            http,
            address,
            max_attempts: super::json_rpc::max_attempts(),
        }
    }

    #[cfg_attr(not(feature = "aws-all"), allow(dead_code))]
    pub fn region(&self) -> &str {
        self.http.region()
    }

    pub fn bucket_url(&self, bucket: &str) -> String {
        self.address.bucket_url(bucket)
    }

    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        format!(
            "{}/{}",
            self.bucket_url(bucket),
            utf8_percent_encode(key, KEY)
        )
    }

    /// Sends one request (retried as the SDK would); a 2xx answer's reply, or
    /// S3's error (`<Error><Code>…`) as a [`CallError`].
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        transfer: bool,
    ) -> std::result::Result<Reply, CallError> {
        let (attempt_timeout, deadline) = if transfer {
            (TRANSFER_TIMEOUT, TRANSFER_DEADLINE)
        } else {
            (CALL_TIMEOUT, CALL_TIMEOUT * 2)
        };
        let body = hyper::body::Bytes::from(body);
        with_retries(
            self.max_attempts,
            deadline,
            attempt_timeout,
            url,
            |timeout| {
                let request = Unsigned {
                    service: "s3",
                    method,
                    url,
                    content_type,
                    headers,
                    body: body.clone(),
                    timeout,
                    rules: Rules::S3,
                };
                async move {
                    let reply = self.http.send(request).await.map_err(CallError::Failed)?;
                    if (200..300).contains(&reply.status) {
                        Ok(reply)
                    } else {
                        Err(s3_error(&reply))
                    }
                }
            },
        )
        .await
    }

    /// One page of the versions and delete markers under `prefix`.
    pub async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<(&str, &str)>,
    ) -> Result<VersionPage> {
        let mut url = format!(
            "{}/?versions&prefix={}",
            self.bucket_url(bucket),
            utf8_percent_encode(prefix, QUERY_VALUE)
        );
        if let Some((key_marker, version_marker)) = after {
            url.push_str(&format!(
                "&key-marker={}&version-id-marker={}",
                utf8_percent_encode(key_marker, QUERY_VALUE),
                utf8_percent_encode(version_marker, QUERY_VALUE)
            ));
        }
        let reply = self
            .send("GET", &url, "", &[], Vec::new(), false)
            .await
            .map_err(|error| error.into_error("S3 ListObjectVersions"))?;
        parse_version_page(&reply.body)
    }
}

/// S3's error answer as a [`CallError`]: its `<Code>` and `<Message>` (a
/// HEAD or a 404 without a body has neither; the status then speaks).
fn s3_error(reply: &Reply) -> CallError {
    let text = String::from_utf8_lossy(&reply.body);
    let code = xml_field(&text, "Code").unwrap_or_else(|| match reply.status {
        404 => "NoSuchKey".to_string(),
        412 => "PreconditionFailed".to_string(),
        status => format!("HTTP {status}"),
    });
    CallError::Service {
        code,
        message: xml_field(&text, "Message").unwrap_or_default(),
        status: reply.status,
        body: serde_json::Value::Null,
    }
}

/// The text of the first `<name>` element of a small XML document.
fn xml_field(xml: &str, name: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => inside = start.local_name().as_ref() == name.as_bytes(),
            Event::Text(text) if inside => return Some(text.unescape().ok()?.into_owned()),
            Event::End(_) => inside = false,
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// A ListVersionsResult: every `<Version>` and `<DeleteMarker>`, and where
/// the next page starts.
fn parse_version_page(xml: &[u8]) -> Result<VersionPage> {
    use quick_xml::events::Event;
    let malformed = |error: &dyn std::fmt::Display| {
        Error::Internal(anyhow::anyhow!(
            "S3 ListObjectVersions answered malformed XML: {error}"
        ))
    };
    let text = std::str::from_utf8(xml).map_err(|error| malformed(&error))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut page = VersionPage::default();
    let mut path: Vec<String> = Vec::new();
    let mut current: Option<ObjectVersion> = None;
    loop {
        match reader.read_event().map_err(|error| malformed(&error))? {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if path.len() == 1 && (name == "Version" || name == "DeleteMarker") {
                    current = Some(ObjectVersion::default());
                }
                path.push(name);
            }
            Event::Text(value) => {
                let value = value.unescape().map_err(|error| malformed(&error))?;
                let names: Vec<&str> = path.iter().map(String::as_str).collect();
                match (names.as_slice(), current.as_mut()) {
                    ([_, _, "Key"], Some(version)) => version.key = value.into_owned(),
                    ([_, _, "VersionId"], Some(version)) => version.version_id = value.into_owned(),
                    ([_, "IsTruncated"], _) => page.truncated = value == "true",
                    ([_, "NextKeyMarker"], _) => page.next_key_marker = Some(value.into_owned()),
                    ([_, "NextVersionIdMarker"], _) => {
                        page.next_version_id_marker = Some(value.into_owned())
                    }
                    _ => {}
                }
            }
            Event::End(_) => {
                path.pop();
                if path.len() == 1 {
                    page.versions.extend(current.take());
                }
            }
            Event::Eof => return Ok(page),
            _ => {}
        }
    }
}

/// Files in one versioned S3 bucket.
pub struct S3ObjectStore {
    client: S3Client,
    bucket: String,
}

impl S3ObjectStore {
    pub(crate) fn new(client: S3Client, bucket: impl Into<String>) -> Self {
        S3ObjectStore {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()> {
        let url = self.client.object_url(&self.bucket, key);
        self.client
            .send("PUT", &url, content_type, &[], bytes, true)
            .await
            .map_err(|error| error.into_error("S3 PutObject"))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let url = self.client.object_url(&self.bucket, key);
        match self
            .client
            .send("GET", &url, "", &[], Vec::new(), true)
            .await
        {
            Ok(reply) => Ok(Some(reply.body.to_vec())),
            Err(error) if error.code() == Some("NoSuchKey") => Ok(None),
            Err(error) => Err(error.into_error("S3 GetObject")),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        // On a versioned bucket a plain delete only hides the object behind a
        // delete marker: remove every version (and marker) of exactly this key.
        let mut after: Option<(String, String)> = None;
        loop {
            let page = self
                .client
                .list_versions(
                    &self.bucket,
                    key,
                    after.as_ref().map(|(k, v)| (k.as_str(), v.as_str())),
                )
                .await?;
            for version in page.versions.iter().filter(|version| version.key == key) {
                let url = format!(
                    "{}?versionId={}",
                    self.client.object_url(&self.bucket, key),
                    utf8_percent_encode(&version.version_id, QUERY_VALUE)
                );
                self.client
                    .send("DELETE", &url, "", &[], Vec::new(), false)
                    .await
                    .map_err(|error| error.into_error("S3 DeleteObject (a version)"))?;
            }
            match (
                page.truncated,
                page.next_key_marker,
                page.next_version_id_marker,
            ) {
                (true, Some(key_marker), Some(version_marker)) => {
                    after = Some((key_marker, version_marker))
                }
                _ => return Ok(()),
            }
        }
    }

    async fn presign_upload(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        // Content-Type and Content-Length are signed headers: S3 refuses an
        // upload of any other type or size. If-None-Match makes the URL
        // single-use: once the file is there, a replayed PUT gets 412.
        let size = size.to_string();
        let headers = [
            ("content-type", content_type),
            ("content-length", size.as_str()),
            ("if-none-match", "*"),
        ];
        let url = self
            .client
            .http
            .presign(
                "PUT",
                &self.client.object_url(&self.bucket, key),
                &headers,
                expires_in,
            )
            .await?;
        let headers: BTreeMap<String, String> = headers
            .iter()
            .map(|(name, value)| (canonical_header(name), value.to_string()))
            .collect();
        Ok(PresignedRequest {
            url,
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
        let encoded = utf8_percent_encode(file_name, NON_ALPHANUMERIC);
        let disposition = format!("attachment; filename*=UTF-8''{encoded}");
        let url = format!(
            "{}?response-content-disposition={}",
            self.client.object_url(&self.bucket, key),
            utf8_percent_encode(&disposition, QUERY_VALUE)
        );
        self.client.http.presign("GET", &url, &[], expires_in).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_listing_is_read_whole() {
        // GIVEN a page of ListObjectVersions as S3 writes it (a key with an ampersand)
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>documents/u/d/a&amp;b.pdf</Prefix>
  <KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker>
  <NextKeyMarker>documents/u/d/a&amp;b.pdf</NextKeyMarker>
  <NextVersionIdMarker>v2</NextVersionIdMarker>
  <MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
  <Version><Key>documents/u/d/a&amp;b.pdf</Key><VersionId>v1</VersionId>
    <IsLatest>false</IsLatest><Owner><ID>x</ID></Owner></Version>
  <DeleteMarker><Key>documents/u/d/a&amp;b.pdf</Key><VersionId>v2</VersionId>
    <IsLatest>true</IsLatest></DeleteMarker>
</ListVersionsResult>"#;
        // WHEN it is parsed
        let page = parse_version_page(xml).unwrap();
        // THEN every version and marker is there, with where the next page starts
        let key = "documents/u/d/a&b.pdf";
        assert_eq!(
            page,
            VersionPage {
                versions: vec![
                    ObjectVersion {
                        key: key.into(),
                        version_id: "v1".into()
                    },
                    ObjectVersion {
                        key: key.into(),
                        version_id: "v2".into()
                    },
                ],
                truncated: true,
                next_key_marker: Some(key.into()),
                next_version_id_marker: Some("v2".into()),
            }
        );
    }

    #[test]
    fn keys_are_encoded_once_and_addressed_by_bucket() {
        let virtual_hosted = BucketAddress::VirtualHosted {
            region: "eu-west-1".into(),
        };
        let emulator = BucketAddress::PathStyle {
            endpoint: "http://127.0.0.1:5055".into(),
        };
        let key = "documents/u/d/Annual report (v2)é.pdf";
        assert_eq!(
            format!("{}/{}", virtual_hosted.bucket_url("docs"), utf8_percent_encode(key, KEY)),
            "https://docs.s3.eu-west-1.amazonaws.com/documents/u/d/Annual%20report%20%28v2%29%C3%A9.pdf"
        );
        assert_eq!(emulator.bucket_url("docs"), "http://127.0.0.1:5055/docs");
        assert_eq!(
            virtual_hosted.bucket_url("docs.example.com"),
            "https://s3.eu-west-1.amazonaws.com/docs.example.com"
        );
    }

    #[test]
    fn s3_errors_keep_their_code() {
        let reply = |status, body: &str| Reply {
            status,
            headers: Default::default(),
            body: body.to_string().into(),
        };
        let missing = s3_error(&reply(
            404,
            "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>",
        ));
        assert_eq!(missing.code(), Some("NoSuchKey"));
        assert_eq!(s3_error(&reply(404, "")).code(), Some("NoSuchKey"));
        assert_eq!(
            s3_error(&reply(503, "<Error><Code>SlowDown</Code></Error>")).code(),
            Some("SlowDown")
        );
    }
}
