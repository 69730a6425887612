//! A stand-in OpenID Connect issuer for tests: serves its discovery document
//! and its signing keys (JWKS) over HTTP on loopback, and signs real RS256
//! tokens with them, so the authorizer is tested through its real HTTPS
//! client, key cache and checks.
//!
//! The two RSA keys in `oidc_keys/` are test keys, made with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`; they sign
//! nothing outside tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Value};

/// An RSA key pair of the stand-in, and the key id it is published under.
#[derive(Debug, Clone, Copy)]
pub struct TestKey {
    pub kid: &'static str,
    pub private_pem: &'static str,
}

/// The key the issuer signs with from the start.
pub const FIRST_KEY: TestKey = TestKey {
    kid: "first",
    private_pem: include_str!("oidc_keys/first.pem"),
};
/// A second key: a rotation's new key, or another issuer's.
pub const SECOND_KEY: TestKey = TestKey {
    kid: "second",
    private_pem: include_str!("oidc_keys/second.pem"),
};

impl TestKey {
    /// The public half as a JWK, as an issuer publishes it.
    pub fn jwk(&self) -> Value {
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(self.private_pem).expect("test key");
        let public = private.to_public_key();
        json!({
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    /// The public key in PEM (SPKI), as an attacker would copy it.
    pub fn public_pem(&self) -> String {
        use rsa::pkcs8::EncodePublicKey as _;
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(self.private_pem).expect("test key");
        private
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .expect("PEM")
    }

    /// `claims` signed RS256 with this key, its header naming `kid`.
    pub fn sign(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_string);
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(self.private_pem).expect("test key");
        let der = private.to_pkcs1_der().expect("DER");
        let key = EncodingKey::from_rsa_der(der.as_bytes());
        jsonwebtoken::encode(&header, claims, &key).expect("signing")
    }
}

#[derive(Clone)]
struct Published {
    issuer: String,
    keys: Arc<Mutex<Vec<TestKey>>>,
    key_fetches: Arc<AtomicUsize>,
}

/// The issuer, listening on `127.0.0.1` until dropped.
pub struct OidcStandIn {
    pub issuer: String,
    published: Published,
    server: tokio::task::JoinHandle<()>,
}

impl OidcStandIn {
    /// Publishes [`FIRST_KEY`].
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let published = Published {
            issuer: issuer.clone(),
            keys: Arc::new(Mutex::new(vec![FIRST_KEY])),
            key_fetches: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/keys", get(keys))
            .with_state(published.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        OidcStandIn {
            issuer,
            published,
            server,
        }
    }

    /// From now on the issuer publishes exactly `keys` (a key rotation).
    pub fn publish(&self, keys: &[TestKey]) {
        *self.published.keys.lock().unwrap() = keys.to_vec();
    }

    /// How often its keys were fetched.
    pub fn key_fetches(&self) -> usize {
        self.published.key_fetches.load(Ordering::SeqCst)
    }

    /// An ID token for `subject`, issued to `client_id`, valid for an hour.
    pub fn id_token_claims(&self, subject: &str, client_id: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": client_id,
            "iat": now,
            "exp": now + 3600,
            "email": format!("{subject}@example.com"),
            "name": format!("User {subject}"),
        })
    }
}

impl Drop for OidcStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn discovery(State(published): State<Published>) -> Json<Value> {
    let issuer = &published.issuer;
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/keys"),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn keys(State(published): State<Published>) -> Json<Value> {
    published.key_fetches.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = published
        .keys
        .lock()
        .unwrap()
        .iter()
        .map(TestKey::jwk)
        .collect();
    Json(json!({ "keys": keys }))
}
