//! The HTTPS client every SDK client sends with, and which certificate
//! authorities it trusts.
//!
//! The SDK's default client is rustls on aws-lc; this one is rustls on ring
//! (a third of aws-lc's size in each Lambda, the same TLS 1.2/1.3 suites).
//!
//! AWS service endpoints (DynamoDB, S3, S3 Vectors, Bedrock, Secrets Manager,
//! SQS, OpenSearch Serverless) present certificates issued by Amazon Trust
//! Services, whose roots are Amazon Root CA 1–4 and Starfield Services Root
//! CA G2. Trusting those five, compiled in, spares every cold start from
//! reading and parsing the system's whole CA store (~290 files on a Debian
//! machine). `ASKDOCS_TLS_ROOTS=system` trusts the system store instead, for a
//! network whose proxy re-signs TLS with its own authority.
//!
//! The PEM files are Debian's ca-certificates copies (Mozilla's store).

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
pub(crate) const AMAZON_ROOTS: [&str; 5] = [
    include_str!("tls_roots/Amazon_Root_CA_1.pem"),
    include_str!("tls_roots/Amazon_Root_CA_2.pem"),
    include_str!("tls_roots/Amazon_Root_CA_3.pem"),
    include_str!("tls_roots/Amazon_Root_CA_4.pem"),
    include_str!("tls_roots/Starfield_Services_Root_Certificate_Authority_-_G2.pem"),
];

/// The SDK's HTTPS client on rustls + ring, trusting `roots`. Nothing is
/// connected (or parsed) until the first request.
pub(crate) fn sdk_http_client(roots: TlsRoots) -> SharedHttpClient {
    let trust_store = match roots {
        TlsRoots::Amazon => AMAZON_ROOTS.iter().fold(TrustStore::empty(), |store, pem| {
            store.with_pem_certificate(pem.as_bytes())
        }),
        TlsRoots::System => TrustStore::default(),
    };
    let context = TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("a TLS context from a trust store always builds");
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
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

/// Amazon Trust Services' roots for the OpenSearch data plane's own rustls
/// client (it has no SDK client); `ASKDOCS_TLS_ROOTS=system` uses the
/// system's roots there.
#[cfg(feature = "aws-search")]
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

#[cfg(all(test, feature = "aws-search"))]
mod tests {
    use super::*;

    #[test]
    fn every_compiled_in_root_is_a_certificate() {
        assert_eq!(amazon_root_store().len(), AMAZON_ROOTS.len());
    }
}
