//! What every function's router shares: the JSON body extractor, the caller
//! and client-address extractors, JSON answers for unknown routes, CORS for
//! the web page's origin, and request logging in a span that carries the
//! request id.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument as _;

use crate::auth::tokens::Authenticator;
use crate::error::{Error, FailureDetail, Result};
use crate::model::{Caller, UserId};

/// Largest JSON body any route accepts; uploads never travel as JSON.
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body, read whatever the `Content-Type` (curl's `-d` says
/// form-urlencoded), and answered with our error shape when it is unusable.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    Error::PayloadTooLarge(format!(
                        "request body must be at most {} KB",
                        MAX_JSON_BODY_BYTES / 1024
                    ))
                } else {
                    Error::InvalidRequest("request body could not be read".into())
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Query parameters, answered with our error shape when they don't fit `T`.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(ApiQuery)
            .map_err(|error| {
                Error::InvalidRequest(format!("query parameters are invalid: {error}"))
            })
    }
}

/// A path parameter, answered with our error shape when it can't be read
/// (e.g. `%FF`, which is not UTF-8).
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|_| Error::InvalidRequest("the path is not valid".into()))
    }
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_body(
    body: axum::body::Body,
    limit: usize,
    too_large: impl FnOnce() -> Error,
) -> Result<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let is_length_limit = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if is_length_limit {
            too_large()
        } else {
            Error::InvalidRequest("request body could not be read".into())
        }
    })
}

/// Parses a JSON body into `T`, explaining what is wrong in words a client can act on.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::InvalidRequest(
            "request body must be a JSON object".into(),
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        use serde_json::error::Category;
        match error.classify() {
            Category::Data => {
                // serde's text ("missing field `email`", "invalid type: integer `5`,
                // expected a string") without the position suffix.
                let text = error.to_string();
                let reason = text.split(" at line ").next().unwrap_or(&text);
                Error::InvalidRequest(format!("request body is invalid: {reason}"))
            }
            Category::Syntax | Category::Eof | Category::Io => {
                Error::InvalidRequest("request body is not valid JSON".into())
            }
        }
    })
}

/// The authenticated caller of a protected route.
///
/// Behind API Gateway the TOKEN authorizer has already verified the token and
/// put the user in the request context; otherwise (the local server, or a route
/// without the authorizer) the Bearer token is verified here. Either way a
/// revoked token is refused, because the authorizer's cached Allow can outlive
/// a logout.
pub struct Authenticated(pub Caller);

impl<S> FromRequestParts<S> for Authenticated
where
    Arc<Authenticator>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let authenticator = Arc::<Authenticator>::from_ref(state);
        if let Some(caller) = caller_from_authorizer(parts) {
            authenticator.ensure_not_revoked(&caller).await?;
            return Ok(Authenticated(caller));
        }
        let token = bearer_token(parts)?;
        authenticator.authenticate(token).await.map(Authenticated)
    }
}

/// The address the request came from: API Gateway's `sourceIp`, or the peer
/// of the local server's connection. Forwarding headers are not trusted.
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let from_gateway = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV1(context)) => context
                .identity
                .source_ip
                .as_deref()
                .and_then(|ip| ip.parse().ok()),
            Some(RequestContext::ApiGatewayV2(context)) => context
                .http
                .source_ip
                .as_deref()
                .and_then(|ip| ip.parse().ok()),
            _ => None,
        };
        let from_peer = || {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip())
        };
        Ok(ClientAddress(from_gateway.or_else(from_peer)))
    }
}

fn bearer_token(parts: &Parts) -> Result<&str> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        Error::Unauthorized("an Authorization: Bearer <token> header is required".into())
    })?;
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthorized("the Authorization header is malformed".into()))?;
    parse_bearer(value).ok_or_else(|| {
        Error::Unauthorized("the Authorization header must be `Bearer <token>`".into())
    })
}

/// The token of a `Bearer <token>` header value (scheme case-insensitive).
pub fn parse_bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The caller the API Gateway authorizer put in the request context, if any.
fn caller_from_authorizer(parts: &Parts) -> Option<Caller> {
    let fields = match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV1(context) => &context.authorizer.fields,
        RequestContext::ApiGatewayV2(context) => &context.authorizer.as_ref()?.fields,
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    let text = |key: &str| match fields.get(key)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    };
    Some(Caller {
        // Put there by the API Gateway authorizer from a verified token.
        user_id: UserId::new(text("userId")?),
        email: text("email")?,
        token_id: text("tokenId")?,
        expires_at: text("expiresAt")?.parse().ok()?,
    })
}

/// Wraps the routes of one or more functions into a complete app: JSON answers
/// for unknown routes and methods, a body size limit, CORS for the web page's
/// origin when one is configured, and one log line per request.
pub fn finish(routes: Router, cors_origin: Option<&str>) -> Router {
    let mut app = routes
        .fallback(|| async { Error::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async {
            Error::MethodNotAllowed("this route does not accept that method".into())
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BODY_BYTES));
    if let Some(origin) = cors_origin.and_then(|origin| HeaderValue::from_str(origin).ok()) {
        app = app.layer(middleware::from_fn(move |request, next| {
            allow_origin(origin.clone(), request, next)
        }));
    }
    let app = app
        .layer(middleware::from_fn(private_answers))
        .layer(middleware::from_fn(log_request));
    // Routing must see the path without API Gateway's stage, so the rewrite
    // wraps the whole router rather than being one of its layers.
    Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .map_request(without_stage_prefix)
            .service(app),
    )
}

/// lambda_http prefixes the path with the REST API's stage (`/prod/auth/login`);
/// our routes are stage-independent, so route on the raw path it also keeps.
fn without_stage_prefix(mut request: Request) -> Request {
    use lambda_http::RequestExt as _;
    let raw_path = request.extensions().raw_http_path();
    if raw_path.is_empty() || raw_path == request.uri().path() {
        return request;
    }
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{raw_path}?{query}"),
        None => raw_path.to_string(),
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(path_and_query) = path_and_query.parse() {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// The web page's origin may read the API's answers (preflights are answered
/// by API Gateway, before the authorizer).
async fn allow_origin(origin: HeaderValue, request: Request, next: Next) -> Response {
    let same_origin = request.headers().get(header::ORIGIN) == Some(&origin);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if same_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after, x-request-id"),
        );
    }
    response
}

/// Every answer of the API is one user's (a token, a profile, documents,
/// answers) or an error: no cache or proxy keeps it, and no browser guesses
/// its type.
async fn private_answers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Every log line of a request — this layer's and the domain's — carries its
/// request id: the handler runs inside a span that holds it. One summary line
/// per request: method, route template (never the raw path or query, which may
/// carry ids or tokens), status and duration; a server-side failure's detail
/// (attached to the response by [`Error`]) is logged here, never sent.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let request_id = request
        .extensions()
        .get::<lambda_http::Context>()
        .map(|context| context.request_id.clone())
        .or_else(|| {
            request
                .headers()
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
                .filter(|value| value.len() <= 128 && value.chars().all(|c| c.is_ascii_graphic()))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!("request", request_id = %request_id);

    let mut response = next.run(request).instrument(span.clone()).await;

    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if let Some(FailureDetail(detail)) = response.extensions().get::<FailureDetail>() {
            tracing::error!(%method, route, status, error = %detail, "request failed");
        }
        tracing::info!(%method, route, status, duration_ms, "request");
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// `204 No Content`, for routes that succeed with nothing to say.
pub fn no_content() -> Response {
    axum::http::StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        password: String,
    }

    #[test]
    fn bodies_that_are_not_json_say_so() {
        for body in [&b""[..], b"   ", b"email=a&password=b", b"{\"email\":"] {
            let error = parse_json::<Login>(body).unwrap_err();
            assert!(matches!(error, Error::InvalidRequest(_)), "{error:?}");
        }
    }

    #[test]
    fn missing_fields_and_wrong_types_are_named() {
        let missing = parse_json::<Login>(br#"{"email":"a@b.co"}"#).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "request body is invalid: missing field `password`"
        );
        let wrong = parse_json::<Login>(br#"{"email":5,"password":"x"}"#).unwrap_err();
        assert!(wrong.to_string().contains("expected a string"), "{wrong}");
    }

    #[test]
    fn bearer_headers_are_parsed_strictly() {
        assert_eq!(parse_bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(parse_bearer("bearer  abc"), Some("abc"));
        assert_eq!(parse_bearer("Basic abc"), None);
        assert_eq!(parse_bearer("Bearer "), None);
        assert_eq!(parse_bearer("abc"), None);
    }
}
