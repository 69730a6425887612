//! The auth function: accounts and sessions, and — from the same binary —
//! API Gateway's TOKEN authorizer.
//!
//! | route                 | handler    | domain                        |
//! |-----------------------|------------|-------------------------------|
//! | `POST /auth/register` | [`register`] | `Accounts::register`        |
//! | `POST /auth/login`    | [`login`]    | `Accounts::login`           |
//! | `POST /auth/logout`   | [`logout`]   | `Accounts::logout`          |
//! | `GET /auth/profile`   | [`profile`]  | `Accounts::profile`, `documents::storage` |
//! | TOKEN authorizer event | [`authorizer::authorize`] | `Authenticator::authenticate` |

pub mod authorizer;
pub mod lambda;

use std::sync::Arc;

use askdocs_shared::auth::tokens::Authenticator;
use askdocs_shared::auth::{Accounts, Session};
use askdocs_shared::backends::Backends;
use askdocs_shared::config::Quota;
use askdocs_shared::documents::{self, Storage};
use askdocs_shared::http::{finish, no_content, ApiJson, Authenticated, ClientAddress};
use askdocs_shared::model::Profile;
use askdocs_shared::ports::DocumentStore;
use askdocs_shared::Result;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// The auth routes, without fallbacks, so the local server can merge them with others.
pub fn routes(state: AuthState) -> Router {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/profile", get(profile))
        .with_state(state)
}

/// The complete app the Lambda function serves.
pub fn app(state: AuthState) -> Router {
    let cors_origin = state.cors_origin.clone();
    finish(routes(state), cors_origin.as_deref())
}

#[derive(Clone)]
pub struct AuthState {
    pub accounts: Arc<Accounts>,
    /// The profile shows what the user stores against their quota.
    pub documents: Arc<dyn DocumentStore>,
    pub quota: Quota,
    pub cors_origin: Option<String>,
}

impl AuthState {
    pub fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(AuthState {
            accounts: backends.accounts()?,
            documents: backends.document_store(),
            quota: backends.config().documents.quota,
            cors_origin: backends.config().cors_origin.clone(),
        })
    }
}

impl FromRef<AuthState> for Arc<Authenticator> {
    fn from_ref(state: &AuthState) -> Self {
        state.accounts.authenticator().clone()
    }
}

/// `POST /auth/register`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /auth/login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// A successful login.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    pub token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub user: SessionUser,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionUser {
    pub user_id: askdocs_shared::model::UserId,
    pub email: String,
    pub name: Option<String>,
}

impl From<Session> for SessionResponse {
    fn from(session: Session) -> Self {
        SessionResponse {
            token: session.token.token,
            token_type: "Bearer",
            expires_in: session.token.expires_in,
            user: SessionUser {
                user_id: session.user.user_id,
                email: session.user.email,
                name: session.user.name,
            },
        }
    }
}

pub async fn register(
    State(state): State<AuthState>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<Response> {
    let profile = state
        .accounts
        .register(&request.email, request.password, request.name.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(profile)).into_response())
}

pub async fn login(
    State(state): State<AuthState>,
    ClientAddress(client): ClientAddress,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Response> {
    let session = state
        .accounts
        .login(&request.email, request.password, client)
        .await?;
    Ok(Json(SessionResponse::from(session)).into_response())
}

pub async fn logout(
    State(state): State<AuthState>,
    Authenticated(caller): Authenticated,
) -> Result<Response> {
    state.accounts.logout(&caller).await?;
    Ok(no_content())
}

/// `GET /auth/profile`: the account, and what it stores against its quota.
#[derive(Serialize)]
pub struct ProfileWithStorage {
    #[serde(flatten)]
    pub profile: Profile,
    pub storage: Storage,
}

pub async fn profile(
    State(state): State<AuthState>,
    Authenticated(caller): Authenticated,
) -> Result<Response> {
    let profile = state.accounts.profile(&caller).await?;
    let storage = documents::storage(&*state.documents, state.quota, &caller.user_id).await?;
    Ok(Json(ProfileWithStorage { profile, storage }).into_response())
}
