//! Accounts and tokens: the signing secret, token lifetime, and login limits.

use std::path::PathBuf;
use std::time::Duration;

use super::backend::{Backend, TlsRoots};
use super::env::{ConfigError, Env};
use super::seconds;

/// Shortest HS256 secret we accept: the key must be at least as long as the hash.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
const DEFAULT_TOKEN_TTL_SECONDS: u64 = 3600;

/// Where the JWT signing secret comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum JwtSecretSource {
    /// `JWT_SECRET`, already checked to be long enough.
    Value(Vec<u8>),
    /// Not set on an embedded backend: a random secret kept in the data directory.
    DataDirFile(PathBuf),
    /// `JWT_SECRET_ARN`: read from Secrets Manager once per container, on first use.
    SecretsManager(String),
}

impl std::fmt::Debug for JwtSecretSource {
    // The secret itself must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtSecretSource::Value(_) => f.write_str("Value(<redacted>)"),
            JwtSecretSource::DataDirFile(path) => f.debug_tuple("DataDirFile").field(path).finish(),
            JwtSecretSource::SecretsManager(arn) => {
                f.debug_tuple("SecretsManager").field(arn).finish()
            }
        }
    }
}

/// How hard guessing passwords is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Password hashes computed at once (argon2id takes ~19 MB and a core each).
    pub concurrent_hashes: usize,
    /// Requests that may wait for a hashing slot; the rest are told to retry.
    pub waiting_hashes: usize,
    /// Failed logins allowed per email within `window`.
    pub failures_per_email: u32,
    /// Failed logins allowed per client address within `window`.
    pub failures_per_client: u32,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        LoginLimits {
            concurrent_hashes: 2 * cores,
            waiting_hashes: 32,
            failures_per_email: 10,
            failures_per_client: 50,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// `None` when this function has no way to check tokens (the processing
    /// function needs none); the functions that do fail at start-up without it.
    pub jwt_secret: Option<JwtSecretSource>,
    pub token_ttl: Duration,
    pub login_limits: LoginLimits,
    /// Sign-in through an OpenID Connect issuer beside our own accounts;
    /// `None`: our own accounts only.
    pub federation: Option<FederationSettings>,
}

/// An OpenID Connect issuer whose ID tokens sign people in: a Cognito user
/// pool on AWS (federating Google and Login with Amazon), any issuer locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationSettings {
    /// `ASKDOCS_OIDC_ISSUER`, exactly as the tokens' `iss` says it.
    pub issuer: String,
    /// `ASKDOCS_OIDC_CLIENT_ID`: the app client tokens must be issued to.
    pub client_id: String,
    /// `ASKDOCS_OIDC_JWKS_URL`; `None`: the `jwks_uri` of the issuer's
    /// discovery document.
    pub jwks_url: Option<String>,
    /// `ASKDOCS_OIDC_PROVIDERS`: the identity providers the page offers a
    /// button for (Cognito's names, `Google,LoginWithAmazon`); empty: one
    /// button for the issuer itself.
    pub providers: Vec<String>,
    /// `ASKDOCS_OIDC_NAME`: the issuer's name on its button and in profiles
    /// (default: its host).
    pub name: String,
    /// Who may sign the issuer's HTTPS certificates: Cognito's are Amazon's
    /// (`ASKDOCS_TLS_ROOTS`), anyone else's the system's store.
    pub tls_roots: TlsRoots,
}

impl FederationSettings {
    fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(issuer) = env.text("ASKDOCS_OIDC_ISSUER") else {
            return Ok(None);
        };
        let host = issuer_host(&issuer).ok_or_else(|| {
            ConfigError::new(
                "ASKDOCS_OIDC_ISSUER",
                format!("must be an https:// URL (http:// only for localhost), not `{issuer}`"),
            )
        })?;
        let client_id =
            env.required("ASKDOCS_OIDC_CLIENT_ID", "when ASKDOCS_OIDC_ISSUER is set")?;
        let jwks_url = env.url("ASKDOCS_OIDC_JWKS_URL")?;
        let providers = env
            .text("ASKDOCS_OIDC_PROVIDERS")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let cognito = is_cognito_host(host);
        Ok(Some(FederationSettings {
            name: env.text("ASKDOCS_OIDC_NAME").unwrap_or_else(|| {
                if cognito {
                    "Cognito".to_string()
                } else {
                    host.to_string()
                }
            }),
            tls_roots: if cognito {
                TlsRoots::from_env(env)?
            } else {
                TlsRoots::System
            },
            issuer,
            client_id,
            jwks_url,
            providers,
        }))
    }

    /// A Cognito user pool's issuer (`https://cognito-idp.<region>.amazonaws.com/<pool>`):
    /// its tokens say what they are for in `token_use`.
    pub fn is_cognito(&self) -> bool {
        issuer_host(&self.issuer).is_some_and(is_cognito_host)
    }
}

/// The host of an issuer URL we accept: https, or http on this machine only.
fn issuer_host(issuer: &str) -> Option<&str> {
    let (scheme, rest) = issuer.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    let local = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    let ok = !host.is_empty() && (scheme == "https" || (scheme == "http" && local));
    ok.then_some(host)
}

fn is_cognito_host(host: &str) -> bool {
    host.starts_with("cognito-idp.") && host.ends_with(".amazonaws.com")
}

impl AuthSettings {
    pub fn from_env(env: &Env, backend: &Backend) -> Result<Self, ConfigError> {
        let jwt_secret = match env.raw("JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => {
                Some(JwtSecretSource::Value(secret.into_bytes()))
            }
            Some(secret) => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    format!(
                        "must be at least {MIN_JWT_SECRET_BYTES} bytes long (it is {})",
                        secret.len()
                    ),
                ))
            }
            None => match (backend, env.text("JWT_SECRET_ARN")) {
                (_, Some(arn)) => Some(JwtSecretSource::SecretsManager(arn)),
                (Backend::Embedded { data_dir }, None) => {
                    Some(JwtSecretSource::DataDirFile(data_dir.join("jwt-secret")))
                }
                (Backend::Aws(_), None) => None,
            },
        };
        let defaults = LoginLimits::default();
        Ok(AuthSettings {
            jwt_secret,
            token_ttl: seconds(env.number(
                "JWT_EXPIRY_SECONDS",
                DEFAULT_TOKEN_TTL_SECONDS,
                60..=30 * 24 * 3600,
            )?),
            login_limits: LoginLimits {
                concurrent_hashes: env.number(
                    "ASKDOCS_CONCURRENT_PASSWORD_HASHES",
                    defaults.concurrent_hashes as u64,
                    1..=256,
                )? as usize,
                failures_per_email: env.number(
                    "ASKDOCS_LOGIN_FAILURES_PER_EMAIL",
                    defaults.failures_per_email.into(),
                    1..=100_000,
                )? as u32,
                failures_per_client: env.number(
                    "ASKDOCS_LOGIN_FAILURES_PER_CLIENT",
                    defaults.failures_per_client.into(),
                    1..=100_000,
                )? as u32,
                ..defaults
            },
            federation: FederationSettings::from_env(env)?,
        })
    }
}
