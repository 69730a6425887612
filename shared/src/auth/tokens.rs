//! Session tokens: HS256 JWTs carrying `sub`, `email`, `iat`, `exp`, `jti` and
//! `iss`. Logging out revokes the token's `jti` until the token would have
//! expired anyway. The signing key is loaded on first use, so a cold start
//! never waits on Secrets Manager.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use super::federation::Federation;
use crate::error::{Error, Result};
use crate::model::{Caller, User, UserId};
use crate::ports::{SigningSecret, TokenStore};

const ISSUER: &str = "askdocs";
/// Clock difference tolerated between the machine that signs and the one that checks.
const LEEWAY_SECONDS: i64 = 5;

/// What a signed token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub email: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub iss: String,
}

/// A freshly issued session token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: u64,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// Issues and checks tokens; the only place that knows the signing key.
pub struct Authenticator {
    secret: Arc<dyn SigningSecret>,
    keys: OnceCell<Keys>,
    validation: Validation,
    ttl: Duration,
    revoked: Arc<dyn TokenStore>,
    /// An OpenID Connect issuer whose tokens also sign people in.
    federation: Option<Arc<Federation>>,
}

impl Authenticator {
    pub fn new(
        secret: Arc<dyn SigningSecret>,
        ttl: Duration,
        revoked: Arc<dyn TokenStore>,
    ) -> Self {
        // Pinned to HS256: a token whose header names any other algorithm
        // (including `none`) is rejected before its signature is looked at.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = LEEWAY_SECONDS as u64;
        Authenticator {
            secret,
            keys: OnceCell::new(),
            validation,
            ttl,
            revoked,
            federation: None,
        }
    }

    /// Also accepts the tokens of `federation`'s issuer.
    pub fn with_federation(mut self, federation: Arc<Federation>) -> Self {
        self.federation = Some(federation);
        self
    }

    pub fn federation(&self) -> Option<&Arc<Federation>> {
        self.federation.as_ref()
    }

    async fn keys(&self) -> Result<&Keys> {
        self.keys
            .get_or_try_init(|| async {
                let secret = self.secret.load().await?;
                Ok::<_, Error>(Keys {
                    encoding: EncodingKey::from_secret(&secret),
                    decoding: DecodingKey::from_secret(&secret),
                })
            })
            .await
    }

    pub async fn issue(&self, user: &User) -> Result<IssuedToken> {
        let issued_at = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.user_id.to_string(),
            email: user.email.clone(),
            iat: issued_at,
            exp: issued_at + self.ttl.as_secs() as i64,
            jti: uuid::Uuid::new_v4().to_string(),
            iss: ISSUER.to_string(),
        };
        let keys = self.keys().await?;
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding)
            .context("signing a token")?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl.as_secs(),
        })
    }

    /// Checks signature, algorithm, issuer, expiry and issue time; revocation
    /// is checked separately.
    pub async fn decode(&self, token: &str) -> Result<Claims> {
        let keys = self.keys().await?;
        let claims = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                let reason = match error.kind() {
                    ErrorKind::ExpiredSignature => "token has expired",
                    _ => "token is invalid",
                };
                tracing::debug!(kind = ?error.kind(), "token rejected");
                Error::Unauthorized(reason.into())
            })?;
        // A token "issued" in the future was not issued by us.
        if claims.iat > chrono::Utc::now().timestamp() + LEEWAY_SECONDS {
            return Err(Error::Unauthorized("token is invalid".into()));
        }
        Ok(claims)
    }

    /// The caller behind a bearer token — ours, or the federated issuer's —
    /// valid, unexpired and not revoked.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        let caller = match (self.signed_by_us(token), &self.federation) {
            (true, _) => {
                let claims = self.decode(token).await?;
                Caller {
                    // The token's signature is verified: its subject is an account id.
                    user_id: UserId::new(claims.sub),
                    email: claims.email,
                    token_id: claims.jti,
                    expires_at: claims.exp,
                }
            }
            (false, Some(federation)) => federation.authenticate(token).await?,
            (false, None) => return Err(Error::Unauthorized("token is invalid".into())),
        };
        self.ensure_not_revoked(&caller).await?;
        Ok(caller)
    }

    /// Whether the token claims to be one of ours (HS256, no key id). The
    /// claim only picks which check the token must then pass in full: an
    /// HS256 token made with the issuer's public key as its secret fails ours.
    fn signed_by_us(&self, token: &str) -> bool {
        jsonwebtoken::decode_header(token)
            .is_ok_and(|header| header.alg == Algorithm::HS256 && header.kid.is_none())
    }

    /// For a caller that API Gateway's authorizer already verified: the cached
    /// Allow may outlive a logout, so revocation is checked again here.
    pub async fn ensure_not_revoked(&self, caller: &Caller) -> Result<()> {
        // An authorizer's cached Allow can outlive the token itself.
        if caller.expires_at < chrono::Utc::now().timestamp() {
            return Err(Error::Unauthorized("token has expired".into()));
        }
        if self.revoked.is_revoked(&caller.token_id).await? {
            return Err(Error::Unauthorized("token has been revoked".into()));
        }
        Ok(())
    }

    pub async fn revoke(&self, caller: &Caller) -> Result<()> {
        self.revoked
            .revoke(&caller.token_id, caller.expires_at)
            .await
    }
}

/// A secret known in advance (configuration, tests).
pub struct FixedSecret(pub Vec<u8>);

#[async_trait::async_trait]
impl SigningSecret for FixedSecret {
    async fn load(&self) -> Result<Vec<u8>> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::now;
    use crate::testing::MemoryTokenStore;
    use base64::Engine as _;

    const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

    fn authenticator() -> Authenticator {
        Authenticator::new(
            Arc::new(FixedSecret(SECRET.to_vec())),
            Duration::from_secs(3600),
            Arc::new(MemoryTokenStore::default()),
        )
    }

    fn user() -> User {
        User {
            user_id: "user-1".into(),
            email: "ada@example.com".into(),
            name: Some("Ada".into()),
            password_hash: String::new(),
            created_at: now(),
            provider: None,
        }
    }

    #[tokio::test]
    async fn an_issued_token_authenticates_its_user() {
        let auth = authenticator();
        let issued = auth.issue(&user()).await.unwrap();
        assert_eq!(issued.expires_in, 3600);
        let caller = auth.authenticate(&issued.token).await.unwrap();
        assert_eq!(caller.user_id, "user-1");
        assert_eq!(caller.email, "ada@example.com");
    }

    fn sign(header: &Header, claims: &Claims, secret: &[u8]) -> String {
        jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn claims(exp_offset: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: "user-1".into(),
            email: "ada@example.com".into(),
            iat: now,
            exp: now + exp_offset,
            jti: "token-1".into(),
            iss: ISSUER.into(),
        }
    }

    #[tokio::test]
    async fn an_expired_token_is_rejected() {
        let token = sign(&Header::new(Algorithm::HS256), &claims(-3600), SECRET);
        let error = authenticator().authenticate(&token).await.unwrap_err();
        assert_eq!(error.to_string(), "token has expired");
    }

    #[tokio::test]
    async fn a_tampered_token_is_rejected() {
        // GIVEN a valid token whose payload is swapped for another user's
        let auth = authenticator();
        let token = auth.issue(&user()).await.unwrap().token;
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut forged = claims(3600);
        forged.sub = "someone-else".into();
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&forged).unwrap());
        // WHEN it is presented THEN it is rejected
        let error = auth.authenticate(&parts.join(".")).await.unwrap_err();
        assert!(matches!(error, Error::Unauthorized(_)));
        // AND a token signed with another secret is rejected too
        let other = sign(
            &Header::new(Algorithm::HS256),
            &claims(3600),
            b"another-secret-another-secret-123",
        );
        assert!(auth.authenticate(&other).await.is_err());
    }

    #[tokio::test]
    async fn tokens_with_another_algorithm_are_rejected() {
        let auth = authenticator();
        // Same secret, but HS512 in the header: the algorithm is pinned.
        let hs512 = sign(&Header::new(Algorithm::HS512), &claims(3600), SECRET);
        assert!(auth.authenticate(&hs512).await.is_err());
        // An unsigned token claiming `alg: none`.
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let unsigned = format!(
            "{}.{}.",
            engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
            engine.encode(serde_json::to_vec(&claims(3600)).unwrap())
        );
        assert!(auth.authenticate(&unsigned).await.is_err());
    }

    #[tokio::test]
    async fn a_revoked_token_is_rejected() {
        let auth = authenticator();
        let token = auth.issue(&user()).await.unwrap().token;
        let caller = auth.authenticate(&token).await.unwrap();
        auth.revoke(&caller).await.unwrap();
        let error = auth.authenticate(&token).await.unwrap_err();
        assert_eq!(error.to_string(), "token has been revoked");
    }

    #[tokio::test]
    async fn a_token_issued_in_the_future_is_rejected() {
        let mut future = claims(7200);
        future.iat += 3600;
        let token = sign(&Header::new(Algorithm::HS256), &future, SECRET);
        let error = authenticator().authenticate(&token).await.unwrap_err();
        assert_eq!(error.to_string(), "token is invalid");
    }
}
