//! The web page, embedded in the binary and served on the API's own origin:
//! `GET /` (and `/index.html`), `/app.js`, `/style.css`, and `/config.json`
//! when an OpenID Connect issuer signs people in (`ASKDOCS_OIDC_ISSUER`).

use std::sync::Arc;

use askdocs_shared::auth::federation::{Federation, SignInPage};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const STYLE_CSS: &str = include_str!("../../web/style.css");

/// Only this origin's own files and API — and, with federated sign-in, the
/// issuer's token and revocation endpoints the page calls; nothing inline,
/// no frames.
fn content_security_policy(sign_in: Option<&SignInPage>) -> String {
    let mut connect = String::from("'self'");
    if let Some(page) = sign_in {
        for url in std::iter::once(&page.token_url).chain(page.revoke_url.as_ref()) {
            if let Some(origin) = origin_of(url) {
                connect.push(' ');
                connect.push_str(origin);
            }
        }
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// `https://host:port` of a URL, if it is an http(s) URL without odd characters.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let end = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..end];
    let clean = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    clean.then(|| &url[..scheme.len() + 3 + end])
}

#[derive(Clone)]
struct PageState {
    federation: Option<Arc<Federation>>,
}

impl PageState {
    /// The sign-in settings, read from the issuer once it answers.
    async fn sign_in(&self) -> Option<SignInPage> {
        let federation = self.federation.as_ref()?;
        match federation.sign_in_page().await {
            Ok(page) => Some(page),
            Err(error) => {
                tracing::warn!(error = %error, "the OpenID Connect issuer's discovery document is unavailable");
                None
            }
        }
    }
}

fn asset(content_type: &'static str, body: &'static str, csp: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            // Signed upload and download URLs must not leak through Referer.
            (header::REFERRER_POLICY, "no-referrer".to_string()),
            (header::X_FRAME_OPTIONS, "DENY".to_string()),
        ],
        body,
    )
        .into_response()
}

async fn page(State(state): State<PageState>) -> Response {
    let sign_in = state.sign_in().await;
    asset(
        "text/html; charset=utf-8",
        INDEX_HTML,
        content_security_policy(sign_in.as_ref()),
    )
}

/// The page's settings: how to sign in through the issuer. The API is this
/// origin, so no `apiUrl`.
async fn config(State(state): State<PageState>) -> Response {
    if state.federation.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    match state.sign_in().await {
        Some(sign_in) => (
            [(header::CACHE_CONTROL, "no-cache")],
            Json(json!({ "signIn": sign_in })),
        )
            .into_response(),
        // The page still offers our own accounts.
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

pub fn routes(federation: Option<Arc<Federation>>) -> Router {
    let csp = || content_security_policy(None);
    Router::new()
        .route("/", get(page))
        .route("/index.html", get(page))
        .route("/config.json", get(config))
        .route(
            "/app.js",
            get(move || async move { asset("text/javascript; charset=utf-8", APP_JS, csp()) }),
        )
        .route(
            "/style.css",
            get(move || async move { asset("text/css; charset=utf-8", STYLE_CSS, csp()) }),
        )
        .with_state(PageState { federation })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_origin_of_an_endpoint_is_allowed() {
        assert_eq!(
            origin_of("https://id.example.com:8443/realms/a/token"),
            Some("https://id.example.com:8443")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:9000"),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://a.example.com; script-src *"), None);
    }
}
