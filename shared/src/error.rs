//! The one error type every askdocs handler answers with.
//!
//! Each variant knows its HTTP status and a stable snake_case `code`; the body is
//! always `{"error":{"code":"…","message":"…"}}`. Internal failures are answered
//! with a generic message, so no detail of the backend ever reaches a client;
//! their full chain travels with the response (as [`FailureDetail`]) to the
//! request-logging layer, which logs it with the request's id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A dependency that is briefly unavailable usually is again within seconds.
const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 2;

/// The full text of a server-side failure, attached to its response for the
/// request-logging layer; never sent to the client.
#[derive(Debug, Clone)]
pub struct FailureDetail(pub String);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request could not be read: not JSON, wrong types, missing fields.
    #[error("{0}")]
    InvalidRequest(String),
    /// The request was readable but a value breaks a rule (email format, password policy, …).
    #[error("{0}")]
    Validation(String),
    /// Wrong email or password; deliberately says nothing about which.
    #[error("email or password is incorrect")]
    InvalidCredentials,
    /// No usable credentials: missing, malformed, expired, tampered or revoked token.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated (or not), but not allowed: e.g. a cross-site request.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A conflict with existing state, with its own code (e.g. `email_taken`).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The caller's documents would exceed their storage quota.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Understood, but it cannot be done, with its own code (e.g. `content_filtered`).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// Too many attempts (failed logins, password hashes waiting); retry after the given seconds.
    #[error("{message}")]
    RateLimited { message: String, retry_after: u64 },
    /// The work did not fit in the time the request is allowed (an answer
    /// that would outlast API Gateway's limit); nothing was saved.
    #[error("{0}")]
    TimedOut(String),
    /// A dependency is briefly unavailable (throttling, timeouts); retrying may succeed.
    #[error("service temporarily unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// Anything else: a bug or a broken backend. Never shown to the client.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn status_code(&self) -> StatusCode {
        match self {
            Error::InvalidRequest(_) | Error::Validation(_) => StatusCode::BAD_REQUEST,
            Error::InvalidCredentials | Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) | Error::QuotaExceeded(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::TimedOut(_) => StatusCode::GATEWAY_TIMEOUT,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidRequest(_) => "invalid_request",
            Error::Validation(_) => "validation_failed",
            Error::InvalidCredentials => "invalid_credentials",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::MethodNotAllowed(_) => "method_not_allowed",
            Error::Conflict { code, .. } => code,
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::QuotaExceeded(_) => "quota_exceeded",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::Unprocessable { code, .. } => code,
            Error::RateLimited { .. } => "rate_limited",
            Error::TimedOut(_) => "timeout",
            Error::Unavailable(_) => "service_unavailable",
            Error::Internal(_) => "internal_error",
        }
    }

    /// The message a person reads. Server-side failures get a generic sentence.
    pub fn public_message(&self) -> String {
        match self {
            Error::Unavailable(_) => {
                "the service is briefly unavailable; please retry in a moment".to_string()
            }
            Error::Internal(_) => "something went wrong on our side; please try again".to_string(),
            other => other.to_string(),
        }
    }

    /// Whether the caller (or Lambda's retry policy) may succeed by trying again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::TimedOut(_))
    }

    /// Seconds after which a retry may succeed, sent as `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            Error::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
            _ => None,
        }
    }

    /// Registration of an email that already has an account.
    /// A federated identity's account, made by a concurrent first sign-in.
    pub fn account_exists() -> Error {
        Error::Conflict {
            code: "account_exists",
            message: "this sign-in already has an account".into(),
        }
    }

    pub fn email_taken() -> Error {
        Error::Conflict {
            code: "email_taken",
            message: "an account with this email already exists".into(),
        }
    }

    pub fn body(&self) -> serde_json::Value {
        json!({ "error": { "code": self.code(), "message": self.public_message() } })
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after() {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        if status.is_server_error() {
            // The full chain goes to the log (with the request id), never to the client.
            response
                .extensions_mut()
                .insert(FailureDetail(self.to_string()));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn client_errors_keep_their_message_and_code() {
        // GIVEN a conflict raised by the domain
        let error = Error::Conflict {
            code: "email_taken",
            message: "an account with this email already exists".into(),
        };
        // WHEN it becomes a response
        let response = error.into_response();
        // THEN the status and the JSON body say what happened
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = body_json(response).await;
        assert_eq!(body["error"]["code"], "email_taken");
        assert_eq!(
            body["error"]["message"],
            "an account with this email already exists"
        );
    }

    #[tokio::test]
    async fn internal_errors_never_reveal_their_detail() {
        // GIVEN an internal failure whose detail names a file and a password column
        let error = Error::Internal(anyhow::anyhow!(
            "sqlite: no such column password_hash in /srv/db"
        ));
        // WHEN it becomes a response
        let response = error.into_response();
        // THEN the client sees a 500 with a generic message only
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(response).await;
        assert_eq!(body["error"]["code"], "internal_error");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(!message.contains("sqlite") && !message.contains("password"));
    }

    #[tokio::test]
    async fn rate_limits_say_when_to_retry() {
        let response = Error::RateLimited {
            message: "too many failed logins; try again later".into(),
            retry_after: 42,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "42");
        assert_eq!(body_json(response).await["error"]["code"], "rate_limited");
    }

    #[test]
    fn every_variant_maps_to_its_status() {
        let cases = [
            (Error::InvalidRequest("x".into()), 400),
            (Error::Validation("x".into()), 400),
            (Error::InvalidCredentials, 401),
            (Error::Unauthorized("x".into()), 401),
            (Error::Forbidden("x".into()), 403),
            (Error::NotFound("x".into()), 404),
            (Error::MethodNotAllowed("x".into()), 405),
            (Error::PayloadTooLarge("x".into()), 413),
            (Error::QuotaExceeded("x".into()), 403),
            (Error::UnsupportedMediaType("x".into()), 415),
            (
                Error::Unprocessable {
                    code: "content_filtered",
                    message: "x".into(),
                },
                422,
            ),
            (
                Error::RateLimited {
                    message: "x".into(),
                    retry_after: 3,
                },
                429,
            ),
            (Error::Unavailable(anyhow::anyhow!("throttled")), 503),
            (Error::Internal(anyhow::anyhow!("boom")), 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.status_code().as_u16(), status, "{error:?}");
        }
        assert!(Error::Unavailable(anyhow::anyhow!("t")).is_retryable());
        assert!(!Error::Internal(anyhow::anyhow!("t")).is_retryable());
    }
}
