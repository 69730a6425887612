//! AWS failures as our error: what a retry may fix is `Unavailable`, the rest
//! `Internal`; the detail is kept for the log only.

#[cfg(feature = "aws-sdk")]
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
#[cfg(feature = "aws-sdk")]
use aws_smithy_runtime_api::client::result::SdkError;
#[cfg(feature = "aws-sdk")]
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[cfg(feature = "aws-sdk")]
use crate::error::Error;

/// Error codes AWS services use for "slow down" and "try again".
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalServerError",
    "InternalServerException",
    "InternalError",
    "RequestTimeout",
    "RequestTimeoutException",
    "TransactionConflictException",
    "ModelTimeoutException",
    "ModelNotReadyException",
];

/// Whether an HTTP status says "try again": server errors, 408 and 429.
pub(crate) fn retryable_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// Whether a service's error code says "slow down" or "try again".
pub(crate) fn retryable_code(code: &str) -> bool {
    RETRYABLE_CODES.contains(&code)
}

#[cfg(feature = "aws-sdk")]
pub(crate) fn sdk_error<E>(context: &'static str, error: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retryable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            error.code().is_some_and(retryable_code)
                || retryable_status(service.raw().status().as_u16())
        }
        _ => false,
    };
    let detail = anyhow::anyhow!("{context}: {}", describe(&error));
    if retryable {
        Error::Unavailable(detail)
    } else {
        Error::Internal(detail)
    }
}

#[cfg(feature = "aws-sdk")]
pub(crate) fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(error)
        ),
    }
}
