//! Which certificate authorities the AWS clients trust.
//!
//! AWS service endpoints (DynamoDB, S3, S3 Vectors, Bedrock, Secrets Manager,
//! OpenSearch Serverless) present certificates issued by Amazon Trust
//! Services, whose roots are Amazon Root CA 1–4 and Starfield Services Root
//! CA G2. Trusting those five, compiled in, spares every cold start from
//! reading and parsing the system's whole CA store: on this machine that was
//! ~290 files and most of the functions' init (docs/benchmarks.md). `ASKDOCS_TLS_ROOTS=system` trusts the system store
//! instead, for a network whose proxy re-signs TLS with its own authority.
//!
//! The PEM files are Debian's ca-certificates copies (Mozilla's store).

/// Amazon Trust Services' roots, PEM encoded.
const AMAZON_ROOTS: [&str; 5] = [
    include_str!("tls_roots/Amazon_Root_CA_1.pem"),
    include_str!("tls_roots/Amazon_Root_CA_2.pem"),
    include_str!("tls_roots/Amazon_Root_CA_3.pem"),
    include_str!("tls_roots/Amazon_Root_CA_4.pem"),
    include_str!("tls_roots/Starfield_Services_Root_Certificate_Authority_-_G2.pem"),
];

/// Amazon Trust Services' roots for our own rustls client ([`super::signed`]);
/// `ASKDOCS_TLS_ROOTS=system` uses hyper-rustls' native roots there.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compiled_in_root_is_a_certificate() {
        assert_eq!(amazon_root_store().len(), AMAZON_ROOTS.len());
    }
}
