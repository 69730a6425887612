//! SigV4-signed HTTPS requests to AWS, without an SDK client: what DynamoDB,
//! Secrets Manager (both JSON-RPC, see [`super::json_rpc`]) and OpenSearch
//! Serverless (REST) are spoken over.
//!
//! Why not the SDK for these: every SDK service crate parses its endpoint
//! partition table (JSON, with regexes compiled) when its first client is
//! built, and brings its generated (de)serialisers for every operation of the
//! service. DynamoDB is the one service all four functions call: speaking its
//! JSON protocol directly took the auth function from 9.0 to under 5 MB and
//! one partition-table parse out of every cold start (docs/benchmarks.md).
//! The protocol is small and stable: a POST of JSON to `/`, the operation in
//! `X-Amz-Target`, SigV4 from `aws-sigv4` (the SDK's own signer).
//!
//! The HTTPS client (hyper and rustls on ring, trusting Amazon's roots) is
//! built on the first request, so a cold start does no TLS set-up it may not
//! need. ring rather than aws-lc (the SDK's choice): a third of its size.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
#[cfg(feature = "aws-files")]
use aws_sigv4::http_request::SignatureLocation;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use crate::config::TlsRoots;
use crate::error::{Error, Result};

/// What a URL path segment or query value leaves unencoded: RFC 3986's
/// unreserved characters, as the SDK and SigV4 encode.
#[cfg_attr(
    not(any(feature = "aws-files", feature = "aws-bedrock")),
    allow(dead_code)
)]
pub(crate) const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One service's answer: status, headers and the whole body.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// A request before signing.
pub(crate) struct Unsigned<'a> {
    /// The signing name: `dynamodb`, `secretsmanager`, `aoss`.
    pub service: &'a str,
    pub method: &'a str,
    pub url: &'a str,
    /// Empty for a request without a body.
    pub content_type: &'a str,
    /// Signed as well, e.g. `x-amz-target`.
    pub headers: &'a [(&'a str, &'a str)],
    /// Shared, not copied, by each attempt of a retried call.
    pub body: Bytes,
    /// For the whole exchange, the body read included.
    pub timeout: Duration,
    pub rules: Rules,
}

/// How a service wants its requests signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rules {
    /// The path encoded twice and normalised, the payload hashed into the
    /// signature (DynamoDB, Secrets Manager, S3 Vectors, Bedrock).
    Standard,
    /// As `Standard`, with the payload's hash also sent as
    /// `x-amz-content-sha256`, which OpenSearch Serverless requires.
    #[cfg_attr(not(feature = "aws-search"), allow(dead_code))]
    PayloadHashHeader,
    /// S3's: the path as given (already encoded once, never normalised: keys
    /// may hold `//` or `..`), and the payload unsigned (`UNSIGNED-PAYLOAD`,
    /// as S3 allows: TLS protects the body and a 50 MB file is not hashed twice).
    #[cfg_attr(not(feature = "aws-files"), allow(dead_code))]
    S3,
}

impl Rules {
    fn settings(self) -> SigningSettings {
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = match self {
            Rules::Standard => PayloadChecksumKind::NoHeader,
            Rules::PayloadHashHeader | Rules::S3 => PayloadChecksumKind::XAmzSha256,
        };
        if self == Rules::S3 {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        settings
    }
}

/// Region, credentials and one pooled HTTPS client, shared by every service
/// spoken this way.
pub(crate) struct SignedHttp {
    region: String,
    credentials: Option<SharedCredentialsProvider>,
    tls_roots: TlsRoots,
    client: OnceLock<HttpClient>,
}

impl SignedHttp {
    pub fn new(
        region: &str,
        credentials: Option<SharedCredentialsProvider>,
        tls_roots: TlsRoots,
    ) -> Self {
        SignedHttp {
            region: region.to_string(),
            credentials,
            tls_roots,
            client: OnceLock::new(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    async fn identity(&self, service: &str) -> Result<Identity> {
        match &self.credentials {
            Some(provider) => Ok(provider
                .provide_credentials()
                .await
                .map_err(|error| {
                    Error::Unavailable(anyhow::anyhow!("AWS credentials for {service}: {error}"))
                })?
                .into()),
            None => Err(Error::Unavailable(anyhow::anyhow!(
                "no AWS credentials to sign {service} requests with"
            ))),
        }
    }

    /// A presigned URL for `method` on `url` (S3's rules), valid for
    /// `expires_in`; `headers` are signed into it, so whoever uses the URL
    /// must send exactly those.
    #[cfg(feature = "aws-files")]
    pub async fn presign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        expires_in: Duration,
    ) -> Result<String> {
        let identity = self.identity("s3").await?;
        let mut settings = Rules::S3.settings();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        let request = signed_request(
            Signing {
                identity: &identity,
                region: &self.region,
                service: "s3",
                settings,
                time: SystemTime::now(),
            },
            method,
            url,
            headers,
            SignableBody::UnsignedPayload,
            (),
        )?;
        Ok(request.uri().to_string())
    }

    fn client(&self) -> Result<&HttpClient> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match self.tls_roots {
            TlsRoots::System => builder
                .with_provider_and_native_roots(provider)
                .map_err(|error| anyhow::anyhow!("system TLS roots: {error}")),
            TlsRoots::Amazon => rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|config| {
                    builder.with_tls_config(
                        config
                            .with_root_certificates(super::tls::amazon_root_store())
                            .with_no_client_auth(),
                    )
                })
                .map_err(|error| anyhow::anyhow!("TLS configuration: {error}")),
        };
        let connector = builder
            .map_err(Error::Internal)?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        Ok(self.client.get_or_init(|| client))
    }

    /// Signs and sends one request. Any answer from the service is a
    /// [`Reply`], whatever its status; failing to reach it (or to hear the
    /// whole answer in time) is `Unavailable`.
    pub async fn send(&self, request: Unsigned<'_>) -> Result<Reply> {
        let Unsigned {
            service,
            method,
            url,
            content_type,
            headers: extra_headers,
            body,
            timeout,
            rules,
        } = request;
        let identity = self.identity(service).await?;
        let mut headers = Vec::with_capacity(extra_headers.len() + 1);
        if !content_type.is_empty() {
            headers.push(("content-type", content_type));
        }
        headers.extend_from_slice(extra_headers);
        let payload = match rules {
            Rules::Standard | Rules::PayloadHashHeader => SignableBody::Bytes(&body),
            Rules::S3 => SignableBody::UnsignedPayload,
        };
        let mut http_request = signed_request(
            Signing {
                identity: &identity,
                region: &self.region,
                service,
                settings: rules.settings(),
                time: SystemTime::now(),
            },
            method,
            url,
            &headers,
            payload,
            Full::new(body.clone()),
        )?;
        // hyper leaves Content-Length out of a request with an empty body;
        // S3 wants it on every PUT (a CreateBucket without configuration).
        if matches!(method, "PUT" | "POST") {
            http_request.headers_mut().insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(body.len()),
            );
        }

        let client = self.client()?;
        let exchange = async {
            let response = client.request(http_request).await.map_err(|error| {
                Error::Unavailable(anyhow::anyhow!("{service} {method} {url}: {error}"))
            })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|error| {
                    Error::Unavailable(anyhow::anyhow!("{service} {method} {url}: {error}"))
                })?
                .to_bytes();
            Ok(Reply {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| {
            Error::Unavailable(anyhow::anyhow!(
                "{service} {method} {url}: no answer within {timeout:?}"
            ))
        })?
    }
}

/// Who signs, where, for which service, how and when.
struct Signing<'a> {
    identity: &'a Identity,
    region: &'a str,
    service: &'a str,
    settings: SigningSettings,
    time: SystemTime,
}

/// The request `method url` with `headers` and `http_body`, signed as
/// `signing` says (in headers, or in the query string for a presigned URL).
fn signed_request<B>(
    signing: Signing<'_>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload: SignableBody<'_>,
    http_body: B,
) -> Result<http::Request<B>> {
    let service = signing.service;
    let failed = |error: &dyn std::fmt::Display| {
        Error::Internal(anyhow::anyhow!("signing {service} {url}: {error}"))
    };
    let params = SigningParams::builder()
        .identity(signing.identity)
        .region(signing.region)
        .name(service)
        .time(signing.time)
        .settings(signing.settings)
        .build()
        .map_err(|error| failed(&error))?;
    let mut signed_headers = vec![("host", host_of(url))];
    signed_headers.extend_from_slice(headers);
    let signable = SignableRequest::new(method, url, signed_headers.iter().copied(), payload)
        .map_err(|error| failed(&error))?;
    let (instructions, _) = sign(signable, &params.into())
        .map_err(|error| failed(&error))?
        .into_parts();
    let mut builder = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(http_body).map_err(|error| failed(&error))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request)
}

/// The `host[:port]` of a URL, as the `Host` header will carry it.
fn host_of(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    /// 2026-01-01T00:00:00Z.
    fn new_year() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_767_225_600)
    }

    fn identity() -> Identity {
        aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        )
        .into()
    }

    const OBJECT: &str = "https://askdocs-docs.s3.eu-west-1.amazonaws.com/documents/u1/d1/Annual%20report%20%28v2%29.pdf";

    // The expected signatures were made by botocore 1.43 (the AWS CLI's
    // signer) from the same inputs: S3SigV4QueryAuth for the presigned PUT,
    // S3SigV4Auth told not to hash the payload for the GET.

    #[test]
    #[cfg(feature = "aws-files")]
    fn an_upload_url_is_signed_as_s3_expects() {
        let identity = identity();
        let mut settings = Rules::S3.settings();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(900));
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        let request = signed_request(
            Signing {
                identity: &identity,
                region: "eu-west-1",
                service: "s3",
                settings,
                time: new_year(),
            },
            "PUT",
            OBJECT,
            &[
                ("content-type", "application/pdf"),
                ("content-length", "9"),
                ("if-none-match", "*"),
            ],
            SignableBody::UnsignedPayload,
            (),
        )
        .unwrap();
        let url = request.uri().to_string();
        assert!(url.starts_with(OBJECT), "{url}");
        assert!(url
            .contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match"));
        assert!(
            url.contains(
                "X-Amz-Signature=7c42b4b5eb24ce5b992deaa8503675bf577500a1c43688f688abf62426479b04"
            ),
            "{url}"
        );
    }

    #[test]
    fn an_s3_request_is_signed_with_its_path_as_given_and_an_unsigned_payload() {
        let identity = identity();
        let request = signed_request(
            Signing {
                identity: &identity,
                region: "eu-west-1",
                service: "s3",
                settings: Rules::S3.settings(),
                time: new_year(),
            },
            "GET",
            OBJECT,
            &[],
            SignableBody::UnsignedPayload,
            (),
        )
        .unwrap();
        assert_eq!(
            request.headers()["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
             Signature=96d58cf15ce849f8461e2b0a1a871d57a3fbf6ec86321a19d840888768afce95"
        );
        assert_eq!(
            request.headers()["x-amz-content-sha256"],
            "UNSIGNED-PAYLOAD"
        );
    }

    fn signed_post(service: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
        let identity: Identity = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-token".into()),
            None,
            "test",
        )
        .into();
        let request = signed_request(
            Signing {
                identity: &identity,
                region: "eu-west-1",
                service,
                settings: Rules::Standard.settings(),
                time: new_year(),
            },
            "POST",
            url,
            headers,
            SignableBody::Bytes(body),
            (),
        )
        .unwrap();
        assert!(!request.headers().contains_key("x-amz-content-sha256"));
        assert_eq!(request.headers()["x-amz-security-token"], "session-token");
        request.headers()["authorization"]
            .to_str()
            .unwrap()
            .to_string()
    }

    // Expected values from botocore 1.43's SigV4Auth, same inputs.

    #[test]
    fn a_dynamodb_call_is_signed_as_the_aws_cli_signs_it() {
        let authorization = signed_post(
            "dynamodb",
            "https://dynamodb.eu-west-1.amazonaws.com/",
            &[
                ("content-type", "application/x-amz-json-1.0"),
                ("x-amz-target", "DynamoDB_20120810.GetItem"),
            ],
            br#"{"TableName":"askdocs-users","Key":{"userId":{"S":"u1"}}}"#,
        );
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/dynamodb/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, \
             Signature=9fa0efc116edc9ce52a225558fdca72c6fb448fbd92919cdb0fd03c8c8cbd5e9"
        );
    }

    #[test]
    fn a_bedrock_model_path_is_signed_encoded_twice() {
        let authorization = signed_post(
            "bedrock",
            "https://bedrock-runtime.eu-west-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke",
            &[("content-type", "application/json"), ("accept", "application/json")],
            b"{}",
        );
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/bedrock/aws4_request, \
             SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, \
             Signature=7433ff8d1e572c253b1f18e937a380d9805d260b2f97c66938e995b78f5fa790"
        );
    }

    #[test]
    fn hosts_are_read_with_their_port() {
        assert_eq!(
            host_of("http://127.0.0.1:5055/bucket/key?versions"),
            "127.0.0.1:5055"
        );
        assert_eq!(
            host_of("https://dynamodb.eu-west-1.amazonaws.com/"),
            "dynamodb.eu-west-1.amazonaws.com"
        );
        assert_eq!(host_of("http://127.0.0.1:5055?x"), "127.0.0.1:5055");
    }
}
