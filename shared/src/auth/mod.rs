//! Accounts (the auth function's service): register, log in, log out, read
//! the profile — written against [`UserStore`] and [`TokenStore`] only.
//!
//! Passwords are hashed with argon2id ([`passwords`]), sessions are JWTs
//! ([`tokens`]), failed logins are limited per email and client ([`limits`]).

pub mod federation;
pub mod limits;
pub mod passwords;
pub mod rules;
pub mod tokens;

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::LoginLimits;
use crate::error::{Error, Result};
use crate::model::{now, Caller, Profile, User, UserId};
use crate::ports::UserStore;
use limits::FailedLogins;
use passwords::PasswordHasher;
use rules::{
    check_password_policy, is_reserved, normalize_email, normalize_name, MAX_PASSWORD_CHARS,
};
use tokens::{Authenticator, IssuedToken};

/// A successful login: the token and whose it is.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: IssuedToken,
    pub user: User,
}

/// Register, log in, log out, read the profile.
pub struct Accounts {
    users: Arc<dyn UserStore>,
    authenticator: Arc<Authenticator>,
    hasher: PasswordHasher,
    failed_logins: FailedLogins,
    /// Verified against when the email is unknown, so both failures cost the same time.
    decoy_hash: tokio::sync::OnceCell<String>,
}

impl Accounts {
    pub fn new(
        users: Arc<dyn UserStore>,
        authenticator: Arc<Authenticator>,
        limits: LoginLimits,
    ) -> Self {
        Accounts {
            users,
            authenticator,
            hasher: PasswordHasher::new(limits.concurrent_hashes, limits.waiting_hashes),
            failed_logins: FailedLogins::new(limits),
            decoy_hash: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn register(
        &self,
        email: &str,
        password: String,
        name: Option<&str>,
    ) -> Result<Profile> {
        let email = normalize_email(email)?;
        check_password_policy(&password)?;
        let name = normalize_name(name)?;
        if is_reserved(&email) {
            return Err(Error::Validation(
                "addresses at .localhost are reserved for this machine's own askdocs commands"
                    .into(),
            ));
        }
        if self.users.find_by_email(&email).await?.is_some() {
            return Err(Error::email_taken());
        }
        let user = User {
            user_id: UserId::generate(),
            email,
            name,
            password_hash: self.hasher.hash(password).await?,
            created_at: now(),
            provider: None,
        };
        // The store enforces uniqueness too, for two registrations racing.
        self.users.create(&user).await?;
        tracing::info!(user_id = %user.user_id, "account registered");
        Ok(Profile::from(&user))
    }

    /// `client` is the caller's address, when known, for the failed-login limit.
    pub async fn login(
        &self,
        email: &str,
        password: String,
        client: Option<IpAddr>,
    ) -> Result<Session> {
        // A malformed email cannot match an account: same answer as a wrong password.
        let email = normalize_email(email).map_err(|_| Error::InvalidCredentials)?;
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(Error::InvalidCredentials);
        }
        self.failed_logins.check(&email, client)?;
        let user = self.users.find_by_email(&email).await?;
        let verified = match &user {
            Some(user) => {
                self.hasher
                    .verify(password, user.password_hash.clone())
                    .await?
            }
            None => {
                let decoy = self
                    .decoy_hash
                    .get_or_try_init(|| self.hasher.hash("decoy-Password-1".into()))
                    .await?;
                self.hasher.verify(password, decoy.clone()).await?;
                false
            }
        };
        let Some(user) = user.filter(|_| verified) else {
            self.failed_logins.record_failure(&email, client);
            return Err(Error::InvalidCredentials);
        };
        self.failed_logins.record_success(&email);
        let token = self.authenticator.issue(&user).await?;
        tracing::info!(user_id = %user.user_id, "logged in");
        Ok(Session { token, user })
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

    /// The account the `askdocs` command works as on this machine, made on
    /// first use with a random password nobody knows. Its `.localhost` address
    /// cannot be registered over HTTP, so nobody else can claim it; another
    /// email names an existing account of this server's.
    pub async fn local_user(&self, email: &str) -> Result<Profile> {
        let email = normalize_email(email)?;
        if let Some(user) = self.users.find_by_email(&email).await? {
            return Ok(Profile::from(&user));
        }
        if !is_reserved(&email) {
            return Err(Error::NotFound(format!(
                "there is no account {email}; register it first, or use an address at .localhost"
            )));
        }
        let password = format!("Local-{}-{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let user = User {
            user_id: UserId::generate(),
            email,
            name: Some("Local user".into()),
            password_hash: self.hasher.hash(password).await?,
            created_at: now(),
            provider: None,
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
