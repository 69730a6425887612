//! HTTPS for AWS, and which certificate authorities it trusts.
//!
//! The SDK clients send with the SDK's own HTTP client
//! (aws-smithy-http-client), on rustls + ring instead of its default aws-lc
//! (a third of aws-lc's size in each Lambda, the same TLS 1.2/1.3 suites).
//! The OpenSearch Serverless data plane, which has no SDK client, sends its
//! signed requests with a hyper client of its own ([`AwsHttp`]).
//!
//! AWS service endpoints (DynamoDB, S3, S3 Vectors, Bedrock, Secrets Manager,
//! SQS, OpenSearch Serverless) present certificates issued by Amazon Trust
//! Services, whose roots are Amazon Root CA 1–4 and Starfield Services Root
//! CA G2. Trusting those five, compiled in, spares every cold start from
//! reading and parsing the system's whole CA store (~290 files on a Debian
//! machine). `ASKDOCS_TLS_ROOTS=system` trusts the system store instead, for a
//! network whose proxy re-signs TLS with its own authority.
//!
//! Nothing is connected (or parsed) until the first request. The PEM files
//! are Debian's ca-certificates copies (Mozilla's store).

use std::sync::atomic::{AtomicBool, Ordering};

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::config_bag::ConfigBag;

use crate::config::TlsRoots;

/// Amazon Trust Services' roots, PEM encoded.
const AMAZON_ROOTS: [&str; 5] = [
    include_str!("tls_roots/Amazon_Root_CA_1.pem"),
    include_str!("tls_roots/Amazon_Root_CA_2.pem"),
    include_str!("tls_roots/Amazon_Root_CA_3.pem"),
    include_str!("tls_roots/Amazon_Root_CA_4.pem"),
    include_str!("tls_roots/Starfield_Services_Root_Certificate_Authority_-_G2.pem"),
];

/// The TLS set-up of the SDK's HTTP client: rustls + ring, trusting `roots`.
pub(crate) fn tls_context(roots: TlsRoots) -> TlsContext {
    let trust_store = match roots {
        TlsRoots::Amazon => AMAZON_ROOTS.iter().fold(TrustStore::empty(), |store, pem| {
            store.with_pem_certificate(pem.as_bytes())
        }),
        TlsRoots::System => TrustStore::default(),
    };
    TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("a TLS context from a trust store always builds")
}

pub(crate) const TLS_PROVIDER: tls::Provider = tls::Provider::Rustls(CryptoMode::Ring);

/// The SDK's HTTPS client on rustls + ring, trusting `roots`.
pub(crate) fn sdk_http_client(roots: TlsRoots) -> SharedHttpClient {
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(TLS_PROVIDER)
        .tls_context(tls_context(roots))
        .build_https();
    CheckedOnce {
        client,
        checked: AtomicBool::new(false),
    }
    .into_shared()
}

/// The SDK checks its HTTP client's set-up as each service client is built,
/// by building a whole connector (parsing every root certificate) and
/// throwing it away. One check per process shows whether the set-up works;
/// the connector requests use is built and cached as before.
#[derive(Debug)]
struct CheckedOnce {
    client: SharedHttpClient,
    checked: AtomicBool,
}

impl HttpClient for CheckedOnce {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        if self.checked.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.client
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.client.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.client.connector_metadata()
    }
}

#[cfg(feature = "aws-search")]
pub(crate) use data_plane::AwsHttp;

/// The OpenSearch data plane's HTTPS: HTTP/1.1 over rustls + ring, one pool.
#[cfg(feature = "aws-search")]
mod data_plane {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::Duration;

    use aws_smithy_types::body::SdkBody;
    use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
    use hyper_util::client::legacy::Client;

    use super::AMAZON_ROOTS;
    use crate::config::TlsRoots;

    /// The pooled HTTPS client of hyper, over rustls.
    pub(crate) type HttpsClient = Client<hyper_rustls::HttpsConnector<TcpConnector>, SdkBody>;

    /// One hyper client per connect timeout, made on first use.
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

    /// Amazon Trust Services' roots.
    fn amazon_root_store() -> rustls::RootCertStore {
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
}
