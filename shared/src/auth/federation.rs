//! Sign-in through an OpenID Connect issuer — a Cognito user pool federating
//! Google and Login with Amazon on AWS, any issuer (Keycloak, Google) on one
//! machine — beside our own accounts.
//!
//! An ID token is accepted when its RS256 signature verifies against the
//! issuer's published keys (fetched once, kept, fetched again when a token
//! names a key id we don't know), and its issuer, audience, expiry and, for
//! Cognito, `token_use` are what this deployment expects. The identity's
//! first sign-in makes its askdocs account, keyed by issuer and subject —
//! never merged into a password account with the same email.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use tokio::sync::{Mutex, RwLock};

use crate::config::FederationSettings;
use crate::error::{Error, Result};
use crate::model::{hex, now, Caller, User, UserId};
use crate::ports::{PublicDocuments, UserStore};

/// Clock difference tolerated between the issuer and us.
const LEEWAY_SECONDS: i64 = 5;
/// Unknown key ids make us fetch the keys again at most this often, so a
/// flood of made-up key ids can't turn into a flood of fetches.
const DEFAULT_MIN_REFETCH: Duration = Duration::from_secs(30);

/// The claims of an issuer's ID (or Cognito access) token that we read.
#[derive(Debug, Deserialize)]
struct FederatedClaims {
    sub: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    /// A string or a list of strings.
    #[serde(default)]
    aud: Option<Value>,
    /// Cognito access tokens name their app client here instead of `aud`.
    #[serde(default)]
    client_id: Option<String>,
    /// Cognito: `id` or `access`.
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    /// Cognito: the sign-in every token refreshed from it shares.
    #[serde(default)]
    origin_jti: Option<String>,
    /// Cognito: the external identity provider behind a federated user.
    #[serde(default)]
    identities: Option<Vec<ProviderIdentity>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderIdentity {
    provider_name: String,
}

/// What the web page needs to run the authorization code + PKCE flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInPage {
    /// `cognito` (sign-out through Cognito's `/logout`) or `oidc`.
    pub kind: &'static str,
    pub client_id: String,
    pub authorize_url: String,
    pub token_url: String,
    /// Where the page ends the issuer's own session, when it has such a page.
    pub logout_url: Option<String>,
    /// Where the page revokes its refresh token, when the issuer has one.
    pub revoke_url: Option<String>,
    pub scope: &'static str,
    /// One button each; `id` goes to Cognito as `identity_provider`.
    pub providers: Vec<SignInProvider>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignInProvider {
    pub id: Option<String>,
    pub label: String,
}

/// The issuer's keys by key id, each parsed once when fetched: `None` for
/// a published key that is not an RSA key for RS256 (it verifies nothing).
struct KeyCache {
    keys: HashMap<String, Option<DecodingKey>>,
    fetched_at: Instant,
}

/// Checks tokens of one issuer and makes each identity's account on first sign-in.
pub struct Federation {
    settings: FederationSettings,
    documents: Arc<dyn PublicDocuments>,
    users: Arc<dyn UserStore>,
    validation: Validation,
    keys: RwLock<Option<KeyCache>>,
    /// One fetch at a time; the others wait for its keys.
    refetch: Mutex<()>,
    discovery: tokio::sync::OnceCell<Value>,
    min_refetch: Duration,
}

impl Federation {
    pub fn new(
        settings: FederationSettings,
        documents: Arc<dyn PublicDocuments>,
        users: Arc<dyn UserStore>,
    ) -> Self {
        // RS256 only: a token whose header names anything else (`none`,
        // HS256 with the public key as its secret) is refused before any key
        // is looked at.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        // Checked below: Cognito access tokens carry `client_id`, not `aud`.
        validation.validate_aud = false;
        validation.leeway = LEEWAY_SECONDS as u64;
        Federation {
            settings,
            documents,
            users,
            validation,
            keys: RwLock::new(None),
            refetch: Mutex::new(()),
            discovery: tokio::sync::OnceCell::new(),
            min_refetch: DEFAULT_MIN_REFETCH,
        }
    }

    /// How soon after a fetch an unknown key id may fetch the keys again.
    pub fn with_min_refetch(mut self, interval: Duration) -> Self {
        self.min_refetch = interval;
        self
    }

    pub fn settings(&self) -> &FederationSettings {
        &self.settings
    }

    /// The caller behind an issuer's token, their account made on first sign-in.
    /// Revocation is the caller of this's to check.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        let claims = self.verify(token).await?;
        let user = self.account(&claims).await?;
        Ok(Caller {
            user_id: user.user_id,
            email: user.email,
            token_id: token_id(&claims, token),
            expires_at: claims.exp,
        })
    }

    async fn verify(&self, token: &str) -> Result<FederatedClaims> {
        let invalid = || Error::Unauthorized("token is invalid".into());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let key = self.key(&kid).await?;
        let claims = jsonwebtoken::decode::<FederatedClaims>(token, &key, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| {
                tracing::debug!(kind = ?error.kind(), "federated token rejected");
                match error.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        Error::Unauthorized("token has expired".into())
                    }
                    _ => invalid(),
                }
            })?;
        if claims
            .iat
            .is_some_and(|iat| iat > chrono::Utc::now().timestamp() + LEEWAY_SECONDS)
        {
            return Err(invalid());
        }
        if !self.issued_to_us(&claims) {
            tracing::debug!("federated token for another client or use");
            return Err(invalid());
        }
        Ok(claims)
    }

    /// Whether the token was issued to this deployment's app client, for
    /// signing in: Cognito ID tokens name it in `aud`, Cognito access tokens in
    /// `client_id`; any other issuer's ID tokens in `aud`.
    fn issued_to_us(&self, claims: &FederatedClaims) -> bool {
        let client = self.settings.client_id.as_str();
        let audience_is_us = match &claims.aud {
            Some(Value::String(aud)) => aud == client,
            Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(client)),
            _ => false,
        };
        if !self.settings.is_cognito() {
            return audience_is_us;
        }
        match claims.token_use.as_deref() {
            Some("id") => audience_is_us,
            Some("access") => claims.client_id.as_deref() == Some(client),
            _ => false,
        }
    }

    /// The key `kid` names, fetching the issuer's keys when it is new to us.
    async fn key(&self, kid: &str) -> Result<DecodingKey> {
        if let Some(key) = self.cached_key(kid).await? {
            return Ok(key);
        }
        let _one_fetch = self.refetch.lock().await;
        // Fetched by someone else while we waited?
        if let Some(key) = self.cached_key(kid).await? {
            return Ok(key);
        }
        let recently = self
            .keys
            .read()
            .await
            .as_ref()
            .is_some_and(|cache| cache.fetched_at.elapsed() < self.min_refetch);
        if recently {
            return Err(Error::Unauthorized("token is invalid".into()));
        }
        let keys = self
            .fetch_keys()
            .await?
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, rsa_signing_key(jwk).ok())))
            .collect();
        *self.keys.write().await = Some(KeyCache {
            keys,
            fetched_at: Instant::now(),
        });
        self.cached_key(kid)
            .await?
            .ok_or_else(|| Error::Unauthorized("token is invalid".into()))
    }

    async fn cached_key(&self, kid: &str) -> Result<Option<DecodingKey>> {
        let cache = self.keys.read().await;
        match cache.as_ref().and_then(|cache| cache.keys.get(kid)) {
            None => Ok(None),
            Some(Some(key)) => Ok(Some(key.clone())),
            Some(None) => Err(Error::Unauthorized("token is invalid".into())),
        }
    }

    async fn fetch_keys(&self) -> Result<JwkSet> {
        let url = match &self.settings.jwks_url {
            Some(url) => url.clone(),
            None => self
                .discovery()
                .await?
                .get("jwks_uri")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| unavailable("the issuer's discovery document has no jwks_uri"))?,
        };
        let document = self.documents.fetch_json(&url).await?;
        let keys: JwkSet = serde_json::from_value(document)
            .map_err(|error| unavailable(&format!("the issuer's keys are unreadable: {error}")))?;
        tracing::info!(keys = keys.keys.len(), "fetched the issuer's signing keys");
        Ok(keys)
    }

    /// The issuer's discovery document, fetched once.
    async fn discovery(&self) -> Result<&Value> {
        self.discovery
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let document = self.documents.fetch_json(&url).await?;
                // OpenID Connect Discovery §4.3: it must name the issuer we asked.
                if document.get("issuer").and_then(Value::as_str)
                    != Some(self.settings.issuer.as_str())
                {
                    return Err(unavailable(
                        "the discovery document names another issuer than ASKDOCS_OIDC_ISSUER",
                    ));
                }
                Ok(document)
            })
            .await
    }

    /// The account of the token's identity; its first sign-in makes it.
    async fn account(&self, claims: &FederatedClaims) -> Result<User> {
        let user_id = federated_user_id(&self.settings.issuer, &claims.sub);
        if let Some(user) = self.users.get(&user_id).await? {
            return Ok(user);
        }
        let provider = claims
            .identities
            .as_ref()
            .and_then(|identities| identities.first())
            .map(|identity| identity.provider_name.clone())
            .unwrap_or_else(|| self.settings.name.clone());
        let user = User {
            user_id,
            email: claims
                .email
                .as_deref()
                .map(|email| email.trim().to_lowercase())
                .unwrap_or_default(),
            name: claims
                .name
                .as_deref()
                .and_then(|name| super::rules::normalize_name(Some(name)).ok().flatten()),
            password_hash: String::new(),
            created_at: now(),
            provider: Some(provider),
        };
        match self.users.create(&user).await {
            Ok(()) => {
                tracing::info!(user_id = %user.user_id, provider = ?user.provider, "federated account made on first sign-in");
                Ok(user)
            }
            // A concurrent first sign-in of the same identity made it.
            Err(Error::Conflict { .. }) => self
                .users
                .get(&user.user_id)
                .await?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("federated account vanished"))),
            Err(error) => Err(error),
        }
    }

    /// What the web page needs for the code + PKCE flow, from the issuer's
    /// discovery document.
    pub async fn sign_in_page(&self) -> Result<SignInPage> {
        let discovery = self.discovery().await?;
        let endpoint = |name: &str| {
            discovery
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let cognito = self.settings.is_cognito();
        let providers = if self.settings.providers.is_empty() {
            vec![SignInProvider {
                id: None,
                label: self.settings.name.clone(),
            }]
        } else {
            self.settings
                .providers
                .iter()
                .map(|id| SignInProvider {
                    id: Some(id.clone()),
                    label: provider_label(id),
                })
                .collect()
        };
        Ok(SignInPage {
            kind: if cognito { "cognito" } else { "oidc" },
            client_id: self.settings.client_id.clone(),
            authorize_url: endpoint("authorization_endpoint")
                .ok_or_else(|| unavailable("the issuer names no authorization_endpoint"))?,
            token_url: endpoint("token_endpoint")
                .ok_or_else(|| unavailable("the issuer names no token_endpoint"))?,
            logout_url: endpoint("end_session_endpoint"),
            revoke_url: endpoint("revocation_endpoint"),
            scope: "openid email profile",
            providers,
        })
    }
}

/// A federated identity's account id: the same for every sign-in of one
/// identity (issuer and subject), unlike any other's, and shaped like every
/// other account id.
pub fn federated_user_id(issuer: &str, subject: &str) -> UserId {
    let digest = Sha256::new()
        .chain_update(issuer.as_bytes())
        .chain_update([0])
        .chain_update(subject.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    UserId::new(
        uuid::Builder::from_custom_bytes(bytes)
            .into_uuid()
            .to_string(),
    )
}

/// What logout revokes: Cognito's sign-in (so tokens refreshed from it are
/// refused too), else the token's id, else — issuers like Google give ID
/// tokens none — a digest of the token itself.
fn token_id(claims: &FederatedClaims, token: &str) -> String {
    if let Some(origin) = &claims.origin_jti {
        return format!("origin:{origin}");
    }
    if let Some(jti) = &claims.jti {
        return jti.clone();
    }
    format!("sha256:{}", hex(&Sha256::digest(token.as_bytes())))
}

/// An RSA key meant for RS256 signatures; any other key is no key of ours.
fn rsa_signing_key(jwk: &Jwk) -> Result<DecodingKey> {
    let invalid = || Error::Unauthorized("token is invalid".into());
    if !matches!(jwk.algorithm, AlgorithmParameters::RSA(_)) {
        return Err(invalid());
    }
    if jwk
        .common
        .key_algorithm
        .is_some_and(|algorithm| algorithm != KeyAlgorithm::RS256)
    {
        return Err(invalid());
    }
    DecodingKey::from_jwk(jwk).map_err(|_| invalid())
}

fn provider_label(id: &str) -> String {
    match id {
        "LoginWithAmazon" => "Amazon".to_string(),
        "SignInWithApple" => "Apple".to_string(),
        other => other.to_string(),
    }
}

fn unavailable(why: &str) -> Error {
    Error::Unavailable(anyhow::anyhow!("{why}"))
}
