//! SigV4-signed HTTPS for the OpenSearch Serverless data plane, the one AWS
//! API without an SDK client: plain OpenSearch REST, signed with the SDK's
//! own signer (`aws-sigv4`) for service `aoss`, which also wants the
//! payload's hash in `x-amz-content-sha256`.
//!
//! Credentials come from the SDK's provider (Lambda's environment, or a
//! person's profile/SSO) and are cached here until shortly before they
//! expire, so a signed request does not ask the provider each time. Requests
//! go through a pooled HTTPS client of their own ([`AwsHttp`]).
//!
//! Throttling (429) and server errors (5xx) are tried again after a jittered
//! exponential back-off, as the SDK does for the services it serves.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt as _;
use hyper::body::Bytes;

use crate::aws::http::AwsHttp;
use crate::error::{Error, Result};

/// Tries of one request: the first and two retries, as the SDK's standard mode.
const MAX_ATTEMPTS: u32 = 3;
/// How long a connection may take to open (as the SDK clients').
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Cached credentials are renewed this long before they expire.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// One answer: status and the whole body.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Bytes,
}

/// A request before signing.
pub(crate) struct Unsigned<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub content_type: &'a str,
    /// Shared, not copied, by each attempt.
    pub body: Bytes,
    /// For one attempt, the body read included.
    pub timeout: Duration,
}

/// Region, cached credentials and the shared HTTPS client.
pub(crate) struct SignedHttp {
    region: String,
    provider: Option<SharedCredentialsProvider>,
    credentials: Mutex<Option<Credentials>>,
    http: AwsHttp,
}

impl SignedHttp {
    pub fn new(region: &str, provider: Option<SharedCredentialsProvider>, http: AwsHttp) -> Self {
        SignedHttp {
            region: region.to_string(),
            provider,
            credentials: Mutex::new(None),
            http,
        }
    }

    /// The cached credentials, renewed from the provider when missing or
    /// about to expire.
    async fn credentials(&self) -> Result<Credentials> {
        let fresh = |credentials: &Credentials| {
            credentials.expiry().is_none_or(|expiry| {
                expiry
                    .duration_since(SystemTime::now())
                    .is_ok_and(|left| left > RENEW_BEFORE_EXPIRY)
            })
        };
        if let Some(cached) = self.credentials.lock().expect("not poisoned").as_ref() {
            if fresh(cached) {
                return Ok(cached.clone());
            }
        }
        let provider = self.provider.as_ref().ok_or_else(|| {
            Error::Unavailable(anyhow::anyhow!(
                "no AWS credentials to sign OpenSearch requests with"
            ))
        })?;
        let credentials = provider.provide_credentials().await.map_err(|error| {
            Error::Unavailable(anyhow::anyhow!("AWS credentials for OpenSearch: {error}"))
        })?;
        *self.credentials.lock().expect("not poisoned") = Some(credentials.clone());
        Ok(credentials)
    }

    /// Signs and sends `request`, again after a back-off while it is throttled
    /// (429), fails on the server's side (5xx) or cannot be delivered. Any
    /// other answer is a [`Reply`], whatever its status.
    pub async fn send(&self, request: Unsigned<'_>) -> Result<Reply> {
        let mut attempt = 1;
        loop {
            let outcome = self.send_once(&request).await;
            let retryable = match &outcome {
                Ok(reply) => reply.status == 429 || reply.status >= 500,
                Err(error) => error.is_retryable(),
            };
            if !retryable || attempt == MAX_ATTEMPTS {
                return match outcome {
                    Ok(reply) if reply.status == 429 || reply.status >= 500 => {
                        Err(Error::Unavailable(anyhow::anyhow!(
                            "OpenSearch {} {} answered {} after {attempt} attempts",
                            request.method,
                            request.url,
                            reply.status
                        )))
                    }
                    outcome => outcome,
                };
            }
            tokio::time::sleep(backoff(attempt - 1)).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, request: &Unsigned<'_>) -> Result<Reply> {
        let credentials = self.credentials().await?;
        let http_request = signed_request(
            &credentials.into(),
            &self.region,
            SystemTime::now(),
            request,
        )?;
        let client = self.http.client(CONNECT_TIMEOUT);
        let (method, url) = (request.method, request.url);
        let exchange = async {
            let response = client.request(http_request).await.map_err(|error| {
                Error::Unavailable(anyhow::anyhow!("OpenSearch {method} {url}: {error}"))
            })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|error| {
                    Error::Unavailable(anyhow::anyhow!("OpenSearch {method} {url}: {error}"))
                })?
                .to_bytes();
            Ok(Reply {
                status: parts.status.as_u16(),
                body,
            })
        };
        tokio::time::timeout(request.timeout, exchange)
            .await
            .map_err(|_| {
                Error::Unavailable(anyhow::anyhow!(
                    "OpenSearch {method} {url}: no answer within {:?}",
                    request.timeout
                ))
            })?
    }
}

/// Full jitter over 1 s × 2^retry, at most 20 s (the SDK's standard back-off).
fn backoff(retry: u32) -> Duration {
    let ceiling = Duration::from_secs(1u64 << retry.min(4)).min(Duration::from_secs(20));
    let jitter = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0;
    ceiling.mul_f64(jitter)
}

/// `request` signed for `aoss` in `region` at `time`, with the payload's
/// hash as `x-amz-content-sha256`.
fn signed_request(
    identity: &Identity,
    region: &str,
    time: SystemTime,
    request: &Unsigned<'_>,
) -> Result<http::Request<SdkBody>> {
    let url = request.url;
    let failed = |error: &dyn std::fmt::Display| {
        Error::Internal(anyhow::anyhow!("signing OpenSearch {url}: {error}"))
    };
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("aoss")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|error| failed(&error))?;
    let headers = [
        ("host", host_of(url)),
        ("content-type", request.content_type),
    ];
    let signable = SignableRequest::new(
        request.method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(&request.body),
    )
    .map_err(|error| failed(&error))?;
    let (instructions, _) = sign(signable, &params.into())
        .map_err(|error| failed(&error))?
        .into_parts();
    let mut signed = http::Request::builder()
        .method(request.method)
        .uri(url)
        .header("content-type", request.content_type)
        .header(http::header::CONTENT_LENGTH, request.body.len())
        .body(SdkBody::from(request.body.clone()))
        .map_err(|error| failed(&error))?;
    instructions.apply_to_request_http1x(&mut signed);
    Ok(signed)
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

    #[test]
    fn a_search_is_signed_for_aoss_with_its_payload_hash() {
        // GIVEN a session's credentials and a search of a collection
        let identity: Identity = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-token".into()),
            None,
            "test",
        )
        .into();
        let body = Bytes::from_static(br#"{"query":{"match_all":{}}}"#);
        let request = Unsigned {
            method: "POST",
            url: "https://abc123.eu-west-1.aoss.amazonaws.com/passages/_search",
            content_type: "application/json",
            body: body.clone(),
            timeout: Duration::from_secs(1),
        };
        // WHEN it is signed on 2026-01-01
        let time = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let signed = signed_request(&identity, "eu-west-1", time, &request).unwrap();
        // THEN the signature's scope is aoss in the region, and the payload's
        // hash, the session token and the host are signed
        let headers = signed.headers();
        let authorization = headers["authorization"].to_str().unwrap();
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/aoss/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
            ),
            "{authorization}"
        );
        use sha2::Digest as _;
        let hash: String = sha2::Sha256::digest(&body)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(headers["x-amz-content-sha256"], hash.as_str());
        assert_eq!(headers["content-length"], "26");
    }

    #[test]
    fn hosts_are_read_with_their_port() {
        assert_eq!(
            host_of("http://127.0.0.1:5055/passages/_search"),
            "127.0.0.1:5055"
        );
        assert_eq!(
            host_of("https://abc.eu-west-1.aoss.amazonaws.com/_bulk"),
            "abc.eu-west-1.aoss.amazonaws.com"
        );
        assert_eq!(host_of("http://127.0.0.1:5055?x"), "127.0.0.1:5055");
    }

    #[test]
    fn back_off_stays_bounded() {
        for retry in 0..10 {
            assert!(backoff(retry) <= Duration::from_secs(20));
        }
    }
}
