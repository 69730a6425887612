//! The auth function: register, log in, log out, read the profile; and, from
//! the same binary, API Gateway's TOKEN authorizer.

pub mod authorizer;
pub mod lambda;

use std::sync::Arc;

use askdocs_shared::auth::{Accounts, Authenticator, Credentials, Registration};
use askdocs_shared::backends::Backends;
use askdocs_shared::http::{finish, no_content, ApiJson, Authenticated};
use askdocs_shared::Result;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

#[derive(Clone)]
pub struct AuthState {
    pub accounts: Arc<Accounts>,
}

impl AuthState {
    pub fn new(backends: &Backends) -> anyhow::Result<Self> {
        Ok(AuthState {
            accounts: backends.accounts()?,
        })
    }
}

impl FromRef<AuthState> for Arc<Authenticator> {
    fn from_ref(state: &AuthState) -> Self {
        state.accounts.authenticator().clone()
    }
}

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
    finish(routes(state))
}

async fn register(
    State(state): State<AuthState>,
    ApiJson(registration): ApiJson<Registration>,
) -> Result<Response> {
    let profile = state.accounts.register(registration).await?;
    Ok((StatusCode::CREATED, Json(profile)).into_response())
}

async fn login(
    State(state): State<AuthState>,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response> {
    let session = state.accounts.login(credentials).await?;
    Ok(Json(session).into_response())
}

async fn logout(
    State(state): State<AuthState>,
    Authenticated(caller): Authenticated,
) -> Result<Response> {
    state.accounts.logout(&caller).await?;
    Ok(no_content())
}

async fn profile(
    State(state): State<AuthState>,
    Authenticated(caller): Authenticated,
) -> Result<Response> {
    let profile = state.accounts.profile(&caller).await?;
    Ok(Json(profile).into_response())
}
