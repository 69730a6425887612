//! AWS's JSON protocols: "awsJson1_0"/"awsJson1_1" as DynamoDB and Secrets
//! Manager speak it (every call a signed POST of a JSON object to `/`, the
//! operation named in `X-Amz-Target`), and "restJson1" as S3 Vectors and
//! Bedrock Runtime speak it (a POST of JSON to the operation's path). An
//! error is a 4xx/5xx whose body or `X-Amzn-ErrorType` header names its type
//! (`com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`).
//!
//! Retries follow the SDK's standard mode: throttling, server errors and
//! failures to connect are tried again (up to `AWS_MAX_ATTEMPTS`, default 3)
//! after a jittered exponential back-off, within the operation's deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::errors::{retryable_code, retryable_status};
use super::signed::{Rules, SignedHttp, Unsigned};
use crate::error::Error;

/// What a failed call was: the service's own answer, or no answer at all.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The service answered with an error (after any retries).
    Service {
        code: String,
        message: String,
        status: u16,
        body: Value,
    },
    /// Not reached, timed out, or not understood.
    Failed(Error),
}

impl CallError {
    /// The service's error code without its namespace (`ResourceInUseException`).
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Service { code, .. } => Some(code),
            CallError::Failed(_) => None,
        }
    }

    /// The body of the service's error answer (e.g. a transaction's cancellation reasons).
    pub fn body(&self) -> Option<&Value> {
        match self {
            CallError::Service { body, .. } => Some(body),
            CallError::Failed(_) => None,
        }
    }

    fn retryable(&self) -> bool {
        match self {
            CallError::Service { code, status, .. } => {
                retryable_code(code) || retryable_status(*status)
            }
            CallError::Failed(Error::Unavailable(_)) => true,
            CallError::Failed(_) => false,
        }
    }

    /// Our error: what a retry may fix is `Unavailable`, the rest `Internal`;
    /// the detail is for the log only.
    pub fn into_error(self, context: &str) -> Error {
        let retryable = self.retryable();
        let detail = match self {
            CallError::Service { code, message, .. } if message.is_empty() => {
                anyhow::anyhow!("{context}: {code}")
            }
            CallError::Service { code, message, .. } => {
                anyhow::anyhow!("{context}: {code}: {message}")
            }
            CallError::Failed(error) => anyhow::anyhow!("{context}: {error:#}"),
        };
        if retryable {
            Error::Unavailable(detail)
        } else {
            Error::Internal(detail)
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Service { code, message, .. } => write!(formatter, "{code}: {message}"),
            CallError::Failed(error) => write!(formatter, "{error:#}"),
        }
    }
}

/// Which of the JSON protocols a service speaks.
pub(crate) enum Protocol {
    /// Operations named in `X-Amz-Target`: `DynamoDB_20120810`, `secretsmanager`;
    /// content type `application/x-amz-json-1.0` (DynamoDB) or `-1.1`.
    AwsJson {
        target_prefix: &'static str,
        content_type: &'static str,
    },
    /// Operations at their own paths, content type `application/json`.
    #[cfg_attr(
        not(any(feature = "aws-search", feature = "aws-bedrock")),
        allow(dead_code)
    )]
    RestJson,
}

/// How one service is spoken to.
pub(crate) struct JsonService {
    pub signing_name: &'static str,
    pub protocol: Protocol,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
}

/// A service's client: its endpoint and the shared signed HTTPS client.
#[derive(Clone)]
pub(crate) struct JsonClient {
    http: Arc<SignedHttp>,
    endpoint: Arc<str>,
    service: Arc<JsonService>,
    max_attempts: u32,
}

/// The endpoint for `service`: `AWS_ENDPOINT_URL_<SERVICE>` first, then the
/// one configured for every service (an emulator), then AWS's regional one.
pub(crate) fn endpoint(
    environment_key: &str,
    host_prefix: &str,
    domain: Domain,
    configured: Option<&str>,
    region: &str,
) -> String {
    configured_endpoint(environment_key, configured).unwrap_or_else(|| {
        format!(
            "https://{host_prefix}.{region}.{}",
            domain.in_region(region)
        )
    })
}

/// `AWS_ENDPOINT_URL_<SERVICE>`, else the endpoint configured for every
/// service (an emulator), without a trailing slash; `None` means AWS's own.
pub(crate) fn configured_endpoint(
    environment_key: &str,
    configured: Option<&str>,
) -> Option<String> {
    let specific = std::env::var(format!("AWS_ENDPOINT_URL_{environment_key}")).ok();
    specific
        .as_deref()
        .or(configured)
        .map(|url| url.trim_end_matches('/').to_string())
}

/// Where a service's regional endpoints live: `dynamodb.<region>.amazonaws.com`,
/// or (newer services, dual-stack) `s3vectors.<region>.api.aws`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Domain {
    AmazonAws,
    #[cfg_attr(not(feature = "aws-search"), allow(dead_code))]
    ApiAws,
}

impl Domain {
    /// The domain in `region` (China's partition has its own).
    pub fn in_region(self, region: &str) -> &'static str {
        match (self, region.starts_with("cn-")) {
            (Domain::AmazonAws, false) => "amazonaws.com",
            (Domain::AmazonAws, true) => "amazonaws.com.cn",
            (Domain::ApiAws, false) => "api.aws",
            (Domain::ApiAws, true) => "api.amazonwebservices.com.cn",
        }
    }
}

/// Runs `attempt` (given the time it may take) until it succeeds, fails in a
/// way a retry cannot fix, has been tried `max_attempts` times, or the next
/// try would end past `operation_timeout`.
pub(crate) async fn with_retries<T, Attempt, Reply>(
    max_attempts: u32,
    operation_timeout: Duration,
    attempt_timeout: Duration,
    label: &str,
    mut attempt: Attempt,
) -> Result<T, CallError>
where
    Attempt: FnMut(Duration) -> Reply,
    Reply: std::future::Future<Output = Result<T, CallError>>,
{
    let deadline = Instant::now() + operation_timeout;
    let mut tries = 1;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match attempt(left.min(attempt_timeout)).await {
            Err(error) if error.retryable() && tries < max_attempts => {
                let pause = backoff(tries - 1);
                if Instant::now() + pause >= deadline {
                    return Err(error);
                }
                tracing::debug!(%error, tries, label, "retrying an AWS call");
                tokio::time::sleep(pause).await;
                tries += 1;
            }
            result => return result,
        }
    }
}

/// `AWS_MAX_ATTEMPTS`, as the SDK reads it (3 when unset or not a number ≥ 1).
pub(crate) fn max_attempts() -> u32 {
    std::env::var("AWS_MAX_ATTEMPTS")
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .filter(|attempts: &u32| *attempts >= 1)
        .unwrap_or(3)
}

/// The SDK's standard back-off: full jitter over 1 s × 2^retry, at most 20 s
/// (the operation's deadline cuts it shorter).
pub(crate) fn backoff(retry: u32) -> Duration {
    let ceiling = backoff_ceiling(retry);
    // Random enough for jitter, without a random-number crate.
    let jitter = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0;
    ceiling.mul_f64(jitter)
}

fn backoff_ceiling(retry: u32) -> Duration {
    Duration::from_secs(1u64 << retry.min(5)).min(Duration::from_secs(20))
}

impl JsonClient {
    pub fn new(http: Arc<SignedHttp>, endpoint: String, service: JsonService) -> Self {
        JsonClient {
            http,
            endpoint: endpoint.into(),
            service: Arc::new(service),
            max_attempts: max_attempts(),
        }
    }

    /// Calls `operation` of an "awsJson" service with `input`; answers the output object.
    pub async fn call(&self, operation: &str, input: &Value) -> Result<Value, CallError> {
        let Protocol::AwsJson {
            target_prefix,
            content_type,
        } = self.service.protocol
        else {
            unreachable!("{operation} called on a restJson service");
        };
        let target = format!("{target_prefix}.{operation}");
        let headers = [("x-amz-target", target.as_str())];
        self.send("/", content_type, &headers, input).await
    }

    /// POSTs `input` to `path` (already percent-encoded) of a "restJson" service.
    #[cfg_attr(
        not(any(feature = "aws-search", feature = "aws-bedrock")),
        allow(dead_code)
    )]
    pub async fn post(&self, path: &str, input: &Value) -> Result<Value, CallError> {
        self.send(
            path,
            "application/json",
            &[("accept", "application/json")],
            input,
        )
        .await
    }

    async fn send(
        &self,
        path: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        input: &Value,
    ) -> Result<Value, CallError> {
        let body =
            hyper::body::Bytes::from(serde_json::to_vec(input).expect("a JSON value serialises"));
        let url = format!("{}{path}", self.endpoint);
        with_retries(
            self.max_attempts,
            self.service.operation_timeout,
            self.service.attempt_timeout,
            path,
            |timeout| {
                self.attempt(Unsigned {
                    service: self.service.signing_name,
                    method: "POST",
                    url: &url,
                    content_type,
                    headers,
                    body: body.clone(),
                    timeout,
                    rules: Rules::Standard,
                })
            },
        )
        .await
    }

    async fn attempt(&self, request: Unsigned<'_>) -> Result<Value, CallError> {
        let url = request.url;
        let reply = self.http.send(request).await.map_err(CallError::Failed)?;
        let value: Value = if reply.body.is_empty() {
            Value::Object(Default::default())
        } else {
            match serde_json::from_slice(&reply.body) {
                Ok(value) => value,
                Err(_) if reply.status >= 500 => Value::Null,
                Err(error) => {
                    return Err(CallError::Failed(Error::Internal(anyhow::anyhow!(
                        "{url} answered {} with a body that is not JSON: {error}",
                        reply.status
                    ))))
                }
            }
        };
        if (200..300).contains(&reply.status) {
            return Ok(value);
        }
        // The type is in the body's `__type` (or `code`), or in a header.
        let header_type = reply
            .headers
            .get("x-amzn-errortype")
            .and_then(|value| value.to_str().ok());
        let raw_type = value["__type"]
            .as_str()
            .or_else(|| value["code"].as_str())
            .or(header_type)
            .unwrap_or("UnknownError");
        let code = raw_type
            .rsplit('#')
            .next()
            .unwrap_or(raw_type)
            .split(':')
            .next()
            .unwrap_or(raw_type)
            .to_string();
        let message = value["message"]
            .as_str()
            .or_else(|| value["Message"].as_str())
            .unwrap_or_default()
            .to_string();
        Err(CallError::Service {
            code,
            message,
            status: reply.status,
            body: value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regional_endpoint_unless_one_is_configured() {
        // GIVEN no service-specific endpoint in the environment (the key is unused)
        // WHEN endpoints are resolved
        let unset = "ASKDOCS_TEST_NO_SUCH";
        let regional = endpoint(unset, "dynamodb", Domain::AmazonAws, None, "eu-west-1");
        let china = endpoint(unset, "dynamodb", Domain::AmazonAws, None, "cn-north-1");
        let vectors = endpoint(unset, "s3vectors", Domain::ApiAws, None, "us-east-1");
        let vectors_china = endpoint(unset, "s3vectors", Domain::ApiAws, None, "cn-northwest-1");
        let emulator = endpoint(
            unset,
            "dynamodb",
            Domain::AmazonAws,
            Some("http://127.0.0.1:5055/"),
            "eu-west-1",
        );
        // THEN AWS's regional endpoint is used unless one is configured
        // (the S3 Vectors ones as the SDK's endpoint rules test them)
        assert_eq!(regional, "https://dynamodb.eu-west-1.amazonaws.com");
        assert_eq!(china, "https://dynamodb.cn-north-1.amazonaws.com.cn");
        assert_eq!(vectors, "https://s3vectors.us-east-1.api.aws");
        assert_eq!(
            vectors_china,
            "https://s3vectors.cn-northwest-1.api.amazonwebservices.com.cn"
        );
        assert_eq!(emulator, "http://127.0.0.1:5055");
    }

    #[test]
    fn back_off_grows_and_stays_bounded() {
        assert_eq!(backoff_ceiling(0), Duration::from_secs(1));
        assert_eq!(backoff_ceiling(1), Duration::from_secs(2));
        assert_eq!(backoff_ceiling(9), Duration::from_secs(20));
        for retry in 0..10 {
            assert!(backoff(retry) <= backoff_ceiling(retry));
        }
    }

    #[test]
    fn throttling_is_retried_and_a_failed_condition_is_not() {
        let service = |code: &str, status| CallError::Service {
            code: code.into(),
            message: String::new(),
            status,
            body: Value::Null,
        };
        assert!(service("ProvisionedThroughputExceededException", 400).retryable());
        assert!(service("InternalServerError", 500).retryable());
        assert!(service("TransactionInProgressException", 400).retryable());
        assert!(!service("ConditionalCheckFailedException", 400).retryable());
        assert!(matches!(
            service("ConditionalCheckFailedException", 400).into_error("PutItem"),
            Error::Internal(_)
        ));
        assert!(matches!(
            service("ThrottlingException", 400).into_error("PutItem"),
            Error::Unavailable(_)
        ));
    }
}
