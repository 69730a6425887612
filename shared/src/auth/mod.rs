//! Accounts and tokens: the auth domain, written against [`UserStore`] and
//! [`TokenStore`] only.
//!
//! Passwords are hashed with argon2id; sessions are HS256 JWTs carrying `sub`,
//! `email`, `iat`, `exp` and `jti`. Logging out revokes the token's `jti` until
//! the token would have expired anyway.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{now, Caller, Profile, User};
use crate::ports::{TokenStore, UserStore};

const MAX_EMAIL_CHARS: usize = 254;
const MIN_PASSWORD_CHARS: usize = 8;
/// Long enough for any passphrase, short enough that hashing stays cheap.
const MAX_PASSWORD_CHARS: usize = 256;
const MAX_NAME_CHARS: usize = 100;
const ISSUER: &str = "askdocs";

/// Trims and lower-cases an email address and checks that it looks deliverable.
pub fn normalize_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(Error::Validation("email is required".into()));
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(Error::Validation(format!(
            "email must be at most {MAX_EMAIL_CHARS} characters"
        )));
    }
    let invalid = || Error::Validation("email is not a valid address".into());
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@');
    let characters_ok = !email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'));
    if local.is_empty() || local.len() > 64 || !domain_ok || !characters_ok {
        return Err(invalid());
    }
    Ok(email)
}

/// At least 8 characters with an upper-case letter, a lower-case letter and a digit.
pub fn check_password_policy(password: &str) -> Result<()> {
    let length = password.chars().count();
    let mut missing = Vec::new();
    if length < MIN_PASSWORD_CHARS {
        missing.push(format!("at least {MIN_PASSWORD_CHARS} characters"));
    }
    if !password.chars().any(char::is_uppercase) {
        missing.push("an upper-case letter".to_string());
    }
    if !password.chars().any(char::is_lowercase) {
        missing.push("a lower-case letter".to_string());
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        missing.push("a digit".to_string());
    }
    if !missing.is_empty() {
        return Err(Error::Validation(format!(
            "password must have {}",
            missing.join(", ")
        )));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(Error::Validation(format!(
            "password must be at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Trims a display name; blank means none.
pub fn normalize_name(raw: Option<&str>) -> Result<Option<String>> {
    let Some(name) = raw.map(str::trim).filter(|name| !name.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Validation(format!(
            "name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Validation(
            "name must not contain control characters".into(),
        ));
    }
    Ok(Some(name.to_string()))
}

/// argon2id with the crate's recommended parameters, run off the async threads.
async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| anyhow::anyhow!("hashing a password failed: {error}"))
    })
    .await
    .context("password hashing task")?
    .map_err(Error::from)
}

async fn verify_password(password: String, hash: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|error| anyhow::anyhow!("stored password hash is malformed: {error}"))?;
        Ok::<_, anyhow::Error>(
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
        )
    })
    .await
    .context("password verification task")?
    .map_err(Error::from)
}

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

/// Issues and checks tokens; the only place that knows the signing key.
pub struct Authenticator {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    revoked: Arc<dyn TokenStore>,
}

impl Authenticator {
    pub fn new(secret: &[u8], ttl: Duration, revoked: Arc<dyn TokenStore>) -> Self {
        // Pinned to HS256: a token whose header names any other algorithm
        // (including `none`) is rejected before its signature is looked at.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        Authenticator {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
            revoked,
        }
    }

    pub fn issue(&self, user: &User) -> Result<IssuedToken> {
        let issued_at = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.user_id.clone(),
            email: user.email.clone(),
            iat: issued_at,
            exp: issued_at + self.ttl.as_secs() as i64,
            jti: uuid::Uuid::new_v4().to_string(),
            iss: ISSUER.to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .context("signing a token")?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl.as_secs(),
        })
    }

    /// Checks signature, algorithm, issuer and expiry; revocation is checked separately.
    pub fn decode(&self, token: &str) -> Result<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                let reason = match error.kind() {
                    ErrorKind::ExpiredSignature => "token has expired",
                    _ => "token is invalid",
                };
                tracing::debug!(%error, "token rejected");
                Error::Unauthorized(reason.into())
            })
    }

    /// The caller behind a bearer token: valid, unexpired and not revoked.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        let claims = self.decode(token)?;
        let caller = Caller {
            user_id: claims.sub,
            email: claims.email,
            token_id: claims.jti,
            expires_at: claims.exp,
        };
        self.ensure_not_revoked(&caller).await?;
        Ok(caller)
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

/// Registration input, already parsed from JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// A successful login, shaped as the API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub user: SessionUser,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionUser {
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
}

/// Register, log in, log out, read the profile.
pub struct Accounts {
    users: Arc<dyn UserStore>,
    authenticator: Arc<Authenticator>,
    /// Verified against when the email is unknown, so both failures cost the same time.
    decoy_hash: tokio::sync::OnceCell<String>,
}

impl Accounts {
    pub fn new(users: Arc<dyn UserStore>, authenticator: Arc<Authenticator>) -> Self {
        Accounts {
            users,
            authenticator,
            decoy_hash: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn register(&self, registration: Registration) -> Result<Profile> {
        let email = normalize_email(&registration.email)?;
        check_password_policy(&registration.password)?;
        let name = normalize_name(registration.name.as_deref())?;
        if self.users.find_by_email(&email).await?.is_some() {
            return Err(email_taken());
        }
        let user = User {
            user_id: uuid::Uuid::new_v4().to_string(),
            email,
            name,
            password_hash: hash_password(registration.password).await?,
            created_at: now(),
        };
        // The store enforces uniqueness too, for two registrations racing.
        self.users.create(&user).await?;
        tracing::info!(user_id = %user.user_id, "account registered");
        Ok(Profile::from(&user))
    }

    pub async fn login(&self, credentials: Credentials) -> Result<Session> {
        // A malformed email cannot match an account: same answer as a wrong password.
        let email = normalize_email(&credentials.email).map_err(|_| Error::InvalidCredentials)?;
        if credentials.password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(Error::InvalidCredentials);
        }
        let Some(user) = self.users.find_by_email(&email).await? else {
            let decoy = self
                .decoy_hash
                .get_or_try_init(|| hash_password("decoy-Password-1".into()))
                .await?;
            verify_password(credentials.password, decoy.clone()).await?;
            return Err(Error::InvalidCredentials);
        };
        if !verify_password(credentials.password, user.password_hash.clone()).await? {
            return Err(Error::InvalidCredentials);
        }
        let issued = self.authenticator.issue(&user)?;
        tracing::info!(user_id = %user.user_id, "logged in");
        Ok(Session {
            token: issued.token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            user: SessionUser {
                user_id: user.user_id,
                email: user.email,
                name: user.name,
            },
        })
    }

    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        self.authenticator.revoke(caller).await?;
        tracing::info!(user_id = %caller.user_id, "logged out");
        Ok(())
    }

    pub async fn profile(&self, caller: &Caller) -> Result<Profile> {
        let user = self
            .users
            .get(&caller.user_id)
            .await?
            // A valid token for a deleted account: the token no longer grants anything.
            .ok_or_else(|| Error::Unauthorized("account no longer exists".into()))?;
        Ok(Profile::from(&user))
    }

    /// The account the `askdocs` command works as on this machine, made on first
    /// use with a random password (register the email through the API first to
    /// be able to log in as it and see the same documents).
    pub async fn local_user(&self, email: &str) -> Result<Profile> {
        let email = normalize_email(email)?;
        if let Some(user) = self.users.find_by_email(&email).await? {
            return Ok(Profile::from(&user));
        }
        let password = format!("Local-{}-{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let user = User {
            user_id: uuid::Uuid::new_v4().to_string(),
            email,
            name: Some("Local user".into()),
            password_hash: hash_password(password).await?,
            created_at: now(),
        };
        match self.users.create(&user).await {
            Ok(()) => Ok(Profile::from(&user)),
            // Made by a concurrent askdocs command: use theirs.
            Err(Error::Conflict { .. }) => self
                .users
                .find_by_email(&user.email)
                .await?
                .map(|user| Profile::from(&user))
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("local user vanished"))),
            Err(error) => Err(error),
        }
    }

    pub fn authenticator(&self) -> &Arc<Authenticator> {
        &self.authenticator
    }
}

pub fn email_taken() -> Error {
    Error::Conflict {
        code: "email_taken",
        message: "an account with this email already exists".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryTokenStore;
    use base64::Engine as _;

    const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

    fn authenticator() -> Authenticator {
        Authenticator::new(
            SECRET,
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
        }
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_and_oversized_emails_are_rejected() {
        let long = format!("{}@example.com", "a".repeat(1_000_000));
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@@example.com",
            "ada@.com",
            long.as_str(),
        ] {
            let error = normalize_email(bad).unwrap_err();
            assert!(
                matches!(error, Error::Validation(_)),
                "{bad:.40}: {error:?}"
            );
        }
    }

    #[test]
    fn the_password_policy_names_what_is_missing() {
        assert!(check_password_policy("Correct1horse").is_ok());
        let message = check_password_policy("short").unwrap_err().to_string();
        assert!(message.contains("at least 8 characters"), "{message}");
        assert!(message.contains("an upper-case letter"), "{message}");
        assert!(message.contains("a digit"), "{message}");
        assert!(check_password_policy("alllowercase1")
            .unwrap_err()
            .to_string()
            .contains("upper-case"));
        assert!(check_password_policy("ALLUPPERCASE1")
            .unwrap_err()
            .to_string()
            .contains("lower-case"));
        assert!(check_password_policy("NoDigitsHere")
            .unwrap_err()
            .to_string()
            .contains("digit"));
        assert!(check_password_policy(&format!("Aa1{}", "x".repeat(300))).is_err());
    }

    #[test]
    fn names_are_trimmed_and_blank_means_none() {
        assert_eq!(normalize_name(Some("  Ada  ")).unwrap(), Some("Ada".into()));
        assert_eq!(normalize_name(Some("   ")).unwrap(), None);
        assert_eq!(normalize_name(None).unwrap(), None);
        assert!(normalize_name(Some(&"n".repeat(101))).is_err());
        assert!(normalize_name(Some("bad\u{0}name")).is_err());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let hash = hash_password("Correct1horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("Correct1horse".into(), hash.clone())
            .await
            .unwrap());
        assert!(!verify_password("Wrong1horse".into(), hash).await.unwrap());
    }

    #[tokio::test]
    async fn an_issued_token_authenticates_its_user() {
        let auth = authenticator();
        let issued = auth.issue(&user()).unwrap();
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
        let token = auth.issue(&user()).unwrap().token;
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
        let token = auth.issue(&user()).unwrap().token;
        let caller = auth.authenticate(&token).await.unwrap();
        auth.revoke(&caller).await.unwrap();
        let error = auth.authenticate(&token).await.unwrap_err();
        assert_eq!(error.to_string(), "token has been revoked");
    }
}
