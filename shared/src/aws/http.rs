//! The HTTPS client every AWS call is sent with: the SDK clients' (through
//! the SDK's `HttpClient` trait) and the OpenSearch data plane's.
//!
//! HTTP/1.1 over rustls on ring, trusting Amazon's roots. No AWS API askdocs
//! calls needs HTTP/2 (Bedrock's answer streams are HTTP/1.1 chunked), and
//! the SDK's default client brings h2 and its own pool beside the one the
//! OpenSearch calls need: one hyper client, shared, keeps each Lambda to one
//! HTTP stack and one connection pool (docs/benchmarks.md has the sizes).
//!
//! AWS service endpoints (DynamoDB, S3, S3 Vectors, Bedrock, Secrets Manager,
//! SQS, OpenSearch Serverless) present certificates issued by Amazon Trust
//! Services, whose roots are Amazon Root CA 1–4 and Starfield Services Root
//! CA G2. Trusting those five, compiled in, spares every cold start from
//! reading and parsing the system's whole CA store (~290 files on a Debian
//! machine). `ASKDOCS_TLS_ROOTS=system` trusts the system store instead, for a
//! network whose proxy re-signs TLS with its own authority.
//!
//! Nothing is built until the first request: the TLS configuration (the
//! roots parsed) and the pool come with the first connector the SDK asks for.
//! The PEM files are Debian's ca-certificates copies (Mozilla's store).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::Client;

use crate::config::TlsRoots;

/// Amazon Trust Services' roots, PEM encoded.
const AMAZON_ROOTS: [&str; 5] = [
    include_str!("tls_roots/Amazon_Root_CA_1.pem"),
    include_str!("tls_roots/Amazon_Root_CA_2.pem"),
    include_str!("tls_roots/Amazon_Root_CA_3.pem"),
    include_str!("tls_roots/Amazon_Root_CA_4.pem"),
    include_str!("tls_roots/Starfield_Services_Root_Certificate_Authority_-_G2.pem"),
];

/// How long a connection may take to open when nothing else says.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The pooled HTTPS client of hyper, over rustls.
pub(crate) type HttpsClient = Client<hyper_rustls::HttpsConnector<TcpConnector>, SdkBody>;

/// HTTPS for AWS: one hyper client per connect timeout (every service uses
/// the same, so in practice one), made on first use, shared by the SDK
/// clients and the OpenSearch data plane.
#[derive(Debug, Clone)]
pub(crate) struct AwsHttp {
    inner: Arc<Pools>,
}

#[derive(Debug)]
struct Pools {
    tls_roots: TlsRoots,
    tls: OnceLock<rustls::ClientConfig>,
    clients: Mutex<HashMap<Duration, HttpsClient>>,
}

impl AwsHttp {
    pub fn new(tls_roots: TlsRoots) -> Self {
        AwsHttp {
            inner: Arc::new(Pools {
                tls_roots,
                tls: OnceLock::new(),
                clients: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// What the SDK clients are configured with.
    pub fn for_sdk(&self) -> SharedHttpClient {
        self.clone().into_shared()
    }

    fn tls_config(&self) -> rustls::ClientConfig {
        self.inner
            .tls
            .get_or_init(|| {
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let roots = match self.inner.tls_roots {
                    TlsRoots::Amazon => amazon_root_store(),
                    TlsRoots::System => system_root_store(),
                };
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("ring supports TLS 1.2 and 1.3")
                    .with_root_certificates(roots)
                    .with_no_client_auth()
            })
            .clone()
    }

    /// The pooled client whose connections open within `connect_timeout`.
    pub fn client(&self, connect_timeout: Duration) -> HttpsClient {
        let mut clients = self.inner.clients.lock().expect("not poisoned");
        clients
            .entry(connect_timeout)
            .or_insert_with(|| {
                let mut tcp = TcpConnector::new();
                tcp.enforce_http(false);
                tcp.set_connect_timeout(Some(connect_timeout));
                tcp.set_nodelay(true);
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(self.tls_config())
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(tcp);
                Client::builder(hyper_util::rt::TokioExecutor::new())
                    .pool_idle_timeout(Duration::from_secs(60))
                    .build(https)
            })
            .clone()
    }
}

impl HttpClient for AwsHttp {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let connect_timeout = settings
            .connect_timeout()
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        Connector {
            client: self.client(connect_timeout),
            read_timeout: settings.read_timeout(),
        }
        .into_shared()
    }
}

/// One SDK client's way to send: the shared pool, and how long an answer's
/// first bytes may take (the SDK bounds the whole attempt itself).
#[derive(Debug, Clone)]
struct Connector {
    client: HttpsClient,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())))
            }
        };
        let sent = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, sent).await {
                    Ok(answered) => answered,
                    Err(elapsed) => return Err(ConnectorError::timeout(elapsed.into())),
                },
                None => sent.await,
            };
            match response {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|error| ConnectorError::other(error.into(), None)),
                Err(error) => Err(connector_error(error)),
            }
        })
    }
}

/// How the SDK's retry strategy should see a failure to get an answer:
/// failing to connect, or a connection that broke, is I/O (retried); a
/// message cut short is transient; what we sent wrong is the caller's.
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    use std::error::Error as _;
    if error.is_connect() {
        return ConnectorError::io(error.into());
    }
    let hyper = error
        .source()
        .and_then(|source| source.downcast_ref::<hyper::Error>());
    match hyper {
        Some(hyper) if hyper.is_timeout() => ConnectorError::timeout(error.into()),
        Some(hyper) if hyper.is_user() => ConnectorError::user(error.into()),
        Some(hyper) if hyper.is_incomplete_message() => {
            ConnectorError::other(error.into(), Some(ErrorKind::TransientError))
        }
        Some(hyper) if hyper.is_closed() || hyper.is_canceled() || hyper.source().is_some() => {
            ConnectorError::io(error.into())
        }
        _ => ConnectorError::other(error.into(), None),
    }
}

/// Amazon Trust Services' roots.
pub(crate) fn amazon_root_store() -> rustls::RootCertStore {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut store = rustls::RootCertStore::empty();
    for pem in AMAZON_ROOTS {
        let certificate = CertificateDer::from_pem_slice(pem.as_bytes())
            .expect("the compiled-in roots are valid PEM");
        store
            .add(certificate)
            .expect("the compiled-in roots are valid certificates");
    }
    store
}

/// The operating system's trusted roots (`ASKDOCS_TLS_ROOTS=system`); the
/// ones that cannot be read are left out, and said so.
fn system_root_store() -> rustls::RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "a system CA certificate could not be read");
    }
    let mut store = rustls::RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(found.certs);
    if ignored > 0 {
        tracing::warn!(
            added,
            ignored,
            "system CA certificates rustls cannot use were left out"
        );
    }
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compiled_in_root_is_a_certificate() {
        assert_eq!(amazon_root_store().len(), AMAZON_ROOTS.len());
    }

    #[tokio::test]
    async fn one_pool_serves_every_client_with_the_same_connect_timeout() {
        let http = AwsHttp::new(TlsRoots::Amazon);
        let _ = http.client(Duration::from_secs(3));
        let _ = http.client(Duration::from_secs(3));
        assert_eq!(http.inner.clients.lock().unwrap().len(), 1);
        assert!(http.inner.tls.get().is_some());
    }
}
