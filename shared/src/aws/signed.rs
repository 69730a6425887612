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
//! The HTTPS client (hyper and rustls, trusting Amazon's roots) is built on
//! the first request, so a cold start does no TLS set-up it may not need. Its
//! cryptography is aws-lc where an SDK client already links it, and ring
//! where none does (the auth function): a third of aws-lc's size.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;

use crate::config::TlsRoots;
use crate::error::{Error, Result};

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
    pub content_type: &'a str,
    /// Signed as well, e.g. `x-amz-target`.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Vec<u8>,
    /// For the whole exchange, the body read included.
    pub timeout: Duration,
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

    fn client(&self) -> Result<&HttpClient> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        #[cfg(feature = "aws-sdk")]
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        #[cfg(not(feature = "aws-sdk"))]
        let provider = rustls::crypto::ring::default_provider();
        let provider = std::sync::Arc::new(provider);
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
        } = request;
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        let credentials = match &self.credentials {
            Some(provider) => provider.provide_credentials().await.map_err(|error| {
                Error::Unavailable(anyhow::anyhow!("AWS credentials for {service}: {error}"))
            })?,
            None => {
                return Err(Error::Unavailable(anyhow::anyhow!(
                    "no AWS credentials to sign {service} requests with"
                )))
            }
        };
        let identity: Identity = credentials.into();
        let mut settings = SigningSettings::default();
        // OpenSearch Serverless requires the payload hash as a header; the
        // other services accept it.
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|error| Error::Internal(anyhow::anyhow!("SigV4 parameters: {error}")))?;
        let mut signed_headers = vec![("host", host), ("content-type", content_type)];
        signed_headers.extend_from_slice(extra_headers);
        let signable = SignableRequest::new(
            method,
            url,
            signed_headers.iter().copied(),
            SignableBody::Bytes(&body),
        )
        .map_err(|error| {
            Error::Internal(anyhow::anyhow!("signing a {service} request: {error}"))
        })?;
        let (instructions, _) = sign(signable, &params.into())
            .map_err(|error| {
                Error::Internal(anyhow::anyhow!("signing a {service} request: {error}"))
            })?
            .into_parts();
        let mut builder = http::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", content_type);
        for (name, value) in extra_headers {
            builder = builder.header(*name, *value);
        }
        let mut http_request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| Error::Internal(anyhow::anyhow!("a {service} request: {error}")))?;
        instructions.apply_to_request_http1x(&mut http_request);

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
