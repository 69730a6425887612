//! Which AWS failures a retry may fix (they become `Unavailable`; the rest
//! `Internal`): see [`super::json_rpc::CallError::into_error`].

/// Error codes AWS services use for "slow down" and "try again" (the SDK's
/// standard retry classifier's list, plus the services' own).
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
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "LimitExceededException",
    "BandwidthLimitExceeded",
    "PriorRequestNotComplete",
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
