//! Public JSON documents on the web — an OpenID Connect issuer's discovery
//! document and signing keys — read with the SDK's own HTTP client, the one
//! every AWS call goes through (Cognito's endpoints are AWS endpoints).

use std::time::Duration;

use async_trait::async_trait;
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::http::Request;
use aws_smithy_types::byte_stream::ByteStream;

use super::http::{tls_context, TLS_PROVIDER};
use crate::config::TlsRoots;
use crate::error::{Error, Result};
use crate::ports::PublicDocuments;

/// A key set or discovery document is a few kilobytes; more is not one.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

pub struct HttpsDocuments {
    roots: TlsRoots,
    /// Built on the first fetch: a cold start parses no certificate for it.
    connector: std::sync::OnceLock<Connector>,
}

impl HttpsDocuments {
    /// Nothing is built or connected until the first fetch.
    pub fn new(roots: TlsRoots) -> Self {
        HttpsDocuments {
            roots,
            connector: std::sync::OnceLock::new(),
        }
    }

    fn connector(&self) -> &Connector {
        self.connector.get_or_init(|| {
            let settings = HttpConnectorSettings::builder()
                .connect_timeout(Duration::from_secs(3))
                .read_timeout(Duration::from_secs(5))
                .build();
            Connector::builder()
                .connector_settings(settings)
                .tls_provider(TLS_PROVIDER)
                .tls_context(tls_context(self.roots))
                .build()
        })
    }
}

#[async_trait]
impl PublicDocuments for HttpsDocuments {
    async fn fetch_json(&self, url: &str) -> Result<serde_json::Value> {
        let unavailable =
            |why: String| Error::Unavailable(anyhow::anyhow!("fetching {url}: {why}"));
        let mut request = Request::get(url).map_err(|error| unavailable(error.to_string()))?;
        request.headers_mut().insert("accept", "application/json");
        let response = self
            .connector()
            .call(request)
            .await
            .map_err(|error| unavailable(format!("{error:?}")))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(unavailable(format!("HTTP {status}")));
        }
        let body = ByteStream::new(response.into_body())
            .collect()
            .await
            .map_err(|error| unavailable(error.to_string()))?
            .into_bytes();
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(unavailable(format!("{} bytes is too large", body.len())));
        }
        serde_json::from_slice(&body).map_err(|error| unavailable(format!("not JSON: {error}")))
    }
}
