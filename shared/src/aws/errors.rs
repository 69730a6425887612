//! SDK failures as our error. The SDK has already retried what its retry
//! strategy retries; what is left and a later retry may still fix (throttling,
//! timeouts, an unreachable or failing service) is `Unavailable`, the rest
//! `Internal`. The detail is kept for the log only.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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
    "TransactionInProgressException",
    "ModelTimeoutException",
    // Textract: too many jobs at once for the account.
    "LimitExceededException",
    "ModelNotReadyException",
];

/// What every SDK operation's error is (the bound of `sdk_error` and of the
/// adapters that look at a service's error code first).
pub(crate) trait ServiceError:
    ProvideErrorMetadata + std::error::Error + Send + Sync + 'static
{
}

impl<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static> ServiceError for E {}

/// Whether an HTTP status says "try again": server errors, 408 and 429.
pub(crate) fn retryable_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// `error` of the call `context` names, as our error.
pub(crate) fn sdk_error<E>(context: &str, error: SdkError<E, HttpResponse>) -> Error
where
    E: ServiceError,
{
    let retryable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            error
                .code()
                .is_some_and(|code| RETRYABLE_CODES.contains(&code))
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

/// Whether `error` is the service answering with `code`.
#[cfg(feature = "aws-admin")]
pub(crate) fn is_service_error<E, R>(error: &SdkError<E, R>, code: &str) -> bool
where
    E: ProvideErrorMetadata,
{
    matches!(error, SdkError::ServiceError(_)) && error.code() == Some(code)
}

/// The service's code and message, or the whole chain of a failure to reach it.
pub(crate) fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: ServiceError,
    R: std::fmt::Debug,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => format!("{}", DisplayErrorContext(error)),
    }
}
